"""``promtool test rules`` on the embedded engine: the same file format, the same verdicts.

The format (Prometheus' docs, "Unit testing for rules"): ``rule_files``,
``evaluation_interval`` (1m), ``group_eval_order``, and ``tests``, each with
``interval``, ``input_series`` (series + values in the expanding notation: ``0+10x100``,
``1x5``, ``_``, ``_x3``, ``stale``), ``alert_rule_test`` (``eval_time``, ``alertname``,
``exp_alerts`` of ``exp_labels`` / ``exp_annotations``), ``promql_expr_test`` (``expr``,
``eval_time``, ``exp_samples`` of ``labels`` / ``value``), ``external_labels``,
``external_url`` and ``name``.

Semantics follow promtool 2.42 (cmd/promtool/unittest.go): every group is evaluated at
every ``evaluation_interval`` step from 0 to the largest ``eval_time``; alerts expected
at ``t`` are compared with the firing alerts after the evaluation at the step ``ts``
with ``ts <= t < ts + evaluation_interval``; a rule evaluation error ends the test
group; expected and actual lists are compared as sorted sets, values exactly.
"""

from __future__ import annotations

import glob
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from watchkeeper.errors import QueryError
from watchkeeper.monitor.model import Labels, labels_from
from watchkeeper.monitor.promql.engine import Engine
from watchkeeper.monitor.promql.parser import parse_duration
from watchkeeper.monitor.promql.promqltest.dsl import TestFileError, parse_series_line
from watchkeeper.monitor.rules.alerting import AlertingRule, AlertState, query_vector
from watchkeeper.monitor.rules.gofmt import go_float
from watchkeeper.monitor.rules.group import EvalContext, Group
from watchkeeper.monitor.rules.rulefile import GroupSpec, RuleFileError, load_rule_file
from watchkeeper.monitor.rules.teststorage import UnitTestStorage

__all__ = ["UnitTestResult", "run_unit_test_file", "run_unit_tests"]

_FILE_KEYS = {"rule_files", "evaluation_interval", "group_eval_order", "tests"}
_GROUP_KEYS = {
    "interval",
    "input_series",
    "alert_rule_test",
    "promql_expr_test",
    "external_labels",
    "external_url",
    "name",
}


@dataclass
class UnitTestResult:
    """One test file's verdict: ``errors`` empty means promtool would print SUCCESS."""

    path: Path
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def report(self) -> str:
        head = f"Unit Testing:  {self.path}\n"
        if self.ok:
            return head + "  SUCCESS\n"
        return head + "  FAILED:\n" + "\n".join(self.errors) + "\n"


def _duration(value: object, where: str) -> int:
    try:
        return parse_duration(str(value))
    except QueryError as exc:
        raise TestFileError(f"{where}: {exc}") from None


def _labels_text(labels: Labels) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in labels) + "}"


Pairs = tuple[tuple[str, str], ...]


def _alerts_text(alerts: Sequence[tuple[Labels, Pairs]]) -> str:
    items = [f"Labels:{_labels_text(lb)}\nAnnotations:{_labels_text(an)}" for lb, an in alerts]
    return "[\n" + ",\n".join(items) + "\n]" if items else "[]"


