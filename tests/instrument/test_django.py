"""Django's WSGI and ASGI handlers: the route is the URL pattern Django resolved."""

from __future__ import annotations

import django
import pytest
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path
from starlette.testclient import TestClient
from werkzeug.test import Client

import watchkeeper
from tests.instrument.conftest import value
from watchkeeper.instrument.registry import Registry


def item(request: HttpRequest, pk: int) -> JsonResponse:
    return JsonResponse({"pk": pk})


def fail(request: HttpRequest) -> HttpResponse:
    raise ValueError("bad")


urlpatterns = [
    path("api/", include([path("items/<int:pk>/", item)])),
    path("fail/", fail),
]


@pytest.fixture(scope="module", autouse=True)
def django_settings() -> None:
    if not settings.configured:
        settings.configure(
            DEBUG=False,
            ROOT_URLCONF=__name__,
            ALLOWED_HOSTS=["*"],
            SECRET_KEY="test-only",
            MIDDLEWARE=[],
            INSTALLED_APPS=[],
            LOGGING_CONFIG=None,
        )
        django.setup()


def test_django_wsgi_routes(registry: Registry) -> None:
    from django.core.wsgi import get_wsgi_application

    app = watchkeeper.instrument(get_wsgi_application(), service="dj", registry=registry)
    client = Client(app)
    assert client.get("/api/items/3/", buffered=True).status_code == 200
    assert client.get("/api/items/4/", buffered=True).status_code == 200
    assert client.get("/nowhere/", buffered=True).status_code == 404
    assert client.get("/fail/", buffered=True).status_code == 500
    count = "http_server_request_duration_seconds_count"
    assert value(registry, count, http_route="/api/items/<int:pk>/") == 2
    assert value(registry, count, http_route="_unmatched") == 1
    assert value(registry, count, http_route="/fail/", http_response_status_code="500") == 1
    # Django answered the 500 itself; its got_request_exception signal kept the error.
    assert value(registry, count, http_route="/fail/", error_type="ValueError") == 1
    assert value(registry, "watchkeeper_exceptions_total", type="ValueError", route="/fail/") == 1


def test_django_asgi_routes(registry: Registry) -> None:
    from django.core.asgi import get_asgi_application

    app = watchkeeper.instrument(get_asgi_application(), service="dj", registry=registry)
    client = TestClient(app)
    assert client.get("/api/items/3/").status_code == 200
    assert client.get("/missing").status_code == 404
    assert client.get("/fail/").status_code == 500
    count = "http_server_request_duration_seconds_count"
    assert value(registry, count, http_route="/api/items/<int:pk>/") == 1
    assert value(registry, count, http_route="_unmatched") == 1
    assert value(registry, count, http_route="/fail/", error_type="ValueError") == 1
    assert value(registry, "watchkeeper_exceptions_total", type="ValueError", route="/fail/") == 1
