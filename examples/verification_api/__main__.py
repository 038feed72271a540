"""python -m examples.verification_api --port 8000 --upstream-port 8001"""

from __future__ import annotations

import argparse
import logging

import uvicorn

import watchkeeper.logs
from examples.verification_api.app import create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m examples.verification_api")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--upstream-port", type=int, default=8001)
    parser.add_argument("--api-key", default="demo-key", help="the upstream's key")
    parser.add_argument("--timeout", type=float, default=10.0, help="upstream timeout, seconds")
    parser.add_argument("--slow", type=float, default=5.0, help="slow-query warning, seconds")
    parser.add_argument("--canary-every", type=float, default=30.0, metavar="SECONDS")
    parser.add_argument("--quota-every", type=float, default=30.0, metavar="SECONDS")
    args = parser.parse_args(argv)
    watchkeeper.logs.configure(service="verification-api", format="json")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per upstream call is noise
    app = create_app(
        f"http://127.0.0.1:{args.upstream_port}",
        api_key=args.api_key,
        timeout=args.timeout,
        slow=args.slow,
        canary_every=args.canary_every,
        quota_every=args.quota_every,
    )
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_config=None, access_log=False)


if __name__ == "__main__":
    main()
