"""How cases and updates look in JSON: amounts in minor units of `currency`, times in UTC
(ISO 8601), Markdown as written and as the sanitized HTML the site shows."""

from pledges.markdown import render_markdown
from pledges.models import Case, CaseUpdate
from pledges.services import public_figures
from pledges.web.rendering import absolute_url


def update(item: CaseUpdate) -> dict[str, object]:
    return {
        "id": item.id,
        "title": item.title,
        "published_at": item.published_at.isoformat(),
        "body_markdown": item.body,
        "body_html": str(render_markdown(item.body)),
    }


def case(
    item: Case, paid_out: int | None = None, *, for_organizers: bool = False
) -> dict[str, object]:
    if paid_out is None:
        paid_out = public_figures.paid_out([item.id]).get(item.id, 0)
    shape: dict[str, object] = {
        "slug": item.slug,
        "title": item.title,
        "summary": item.summary,
        "status": item.status,
        "pseudonym": item.beneficiary_pseudonym,
        "currency": item.currency,
        "goal": item.goal,
        "paid_out": paid_out,
        "supporting_pledges": public_figures.supporting(item),
        "url": absolute_url("public.case", slug=item.slug),
        "updates": [update(each) for each in item.updates],
    }
    if for_organizers:
        shape["story_markdown"] = item.story
    return shape
