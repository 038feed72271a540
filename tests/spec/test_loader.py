"""The spec's located errors: every message names file:line, the field, the bad value
and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from watchkeeper.errors import SpecError
from watchkeeper.spec import SpecProblems, load_spec, load_spec_text, spec_warnings

EXAMPLES = sorted((Path(__file__).parents[2] / "examples" / "specs").glob("*.yaml"))


def errors_of(text: str) -> list[str]:
    with pytest.raises(SpecProblems) as info:
        load_spec_text(text, "watchkeeper.yaml")
    assert isinstance(info.value, SpecError)
    return list(info.value.lines)


def test_typo_key_names_line_and_suggests_the_right_key() -> None:
    text = (
        "service: shop\n"
        "slos:\n"
        "  - name: availability\n"
        "    objectve: 99.9\n"
        "    sli: {kind: availability}\n"
    )
    assert errors_of(text) == [
        'watchkeeper.yaml:3: slos[0] "availability": objective is required',
        'watchkeeper.yaml:4: slos[0] "availability": unknown key "objectve"; '
        'did you mean "objective"?',
    ]


def test_typo_top_level_key() -> None:
    assert errors_of("service: shop\nsevrice_level: 3\n") == [
        'watchkeeper.yaml:2: unknown key "sevrice_level"; did you mean "service"?'
    ]


def test_objective_of_101_percent() -> None:
    text = (
        "service: shop\n"
        "slos:\n"
        "  - name: availability\n"
        "    sli: {kind: availability}\n"
        "    objective: 101\n"
    )
    assert errors_of(text) == [
        'watchkeeper.yaml:5: slos[0] "availability": objective must be between 0 and 100 '
        "(exclusive), got 101; write it as a percentage such as 99.9"
    ]


def test_ninety_percent_slo_cannot_fire_the_14_4_page() -> None:
    text = (
        "service: shop\n"
        "slos:\n"
        "  - name: availability\n"
        "    objective: 90\n"
        "    sli: {kind: availability}\n"
    )
    errors = errors_of(text)
    # 14.4 x 10% = 144% and 6 x 10% = 60%: only the fast page tier is impossible.
    assert errors == [
        'watchkeeper.yaml:3: slos[0] "availability".burn_windows[0]: page tier 1h/5m can '
        "never fire: factor 14.4 x error budget 10% = 144% error ratio, and a ratio cannot "
        "exceed 100%; lower the factor below 10 or raise the objective (now 90%)"
    ]


def test_explicit_burn_window_points_at_its_own_line() -> None:
    text = (
        "service: shop\n"
        "slos:\n"
        "  - name: availability\n"
        "    objective: 95\n"
        "    sli: {kind: availability}\n"
        "    burn_windows:\n"
        "      - {tier: page, long: 1h, short: 5m, factor: 20}\n"
    )
    (error,) = errors_of(text)
    assert error.startswith('watchkeeper.yaml:7: slos[0] "availability".burn_windows[0]: ')
    assert "factor 20 x error budget 5% = 100%" in error


def test_latency_threshold_off_the_buckets_lists_the_bounds() -> None:
    text = (
        "service: shop\n"
        "slos:\n"
        "  - name: fast\n"
        "    objective: 99\n"
        "    sli:\n"
        "      kind: latency\n"
        "      threshold: 0.3\n"
    )
    assert errors_of(text) == [
        'watchkeeper.yaml:7: slos[0] "fast".sli: threshold must be a bucket bound of '
        "http_server_request_duration_seconds (a histogram cannot tell what lies between "
        "bounds), got 0.3; pick one of 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, "
        "0.75, 1, 2.5, 5, 7.5, 10"
    ]


def test_inhibition_equal_label_the_target_lacks() -> None:
    text = (
        "service: shop\n"
        "notify:\n"
        "  inhibit:\n"
        "    - source: {alertname: ServiceDown}\n"
        "      target: {alertname: HighErrorRate}\n"
        "      equal: [service, slo]\n"
    )
    assert errors_of(text) == [
        "watchkeeper.yaml:6: notify.inhibit[0]: equal lists 'slo', which target alert(s) "
        "HighErrorRate do not carry, so the inhibition would match on an empty value; use "
        "labels every target carries, e.g. alertname, service, severity"
    ]


def test_inhibition_naming_an_unknown_alert() -> None:
    text = (
        "service: shop\n"
        "notify:\n"
        "  inhibit:\n"
        "    - source: {alertname: ServiceDwn}\n"
        "      target: {alertname: HighErrorRate}\n"
        "      equal: [service]\n"
    )
    assert errors_of(text) == [
        "watchkeeper.yaml:4: notify.inhibit[0].source: alertname names no generated alert, "
        "got 'ServiceDwn'; did you mean \"ServiceDown\"?"
    ]


def test_unknown_sli_kind_and_bad_duration() -> None:
    text = (
        "service: shop\n"
        "slos:\n"
        "  - name: a\n"
        "    objective: 99\n"
        "    window: 30days\n"
        "    sli: {kind: uptime}\n"
    )
    errors = errors_of(text)
    assert errors[0] == (
        'watchkeeper.yaml:5: slos[0] "a": window must be a duration such as 30s, 5m, 1h30m '
        "or 30d (units y w d h m s), got '30days'"
    )
    assert errors[1].startswith('watchkeeper.yaml:6: slos[0] "a".sli: kind must be one of ')
    assert errors[1].endswith("got 'uptime'")


def test_strict_types_do_not_coerce() -> None:
    assert errors_of(
        "service: shop\nslos: []\nnotify: {routes: [{receiver: x, match: {a: 1}}]}\n"
    ) == ["watchkeeper.yaml:3: notify.routes[0].match: a must be a valid string, got 1"]


def test_yaml_syntax_error_is_located() -> None:
    (error,) = errors_of("service: shop\nslos: [\n")
    assert error.startswith("watchkeeper.yaml:3: not valid YAML")


def test_duplicate_key_is_an_error() -> None:
    (error,) = errors_of("service: shop\nservice: cart\n")
    assert error.startswith("watchkeeper.yaml:")
    assert "not valid YAML" in error


def test_route_to_unknown_receiver_suggests_one() -> None:
    text = (
        "service: shop\n"
        "notify:\n"
        "  receivers: [{name: oncall}]\n"
        "  routes:\n"
        "    - {match: {severity: critical}, receiver: oncal}\n"
    )
    assert errors_of(text) == [
        "watchkeeper.yaml:5: notify.routes[0]: receiver names no receiver, got 'oncal'; "
        'did you mean "oncall"?'
    ]


def test_missing_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(SpecProblems, match="cannot read the spec"):
        load_spec(tmp_path / "nope.yaml")


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_examples_load(path: Path) -> None:
    spec = load_spec(path)
    assert spec.service


def test_ratio_threshold_that_can_never_be_crossed() -> None:
    assert errors_of("service: shop\nalerts:\n  HighErrorRate: {threshold: 150%}\n") == [
        "watchkeeper.yaml:3: alerts.HighErrorRate: threshold must be a share between 0 and 1 "
        "(or 0% and 100%), got 1.5"
    ]


def test_threshold_on_an_alert_without_one() -> None:
    assert errors_of("service: shop\nalerts:\n  ServiceDown: {threshold: 1}\n") == [
        "watchkeeper.yaml:3: alerts.ServiceDown: threshold does not apply: ServiceDown has no "
        "threshold; remove it"
    ]


def test_names_and_shapes_are_explained() -> None:
    text = "service: Shop\ntargets: app:8000\n"
    assert errors_of(text) == [
        "watchkeeper.yaml:1: service must be lowercase letters, digits and dashes, starting "
        "with a letter, got 'Shop'",
        "watchkeeper.yaml:2: targets must be a list, got 'app:8000'",
    ]


def test_binary_file_says_to_save_as_utf8(tmp_path: Path) -> None:
    spec = tmp_path / "w.yaml"
    spec.write_bytes(b"service: \xff\n")
    with pytest.raises(SpecProblems, match="is not UTF-8 text"):
        load_spec(spec)


def test_warnings_for_clear_secrets_unset_selector_and_untested_custom_alerts() -> None:
    spec = load_spec_text(
        "service: shop\n"
        "alerts:\n"
        "  custom: [{name: Stuck, expr: 'up == 0', summary: stuck}]\n"
        "notify:\n"
        "  receivers: [{name: s, slack: {webhook_url: 'https://hooks.example/T0'}}]\n"
    )
    warnings = spec_warnings(spec)
    assert any("'s' slack.webhook_url is written in clear" in w for w in warnings)
    assert any(w.startswith("kubernetes.selector is not set") for w in warnings)
    assert any("custom alert Stuck has no `test:` series" in w for w in warnings)


def test_a_zero_alert_window_is_located() -> None:
    # [0s] would be invalid PromQL in every generated rule that uses the window.
    errors = errors_of("service: shop\nalerts:\n  HighErrorRate: {window: 0s}\n")
    assert errors == [
        "watchkeeper.yaml:3: alerts.HighErrorRate: window must be longer than 0s (e.g. 5m), "
        "got '0s'"
    ]
