"""The strict base model every spec section derives from."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["SpecModel"]


class SpecModel(BaseModel):
    # strict: no silent coercion ("5" is not 5); forbid: a typo is an error, not a no-op.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)