class _TestGroup:
    def __init__(
        self,
        raw: Mapping[str, Any],
        eval_interval_ms: int,
        rule_groups: list[GroupSpec],
        order: Mapping[str, int],
    ) -> None:
        unknown = set(raw) - _GROUP_KEYS
        if unknown:
            raise TestFileError(f"field(s) {sorted(unknown)} not found in type main.testGroup")
        self.raw = raw
        self.name = str(raw.get("name") or "")
        self.eval_interval_ms = eval_interval_ms
        self.interval_ms = _duration(raw.get("interval") or f"{eval_interval_ms}ms", "interval")
        self.rule_groups = sorted(rule_groups, key=lambda g: order.get(g.name, 0))

    def run(self) -> list[str]:
        storage = UnitTestStorage()
        for item in self.raw.get("input_series") or []:
            labels, values = parse_series_line(f"{item['series']} {item.get('values', '')}")
            for i, v in enumerate(values):
                if v is not None:
                    storage.append(labels, i * self.interval_ms, v)
        engine = Engine(storage, no_step_subquery_interval_ms=self.eval_interval_ms)
        external = {str(k): str(v) for k, v in (self.raw.get("external_labels") or {}).items()}
        ctx = EvalContext(
            query=engine.instant_query,
            appendable=storage,
            external_url=str(self.raw.get("external_url") or ""),
            external_labels=external,
        )
        groups = [Group(spec, self.interval_ms, ctx) for spec in self.rule_groups]
        for group in groups:
            for alerting in group.alerting_rules():
                alerting.restored = True  # promtool: ALERTS series from the first evaluation
        alert_tests = list(self.raw.get("alert_rule_test") or [])
        expr_tests = list(self.raw.get("promql_expr_test") or [])
        by_time: dict[int, list[Mapping[str, Any]]] = {}
        for case in alert_tests:
            if not case.get("alertname"):
                suffix = f" (in TestGroup {self.name})" if self.name else ""
                return [
                    "an item under alert_rule_test misses required attribute alertname at "
                    f"eval_time {case.get('eval_time')}{suffix}"
                ]
            by_time.setdefault(_duration(case.get("eval_time", 0), "eval_time"), []).append(case)
        times = sorted(by_time)
        max_t = max(
            [*times, *(_duration(c.get("eval_time", 0), "eval_time") for c in expr_tests), 0]
        )
        errors: list[str] = []
        cur = 0
        ts = 0
        while ts <= max_t:
            eval_errors: list[str] = []
            for group in groups:
                group.eval(ts, ctx)
                eval_errors.extend(
                    f"    rule: {r.name}, time: {_fmt_ms(ts)}, err: {r.last_error}"
                    for r in group.rules
                    if r.last_error
                )
            if eval_errors:
                return errors + eval_errors
            while cur < len(times) and ts <= times[cur] < ts + self.eval_interval_ms:
                errors.extend(self._check_alerts(groups, times[cur], by_time[times[cur]]))
                cur += 1
            ts += self.eval_interval_ms
        for case in expr_tests:
            errors.extend(self._check_expr(engine, case))
        return errors

    def _check_alerts(
        self, groups: list[Group], t: int, cases: list[Mapping[str, Any]]
    ) -> list[str]:
        names = {str(c["alertname"]) for c in cases}
        got: dict[str, list[tuple[Labels, Pairs]]] = {}
        for group in groups:
            for rule in group.alerting_rules():
                if rule.name not in names:
                    continue
                got.setdefault(rule.name, []).extend(_firing(rule))
        errors = []
        for case in cases:
            name = str(case["alertname"])
            exp = []
            for a in case.get("exp_alerts") or []:
                lb = {str(k): _str(v) for k, v in (a.get("exp_labels") or {}).items()}
                lb["alertname"] = name
                an = {str(k): _str(v) for k, v in (a.get("exp_annotations") or {}).items()}
                exp.append((labels_from(lb), tuple(sorted(an.items()))))
            have = sorted(got.get(name, []))
            exp.sort()
            if exp != have:
                test_name = f"    name: {self.name},\n" if self.name else ""
                errors.append(
                    f"{test_name}    alertname: {name}, time: {_fmt_ms(t)}, \n"
                    f"        exp:{_alerts_text(exp)}, \n        got:{_alerts_text(have)}"
                )
        return errors

    def _check_expr(self, engine: Engine, case: Mapping[str, Any]) -> list[str]:
        expr = str(case.get("expr", ""))
        t = _duration(case.get("eval_time", 0), "eval_time")
        where = f"    expr: {expr!r}, time: {_fmt_ms(t)}"
        try:
            got = [(s.labels, s.value) for s in query_vector(engine.instant_query, expr, t)]
        except QueryError as exc:
            return [f"{where}, err: {exc}"]
        exp = []
        for s in case.get("exp_samples") or []:
            text = str(s.get("labels", "{}"))
            try:
                labels, _ = parse_series_line(f"{text} 0")
            except TestFileError as exc:
                return [f"{where}, err: labels {text!r}: {exc}"]
            exp.append((labels, float(s.get("value", 0))))
        exp.sort(key=lambda p: p[0])
        got.sort(key=lambda p: p[0])
        # Go's reflect.DeepEqual: exact floats, and NaN never equals NaN.
        if exp != got or any(a[1] != b[1] for a, b in zip(exp, got, strict=True)):
            return [
                f"{where},\n        exp: {_samples_text(exp)}\n        got: {_samples_text(got)}"
            ]
        return []


def _firing(rule: AlertingRule) -> list[tuple[Labels, Pairs]]:
    return [
        (a.labels, tuple(sorted(a.annotations)))
        for a in rule.active.values()
        if a.state is AlertState.FIRING
    ]


def _samples_text(samples: Sequence[tuple[Labels, float]]) -> str:
    return "[" + ", ".join(f"{_labels_text(lb)} {go_float(v)}" for lb, v in samples) + "]"


def _str(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return "" if v is None else str(v)


def _fmt_ms(ms: int) -> str:
    """Go's time.Duration String for whole seconds (``3m0s``, ``1h2m0s``)."""
    seconds, rest = divmod(ms, 1000)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    sec = f"{s}.{rest:03d}".rstrip("0").rstrip(".") if rest else str(s)
    if h:
        return f"{h}h{m}m{sec}s"
    if m:
        return f"{m}m{sec}s"
    return f"{sec}s"


def run_unit_test_file(path: str | Path) -> UnitTestResult:
    """Run one promtool unit-test file; the result's errors say what failed and where."""
    p = Path(path)
    result = UnitTestResult(p)
    try:
        doc = YAML(typ="safe", pure=True).load(p.read_text(encoding="utf-8"))
    except (OSError, YAMLError) as exc:
        result.errors.append(str(exc))
        return result
    if not isinstance(doc, Mapping):
        result.errors.append(f"{p}: not a promtool test file (expected a mapping)")
        return result
    unknown = set(doc) - _FILE_KEYS
    if unknown:
        result.errors.append(f"{p}: field(s) {sorted(unknown)} not found in type main.unitTestFile")
        return result
    try:
        eval_ms = _duration(doc.get("evaluation_interval") or "1m", "evaluation_interval")
        order = {str(n): i for i, n in enumerate(doc.get("group_eval_order") or [])}
        if len(order) != len(doc.get("group_eval_order") or []):
            result.errors.append("group name repeated in evaluation order")
            return result
        specs: list[GroupSpec] = []
        for pattern in doc.get("rule_files") or []:
            full = (
                str(pattern) if Path(str(pattern)).is_absolute() else str(p.parent / str(pattern))
            )
            for match in sorted(glob.glob(full)):
                specs.extend(load_rule_file(match))
        for raw in doc.get("tests") or []:
            group = _TestGroup(raw, eval_ms, specs, order)
            result.errors.extend(group.run())
    except RuleFileError as exc:
        result.errors.extend(exc.problems)
    except (TestFileError, KeyError, TypeError, ValueError) as exc:
        result.errors.append(f"{p}: {exc}")
    return result


def run_unit_tests(paths: Sequence[str | Path]) -> list[UnitTestResult]:
    return [run_unit_test_file(p) for p in paths]
