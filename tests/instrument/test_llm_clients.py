"""The real openai and anthropic clients, wrapped, against a fake server on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

from tests.instrument.conftest import value, values
from tests.instrument.servers import llm_fake
from tests.instrument.servers.llm_fake import fake_llm_server
from watchkeeper.errors import ConfigurationError
from watchkeeper.instrument import llm
from watchkeeper.instrument.llm_prices import DEFAULT_PRICES
from watchkeeper.instrument.registry import Registry

MESSAGES = [{"role": "user", "content": "2+2?"}]


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with fake_llm_server() as url:
        yield url


def _cost(model: str, inp: int, out: int) -> float:
    price = DEFAULT_PRICES[model]
    return (inp * price.input_per_mtok + out * price.output_per_mtok) / 1e6


OPENAI_IN = llm_fake.OPENAI_USAGE["prompt_tokens"]
OPENAI_OUT = llm_fake.OPENAI_USAGE["completion_tokens"]
CLAUDE_IN = llm_fake.ANTHROPIC_USAGE["input_tokens"]
CLAUDE_OUT = llm_fake.ANTHROPIC_USAGE["output_tokens"]


def test_openai_sync_completion_stream_and_errors(base_url: str, registry: Registry) -> None:
    client: Any = openai.OpenAI(api_key="sk-test-openai", base_url=f"{base_url}/v1", max_retries=0)
    with client:
        wrapped = llm.wrap(client, api_key="sk-test-openai", registry=registry)
        assert wrapped is client
        assert llm.wrap(client, registry=registry) is client
        reply = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        assert reply.choices[0].message.content == "4"  # the app still gets its reply
        stream = client.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, stream=True,
            stream_options={"include_usage": True},
        )  # fmt: skip
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        assert text == "two plus two"
        with pytest.raises(openai.RateLimitError):
            client.chat.completions.create(model="rate-limited", messages=MESSAGES)
        with pytest.raises(openai.InternalServerError):
            client.chat.completions.create(model="overloaded", messages=MESSAGES)

    model = llm_fake.OPENAI_MODEL  # the model that answered, not the alias asked for
    assert value(registry, "llm_tokens_total", model=model, kind="input") == 2 * OPENAI_IN
    assert value(registry, "llm_tokens_total", model=model, kind="output") == 2 * OPENAI_OUT
    assert value(registry, "llm_cost_usd_total", model=model) == pytest.approx(
        2 * _cost("gpt-4o", OPENAI_IN, OPENAI_OUT)
    )
    assert value(registry, "llm_requests_total", model=model, result="ok") == 2
    assert value(registry, "llm_requests_total", model="rate-limited",
                 error_type="RateLimitError") == 1  # fmt: skip
    assert value(registry, "llm_requests_total", model="overloaded",
                 error_type="InternalServerError") == 1  # fmt: skip
    assert value(registry, "llm_request_duration_seconds_count", model=model) == 2
    assert (
        value(registry, "llm_api_key_requests_total", api_key_id=llm.key_id("sk-test-openai")) == 4
    )


def test_openai_async(base_url: str, registry: Registry) -> None:
    async def main() -> None:
        client: Any = openai.AsyncOpenAI(api_key="sk-x", base_url=f"{base_url}/v1", max_retries=0)
        async with client:
            llm.wrap(client, registry=registry)
            await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
            stream = await client.chat.completions.create(
                model="gpt-4o", messages=MESSAGES, stream=True,
                stream_options={"include_usage": True},
            )  # fmt: skip
            async with stream:
                chunks = [c async for c in stream]
            assert len(chunks) == 5
            with pytest.raises(openai.RateLimitError):
                await client.chat.completions.create(model="rate-limited", messages=MESSAGES)

    asyncio.run(main())
    model = llm_fake.OPENAI_MODEL
    assert value(registry, "llm_tokens_total", model=model, kind="output") == 2 * OPENAI_OUT
    assert value(registry, "llm_requests_total", model=model, result="ok") == 2
    assert value(registry, "llm_requests_total", error_type="RateLimitError") == 1


def test_openai_stream_without_usage_counts_the_request_but_no_tokens(
    base_url: str, registry: Registry
) -> None:
    client: Any = openai.OpenAI(api_key="sk-x", base_url=f"{base_url}/v1", max_retries=0)
    with client:
        llm.wrap(client, registry=registry)
        stream = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
        with stream:
            next(iter(stream))  # the app stops reading early and closes the stream
    assert value(registry, "llm_requests_total", model=llm_fake.OPENAI_MODEL, result="ok") == 1
    assert values(registry, "llm_tokens_total") == []


def test_anthropic_sync_stream_and_errors(base_url: str, registry: Registry) -> None:
    client: Any = anthropic.Anthropic(api_key="sk-ant", base_url=base_url, max_retries=0)
    with client:
        llm.wrap(client, registry=registry)
        reply = client.messages.create(model="claude-haiku-4-5", max_tokens=10, messages=MESSAGES)
        assert reply.content[0].text == "4"
        events = list(
            client.messages.create(
                model="claude-haiku-4-5", max_tokens=10, messages=MESSAGES, stream=True,
            )
        )  # fmt: skip
        assert events[-1].type == "message_stop"
        with pytest.raises(anthropic.RateLimitError):
            client.messages.create(model="rate-limited", max_tokens=10, messages=MESSAGES)

    model = llm_fake.ANTHROPIC_MODEL
    assert value(registry, "llm_tokens_total", model=model, kind="input") == 2 * CLAUDE_IN
    assert value(registry, "llm_tokens_total", model=model, kind="output") == 2 * CLAUDE_OUT
    assert value(registry, "llm_cost_usd_total", model=model) == pytest.approx(
        2 * _cost("claude-sonnet-4", CLAUDE_IN, CLAUDE_OUT)
    )
    assert value(registry, "llm_requests_total", error_type="RateLimitError") == 1


def test_anthropic_async(base_url: str, registry: Registry) -> None:
    async def main() -> None:
        client: Any = anthropic.AsyncAnthropic(api_key="sk-ant", base_url=base_url, max_retries=0)
        async with client:
            llm.wrap(client, registry=registry)
            await client.messages.create(model="claude-haiku-4-5", max_tokens=10, messages=MESSAGES)
            stream = await client.messages.create(
                model="claude-haiku-4-5", max_tokens=10, messages=MESSAGES, stream=True,
            )  # fmt: skip
            async for _ in stream:
                pass
            with pytest.raises(anthropic.InternalServerError):
                await client.messages.create(model="overloaded", max_tokens=10, messages=MESSAGES)

    asyncio.run(main())
    model = llm_fake.ANTHROPIC_MODEL
    assert value(registry, "llm_tokens_total", model=model, kind="output") == 2 * CLAUDE_OUT
    assert value(registry, "llm_request_duration_seconds_count", model=model) == 2
    assert value(registry, "llm_requests_total", error_type="InternalServerError") == 1


def test_wrap_refuses_other_objects_with_a_hint() -> None:
    with pytest.raises(ConfigurationError, match=r"openai or anthropic client.*llm.request\(\)"):
        llm.wrap(object())


def test_openai_responses_and_embeddings(base_url: str, registry: Registry) -> None:
    client: Any = openai.OpenAI(api_key="sk-x", base_url=f"{base_url}/v1", max_retries=0)
    with client:
        llm.wrap(client, registry=registry)
        reply = client.responses.create(model="gpt-4o", input="2+2?")
        assert reply.output_text == "4"
        client.embeddings.create(model="text-embedding-3-small", input="2+2")
    model = llm_fake.OPENAI_MODEL
    assert value(registry, "llm_tokens_total", model=model, kind="input") == 100
    assert value(registry, "llm_tokens_total", model=model, kind="output") == 10
    embed = "text-embedding-3-small"
    assert value(registry, "llm_tokens_total", model=embed, kind="input") == 8
    assert value(registry, "llm_cost_usd_total", model=embed) == pytest.approx(_cost(embed, 8, 0))
