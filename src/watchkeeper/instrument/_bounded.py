"""Label values that come from outside the code (model names, reasons, datasets,
API keys) kept to a bounded set: declared values pass, the first ``cap`` others
pass, and everything after folds into ``other``.

The family cardinality limit (``metrics.py``) is the last line of defence; this
is the first: it folds per label and keeps a readable ``other`` instead of the
anonymous overflow series.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

__all__ = ["OTHER", "BoundedValues"]

OTHER = "other"
# A label value is a name, not a document: longer ones fold into ``other``.
MAX_VALUE_LENGTH = 100


class BoundedValues:
    """``BoundedValues(cap=20, declared=("timeout",))``; ``fold(v)`` returns ``v`` or ``other``.

    With ``declared`` values and ``cap=0`` only the declared values pass.
    """

    __slots__ = ("_lock", "cap", "declared", "seen")

    def __init__(self, cap: int, declared: Iterable[str] = ()) -> None:
        if cap < 0:
            raise ValueError(f"cap must be >= 0, got {cap}")
        self.cap = cap
        self.declared = frozenset(declared)
        self.seen: set[str] = set()
        self._lock = threading.Lock()

    def fold(self, value: str) -> str:
        if value in self.declared or value in self.seen:
            return value
        if not value or len(value) > MAX_VALUE_LENGTH or value == OTHER:
            return OTHER
        with self._lock:
            if len(self.seen) < self.cap:
                self.seen.add(value)
                return value
        return OTHER
