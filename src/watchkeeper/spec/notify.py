"""The ``notify`` section: receivers, routes, grouping and timing, inhibitions.

Secrets are written as ``${ENV_VAR}`` references; the Alertmanager generator turns
them into ``*_file`` fields unless it is asked to expand them.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from watchkeeper.spec.base import SpecModel
from watchkeeper.spec.durations import Duration
from watchkeeper.spec.types import DurationField, LabelName

__all__ = [
    "EmailReceiver",
    "Inhibition",
    "Notify",
    "PagerDutyReceiver",
    "Receiver",
    "Route",
    "SlackReceiver",
    "WebhookReceiver",
]

Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]


class SlackReceiver(SpecModel):
    webhook_url: str
    channel: str | None = None


class PagerDutyReceiver(SpecModel):
    """PagerDuty Events API v2: the integration's routing key."""

    routing_key: str


class EmailReceiver(SpecModel):
    to: str
    sender: str = Field(alias="from")
    smarthost: str
    auth_username: str | None = None
    auth_password: str | None = None
    require_tls: bool = True


class WebhookReceiver(SpecModel):
    url: str
    bearer_token: str | None = None


class Receiver(SpecModel):
    """A named destination with one or more integrations (none: alerts are dropped)."""

    name: Name
    slack: SlackReceiver | None = None
    pagerduty: PagerDutyReceiver | None = None
    email: EmailReceiver | None = None
    webhook: WebhookReceiver | None = None


class Route(SpecModel):
    """Send alerts whose labels match to ``receiver``; ``continue`` keeps matching below."""

    receiver: Name
    match: dict[LabelName, str] = Field(default_factory=dict)
    match_re: dict[LabelName, str] = Field(default_factory=dict)
    proceed: bool = Field(default=False, alias="continue")
    group_by: tuple[str, ...] | None = None
    repeat_interval: DurationField | None = None

    @model_validator(mode="after")
    def _has_matchers(self) -> Route:
        if not self.match and not self.match_re:
            raise ValueError(
                "a route needs `match` or `match_re` (e.g. match: {severity: critical}); "
                "set `notify.receiver` for the catch-all"
            )
        return self


class Inhibition(SpecModel):
    """While an alert matching ``source`` fires, mute those matching ``target`` that
    agree with it on every ``equal`` label."""

    source: dict[LabelName, str]
    target: dict[LabelName, str]
    equal: Annotated[tuple[LabelName, ...], Field(min_length=1)]


class Notify(SpecModel):
    receivers: tuple[Receiver, ...] = ()
    receiver: Name | None = None
    routes: tuple[Route, ...] = ()
    group_by: tuple[str, ...] = ("alertname", "service", "slo")
    group_wait: DurationField = Duration(30)
    group_interval: DurationField = Duration(300)
    repeat_interval: DurationField = Duration(4 * 3600)
    inhibit: tuple[Inhibition, ...] = ()

    @property
    def default_receiver(self) -> str:
        if self.receiver is not None:
            return self.receiver
        return self.receivers[0].name if self.receivers else "default"
