"""What every HTML response must carry (config/settings/base.py, "Security headers").

Shared by the crawl (every page each role sees), the public pages and the error pages.
"""

from __future__ import annotations

# Features the product never uses: a page (or a script injected into one) cannot ask for them.
DISABLED_FEATURES = ("camera", "microphone", "geolocation", "payment", "usb")


def csp_directives(header: str) -> dict[str, list[str]]:
    """``"default-src 'self'; img-src 'self' data:"`` -> ``{"default-src": ["'self'"], ...}``."""
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def security_header_problems(response) -> list[str]:
    """Everything missing or too lax in ``response``'s security headers (empty when all hold)."""
    problems = []
    header = response.get("Content-Security-Policy")
    if not header:
        return ["no Content-Security-Policy"]
    csp = csp_directives(header)
    expected = {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        # data: for the images Pico's stylesheet draws (select arrows, check marks).
        "img-src": ["'self'", "data:"],
    }
    for name, sources in expected.items():
        if csp.get(name) != sources:
            problems.append(f"CSP {name} is {csp.get(name)}, expected {sources}")
    form_action = csp.get("form-action", [])
    if form_action[:1] != ["'self'"]:
        problems.append(f"CSP form-action is {form_action}, expected 'self' first")
    lax = {"'unsafe-inline'", "'unsafe-eval'", "*", "http:", "https:", "data:"}
    for name in ("default-src", "script-src", "style-src", "form-action"):
        if lax & set(csp.get(name, [])):
            problems.append(f"CSP {name} allows {sorted(lax & set(csp[name]))}")
    permissions = response.get("Permissions-Policy", "")
    for feature in DISABLED_FEATURES:
        if f"{feature}=()" not in permissions:
            problems.append(f"Permissions-Policy does not switch off {feature}: {permissions!r}")
    fixed = {
        "Referrer-Policy": "same-origin",
        "X-Content-Type-Options": "nosniff",
        "Cross-Origin-Opener-Policy": "same-origin",
        "X-Frame-Options": "DENY",
    }
    for name, value in fixed.items():
        if response.get(name) != value:
            problems.append(f"{name} is {response.get(name)!r}, expected {value!r}")
    return problems
