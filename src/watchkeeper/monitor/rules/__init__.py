"""Rule evaluation for the embedded monitor: Prometheus rule files, recording and
alerting rules with Prometheus' semantics, and a ``promtool test rules`` runner.

- ``load_rule_file`` / ``parse_rule_text`` (``rulefile``): validated groups, or a
  ``RuleFileError`` whose problems read ``file:line: group "g", rule 2 (alert "X"): ...``.
- ``RulesManager`` (``manager``): evaluates every group on its interval, hot-reloads
  its ``RuleSource``s, writes ``ALERTS``/``ALERTS_FOR_STATE``, restores ``for`` state
  after a restart, resolves alerts that cleared while it was down, and hands alerts due
  to be (re)sent to a ``NotifyFunc``.
- ``run_unit_test_file`` (``promtool``): promtool's unit-test format and verdicts.
- ``Template`` (``template``): the Go text/template subset used in labels/annotations.
"""

from watchkeeper.monitor.rules.alerting import (
    ActiveAlert,
    AlertingRule,
    AlertState,
    QueryFunc,
    RecordingRule,
)
from watchkeeper.monitor.rules.group import EvalContext, Group
from watchkeeper.monitor.rules.manager import RulesConfig, RulesManager, RuleSource, file_source
from watchkeeper.monitor.rules.promtool import (
    UnitTestResult,
    run_unit_test_file,
    run_unit_tests,
)
from watchkeeper.monitor.rules.rulefile import (
    GroupSpec,
    RuleFileError,
    RuleSpec,
    load_rule_file,
    parse_rule_text,
)
from watchkeeper.monitor.rules.template import Template, TemplateData, TemplateError

__all__ = [
    "ActiveAlert",
    "AlertState",
    "AlertingRule",
    "EvalContext",
    "Group",
    "GroupSpec",
    "QueryFunc",
    "RecordingRule",
    "RuleFileError",
    "RuleSource",
    "RuleSpec",
    "RulesConfig",
    "RulesManager",
    "Template",
    "TemplateData",
    "TemplateError",
    "UnitTestResult",
    "file_source",
    "load_rule_file",
    "parse_rule_text",
    "run_unit_test_file",
    "run_unit_tests",
]
