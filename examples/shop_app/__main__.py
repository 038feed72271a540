"""Run the shop under gunicorn on 127.0.0.1 (2 workers x 8 threads).

    python -m examples.shop_app --port 8000 [--upstream-port 8101] [--workers 2]

It creates the database (default ``wk_shop``) and its tables first, then execs
gunicorn; the fake payments API runs apart (``python -m examples.shop_app.upstream``).
"""

from __future__ import annotations

import argparse
import os
import sys

from examples.shop_app.app import DATABASE_URL, setup_database


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="the shop example under gunicorn")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--upstream-port", type=int, default=8101, help="the payments API")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args(argv)
    os.environ.setdefault("SHOP_PAYMENTS_URL", f"http://127.0.0.1:{args.upstream_port}")
    setup_database(os.environ.get("SHOP_DATABASE_URL", DATABASE_URL))
    argv_ = [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{args.port}",
             "-w", str(args.workers), "-k", "gthread", "--threads", str(args.threads),
             "--graceful-timeout", "5", "--no-control-socket",
             "examples.shop_app.app:create_app()"]  # fmt: skip
    os.execv(sys.executable, argv_)


if __name__ == "__main__":
    main()
