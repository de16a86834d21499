"""Money arithmetic: the one place where line amounts, tax and totals are computed.

Invariant: money is ``Decimal`` throughout and every stored amount is quantized to cents
with ROUND_HALF_UP. A float never enters this module (it raises ``TypeError``), because a
float cannot represent most cent values exactly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
HUNDRED = Decimal(100)


def to_cents(value: Decimal) -> Decimal:
    """``value`` rounded to whole cents, halves away from zero (the invoicing convention)."""
    if not isinstance(value, Decimal):
        raise TypeError(f"money must be Decimal, not {type(value).__name__}")
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def line_amount(quantity: Decimal, unit_price: Decimal) -> Decimal:
    """What one quote line costs before tax, in cents."""
    if not isinstance(quantity, Decimal) or not isinstance(unit_price, Decimal):
        raise TypeError("quantity and unit price must be Decimal")
    return to_cents(quantity * unit_price)


@dataclass(frozen=True)
class Totals:
    subtotal: Decimal
    tax_amount: Decimal
    total: Decimal


def compute_totals(lines: Iterable[tuple[Decimal, Decimal]], tax_rate: Decimal) -> Totals:
    """Subtotal, tax and total of ``(quantity, unit_price)`` lines at ``tax_rate`` percent.

    Each line is rounded to cents first (so the printed lines add up to the subtotal), then
    tax is computed once on the subtotal and rounded.
    """
    if not isinstance(tax_rate, Decimal):
        raise TypeError("tax rate must be Decimal")
    subtotal = sum((line_amount(quantity, price) for quantity, price in lines), ZERO)
    tax_amount = to_cents(subtotal * tax_rate / HUNDRED)
    return Totals(subtotal=to_cents(subtotal), tax_amount=tax_amount, total=subtotal + tax_amount)
