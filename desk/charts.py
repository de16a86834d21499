"""Server-rendered SVG bar charts: geometry computed here, drawn by a template with plain
SVG attributes (no inline style or script, so the strict CSP holds)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

ROW_HEIGHT = 22
LABEL_WIDTH = 220
BAR_WIDTH = 360


@dataclass(frozen=True)
class Bar:
    label: str
    value: str
    y: int
    width: int
    text_y: int


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    height: int
    width: int = LABEL_WIDTH + BAR_WIDTH + 60
    label_width: int = LABEL_WIDTH


def bars(rows: Sequence[tuple[str, float]], *, decimals: int = 0) -> Chart:
    """A horizontal bar per (label, value), scaled to the largest value."""
    top = max((value for _, value in rows), default=0) or 1
    drawn = [
        Bar(
            label=str(label)[:32],
            value=f"{value:.{decimals}f}",
            y=index * ROW_HEIGHT,
            width=max(1, round(BAR_WIDTH * value / top)) if value else 0,
            text_y=index * ROW_HEIGHT + 15,
        )
        for index, (label, value) in enumerate(rows)
    ]
    return Chart(bars=drawn, height=max(ROW_HEIGHT, len(drawn) * ROW_HEIGHT))
