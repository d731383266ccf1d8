"""A local stand-in for Stripe's HTTP API, enough for the real `stripe` library to talk to.

It holds objects in memory, records every request (path, form parameters, headers) and lets a
test play what happens on Stripe's side: a checkout paid, a renewal failing, a cancellation.
"""

import json
import re
import secrets
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from stripe import WebhookSignature

DAY = 24 * 3600
#: Stripe's own largest page; a test may make the fake's pages smaller to see paging work.
MAX_PAGE = 100

#: The account's settlement currency, and what the fake pays out for one unit of another
#: (in minor units of the settlement currency per minor unit): Stripe converts at its own rate.
ACCOUNT_CURRENCY = "eur"
RATES_TO_ACCOUNT = {"eur": 1.0, "usd": 0.9123, "gbp": 1.1657}
#: What Stripe charges for a dispute, won or lost (in euro, the account's currency).
DISPUTE_FEE = 15_00


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


def _subscription_of(invoice: dict[str, Any]) -> str | None:
    return ((invoice.get("parent") or {}).get("subscription_details") or {}).get("subscription")


def parse_form(body: str) -> dict[str, Any]:
    """Stripe's form encoding (`a[b][0][c]=1`) back into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+", key)
        node: Any = root
        for part, following in zip(parts, parts[1:], strict=False):
            container: Any = [] if following.isdigit() else {}
            if isinstance(node, list):
                index = int(part)
                while len(node) <= index:
                    node.append(None)
                if node[index] is None:
                    node[index] = container
                node = node[index]
            else:
                node = node.setdefault(part, container)
        last = parts[-1]
        if isinstance(node, list):
            node.append(value)
        else:
            node[last] = value
    return root


class _Server(ThreadingHTTPServer):
    """Many app workers may call at once (the webhook storm): a deeper listen queue than the
    default 5, so a burst of connections is not dropped and retried a second later."""

    request_queue_size = 128
    daemon_threads = True


class FakeStripe:
    def __init__(self, webhook_secret: str) -> None:
        self.webhook_secret = webhook_secret
        self.objects: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        self.requests: list[dict[str, Any]] = []
        #: The most a list answers in one page, whatever `limit` asks for.
        self.page_size = MAX_PAGE
        #: When set, (status, error) is the answer to every request: Stripe down, a bad key.
        self.refusing: tuple[int, dict[str, Any]] | None = None
        #: Seconds every answer waits, as Stripe's own latency: a worker caught mid-event.
        self.latency = 0.0
        #: Held while a request is answered: the objects are plain dicts, and concurrent
        #: requests (or a test changing them at the same time) must not see them half-changed.
        self.lock = threading.RLock()
        self._server = _Server(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- the server -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reset(self) -> None:
        self.objects.clear()
        self.requests.clear()
        self.page_size = MAX_PAGE
        self.refusing = None
        self.latency = 0.0

    def _handler_class(self):  # noqa: ANN202
        fake = self

        class Handler(BaseHTTPRequestHandler):
            #: Keep-alive, as Stripe's API: the `stripe` library reuses its connection, and a
            #: new TCP connection (and server thread) for every call would be the fake's cost,
            #: counted against the app in the benchmarks.
            protocol_version = "HTTP/1.1"
            #: Headers and body go out in two writes: without this, Nagle's algorithm holds
            #: the body until the client's delayed ACK, 40 ms later, on every answer.
            disable_nagle_algorithm = True

            def log_message(self, *args: object) -> None:
                pass

            def _answer(self, status: int, body: dict[str, Any] | bytes) -> None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Request-Id", _new_id("req"))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                params = parse_form(body if method == "POST" else parts.query)
                time.sleep(fake.latency)
                with fake.lock:
                    fake.requests.append(
                        {
                            "method": method,
                            "path": parts.path,
                            "params": params,
                            "headers": dict(self.headers),
                        }
                    )
                    status, answer = fake.route(method, parts.path, params)
                    data = json.dumps(answer).encode()  # serialized under the lock, as it is now
                self._answer(status, data)

            def do_GET(self) -> None:  # noqa: N802
                self._handle("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._handle("POST")

            def do_DELETE(self) -> None:  # noqa: N802
                self._handle("DELETE")

        return Handler

    # -- the API ----------------------------------------------------------------------------

    def route(self, method: str, path: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if self.refusing is not None:
            return self.refusing
        if method == "POST" and path == "/v1/products":
            return 200, self._store("product", {"id": _new_id("prod"), "name": params["name"]})
        if method == "POST" and path == "/v1/checkout/sessions":
            session_id = _new_id("cs_test")
            session = {
                "id": session_id,
                "url": f"https://checkout.stripe.com/c/pay/{session_id}",
                "status": "open",
                "payment_status": "unpaid",
                "subscription": None,
                "customer": None,
                "params": params,
                **{key: params.get(key) for key in ("mode", "client_reference_id", "metadata")},
            }
            return 200, self._store("checkout.session", session)
        if method == "POST" and path == "/v1/billing_portal/sessions":
            session_id = _new_id("bps")
            portal = {
                "id": session_id,
                "url": f"https://billing.stripe.com/p/session/{session_id}",
                "customer": params.get("customer"),
                "return_url": params.get("return_url"),
                "flow": params.get("flow_data"),
            }
            return 200, self._store("billing_portal.session", portal)
        if method == "GET" and path == "/v1/subscriptions/search":
            wanted = re.fullmatch(r"metadata\['pledge_id'\]:'(\d+)'", params.get("query", ""))
            found = [
                s
                for s in self.objects["subscription"].values()
                if wanted and s["metadata"].get("pledge_id") == wanted[1]
            ]
            return 200, {"object": "search_result", "data": found, "has_more": False, "url": path}
        if method == "GET" and path == "/v1/invoices":
            found = [
                i
                for i in self.objects["invoice"].values()
                if params.get("status") in (None, i["status"])
                and params.get("subscription") in (None, _subscription_of(i))
            ]
            return 200, self._page(found, params, path)
        if method == "GET" and path == "/v1/webhook_endpoints":
            found = list(self.objects["webhook_endpoint"].values())
            return 200, {"object": "list", "data": found, "has_more": False, "url": path}
        if method == "GET" and path == "/v1/subscriptions":
            wanted = params.get("status")
            found = [
                s
                for s in self.objects["subscription"].values()
                # As Stripe does: without a status, the canceled ones are left out.
                if wanted == "all"
                or wanted == s["status"]
                or (wanted is None and s["status"] not in {"canceled", "incomplete_expired"})
            ]
            return 200, self._page(found, params, path)
        if method == "GET" and path == "/v1/checkout/sessions":
            found = [
                session
                for session in self.objects["checkout.session"].values()
                if params.get("status") in (None, session["status"])
            ]
            return 200, self._page(found, params, path)
        if method == "GET" and path in {"/v1/refunds", "/v1/disputes"}:
            kind = path.removeprefix("/v1/").removesuffix("s")
            found = [
                obj
                for obj in self.objects[kind].values()
                if params.get("charge") in (None, obj.get("charge"))
            ]
            return 200, self._page(found, params, path)
        if method == "GET" and path == "/v1/invoice_payments":
            invoice_id = params.get("invoice")
            found = [
                p for p in self.objects["invoice_payment"].values() if p["invoice"] == invoice_id
            ]
            return 200, {"object": "list", "data": found, "has_more": False, "url": path}
        deleted = re.fullmatch(r"/v1/(subscriptions|customers)/(\w+)", path)
        if method == "DELETE" and deleted:
            kind = deleted[1].removesuffix("s")
            found = self.objects[kind].get(deleted[2])
            if found is None:
                return 404, {"error": {"type": "invalid_request_error", "message": "No such"}}
            if kind == "subscription":
                found["status"] = "canceled"
                return 200, found
            self.objects[kind].pop(deleted[2])
            for subscription in self.objects["subscription"].values():  # as Stripe does
                if subscription["customer"] == deleted[2]:
                    subscription["status"] = "canceled"
            return 200, {"id": deleted[2], "object": "customer", "deleted": True}
        updated = re.fullmatch(r"/v1/subscriptions/(\w+)", path)
        if method == "POST" and updated:
            return self._update_subscription(updated[1], params)
        match = re.fullmatch(
            r"/v1/(subscriptions|invoices|payment_intents|charges|disputes|checkout/sessions)/([\w]+)",
            path,
        )
        if method == "GET" and match:
            kind = {
                "checkout/sessions": "checkout.session",
                "subscriptions": "subscription",
                "invoices": "invoice",
                "payment_intents": "payment_intent",
                "charges": "charge",
                "disputes": "dispute",
            }[match[1]]
            found = self.objects[kind].get(match[2])
            if found is None:
                return 404, {
                    "error": {"type": "invalid_request_error", "message": f"No such {kind}"}
                }
            if kind == "payment_intent":
                return 200, self._expanded_intent(found)
            return 200, found
        return 404, {
            "error": {"type": "invalid_request_error", "message": f"Unrecognized {method} {path}"}
        }

    def _page(self, found: list[dict], params: dict[str, Any], path: str) -> dict[str, Any]:
        """One page of a list, as Stripe pages: newest first, `created` filters, `limit` (10 by
        default), and `starting_after` the last id of the page before."""
        created = params.get("created")
        bounds = (
            created if isinstance(created, dict) else {} if created is None else {"eq": created}
        )
        tests = {
            "gte": lambda value, bound: value >= bound,
            "gt": lambda value, bound: value > bound,
            "lte": lambda value, bound: value <= bound,
            "lt": lambda value, bound: value < bound,
            "eq": lambda value, bound: value == bound,
        }
        newest_first = [
            obj
            for _order, obj in sorted(
                enumerate(found), key=lambda pair: (pair[1]["created"], pair[0]), reverse=True
            )
            if all(tests[op](obj["created"], int(bound)) for op, bound in bounds.items())
        ]
        after = params.get("starting_after")
        if after:
            ids = [obj["id"] for obj in newest_first]
            newest_first = newest_first[ids.index(after) + 1 :]
        limit = min(int(params.get("limit", 10)), self.page_size)
        return {
            "object": "list",
            "data": newest_first[:limit],
            "has_more": len(newest_first) > limit,
            "url": path,
        }

    def _update_subscription(self, subscription_id: str, params: dict) -> tuple[int, dict]:
        """What the app may change: the price (proration must be off), the pause, and whether
        it ends with the period."""
        subscription = self.objects["subscription"].get(subscription_id)
        if subscription is None:
            return 404, {"error": {"type": "invalid_request_error", "message": "No such sub"}}
        for item in params.get("items", []):
            if params.get("proration_behavior") != "none":
                return 400, {"error": {"type": "invalid_request_error", "message": "prorates"}}
            [stored] = [i for i in subscription["items"]["data"] if i["id"] == item["id"]]
            price = item["price_data"]
            stored["price"] = {
                "id": _new_id("price"),
                "unit_amount": int(price["unit_amount"]),
                "currency": price["currency"],
                "recurring": {"interval": price["recurring"]["interval"]},
            }
        if "pause_collection" in params:
            pause = params["pause_collection"]
            subscription["pause_collection"] = (
                {"behavior": pause["behavior"], "resumes_at": int(pause["resumes_at"])}
                if pause
                else None
            )
        if "cancel_at_period_end" in params:
            subscription["cancel_at_period_end"] = params["cancel_at_period_end"] == "true"
        return 200, subscription

    def _store(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        obj = {"object": kind, "livemode": False, "created": int(time.time()), **obj}
        self.objects[kind][obj["id"]] = obj
        return obj

    def _charge(self, amount: int, fee: int, currency: str) -> dict[str, Any]:
        """A successful card payment: its balance transaction (in the account's currency, the
        fee given in it), charge and payment intent."""
        settled = round(amount * RATES_TO_ACCOUNT[currency])
        balance = self._store(
            "balance_transaction",
            {
                "id": _new_id("txn"),
                "amount": settled,
                "fee": fee,
                "net": settled - fee,
                "currency": ACCOUNT_CURRENCY,
                "exchange_rate": None if currency == ACCOUNT_CURRENCY else settled / amount,
            },
        )
        charge_id = _new_id("ch")
        charge = self._store(
            "charge",
            {
                "id": charge_id,
                "amount": amount,
                "balance_transaction": balance["id"],
                "receipt_url": f"https://pay.stripe.com/receipts/{charge_id}",
            },
        )
        return self._store(
            "payment_intent", {"id": _new_id("pi"), "amount": amount, "latest_charge": charge["id"]}
        )

    def add_webhook_endpoint(
        self, url: str, events: list[str], *, status: str = "enabled"
    ) -> dict[str, Any]:
        """An endpoint as the dashboard makes it: where events go, and which."""
        endpoint = {"id": _new_id("we"), "object": "webhook_endpoint", "url": url,
                    "enabled_events": events, "status": status, "created": int(time.time())}  # fmt: skip
        return self._store("webhook_endpoint", endpoint)

    def charge_of_intent(self, intent_id: str) -> dict[str, Any]:
        return self.objects["charge"][self.objects["payment_intent"][intent_id]["latest_charge"]]

    def complete_gift_checkout(self, session_id: str, *, fee: int = 40) -> dict[str, Any]:
        """A one-off payment made on Stripe's page."""
        session = self.objects["checkout.session"][session_id]
        amount = int(session["params"]["line_items"][0]["price_data"]["unit_amount"])
        intent = self._charge(
            amount, fee, session["params"]["line_items"][0]["price_data"]["currency"]
        )
        session.update(
            status="complete",
            payment_status="paid",
            payment_intent=intent["id"],
            amount_total=amount,
            currency=session["params"]["line_items"][0]["price_data"]["currency"],
        )
        return session

    def _expanded_intent(self, intent: dict[str, Any]) -> dict[str, Any]:
        charge = dict(self.objects["charge"][intent["latest_charge"]])
        charge["balance_transaction"] = self.objects["balance_transaction"][
            charge["balance_transaction"]
        ]
        return {**intent, "latest_charge": charge}

    # -- what happens on Stripe's side ------------------------------------------------------

    def checkout_sessions(self) -> list[dict[str, Any]]:
        return list(self.objects["checkout.session"].values())

    def complete_checkout(self, session_id: str, *, fee: int = 50) -> dict[str, Any]:
        """The supporter paid: a customer, an active subscription and its first paid invoice."""
        session = self.objects["checkout.session"][session_id]
        line = session["params"]["line_items"][0]
        customer = self._store("customer", {"id": _new_id("cus")})
        now = int(time.time())
        subscription = self._store(
            "subscription",
            {
                "id": _new_id("sub"),
                "status": "active",
                "customer": customer["id"],
                "cancel_at_period_end": False,
                "pause_collection": None,
                "billing_cycle_anchor": now,
                "metadata": session["params"]["subscription_data"]["metadata"],
                "items": {
                    "object": "list",
                    "data": [
                        {
                            "id": _new_id("si"),
                            "quantity": int(line["quantity"]),
                            "current_period_start": now,
                            "current_period_end": now + 30 * DAY,
                            "price": {
                                "id": _new_id("price"),
                                "unit_amount": int(line["price_data"]["unit_amount"]),
                                "currency": line["price_data"]["currency"],
                                "recurring": {
                                    "interval": line["price_data"]["recurring"]["interval"]
                                },
                            },
                        }
                    ],
                },
            },
        )
        session.update(
            status="complete",
            payment_status="paid",
            subscription=subscription["id"],
            customer=customer["id"],
        )
        invoice = self.pay_invoice(subscription["id"], fee=fee)
        return {"session": session, "subscription": subscription, "invoice": invoice}

    def pay_invoice(
        self,
        subscription_id: str,
        *,
        fee: int = 50,
        paid_at: int | None = None,
        invoice_id: str | None = None,
    ) -> dict[str, Any]:
        """A renewal paid: a new invoice, or (given its id) one that had failed, paid now."""
        subscription = self.objects["subscription"][subscription_id]
        item = subscription["items"]["data"][0]
        amount = item["price"]["unit_amount"] * item["quantity"]
        intent = self._charge(amount, fee, item["price"]["currency"])
        invoice_id = invoice_id or _new_id("in")
        subscription["status"] = "active"
        invoice = self._store(
            "invoice",
            {
                "id": invoice_id,
                "status": "paid",
                "customer": subscription["customer"],
                "currency": item["price"]["currency"],
                "amount_due": amount,
                "amount_paid": amount,
                "hosted_invoice_url": f"https://invoice.stripe.com/i/{invoice_id}",
                "status_transitions": {"paid_at": paid_at or int(time.time())},
                "parent": {
                    "type": "subscription_details",
                    "subscription_details": {
                        "subscription": subscription_id,
                        "metadata": subscription["metadata"],
                    },
                },
            },
        )
        self._store(
            "invoice_payment",
            {
                "id": _new_id("inpay"),
                "invoice": invoice_id,
                "status": "paid",
                "amount_paid": amount,
                "payment": {"type": "payment_intent", "payment_intent": intent["id"]},
            },
        )
        return invoice

    def charge_of(self, invoice_id: str) -> dict[str, Any]:
        [payment] = [
            p for p in self.objects["invoice_payment"].values() if p["invoice"] == invoice_id
        ]
        intent = self.objects["payment_intent"][payment["payment"]["payment_intent"]]
        return self.objects["charge"][intent["latest_charge"]]

    def refund(self, invoice_id: str, amount: int | None = None) -> dict[str, Any]:
        """Money given back on an invoice's charge: a Refund object, and the charge's total."""
        return self.refund_charge(self.charge_of(invoice_id), amount)

    def refund_charge(self, charge: dict[str, Any], amount: int | None = None) -> dict[str, Any]:
        amount = amount or charge["amount"]
        charge["amount_refunded"] = charge.get("amount_refunded", 0) + amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        self._store(
            "refund",
            {"id": _new_id("re"), "charge": charge["id"], "amount": amount, "status": "succeeded"},
        )
        return charge

    def fail_refund(self, charge_id: str) -> dict[str, Any]:
        """The charge's last refund failed (a closed card): its money is back in the account.
        Whether Stripe then lowers the charge's `amount_refunded` it does not say: here it
        does not, the harder case."""
        refund = [r for r in self.objects["refund"].values() if r["charge"] == charge_id][-1]
        refund["status"] = "failed"
        refund["failure_reason"] = "expired_or_canceled_card"
        return refund

    def dispute(self, invoice_id: str, *, amount: int | None = None) -> dict[str, Any]:
        """A chargeback of the invoice's charge, of all of it unless told: the money and a fee
        leave the account (in the account's currency, as a balance transaction)."""
        charge = self.charge_of(invoice_id)
        charge["disputed"] = True  # and stays so, whatever the dispute's outcome
        amount = amount or charge["amount"]
        return self._store(
            "dispute",
            {
                "id": _new_id("dp"),
                "charge": charge["id"],
                "amount": amount,
                "status": "needs_response",
                "balance_transactions": [
                    {"id": _new_id("txn"), "amount": -amount, "fee": DISPUTE_FEE, "currency": "eur"}
                ],
            },
        )

    def fail_invoice(self, subscription_id: str) -> dict[str, Any]:
        """A renewal declined (or, with `require_action`, waiting for 3-D Secure)."""
        subscription = self.objects["subscription"][subscription_id]
        subscription["status"] = "past_due"
        invoice_id = _new_id("in")
        return self._store(
            "invoice",
            {
                "id": invoice_id,
                "status": "open",
                "customer": subscription["customer"],
                "amount_due": subscription["items"]["data"][0]["price"]["unit_amount"],
                "amount_paid": 0,
                "attempt_count": 1,
                "hosted_invoice_url": f"https://invoice.stripe.com/i/{invoice_id}",
                "parent": {
                    "type": "subscription_details",
                    "subscription_details": {
                        "subscription": subscription_id,
                        "metadata": subscription["metadata"],
                    },
                },
            },
        )

    def cancel_subscription(self, subscription_id: str) -> dict[str, Any]:
        subscription = self.objects["subscription"][subscription_id]
        subscription["status"] = "canceled"
        return subscription

    def update_price(self, subscription_id: str, amount: int) -> dict[str, Any]:
        """The amount changed on Stripe's side (the Billing Portal, or the dashboard)."""
        with self.lock:
            subscription = self.objects["subscription"][subscription_id]
            item = subscription["items"]["data"][0]
            item["price"] = {**item["price"], "id": _new_id("price"), "unit_amount": amount}
            return subscription

    # -- webhooks ---------------------------------------------------------------------------

    def event(
        self, kind: str, obj: dict[str, Any], *, created: int | None = None, livemode: bool = False
    ) -> dict:
        return {
            "id": _new_id("evt"),
            "object": "event",
            "type": kind,
            "api_version": "2026-10-28.endive",
            "created": created or int(time.time()),
            "livemode": livemode,
            "data": {"object": json.loads(json.dumps(obj))},
        }

    def sign(self, payload: str, *, timestamp: int | None = None, secret: str | None = None) -> str:
        return WebhookSignature.generate_signature_header(
            payload, secret or self.webhook_secret, timestamp=timestamp
        )
