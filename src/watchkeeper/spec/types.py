"""Field types shared by the spec models: durations, exact decimals, names, secrets.

Numbers become :class:`~decimal.Decimal` through their decimal text (``str(99.9)``),
never through binary floats, so ``99.9`` stays ``99.9`` all the way into the
generated thresholds.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

from watchkeeper.spec.durations import Duration, parse_duration

__all__ = [
    "ENV_REF",
    "DurationField",
    "PositiveDurationField",
    "LabelName",
    "Number",
    "Percent",
    "is_env_ref",
    "to_decimal",
]

ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def is_env_ref(value: str) -> bool:
    """True for a whole-string environment reference such as ``${SLACK_WEBHOOK_URL}``."""
    return ENV_REF.match(value) is not None


def to_decimal(value: Any) -> Decimal:
    """Exact decimal from YAML int/float/str; ``"1%"`` means ``0.01``."""
    if isinstance(value, bool):
        raise ValueError(f"must be a number, got {value!r}")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int | float):
        return Decimal(str(value))
    if isinstance(value, str):
        text = value.strip()
        scale = Decimal(1)
        if text.endswith("%"):
            text, scale = text[:-1].strip(), Decimal("0.01")
        try:
            return Decimal(text) * scale
        except InvalidOperation:
            pass
    raise ValueError(f"must be a number such as 0.5, 10 or '1%', got {value!r}")


def _percent(value: Any) -> Decimal:
    # Objectives are written as percentages (99.9); a trailing % is tolerated.
    if isinstance(value, str) and value.strip().endswith("%"):
        value = value.strip()[:-1]
    return to_decimal(value)


def _label_name(value: Any) -> str:
    if not isinstance(value, str) or not _LABEL_NAME.match(value):
        raise ValueError(
            f"must be a Prometheus label name (letters, digits, _; not starting with a digit), "
            f"got {value!r}"
        )
    return value


DurationField = Annotated[
    Duration, BeforeValidator(parse_duration), PlainSerializer(str, return_type=str)
]


def _positive_duration(value: Any) -> Duration:
    duration = parse_duration(value)
    if duration.seconds <= 0:
        raise ValueError(f"must be longer than 0s (e.g. 5m), got {value!r}")
    return duration


# A rate window, baseline offset or prediction horizon: 0s would make invalid
# PromQL ([0s]) or compare a series with itself.
PositiveDurationField = Annotated[
    Duration, BeforeValidator(_positive_duration), PlainSerializer(str, return_type=str)
]
Number = Annotated[Decimal, BeforeValidator(to_decimal)]
Percent = Annotated[Decimal, BeforeValidator(_percent)]
LabelName = Annotated[str, BeforeValidator(_label_name)]
