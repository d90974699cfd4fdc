"""The plan as terminal lines."""

from __future__ import annotations

from ..rates import rates
from .estimate import Plan


def duration(hours: float | None) -> str:
    """
    >>> duration(0.01), duration(2.5), duration(None)
    ('< 1 min', '2.5 h', 'unknown')
    """
    if hours is None:
        return "unknown"
    if hours < 1 / 60:
        return "< 1 min"
    return f"{hours * 60:.0f} min" if hours < 1 else f"{hours:.1f} h"


def render(plan: Plan) -> list[str]:
    """Counts per stage (done / planned), then money, time, memory, and how many problems there are."""
    lines = ["stage      planned                done    detail"]
    for c in plan.counts:
        lines.append(f"{c.stage:<10} {c.planned:>9,} {c.unit:<12} {c.done:>7,}    {c.detail}")
    paid = [s for s in plan.spend if s.usd is not None]
    cost = f"≈ ${plan.usd:,.2f}" if paid or not plan.spend else "unknown"
    lines.append(f"cost left: {cost} (prices of {rates()['prices_as_of']}, spillover/rates.yaml)")
    for s in plan.spend:
        money = f"${s.usd:,.2f}" if s.usd is not None else "price unknown"
        lines.append(f"  {s.what}: {s.tokens_in / 1e6:.2f}M in / {s.tokens_out / 1e6:.2f}M out tokens, {money}")
    for h in plan.hours:
        lines.append(f"time left, {h.stage}: " + ("none" if h.hours == 0 else f"{duration(h.hours)} ({h.basis})"))
    lines += [f"gpu memory, {m}" for m in plan.memory]
    if plan.problems:
        lines.append(f"{len(plan.problems)} problem(s) to fix before running (below)")
    return lines
