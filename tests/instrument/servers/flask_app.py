"""A tiny Flask app served by real gunicorn workers in the tests."""

from __future__ import annotations

from flask import Flask

import watchkeeper

app = Flask("mp_flask")


@app.get("/work/<int:n>")
def work(n: int) -> str:
    return str(n * 2)


app = watchkeeper.instrument(app, service="mp-flask")
