"""Domain logic. Services take plain values, never touch `flask.request`, and never commit:
the caller (a view, the webhook handler, a CLI command) owns the transaction, so a change and
the email it causes are written together or not at all."""
