"""Silences: Alertmanager's API v2 model (matchers, start, end, author, comment).

A silence is *pending* before ``startsAt``, *active* until ``endsAt``, *expired*
after. Expiring an active silence ends it now; expiring a pending one ends it
before it starts. Validation follows Alertmanager 0.25: at least one matcher, at
least one matcher that does not match the empty string (or a silence would mute
everything), an end after the start and not in the past, an author and a comment.
Expired silences are kept (and listed) for five days, as Alertmanager does.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from watchkeeper.monitor.model import Matcher, MatchType
from watchkeeper.monitor.notify.matchers import MatcherError, matcher_from_api
from watchkeeper.monitor.notify.store import NotifyStore

__all__ = ["Silence", "SilenceError", "Silences", "format_time", "parse_time"]

RETENTION_MS = 120 * 3_600_000  # Alertmanager's --data.retention default
MAX_MATCHERS = 64
MAX_TEXT = 4096


class SilenceError(ValueError):
    """A silence that cannot be created or changed; ``status`` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def parse_time(value: object, where: str) -> int:
    """RFC 3339 (``2026-01-02T03:04:05Z``, fractional seconds allowed) to epoch ms."""
    if not isinstance(value, str) or not value:
        raise SilenceError(f"{where}: expected an RFC 3339 time such as 2026-01-02T15:04:05Z")
    text = value.strip().replace("z", "Z")
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise SilenceError(
            f"{where}: {value!r} is not an RFC 3339 time such as 2026-01-02T15:04:05Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def format_time(ms: int) -> str:
    """Epoch ms as Go's RFC 3339 with nanoseconds prints it (trailing zeros dropped)."""
    if ms <= 0:
        return "0001-01-01T00:00:00Z"
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    base = moment.strftime("%Y-%m-%dT%H:%M:%S")
    frac = ms % 1000
    return f"{base}.{frac:03d}".rstrip("0").rstrip(".") + "Z" if frac else base + "Z"


@dataclass(frozen=True, slots=True)
class Silence:
    id: str
    matchers: tuple[Matcher, ...]
    starts_at_ms: int
    ends_at_ms: int
    created_by: str
    comment: str
    updated_at_ms: int

    def state(self, now_ms: int) -> str:
        if now_ms < self.starts_at_ms:
            return "pending"
        return "active" if now_ms < self.ends_at_ms else "expired"

    def mutes(self, labels: Mapping[str, str], now_ms: int) -> bool:
        return self.state(now_ms) == "active" and all(
            m.matches(labels.get(m.name, "")) for m in self.matchers
        )

    def to_api(self, now_ms: int) -> dict[str, object]:
        return {
            "id": self.id,
            "status": {"state": self.state(now_ms)},
            "updatedAt": format_time(self.updated_at_ms),
            "comment": self.comment,
            "createdBy": self.created_by,
            "startsAt": format_time(self.starts_at_ms),
            "endsAt": format_time(self.ends_at_ms),
            "matchers": [
                {
                    "name": m.name,
                    "value": m.value,
                    "isRegex": m.type in (MatchType.REGEX, MatchType.NOT_REGEX),
                    "isEqual": m.type in (MatchType.EQUAL, MatchType.REGEX),
                }
                for m in self.matchers
            ],
        }


def _text(body: Mapping[str, object], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise SilenceError(f"{key}: required (a non-empty string)")
    if len(value) > MAX_TEXT:
        raise SilenceError(f"{key}: at most {MAX_TEXT} characters, got {len(value)}")
    return value


def silence_from_api(body: Mapping[str, object], now_ms: int) -> Silence:
    """Validate a ``postableSilence`` (the id is filled in by ``Silences.put``)."""
    raw = body.get("matchers")
    if not isinstance(raw, list) or not raw:
        raise SilenceError(
            'matchers: at least one matcher is required, e.g. {"name": '
            '"alertname", "value": "HighErrorRate", "isRegex": false}'
        )
    if len(raw) > MAX_MATCHERS:
        raise SilenceError(f"matchers: at most {MAX_MATCHERS}, got {len(raw)}")
    matchers: list[Matcher] = []
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping):
            raise SilenceError(f"matchers[{i}]: expected an object, got {item!r}")
        try:
            matchers.append(matcher_from_api(item, f"matchers[{i}]"))
        except MatcherError as exc:
            raise SilenceError(str(exc)) from None
    if all(m.matches("") for m in matchers):
        raise SilenceError(
            "matchers: at least one matcher must not match the empty string, "
            "or the silence would mute every alert"
        )
    starts = parse_time(body.get("startsAt"), "startsAt") if body.get("startsAt") else now_ms
    ends = parse_time(body.get("endsAt"), "endsAt")
    if ends <= now_ms:
        raise SilenceError(f"endsAt ({format_time(ends)}) is in the past")
    if ends <= starts:
        raise SilenceError(
            f"endsAt ({format_time(ends)}) must be after startsAt ({format_time(starts)})"
        )
    silence_id = body.get("id")
    return Silence(
        id=silence_id if isinstance(silence_id, str) else "",
        matchers=tuple(matchers),
        starts_at_ms=max(starts, now_ms),  # a start in the past means "now"
        ends_at_ms=ends,
        created_by=_text(body, "createdBy"),
        comment=_text(body, "comment"),
        updated_at_ms=now_ms,
    )


class Silences:
    """The silences, in memory and in the notifier's store (thread-safe)."""

    def __init__(self, store: NotifyStore) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._by_id: dict[str, Silence] = {}
        for body in store.silences():
            silence = silence_from_store(body)
            self._by_id[silence.id] = silence

    def put(self, silence: Silence, now_ms: int) -> Silence:
        """Create a silence, or update one (``silence.id`` set), as Alertmanager does: a
        pending silence changes in place; an active one too when only its end, author
        or comment change; otherwise the active one is expired and a new id is made."""
        with self._lock:
            if silence.id:
                old = self._by_id.get(silence.id)
                if old is None:
                    raise SilenceError(f"silence {silence.id} not found", 404)
                state = old.state(now_ms)
                if state == "expired":
                    raise SilenceError(f"silence {silence.id} is expired and cannot be changed")
                if state == "active":
                    if old.matchers == silence.matchers:
                        silence = replace(silence, starts_at_ms=old.starts_at_ms)
                    else:
                        ended = replace(old, ends_at_ms=now_ms, updated_at_ms=now_ms)
                        self._store.save_silence(ended.id, silence_to_store(ended))
                        self._by_id[ended.id] = ended
                        silence = replace(silence, id=str(uuid.uuid4()))
            else:
                silence = replace(silence, id=str(uuid.uuid4()))
            self._store.save_silence(silence.id, silence_to_store(silence))
            self._by_id[silence.id] = silence
            return silence

    def expire(self, silence_id: str, now_ms: int) -> Silence:
        with self._lock:
            old = self._by_id.get(silence_id)
            if old is None:
                raise SilenceError(f"silence {silence_id} not found", 404)
            state = old.state(now_ms)
            if state == "expired":
                raise SilenceError(f"silence {silence_id} is already expired")
            start = now_ms if state == "pending" else old.starts_at_ms
            new = replace(old, starts_at_ms=start, ends_at_ms=now_ms, updated_at_ms=now_ms)
            self._store.save_silence(new.id, silence_to_store(new))
            self._by_id[new.id] = new
            return new

    def get(self, silence_id: str) -> Silence | None:
        with self._lock:
            return self._by_id.get(silence_id)

    def list(self, now_ms: int) -> list[Silence]:
        """Every silence, dropping those expired longer than the retention ago."""
        with self._lock:
            for sid, s in list(self._by_id.items()):
                if s.ends_at_ms < now_ms - RETENTION_MS:
                    del self._by_id[sid]
                    self._store.delete_silence(sid)
            return sorted(self._by_id.values(), key=lambda s: (s.ends_at_ms, s.id))

    def muted_by(self, labels: Mapping[str, str], now_ms: int) -> Sequence[str]:
        with self._lock:
            return [s.id for s in self._by_id.values() if s.mutes(labels, now_ms)]


def silence_to_store(s: Silence) -> dict[str, object]:
    return {
        "id": s.id,
        "matchers": [[m.name, m.type.value, m.value] for m in s.matchers],
        "startsAt": s.starts_at_ms,
        "endsAt": s.ends_at_ms,
        "createdBy": s.created_by,
        "comment": s.comment,
        "updatedAt": s.updated_at_ms,
    }


def silence_from_store(body: Mapping[str, object]) -> Silence:
    raw = body["matchers"]
    assert isinstance(raw, list)
    return Silence(
        id=str(body["id"]),
        matchers=tuple(Matcher.of(str(n), str(t), str(v)) for n, t, v in raw),
        starts_at_ms=int(body["startsAt"]),  # type: ignore[call-overload]
        ends_at_ms=int(body["endsAt"]),  # type: ignore[call-overload]
        created_by=str(body["createdBy"]),
        comment=str(body["comment"]),
        updated_at_ms=int(body["updatedAt"]),  # type: ignore[call-overload]
    )
