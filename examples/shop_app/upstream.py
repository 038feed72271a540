"""A fake payments API on 127.0.0.1 (never the internet): ``GET /health`` and
``POST /charge``. Fault ``down``: both answer 503, as during a provider outage.

    python -m examples.shop_app.upstream --port 8101
"""

from __future__ import annotations

import argparse
from typing import Any

from flask import Flask, request

from examples._shared.faults import FaultSwitch, flask_blueprint

__all__ = ["FAULTS", "app", "main"]

FAULTS = FaultSwitch(["down"])  # one process: the in-memory switch is enough
app = Flask("payments")
app.register_blueprint(flask_blueprint(FAULTS))


@app.get("/health")
def health() -> Any:
    if FAULTS.active("down"):
        return {"status": "down"}, 503
    return {"status": "ok"}


@app.post("/charge")
def charge() -> Any:
    if FAULTS.active("down"):
        return {"error": "payments provider unavailable"}, 503
    body = request.get_json(silent=True) or {}
    return {"charged": body.get("cents", 0), "order": body.get("order")}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8101)
    args = parser.parse_args(argv)
    from werkzeug.serving import run_simple

    run_simple("127.0.0.1", args.port, app, threaded=True)


if __name__ == "__main__":
    main()
