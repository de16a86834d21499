"""The bare company list: the shop's own page code and template, with none of the stack.

``company_list`` runs what the shop's view runs once the gate has let a request in: the same
selector query shape (``shop.selectors.company_list`` for an owner: every company, by name
then newest first), the same ``kernel.views.list_page`` (pagination, search and sort
context) and the same template with the same context (``bench.bare.context``). What it does
not do is everything around that: no host lookup, no session, user, membership or tracked
session, no gate, no context switch in the database, no middleware. The URL configuration is
the workspace host's own, with this view in the company list's place, so every link the
template reverses resolves as on a workspace host.
"""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path

from config.urls_tenant import urlpatterns as tenant_urlpatterns
from kernel.views import list_page
from shop import urls as shop_urls
from shop.models import Company
from shop.selectors import COMPANY_SORTS

from .context import CAPABILITIES, MEMBERSHIP, USER


def _companies(*, viewer, q, sort):
    return Company.objects.order_by("name", "-pk")


def company_list(request):
    request.user = USER
    request.membership = MEMBERSHIP
    request.capabilities = CAPABILITIES
    return list_page(
        request, select=_companies, template="shop/company_list.html", sorts=COMPANY_SORTS
    )


def _shop_pattern(pattern: URLPattern) -> URLPattern:
    if pattern.name != "company-list":
        return pattern
    return URLPattern(pattern.pattern, company_list, pattern.default_args, pattern.name)


urlpatterns = [
    *(
        pattern
        for pattern in tenant_urlpatterns
        if not (isinstance(pattern, URLResolver) and pattern.app_name == "shop")
    ),
    path("", include(([_shop_pattern(p) for p in shop_urls.urlpatterns], "shop"))),
]
