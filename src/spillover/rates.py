"""Prices, GPUs and throughput assumptions, kept as data in ``rates.yaml``."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any, NamedTuple

import yaml


class Price(NamedTuple):
    """USD per million tokens."""

    input: float
    output: float
    training: float | None = None


@cache
def rates() -> dict[str, Any]:
    return yaml.safe_load((resources.files(__package__) / "rates.yaml").read_text(encoding="utf-8"))


def price(model: str) -> Price | None:
    """The price of an API model; ``ft:BASE:...`` names (fine-tuned models) cost the tuned rates.

    >>> price("gpt-4o-2024-08-06")
    Price(input=2.5, output=10.0, training=25.0)
    >>> price("ft:gpt-4o-mini-2024-07-18:org::abc")
    Price(input=0.3, output=1.2, training=None)
    >>> price("my-local-model") is None
    True
    """
    table = rates()["prices"]
    if model.startswith("ft:"):
        row = table.get(model.split(":")[1])
        if not row or "tuned_input" not in row:
            return None
        return Price(row["tuned_input"], row["tuned_output"])
    row = table.get(model)
    return Price(row["input"], row["output"], row.get("training")) if row else None


def usd(tokens_in: float, tokens_out: float, p: Price | None) -> float | None:
    """Cost of a number of input and output tokens (None: unknown price)."""
    return None if p is None else (tokens_in * p.input + tokens_out * p.output) / 1e6
