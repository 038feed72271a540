"""Run the gateway on 127.0.0.1: ``python -m examples.llm_gateway --port 8300``."""

from __future__ import annotations

import argparse

import uvicorn

import watchkeeper
from examples.llm_gateway.app import Settings, create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m examples.llm_gateway")
    parser.add_argument("--host", default="127.0.0.1", help="0.0.0.0 in a container only")
    parser.add_argument("--port", type=int, default=8300)
    parser.add_argument("--upstream-port", type=int, default=8301, help="the LLM provider's port")
    parser.add_argument("--upstream-url", help="the provider's API base URL (default: local fake)")
    parser.add_argument("--pg-dsn", default=Settings.pg_dsn)
    parser.add_argument("--redis-url", default=Settings.redis_url)
    parser.add_argument("--log-file", help="JSON lines to this file, rotated (default: stderr)")
    parser.add_argument("--log-max-bytes", type=int, default=10 * 2**20)
    parser.add_argument("--log-backups", type=int, default=5)
    args = parser.parse_args(argv)
    watchkeeper.logs.configure(
        service="llm-gateway",
        format="json",
        file=args.log_file,
        max_bytes=args.log_max_bytes,
        backups=args.log_backups,
        take_over=("uvicorn",),
    )
    app = create_app(
        Settings(
            upstream_url=args.upstream_url or f"http://127.0.0.1:{args.upstream_port}/v1",
            pg_dsn=args.pg_dsn,
            redis_url=args.redis_url,
        )
    )
    uvicorn.run(app, host=args.host, port=args.port, access_log=False, log_config=None)


if __name__ == "__main__":
    main()
