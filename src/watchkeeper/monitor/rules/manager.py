"""RulesManager: loads rule sources, evaluates every group on its interval, hot-reloads,
restores state after a restart, and hands due alerts to the notifier.

One loop drives every group (``run``): each due group is evaluated at its aligned
timestamp in a worker thread (PromQL is CPU work; the HTTP API stays responsive), its
outputs appended under the store's writer lock (shared with the scrapers), then the
alerts due to be sent are passed to ``notify`` on the event loop's thread. Sources are
polled for changes (a file's mtime and size): a source that fails to load keeps its last
good groups running and its error is shown by ``load_errors`` (API, CLI, logs).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from watchkeeper.monitor.model import Alert, Appendable, NotifyFunc, Queryable
from watchkeeper.monitor.rules.alerting import ActiveAlert, AlertState, QueryFunc, generator_url
from watchkeeper.monitor.rules.group import EvalContext, Group
from watchkeeper.monitor.rules.rulefile import GroupSpec, RuleFileError, load_rule_file
from watchkeeper.monitor.rules.state import FiringAlert, load_firing, save_firing
from watchkeeper.monitor.rules.views import alerts_json, group_json

__all__ = ["RuleSource", "RulesConfig", "RulesManager", "file_source"]

log = logging.getLogger("watchkeeper.monitor.rules")

STATE_FILE = "rules-state.json"


@dataclass(frozen=True)
class RuleSource:
    """Where groups come from: a rule file, or rules generated from a spec in memory.

    ``stamp()`` changes whenever ``read()`` could return something new (cheap to call);
    ``read()`` raises ``RuleFileError`` with located problems.
    """

    name: str
    stamp: Callable[[], object]
    read: Callable[[], list[GroupSpec]]


def file_source(path: str | Path) -> RuleSource:
    p = Path(path)

    def stamp() -> object:
        try:
            st = p.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    return RuleSource(str(p), stamp, lambda: load_rule_file(p))


@dataclass(frozen=True)
class RulesConfig:
    """Prometheus' flags of the same meaning, with its defaults."""

    evaluation_interval_s: float = 60.0  # global.evaluation_interval
    resend_delay_s: float = 60.0  # --rules.alert.resend-delay
    outage_tolerance_s: float = 3600.0  # --rules.alert.for-outage-tolerance
    for_grace_period_s: float = 600.0  # --rules.alert.for-grace-period
    reload_check_s: float = 2.0  # how often sources are polled for changes
    external_url: str = ""
    external_labels: Mapping[str, str] = field(default_factory=dict)


