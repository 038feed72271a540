"""The remote write 1.0 schema (prometheus/prompb) built with the protobuf library, to
parse what the hand-written encoder produces: a reference decoder the encoder does not share
code with."""

from __future__ import annotations

from typing import Any

from google.protobuf import (  # type: ignore[import-untyped]
    descriptor_pb2,
    descriptor_pool,
    message_factory,
)

__all__ = ["WriteRequest", "parse"]

_F = descriptor_pb2.FieldDescriptorProto


def _build() -> Any:
    file = descriptor_pb2.FileDescriptorProto(name="prompb_test.proto", package="prometheus")
    file.syntax = "proto3"

    def message(name: str, fields: list[tuple[str, int, int, int, str]]) -> None:
        msg = file.message_type.add(name=name)
        for fname, number, ftype, label, type_name in fields:
            field = msg.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name:
                field.type_name = type_name

    opt, rep = _F.LABEL_OPTIONAL, _F.LABEL_REPEATED
    message("Label", [("name", 1, _F.TYPE_STRING, opt, ""), ("value", 2, _F.TYPE_STRING, opt, "")])
    message(
        "Sample", [("value", 1, _F.TYPE_DOUBLE, opt, ""), ("timestamp", 2, _F.TYPE_INT64, opt, "")]
    )
    message(
        "TimeSeries",
        [
            ("labels", 1, _F.TYPE_MESSAGE, rep, ".prometheus.Label"),
            ("samples", 2, _F.TYPE_MESSAGE, rep, ".prometheus.Sample"),
        ],
    )
    message("WriteRequest", [("timeseries", 1, _F.TYPE_MESSAGE, rep, ".prometheus.TimeSeries")])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("prometheus.WriteRequest"))


WriteRequest = _build()


def parse(payload: bytes) -> list[tuple[tuple[tuple[str, str], ...], list[tuple[int, float]]]]:
    """A serialized WriteRequest as [(labels, [(timestamp_ms, value), ...]), ...]."""
    request = WriteRequest()
    request.ParseFromString(payload)
    return [
        (
            tuple((label.name, label.value) for label in series.labels),
            [(sample.timestamp, sample.value) for sample in series.samples],
        )
        for series in request.timeseries
    ]
