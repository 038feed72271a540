"""watchkeeper.llm: tokens, cost from the price table, outcomes, bounded API-key usage."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tests.instrument.conftest import parse, value, values
from tests.instrument.servers.promtool import promtool_problems
from watchkeeper.instrument import llm
from watchkeeper.instrument.exposition import render
from watchkeeper.instrument.llm_prices import DEFAULT_PRICES, Price, PriceTable, base_model
from watchkeeper.instrument.registry import Registry


def test_tokens_and_cost_follow_the_default_price_table(registry: Registry) -> None:
    llm.record("gpt-4o", input_tokens=1_000_000, output_tokens=500_000, registry=registry)
    llm.record("gpt-4o", input_tokens=2_000, output_tokens=0, registry=registry)
    price = DEFAULT_PRICES["gpt-4o"]
    assert value(registry, "llm_tokens_total", model="gpt-4o", kind="input") == 1_002_000
    assert value(registry, "llm_tokens_total", model="gpt-4o", kind="output") == 500_000
    expected = (1_002_000 * price.input_per_mtok + 500_000 * price.output_per_mtok) / 1e6
    assert value(registry, "llm_cost_usd_total", model="gpt-4o") == pytest.approx(expected)
    assert value(registry, "llm_requests_total", model="gpt-4o", result="ok") == 2


def test_a_custom_table_extends_or_replaces_the_defaults(registry: Registry) -> None:
    llm.configure(prices={"house-model": (1.0, 3.0)}, registry=registry)
    llm.record("house-model", input_tokens=2_000_000, output_tokens=1_000_000, registry=registry)
    llm.record("gpt-4o-mini", input_tokens=1_000_000, registry=registry)
    assert value(registry, "llm_cost_usd_total", model="house-model") == pytest.approx(5.0)
    mini = DEFAULT_PRICES["gpt-4o-mini"].input_per_mtok
    assert value(registry, "llm_cost_usd_total", model="gpt-4o-mini") == pytest.approx(mini)

    llm.configure(prices={"gpt-4o-mini": {"input": 9, "output": 9}}, default_prices=False,
                  registry=registry)  # fmt: skip
    llm.record("gpt-4o-mini", input_tokens=1_000_000, registry=registry)
    llm.record("house-model", input_tokens=1_000, registry=registry)  # gone with the defaults
    assert value(registry, "llm_cost_usd_total", model="gpt-4o-mini") == pytest.approx(mini + 9)
    assert value(registry, "llm_unpriced_requests_total", model="house-model") == 1


def test_versioned_ids_match_their_base_model_and_nothing_else_is_guessed() -> None:
    table = PriceTable()
    assert base_model("gpt-4o-2024-08-06") == "gpt-4o"
    assert base_model("claude-sonnet-4-20250514") == "claude-sonnet-4"
    assert table.price("gpt-4o-2024-08-06") == DEFAULT_PRICES["gpt-4o"]
    assert table.price("claude-3-5-haiku-latest") == DEFAULT_PRICES["claude-3-5-haiku"]
    # a newer family is not the old one: no prefix guessing
    assert table.price("gpt-5.4") is None
    assert table.price("gpt-4o-mini-2024-07-18") == DEFAULT_PRICES["gpt-4o-mini"]


def test_bad_prices_are_rejected_with_the_model_named() -> None:
    with pytest.raises(ValueError, match=r"'m'.*USD per 1M tokens"):
        PriceTable({"m": (1.0,)})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="input_per_mtok must be a number >= 0"):
        Price(-1.0, 2.0)


def test_unknown_model_is_counted_as_unpriced_and_logged_once(
    registry: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="watchkeeper"):
        for _ in range(3):
            llm.record("mystery-9", input_tokens=10, output_tokens=5, registry=registry)
    assert value(registry, "llm_unpriced_requests_total", model="mystery-9") == 3
    assert values(registry, "llm_cost_usd_total", model="mystery-9") == []
    assert value(registry, "llm_tokens_total", model="mystery-9", kind="input") == 30
    logged = [r for r in caplog.records if "mystery-9" in r.getMessage()]
    assert len(logged) == 1
    assert "configure(prices=" in logged[0].getMessage()


def test_errors_by_type_and_latency(registry: Registry) -> None:
    class RateLimitError(Exception):
        pass

    llm.record("gpt-4o", duration=0.3, error=RateLimitError("429"), registry=registry)
    llm.record("gpt-4o", duration=1.5, error="Timeout", registry=registry)
    assert value(registry, "llm_requests_total", result="error", error_type="RateLimitError") == 1
    assert value(registry, "llm_requests_total", result="error", error_type="Timeout") == 1
    assert value(registry, "llm_request_duration_seconds_count", model="gpt-4o") == 2
    assert value(registry, "llm_request_duration_seconds_bucket", model="gpt-4o", le="0.5") == 1
    assert value(registry, "llm_request_duration_seconds_sum", model="gpt-4o") == pytest.approx(1.8)


def test_request_context_manager_sync_and_async(registry: Registry) -> None:
    with llm.request("gpt-4o", registry=registry) as call:
        call.usage(100, 20)
    with pytest.raises(TimeoutError), llm.request("gpt-4o", registry=registry):
        raise TimeoutError

    async def main() -> None:
        async with llm.request("claude-3-5-haiku", registry=registry) as call:
            call.model = "claude-3-5-haiku-20241022"  # the model that answered
            call.usage(1_000_000, 0)

    asyncio.run(main())
    assert value(registry, "llm_tokens_total", model="gpt-4o", kind="output") == 20
    assert value(registry, "llm_requests_total", model="gpt-4o", error_type="TimeoutError") == 1
    assert value(
        registry, "llm_cost_usd_total", model="claude-3-5-haiku-20241022"
    ) == pytest.approx(DEFAULT_PRICES["claude-3-5-haiku"].input_per_mtok)
    assert value(registry, "llm_request_duration_seconds_count", model="gpt-4o") == 2


def test_api_keys_are_hashed_capped_and_never_exposed(
    registry: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    llm.configure(max_keys=3, registry=registry)
    keys = [f"sk-secret-{i:04d}" for i in range(10)]
    with caplog.at_level(logging.DEBUG):
        for key in keys:
            llm.record("gpt-4o", input_tokens=10, output_tokens=1, api_key=key, registry=registry)
        llm.record("no-price", input_tokens=10, api_key=keys[0], registry=registry)
    text = render(registry)
    assert not any(key in text for key in keys)
    assert not any(key in r.getMessage() for r in caplog.records for key in keys)
    requests = {
        dict(labels)["api_key_id"]: v
        for (name, labels), v in parse(text).items()
        if name == "llm_api_key_requests_total"
    }
    first = [llm.key_id(k) for k in keys[:3]]
    assert set(requests) == {*first, "other"}
    assert requests[first[0]] == 2
    assert requests["other"] == 7
    assert value(registry, "llm_api_key_tokens_total", api_key_id="other", kind="input") == 70
    assert value(registry, "llm_api_key_cost_usd_total", api_key_id=first[1]) > 0
    # a salt changes the ids: a guessable key id cannot be looked up in a rainbow table
    assert llm.key_id("sk-1") != llm.key_id("sk-1", salt="mine")
    assert len(llm.key_id("x")) == 16


def test_active_and_daily_active_keys(registry: Registry) -> None:
    now = [1000.0]
    metrics = llm.configure(active_window=300, max_tracked_keys=4, registry=registry)
    metrics.clock = lambda: now[0]
    for key in ("a", "b", "c"):
        llm.record("gpt-4o", api_key=key, registry=registry)
    assert value(registry, "llm_active_api_keys") == 3
    now[0] += 600  # five minutes is over; the day is not
    llm.record("gpt-4o", api_key="d", registry=registry)
    llm.record("gpt-4o", api_key="a", registry=registry)
    assert value(registry, "llm_active_api_keys") == 2
    assert value(registry, "llm_daily_active_api_keys") == 4
    llm.record("gpt-4o", api_key="e", registry=registry)  # over max_tracked_keys: oldest goes
    assert value(registry, "llm_daily_active_api_keys") == 4
    now[0] += 90_000  # a day later only the keys seen since count
    llm.record("gpt-4o", api_key="f", registry=registry)
    assert value(registry, "llm_daily_active_api_keys") == 1
    assert value(registry, "llm_active_api_keys") == 1


def test_models_are_bounded(registry: Registry) -> None:
    llm.configure(max_models=2, registry=registry)
    for i in range(5):
        llm.record(f"model-{i}", input_tokens=1, registry=registry)
    models = {
        dict(labels)["model"]
        for (name, labels), _ in parse(render(registry)).items()
        if name == "llm_requests_total"
    }
    assert models == {"model-0", "model-1", "other"}


def test_bad_input_never_raises_and_is_counted(registry: Registry) -> None:
    llm.record("gpt-4o", input_tokens=-5, registry=registry)
    llm.record("gpt-4o", input_tokens="many", registry=registry)  # type: ignore[arg-type]
    assert value(registry, "watchkeeper_internal_errors_total", component="llm.record") == 2
    assert values(registry, "llm_tokens_total") == []


def test_metric_names_pass_promtool(registry: Registry) -> None:
    llm.record("gpt-4o", input_tokens=5, output_tokens=5, duration=0.2, api_key="k",
               registry=registry)  # fmt: skip
    llm.record("mystery", input_tokens=5, error="Timeout", registry=registry)
    assert promtool_problems(render(registry)) == ""
