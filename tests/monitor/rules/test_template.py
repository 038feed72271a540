"""The Go text/template subset: Prometheus' outputs for the humanize family, printf,
if/else, trimming, and clear refusals of what we do not implement."""

from __future__ import annotations

import pytest

from watchkeeper.monitor.rules.template import Template, TemplateData, TemplateError

DATA = TemplateData(
    {"job": "api", "instance": "10.0.0.1:8000"}, 0.014420001, {"dc": "eu1"}, "http://wk"
)


def render(text: str, value: float = DATA.value) -> str:
    data = TemplateData(DATA.labels, value, DATA.external_labels, DATA.external_url)
    return Template.parse(text).expand(data)


@pytest.mark.parametrize(
    ("text", "value", "expected"),
    [
        # Expected strings are those of Prometheus' template_test.go / Go's fmt.
        ("{{ $value | humanize }}", 1234567.0, "1.235M"),
        ("{{ $value | humanize }}", 0.0012, "1.2m"),
        ("{{ $value | humanize }}", 0.0, "0"),
        ("{{ $value | humanize }}", 12.0, "12"),
        ("{{ $value | humanize1024 }}", 1048576.0, "1Mi"),
        ("{{ $value | humanize1024 }}", 0.5, "0.5"),
        ("{{ $value | humanizeDuration }}", 3600.0, "1h 0m 0s"),
        ("{{ $value | humanizeDuration }}", 90061.0, "1d 1h 1m 1s"),
        ("{{ $value | humanizeDuration }}", 0.5, "500ms"),
        ("{{ $value | humanizeDuration }}", 1.5, "1.5s"),
        ("{{ $value | humanizePercentage }}", 0.1234567, "12.35%"),
        ("{{ $value | humanizeTimestamp }}", 1435065584.128, "2015-06-23 13:19:44.128 +0000 UTC"),
        ('{{ $value | printf "%.4g" }}', 0.014420001, "0.01442"),
        ('{{ printf "%d items, %s" 3 "ok" }}', 0.0, "3 items, ok"),
        ('{{ printf "%.1f%%" $value }}', 99.25, "99.2%"),
        ("{{ $value }}", 1234567.0, "1.234567e+06"),
        ("{{ $value }}", 100000.0, "100000"),
        ("{{ $value }}", 0.00001, "1e-05"),
        ("{{ $value }}", float("inf"), "+Inf"),
        ("{{ $value }}", float("nan"), "NaN"),
    ],
)
def test_functions_print_what_prometheus_prints(text: str, value: float, expected: str) -> None:
    assert render(text, value) == expected


def test_labels_external_labels_and_dot_spellings() -> None:
    text = (
        "{{ $labels.job }}/{{ .Labels.instance }} in {{ $externalLabels.dc }}"
        " via {{ $externalURL }}"
    )
    assert render(text) == "api/10.0.0.1:8000 in eu1 via http://wk"


def test_a_missing_label_is_empty_as_with_missingkey_zero() -> None:
    assert render("[{{ $labels.nope }}]") == "[]"


def test_if_else_if_else_and_comparisons() -> None:
    text = '{{ if gt $value 10.0 }}high{{ else if eq $labels.job "api" }}api{{ else }}low{{ end }}'
    assert render(text, 11.0) == "high"
    assert render(text, 1.0) == "api"
    data = TemplateData({"job": "web"}, 1.0, {})
    assert Template.parse(text).expand(data) == "low"


def test_trim_markers_and_comments() -> None:
    assert render("a  {{- /* note */ -}}  b {{- $labels.job }}") == "abapi"


def test_functions_on_strings() -> None:
    assert render("{{ toUpper $labels.job }} {{ $labels.instance | stripPort }}") == "API 10.0.0.1"
    assert render('{{ reReplaceAll "(.*):.*" "$1" $labels.instance }}') == "10.0.0.1"
    assert render('{{ title "hello world" }}') == "Hello World"


def test_expansion_errors_render_like_prometheus() -> None:
    out = render('{{ humanize "not a number" }}')
    assert out.startswith("<error expanding template: ")
    assert "not a number" in out


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("{{ range $labels }}x{{ end }}", "'range'"),
        ("{{ with $labels }}x{{ end }}", "'with'"),
        ('{{ query "up" }}', "'query'"),
        ("{{ nosuch 1 }}", 'function "nosuch" not defined'),
        ("{{ $x }}", 'undefined variable "$x"'),
        ("{{ $x := 1 }}", "'variable assignment' is not supported"),
        ("{{ if true }}open", "lacks {{end}}"),
        ("{{ end }}", "unexpected {{end}}"),
    ],
)
def test_unsupported_or_broken_templates_are_refused_by_name(text: str, named: str) -> None:
    with pytest.raises(TemplateError) as info:
        Template.parse(text)
    assert named in str(info.value)


def test_static_text_is_left_alone() -> None:
    template = Template.parse("no actions here: {not one}")
    assert template.is_static
    assert template.expand(DATA) == "no actions here: {not one}"
