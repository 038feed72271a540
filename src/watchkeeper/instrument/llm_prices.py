"""What LLM tokens cost: a small default price table, overridable and extendable.

Prices are US dollars per million tokens, input and output, the providers'
published list prices for standard (non-batch, non-cached) usage as of
``PRICES_AS_OF``. Providers change prices and ship new models often: pass your own
table (``watchkeeper.llm.configure(prices=...)``) for anything you depend on. A
model that is not in the table is never guessed: its cost is not recorded, its
requests are counted in ``llm_unpriced_requests_total`` and it is logged once.

Versioned ids match their base entry (``gpt-4o-2024-08-06`` is priced as
``gpt-4o``, ``claude-sonnet-4-20250514`` as ``claude-sonnet-4``); nothing else
does: ``gpt-5.4`` is *not* priced as ``gpt-5``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["DEFAULT_PRICES", "PRICES_AS_OF", "Price", "PriceTable", "base_model"]

PRICES_AS_OF = "2025-11-01"


@dataclass(frozen=True, slots=True)
class Price:
    """US dollars per million tokens."""

    input_per_mtok: float
    output_per_mtok: float

    def __post_init__(self) -> None:
        for name in ("input_per_mtok", "output_per_mtok"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or value < 0 or value != value:
                raise ValueError(
                    f"price {name} must be a number >= 0 (USD per 1M tokens), got {value!r}"
                )

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        return (input_tokens * self.input_per_mtok + output_tokens * self.output_per_mtok) / 1e6


P = Price
DEFAULT_PRICES: Mapping[str, Price] = {
    # OpenAI
    "gpt-5": P(1.25, 10.0),
    "gpt-5-mini": P(0.25, 2.0),
    "gpt-5-nano": P(0.05, 0.40),
    "gpt-4.1": P(2.0, 8.0),
    "gpt-4.1-mini": P(0.40, 1.60),
    "gpt-4.1-nano": P(0.10, 0.40),
    "gpt-4o": P(2.50, 10.0),
    "gpt-4o-mini": P(0.15, 0.60),
    "gpt-4-turbo": P(10.0, 30.0),
    "gpt-3.5-turbo": P(0.50, 1.50),
    "o1": P(15.0, 60.0),
    "o3": P(2.0, 8.0),
    "o3-mini": P(1.10, 4.40),
    "o4-mini": P(1.10, 4.40),
    "text-embedding-3-small": P(0.02, 0.0),
    "text-embedding-3-large": P(0.13, 0.0),
    # Anthropic
    "claude-opus-4-1": P(15.0, 75.0),
    "claude-opus-4": P(15.0, 75.0),
    "claude-sonnet-4-5": P(3.0, 15.0),
    "claude-sonnet-4": P(3.0, 15.0),
    "claude-haiku-4-5": P(1.0, 5.0),
    "claude-3-7-sonnet": P(3.0, 15.0),
    "claude-3-5-sonnet": P(3.0, 15.0),
    "claude-3-5-haiku": P(0.80, 4.0),
    "claude-3-opus": P(15.0, 75.0),
    "claude-3-haiku": P(0.25, 1.25),
}
del P

# A release date the providers append to a model id: -2024-08-06 (OpenAI), -20250514
# (Anthropic); Anthropic also has -latest aliases.
_VERSION_SUFFIX = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8}|latest)$")


def base_model(model: str) -> str:
    """The model id without its release-date suffix."""
    return _VERSION_SUFFIX.sub("", model)


PriceLike = Price | tuple[float, float] | Mapping[str, float]


def _price(model: str, value: PriceLike) -> Price:
    if isinstance(value, Price):
        return value
    if isinstance(value, tuple) and len(value) == 2:
        return Price(float(value[0]), float(value[1]))
    if isinstance(value, Mapping) and set(value) == {"input", "output"}:
        return Price(float(value["input"]), float(value["output"]))
    raise ValueError(
        f"price for model {model!r} must be Price(input, output), a tuple (input, output) or "
        f"{{'input': x, 'output': y}} in USD per 1M tokens, got {value!r}"
    )


class PriceTable:
    """Model id -> Price; ``PriceTable()`` is the default table."""

    def __init__(self, prices: Mapping[str, PriceLike] | None = None, *, defaults: bool = True):
        table: dict[str, Price] = dict(DEFAULT_PRICES) if defaults else {}
        for model, value in (prices or {}).items():
            table[model] = _price(model, value)
        self._prices = table

    def price(self, model: str) -> Price | None:
        found = self._prices.get(model)
        if found is None:
            found = self._prices.get(base_model(model))
        return found

    def cost(self, model: str, input_tokens: int, output_tokens: int) -> float | None:
        """Dollars for this many tokens, or None when the model has no price."""
        price = self.price(model)
        return None if price is None else price.cost(input_tokens, output_tokens)

    def models(self) -> list[str]:
        return sorted(self._prices)
