"""Money: cents rounded half up per line, tax once on the subtotal, never a float (pure rules:
no database)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shop.money import compute_totals, line_amount, to_cents


def test_totals_round_each_line_half_up_then_tax_once_on_the_subtotal():
    totals = compute_totals(
        [(Decimal("3"), Decimal("0.335")), (Decimal("1.5"), Decimal("19.99"))], Decimal("8.25")
    )
    # 1.005 -> 1.01 (half up, not banker's 1.00); 29.985 -> 29.99; subtotal 31.00
    assert totals.subtotal == Decimal("31.00")
    assert totals.tax_amount == Decimal("2.56")  # 2.5575 -> 2.56
    assert totals.total == Decimal("33.56")


def test_half_a_cent_rounds_away_from_zero():
    assert to_cents(Decimal("0.125")) == Decimal("0.13")
    assert to_cents(Decimal("2.675")) == Decimal("2.68")  # 2.67 as a float would round down
    assert line_amount(Decimal("2"), Decimal("0.005")) == Decimal("0.01")


def test_totals_of_no_lines_are_zero_cents():
    totals = compute_totals([], Decimal("20"))
    assert (totals.subtotal, totals.tax_amount, totals.total) == (
        Decimal("0.00"),
        Decimal("0.00"),
        Decimal("0.00"),
    )


def test_money_refuses_floats():
    with pytest.raises(TypeError):
        to_cents(0.1)
    with pytest.raises(TypeError):
        compute_totals([(Decimal("1"), 0.1)], Decimal("0"))
    with pytest.raises(TypeError):
        compute_totals([], 10.0)
