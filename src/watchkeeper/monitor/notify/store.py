"""The notifier's durable state: one SQLite file in the monitor's data directory.

Tables: ``outbox`` (every notification to deliver, with its status), ``attempts``
(every delivery attempt), ``nflog`` (what each receiver was last told about each
group, Alertmanager's notification log) and ``silences``. A notification is
written together with its ``nflog`` entry in one transaction before anything is
sent, so a ``kill -9`` at any point loses nothing: on restart the pending rows
are delivered. WAL mode keeps readers (the API) off the writer's back.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import orjson

__all__ = ["Attempt", "NewNotification", "NflogEntry", "NotifyStore", "OutboxRow"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    lane TEXT NOT NULL,
    receiver TEXT NOT NULL,
    integration TEXT NOT NULL,
    group_key TEXT NOT NULL,
    message BLOB NOT NULL,
    created_ms INTEGER NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL,
    last_error TEXT NOT NULL DEFAULT '',
    finished_ms INTEGER
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (status, lane, id);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    notification_id INTEGER NOT NULL,
    time_ms INTEGER NOT NULL,
    receiver TEXT NOT NULL,
    integration TEXT NOT NULL,
    group_key TEXT NOT NULL,
    ok INTEGER NOT NULL,
    status_code INTEGER,
    error TEXT NOT NULL DEFAULT '',
    duration_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS attempts_by_notification ON attempts (notification_id);
CREATE TABLE IF NOT EXISTS nflog (
    receiver TEXT NOT NULL,
    integration TEXT NOT NULL,
    group_key TEXT NOT NULL,
    firing BLOB NOT NULL,
    resolved BLOB NOT NULL,
    time_ms INTEGER NOT NULL,
    PRIMARY KEY (receiver, integration, group_key)
);
CREATE TABLE IF NOT EXISTS silences (
    id TEXT PRIMARY KEY,
    body BLOB NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class NflogEntry:
    firing: frozenset[str]
    resolved: frozenset[str]
    time_ms: int


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    lane: str
    receiver: str
    integration: str
    group_key: str
    message: dict[str, object]
    created_ms: int
    status: str  # pending | delivered | dead
    attempts: int
    next_attempt_ms: int
    last_error: str
    finished_ms: int | None


@dataclass(frozen=True, slots=True)
class Attempt:
    notification_id: int
    time_ms: int
    receiver: str
    integration: str
    group_key: str
    ok: bool
    status_code: int | None
    error: str
    duration_ms: int


_OUTBOX_COLUMNS = (
    "id, lane, receiver, integration, group_key, message, created_ms, status, attempts, "
    "next_attempt_ms, last_error, finished_ms"
)


def _row(r: tuple[object, ...]) -> OutboxRow:
    return OutboxRow(
        id=int(r[0]),  # type: ignore[call-overload]
        lane=str(r[1]),
        receiver=str(r[2]),
        integration=str(r[3]),
        group_key=str(r[4]),
        message=orjson.loads(r[5]),  # type: ignore[arg-type]
        created_ms=int(r[6]),  # type: ignore[call-overload]
        status=str(r[7]),
        attempts=int(r[8]),  # type: ignore[call-overload]
        next_attempt_ms=int(r[9]),  # type: ignore[call-overload]
        last_error=str(r[10]),
        finished_ms=None if r[11] is None else int(r[11]),  # type: ignore[call-overload]
    )


@dataclass(frozen=True, slots=True)
class NewNotification:
    lane: str
    receiver: str
    integration: str
    group_key: str
    message: dict[str, object]


class NotifyStore:
    """Thread-safe access to the notifier's SQLite file (one connection, one lock)."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "notify.db"
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # --- outbox -------------------------------------------------------------------

    def enqueue(
        self,
        items: Sequence[NewNotification],
        now_ms: int,
        nflog: tuple[str, str, str, NflogEntry] | None = None,
    ) -> list[int]:
        """Write notifications (and the nflog entry they make true) in one transaction."""
        ids: list[int] = []
        with self._tx() as db:
            for n in items:
                cur = db.execute(
                    "INSERT INTO outbox (lane, receiver, integration, group_key, message, "
                    "created_ms, status, next_attempt_ms) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)",
                    (
                        n.lane,
                        n.receiver,
                        n.integration,
                        n.group_key,
                        orjson.dumps(n.message),
                        now_ms,
                        now_ms,
                    ),
                )
                ids.append(int(cur.lastrowid or 0))
            if nflog is not None:
                receiver, integration, group_key, entry = nflog
                db.execute(
                    "INSERT OR REPLACE INTO nflog VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        receiver,
                        integration,
                        group_key,
                        orjson.dumps(sorted(entry.firing)),
                        orjson.dumps(sorted(entry.resolved)),
                        entry.time_ms,
                    ),
                )
        return ids

    def due(self, now_ms: int, busy_lanes: set[str], limit: int = 64) -> list[OutboxRow]:
        """The oldest pending notification of each lane, if its next attempt is due."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE id IN "
                "(SELECT MIN(id) FROM outbox WHERE status = 'pending' GROUP BY lane) "
                "AND next_attempt_ms <= ? ORDER BY next_attempt_ms LIMIT ?",
                (now_ms, limit + len(busy_lanes)),
            ).fetchall()
        return [r for r in map(_row, rows) if r.lane not in busy_lanes][:limit]

    def next_due_ms(self, busy_lanes: set[str]) -> int | None:
        """When the next attempt of a lane not in flight is due (None: nothing pending)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT lane, next_attempt_ms FROM outbox WHERE id IN "
                "(SELECT MIN(id) FROM outbox WHERE status = 'pending' GROUP BY lane)"
            ).fetchall()
        due = [int(t) for lane, t in rows if lane not in busy_lanes]
        return min(due) if due else None

    def record(self, attempt: Attempt, status: str, next_attempt_ms: int) -> None:
        """Store an attempt and the notification's new status in one transaction."""
        finished = attempt.time_ms if status != "pending" else None
        with self._tx() as db:
            db.execute(
                "INSERT INTO attempts (notification_id, time_ms, receiver, integration, "
                "group_key, ok, status_code, error, duration_ms) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    attempt.notification_id,
                    attempt.time_ms,
                    attempt.receiver,
                    attempt.integration,
                    attempt.group_key,
                    int(attempt.ok),
                    attempt.status_code,
                    attempt.error,
                    attempt.duration_ms,
                ),
            )
            db.execute(
                "UPDATE outbox SET status = ?, attempts = attempts + 1, next_attempt_ms = ?, "
                "last_error = ?, finished_ms = ? WHERE id = ?",
                (status, next_attempt_ms, attempt.error, finished, attempt.notification_id),
            )

    def notifications(
        self, *, status: str | None = None, receiver: str | None = None, limit: int = 100
    ) -> list[tuple[OutboxRow, list[Attempt]]]:
        """The newest notifications first, each with its attempts (oldest first)."""
        where, args = [], []
        if status:
            where.append("status = ?")
            args.append(status)
        if receiver:
            where.append("receiver = ?")
            args.append(receiver)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        with self._lock:
            rows = [
                _row(r)
                for r in self._db.execute(
                    f"SELECT {_OUTBOX_COLUMNS} FROM outbox {clause} ORDER BY id DESC LIMIT ?",
                    (*args, limit),
                ).fetchall()
            ]
            out = []
            for row in rows:
                attempts = [
                    Attempt(int(a[0]), int(a[1]), a[2], a[3], a[4], bool(a[5]), a[6], a[7], a[8])
                    for a in self._db.execute(
                        "SELECT notification_id, time_ms, receiver, integration, group_key, ok, "
                        "status_code, error, duration_ms FROM attempts "
                        "WHERE notification_id = ? ORDER BY id",
                        (row.id,),
                    ).fetchall()
                ]
                out.append((row, attempts))
        return out

    def counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute(
                "SELECT status, COUNT(*) FROM outbox GROUP BY status"
            ).fetchall()
        return {str(s): int(n) for s, n in rows}

    def prune(self, before_ms: int) -> None:
        """Forget finished notifications (and their attempts) older than ``before_ms``."""
        with self._tx() as db:
            db.execute(
                "DELETE FROM attempts WHERE notification_id IN (SELECT id FROM outbox WHERE "
                "status != 'pending' AND finished_ms < ?)",
                (before_ms,),
            )
            db.execute(
                "DELETE FROM outbox WHERE status != 'pending' AND finished_ms < ?", (before_ms,)
            )
            db.execute("DELETE FROM nflog WHERE time_ms < ?", (before_ms,))

    # --- nflog --------------------------------------------------------------------

    def nflog(self) -> dict[tuple[str, str, str], NflogEntry]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM nflog").fetchall()
        return {
            (r[0], r[1], r[2]): NflogEntry(
                frozenset(orjson.loads(r[3])), frozenset(orjson.loads(r[4])), int(r[5])
            )
            for r in rows
        }

    # --- silences -----------------------------------------------------------------

    def silences(self) -> list[dict[str, object]]:
        with self._lock:
            rows = self._db.execute("SELECT body FROM silences").fetchall()
        return [orjson.loads(r[0]) for r in rows]

    def save_silence(self, silence_id: str, body: dict[str, object]) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO silences VALUES (?, ?)", (silence_id, orjson.dumps(body))
            )

    def delete_silence(self, silence_id: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM silences WHERE id = ?", (silence_id,))
