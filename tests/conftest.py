"""Cross-app suite helpers: the crawl sizes in the terminal summary."""

from __future__ import annotations


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Print how much each role's crawl covered (recorded by tests/test_crawl.py)."""
    sizes = []
    for outcome in ("passed", "failed"):
        for report in terminalreporter.stats.get(outcome, []):
            if getattr(report, "when", "") != "call":
                continue
            sizes.extend(value for name, value in report.user_properties if name == "crawl")
    if not sizes:
        return
    terminalreporter.section("crawl sizes")
    for size in sizes:
        terminalreporter.write_line(
            f"{size['role']:>14}: {size['pages']:>4} pages fetched, {size['links']:>5} links "
            "and form actions checked"
        )
    terminalreporter.write_line(
        f"{'total':>14}: {sum(s['pages'] for s in sizes):>4} pages fetched, "
        f"{sum(s['links'] for s in sizes):>5} links and form actions checked"
    )
