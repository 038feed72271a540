"""ProbeConfig validation: each mistake is refused with the probe, the field and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from watchkeeper.monitor.probe import DEFAULT_CONDITIONS, ProbeConfig


def test_defaults_are_blackbox_modules() -> None:
    http = ProbeConfig("web", "https://example.com/health")
    assert [c.text for c in http.parsed] == list(DEFAULT_CONDITIONS["http"])
    assert http.target_labels() == {"job": "web", "instance": "https://example.com/health"}
    tcp = ProbeConfig("db", "db.internal:5432", module="tcp", labels={"dependency": "db"})
    assert [c.text for c in tcp.parsed] == ["[CONNECTED] == true"]
    assert (tcp.url, tcp.instance) == ("tcp://db.internal:5432", "db.internal:5432")
    assert tcp.target_labels() == {
        "job": "db",
        "instance": "db.internal:5432",
        "dependency": "db",
    }


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"job": "", "target": "http://a:1/"}, "job must not be empty"),
        ({"job": "w", "target": "ftp://a/"}, "an http probe needs an http(s):// URL"),
        (
            {"job": "w", "target": "http://a/" + "x" * 2048},
            "(job 'w'): the target is longer than 2048 characters",
        ),
        (
            {"job": "w", "target": "https://bob:s3cret@a/"},
            "probe of 'a' (job 'w'): credentials in the URL would become the instance label",
        ),
        ({"job": "w", "target": "a:1", "module": "tcp", "tls": False, "method": "GET"}, None),
        ({"job": "w", "target": "nope", "module": "tcp"}, "a tcp probe needs host:port"),
        ({"job": "w", "target": "a:1", "module": "udp"}, "module 'udp' is not 'http' or 'tcp'"),
        ({"job": "w", "target": "http://a/", "method": "FETCH"}, "method 'FETCH' is not one of"),
        (
            {"job": "w", "target": "http://a/", "interval_s": 5, "timeout_s": 10},
            "need 0 < timeout_s <= interval_s, got timeout_s=10 and interval_s=5",
        ),
        (
            {"job": "w", "target": "http://a/", "conditions": ("[STATUS] == 200", "[STATUS] = 1")},
            "probe 'http://a/' (job 'w'): conditions[1]: condition '[STATUS] = 1' (column 10)",
        ),
        (
            {"job": "w", "target": "a:1", "module": "tcp", "conditions": ("[STATUS] == 200",)},
            "conditions[0]: '[STATUS] == 200': a tcp probe has no [STATUS]; use [CONNECTED]",
        ),
        (
            {"job": "w", "target": "https://a/", "ca_file": "/no/such/ca.pem"},
            "ca_file '/no/such/ca.pem' is not a readable file",
        ),
    ],
)
def test_bad_configs_are_refused(kwargs: dict[str, object], message: str | None) -> None:
    if message is None:
        ProbeConfig(**kwargs)  # type: ignore[arg-type]
        return
    with pytest.raises(ValueError) as info:
        ProbeConfig(**kwargs)  # type: ignore[arg-type]
    assert message in str(info.value)
    assert "s3cret" not in str(info.value)


def test_ca_file_that_exists_is_accepted(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("")
    assert ProbeConfig("w", "https://a/", ca_file=str(ca)).ca_file == str(ca)
