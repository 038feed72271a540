"""Attaching target labels to scraped series, with Prometheus' ``honor_labels`` rules."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from watchkeeper.monitor.model import Labels

__all__ = ["target_labeler"]


def target_labeler(target: Mapping[str, str], *, honor: bool) -> Callable[[Labels], Labels]:
    """A function adding ``target`` labels to a scraped label set.

    honor=True: on a conflict the scraped value wins. honor=False (the default): the
    target's value wins and the scraped one is kept as ``exported_<name>`` (repeating the
    prefix while that name is also taken), exactly like Prometheus.
    """
    items = sorted(target.items())

    def apply(scraped: Labels) -> Labels:
        out = dict(scraped)
        for name, value in items:
            if name in out:
                if honor:
                    continue
                exported = "exported_" + name
                while exported in out:
                    exported = "exported_" + exported
                out[exported] = out[name]
            out[name] = value
        return tuple(sorted((k, v) for k, v in out.items() if v != ""))

    return apply
