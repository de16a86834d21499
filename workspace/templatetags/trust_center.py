"""``{% trust_center_links %}``: the public trust center's pages as absolute URLs, for the
footer of every page (error pages too, which render without the request's context)."""

from __future__ import annotations

from django import template

from tenants.selectors import public_url

register = template.Library()

#: (label, path on the public host), in the footer's order.
TRUST_CENTER_PAGES = (
    ("Security", "/security/"),
    ("Sub-processors", "/security/sub-processors/"),
    ("Report a vulnerability", "/security/disclosure/"),
    ("Status", "/status/"),
)


@register.inclusion_tag("includes/trust_center_links.html")
def trust_center_links() -> dict:
    return {"links": [(label, public_url(path)) for label, path in TRUST_CENTER_PAGES]}