class RulesManager:
    def __init__(
        self,
        sources: Sequence[RuleSource],
        *,
        query: QueryFunc,
        appendable: Appendable,
        queryable: Queryable | None = None,
        write_lock: contextlib.AbstractContextManager[object] | None = None,
        notify: NotifyFunc | None = None,
        data_dir: Path | None = None,
        config: RulesConfig | None = None,
        clock: Callable[[], float] = time.time,
        offload: bool = True,
    ) -> None:
        self.config = config or RulesConfig()
        self.sources = list(sources)
        self.ctx = EvalContext(
            query=query,
            appendable=appendable,
            queryable=queryable,
            write_lock=write_lock if write_lock is not None else threading.RLock(),
            resend_delay_ms=int(self.config.resend_delay_s * 1000),
            outage_tolerance_ms=int(self.config.outage_tolerance_s * 1000),
            for_grace_period_ms=int(self.config.for_grace_period_s * 1000),
            external_url=self.config.external_url,
            external_labels=dict(self.config.external_labels),
        )
        self.notify = notify
        self._clock = clock
        self._offload = offload
        self._state_path = data_dir / STATE_FILE if data_dir is not None else None
        self._stamps: dict[str, object] = {}
        self._specs: dict[str, list[GroupSpec]] = {}  # last good groups of each source
        self._errors: dict[str, list[str]] = {}
        self._groups: list[Group] = []
        self._next_ms: dict[tuple[str, str], int] = {}
        self._first_load = True
        self._pending_resolve = load_firing(self._state_path) if self._state_path else []
        self._saved_firing: list[FiringAlert] | None = None
        self._next_reload = 0.0
        self._stopped: asyncio.Event | None = None
        self._lock = threading.Lock()  # one step at a time (run loop vs. direct calls)
        self.reload()

    # --- loading -----------------------------------------------------------------------

    @property
    def groups(self) -> list[Group]:
        return list(self._groups)

    def load_errors(self) -> list[str]:
        """Every problem of every source that failed its last load (its old rules still run)."""
        return [p for problems in self._errors.values() for p in problems]

    def reload(self) -> bool:
        """Re-read the sources that changed; returns True when the groups changed."""
        changed = False
        for source in self.sources:
            stamp = source.stamp()
            if source.name in self._stamps and self._stamps[source.name] == stamp:
                continue
            self._stamps[source.name] = stamp
            try:
                specs = source.read()
            except RuleFileError as exc:
                if self._errors.get(source.name) != exc.problems:
                    kept = "keeping its last good rules" if source.name in self._specs else ""
                    log.error(
                        "watchkeeper: rule file %s failed to load%s:\n%s",
                        source.name,
                        f" ({kept})" if kept else "",
                        exc,
                    )
                self._errors[source.name] = exc.problems
                continue
            except Exception as exc:  # a generator bug must not take the monitor down
                log.exception("watchkeeper: rules from %s failed to load", source.name)
                self._errors[source.name] = [f"{source.name}: {exc}"]
                continue
            self._errors.pop(source.name, None)
            if self._specs.get(source.name) != specs:
                self._specs[source.name] = specs
                changed = True
                if not self._first_load:
                    log.info("watchkeeper: reloaded rules from %s", source.name)
        if changed or self._first_load:
            self._apply()
        self._first_load = False
        return changed

    def _apply(self) -> None:
        old = {g.key: g for g in self._groups}
        default_ms = int(self.config.evaluation_interval_s * 1000)
        new: list[Group] = []
        for source in self.sources:
            for spec in self._specs.get(source.name, []):
                group = Group(spec, default_ms, self.ctx)
                previous = old.pop(group.key, None)
                if previous is not None:
                    group.copy_state_from(previous)
                elif not self._first_load and not any(
                    (p.group_file, p.group_name) == group.key for p in self._pending_resolve
                ):
                    # Restore only what ran before a restart (or a group whose file was
                    # broken at start-up and still has alerts from then to settle).
                    group.should_restore = False
                    for rule in group.alerting_rules():
                        rule.restored = True
                new.append(group)
        now_ms = int(self._clock() * 1000)
        for removed in old.values():
            removed.mark_all_stale(now_ms, self.ctx)
            self._next_ms.pop(removed.key, None)
        self._groups = new

    # --- evaluation --------------------------------------------------------------------

    def step(self) -> list[Alert]:
        """Reload if due, evaluate every due group; returns (and notifies) due alerts."""
        with self._lock:
            now = self._clock()
            if now >= self._next_reload:
                self._next_reload = now + self.config.reload_check_s
                self.reload()
            now_ms = int(now * 1000)
            due: list[Alert] = []
            for group in self._groups:
                nxt = self._next_ms.get(group.key)
                if nxt is None:  # first run: wait for the next aligned slot, as Prometheus
                    self._next_ms[group.key] = group.eval_timestamp(now_ms) + group.interval_ms
                    continue
                if now_ms < nxt:
                    continue
                ts = group.eval_timestamp(now_ms)  # skips missed slots after a stall
                due.extend(group.eval(ts, self.ctx))
                self._next_ms[group.key] = ts + group.interval_ms
                if group.should_restore and group.evaluations >= 2:
                    group.restore_for_state(ts, self.ctx)
                    due.extend(self._resolve_cleared(group, ts))
            due.extend(self._resolve_orphans(now_ms))
            self._persist(now_ms)
        return due

    def evaluate_all(self, ts_ms: int) -> list[Alert]:
        """Evaluate every group once at ``ts_ms`` (tools and tests); no notification."""
        with self._lock:
            return [a for g in self._groups for a in g.eval(ts_ms, self.ctx)]

    def _resolve_cleared(self, group: Group, ts_ms: int) -> list[Alert]:
        """Alerts that fired before the restart and are not active now: resolve them."""
        mine = [p for p in self._pending_resolve if (p.group_file, p.group_name) == group.key]
        if not mine:
            return []
        self._pending_resolve = [p for p in self._pending_resolve if p not in mine]
        out: list[Alert] = []
        for p in mine:
            rule = next((r for r in group.alerting_rules() if r.name == p.rule), None)
            if rule is None:
                out.append(self._resolved(p, ts_ms))
                continue
            current = rule.active.get(p.labels)
            if current is not None and current.state is not AlertState.INACTIVE:
                continue  # still active: its own state machine carries on
            gone = ActiveAlert(
                p.labels,
                p.annotations,
                p.value,
                p.active_at_ms,
                AlertState.INACTIVE,
                fired_at_ms=p.fired_at_ms,
                resolved_at_ms=ts_ms,
            )
            rule.active[p.labels] = gone  # kept 15 minutes and re-sent, like any resolution
            url = generator_url(self.ctx.external_url, rule.spec.expr)
            out.extend(
                a
                for a in rule.due_alerts(ts_ms, self.ctx.resend_delay_ms, group.interval_ms, url)
                if a.labels == p.labels
            )
        return out

    def _resolve_orphans(self, now_ms: int) -> list[Alert]:
        """Persisted alerts whose group no longer exists are resolved at once (those of a
        source that fails to load wait: the group may come back with the fix)."""
        keys = {g.key for g in self._groups}
        # A source that does not load (yet) may still hold the group: keep waiting for it.
        broken = tuple(self._errors)
        orphans = [
            p
            for p in self._pending_resolve
            if (p.group_file, p.group_name) not in keys and not p.group_file.startswith(broken)
        ]
        if not orphans:
            return []
        self._pending_resolve = [p for p in self._pending_resolve if p not in orphans]
        return [self._resolved(p, now_ms) for p in orphans]

    @staticmethod
    def _resolved(p: FiringAlert, now_ms: int) -> Alert:
        return Alert(p.labels, p.annotations, p.fired_at_ms, now_ms)

    def firing(self) -> list[FiringAlert]:
        out = list(self._pending_resolve)
        for g in self._groups:
            for rule in g.alerting_rules():
                for a in list(rule.active.values()):
                    if a.state is AlertState.FIRING:
                        out.append(
                            FiringAlert(
                                g.file,
                                g.name,
                                rule.name,
                                a.labels,
                                a.annotations,
                                a.active_at_ms,
                                a.fired_at_ms,
                                a.value,
                            )
                        )
        return out

    def _persist(self, now_ms: int) -> None:
        if self._state_path is None:
            return
        firing = self.firing()
        # Values change every evaluation; only the set and its texts matter after a restart.
        key = [(f.group_file, f.group_name, f.rule, f.labels, f.annotations) for f in firing]
        if self._saved_firing is not None and key == [
            (f.group_file, f.group_name, f.rule, f.labels, f.annotations)
            for f in self._saved_firing
        ]:
            return
        try:
            save_firing(self._state_path, firing, now_ms)
            self._saved_firing = firing
        except OSError as exc:
            log.error("watchkeeper: could not write %s: %s", self._state_path, exc)

    # --- running -----------------------------------------------------------------------

    def _deliver(self, alerts: list[Alert]) -> None:
        if not alerts or self.notify is None:
            return
        try:
            self.notify(alerts)
        except Exception:  # the notifier's failure must not stop rule evaluation
            log.exception("watchkeeper: the notifier failed to accept %d alert(s)", len(alerts))

    def _sleep_s(self) -> float:
        now_ms = int(self._clock() * 1000)
        waits = [(t - now_ms) / 1000 for t in self._next_ms.values()]
        waits.append(self._next_reload - self._clock())
        return max(0.01, min(waits))

    async def run(self) -> None:
        """Evaluate until ``stop()``; every group on its own aligned schedule."""
        self._stopped = asyncio.Event()
        while not self._stopped.is_set():
            try:
                due = await asyncio.to_thread(self.step) if self._offload else self.step()
                self._deliver(due)
            except Exception:  # a bug or a full disk must not end rule evaluation
                log.exception("watchkeeper: rule evaluation failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), timeout=self._sleep_s())

    async def stop(self) -> None:
        if self._stopped is not None:
            self._stopped.set()

    # --- API views ---------------------------------------------------------------------

    def rule_groups_json(self) -> list[dict[str, Any]]:
        return [group_json(g) for g in self._groups]

    def alerts_json(self) -> list[dict[str, Any]]:
        return alerts_json(self._groups)
