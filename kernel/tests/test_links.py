"""``{% link %}`` renders exactly what ``{% url %}`` renders, for every URL of a workspace host
and of the public site, without reversing each time (kernel/templatetags/links.py)."""

from __future__ import annotations

import pytest
from django.template import Context, Template
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse, set_urlconf

from kernel.templatetags.links import link_url

URLCONFS = ("config.urls_tenant", "config.urls_public")


def _names(urlconf: str) -> list[tuple[str, int]]:
    """(namespaced name, number of arguments) of every route."""
    found = []

    def walk(patterns, namespace):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                walk(pattern.url_patterns, inner)
            elif isinstance(pattern, URLPattern) and pattern.name:
                found.append((f"{namespace}{pattern.name}", pattern.pattern.regex.groups))

    walk(get_resolver(urlconf).url_patterns, "")
    return found


@pytest.fixture
def urlconf(request):
    set_urlconf(request.param)
    yield request.param
    set_urlconf(None)


@pytest.mark.parametrize("urlconf", URLCONFS, indirect=True)
def test_every_route_links_as_reverse_does(urlconf):
    checked = 0
    for name, arguments in _names(urlconf):
        if arguments == 0:
            assert link_url(name) == reverse(name), name
            checked += 1
        elif arguments == 1:
            for value in (0, 7, 123456):
                try:
                    expected = reverse(name, args=[value])
                except NoReverseMatch:
                    continue  # a slug or token route: link falls back to reverse
                assert link_url(name, value) == expected, name
                checked += 1
    assert checked >= 10


@pytest.mark.parametrize("urlconf", ["config.urls_tenant"], indirect=True)
def test_what_cannot_be_rebuilt_goes_through_reverse(urlconf):
    assert link_url("shop:company-detail", "12") == "/companies/12/"
    with pytest.raises(NoReverseMatch):
        link_url("shop:company-detail", -1)
    with pytest.raises(NoReverseMatch):
        link_url("shop:no-such-page")


@pytest.mark.parametrize("urlconf", ["config.urls_tenant"], indirect=True)
def test_the_tag_renders_what_the_url_tag_renders(urlconf):
    context = Context({"pk": 42})
    with_link = Template(
        "{% load links %}{% link 'shop:quote-detail' pk %}|{% link 'shop:home' as home %}{{ home }}"
    )
    with_url = Template("{% url 'shop:quote-detail' pk %}|{% url 'shop:home' as home %}{{ home }}")
    assert with_link.render(context) == with_url.render(context) == "/quotes/42/|/"
