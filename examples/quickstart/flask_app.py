"""The Flask quickstart: one line of watchkeeper.

Run:  gunicorn -w 4 -b 127.0.0.1:8000 examples.quickstart.flask_app:app
Then: curl localhost:8000/metrics   (totals are merged across the 4 workers)
"""

from __future__ import annotations

from flask import Blueprint, Flask

import watchkeeper

app = Flask(__name__)
api = Blueprint("api", __name__, url_prefix="/api")


@api.get("/products/<int:product_id>")
def product(product_id: int) -> dict[str, int]:
    return {"id": product_id}


@watchkeeper.measured(slow=0.2)
def search_index(term: str) -> list[str]:
    return [term.upper()]


@api.get("/search/<term>")
def search(term: str) -> dict[str, list[str]]:
    return {"hits": search_index(term)}


app.register_blueprint(api)
app = watchkeeper.instrument(app, service="catalog", version="1.0.0")
