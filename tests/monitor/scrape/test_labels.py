from __future__ import annotations

from watchkeeper.monitor.model import labels_from
from watchkeeper.monitor.scrape.labels import target_labeler

TARGET = {"job": "api", "instance": "h:80", "env": "prod"}


def test_target_labels_are_added() -> None:
    apply = target_labeler(TARGET, honor=False)
    got = apply(labels_from({"__name__": "m", "path": "/"}))
    assert dict(got) == {"__name__": "m", "path": "/", **TARGET}
    assert list(got) == sorted(got)


def test_conflicts_become_exported_labels_unless_honored() -> None:
    scraped = labels_from({"__name__": "m", "job": "other", "exported_job": "x", "env": ""})
    got = dict(target_labeler(TARGET, honor=False)(scraped))
    assert got["job"] == "api"
    assert got["exported_exported_job"] == "other"  # exported_job was taken
    assert got["exported_job"] == "x"
    assert got["env"] == "prod"
    honored = dict(target_labeler(TARGET, honor=True)(scraped))
    assert honored["job"] == "other"
    assert honored["instance"] == "h:80"
    assert "exported_exported_job" not in honored
