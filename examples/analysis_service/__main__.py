"""Run the analysis service on 127.0.0.1: ``python -m examples.analysis_service --port 8100``."""

from __future__ import annotations

import argparse

import uvicorn

import watchkeeper
from examples.analysis_service.app import Settings, create_app
from watchkeeper import tracing


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m examples.analysis_service")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--upstream-port", type=int, default=8101, help="the data API's port")
    parser.add_argument("--phase-seconds", type=float, default=Settings.phase_seconds)
    parser.add_argument("--max-seconds", type=float, default=Settings.max_seconds)
    parser.add_argument("--api-max-latency", type=float, default=Settings.api_max_latency)
    parser.add_argument("--max-memory-percent", type=float, default=Settings.max_memory_percent)
    parser.add_argument(
        "--min-disk-free-percent", type=float, default=Settings.min_disk_free_percent
    )
    parser.add_argument(
        "--trace-exporter",
        default="none",
        help='"none" (trace ids in logs and exemplars only), "console" or "otlp"',
    )
    args = parser.parse_args(argv)
    watchkeeper.logs.configure(service="analysis", format="json", take_over=("uvicorn",))
    tracing.configure(exporter=args.trace_exporter, service="analysis", sample_ratio=1.0)
    app = create_app(
        Settings(
            upstream_url=f"http://127.0.0.1:{args.upstream_port}",
            phase_seconds=args.phase_seconds,
            max_seconds=args.max_seconds,
            api_max_latency=args.api_max_latency,
            max_memory_percent=args.max_memory_percent,
            min_disk_free_percent=args.min_disk_free_percent,
        )
    )
    uvicorn.run(app, host="127.0.0.1", port=args.port, access_log=False, log_config=None)


if __name__ == "__main__":
    main()
