"""``watchkeeper.llm``: tokens, dollars, latency and outcome of LLM (and other paid API) calls.

    watchkeeper.llm.record("gpt-4o", input_tokens=812, output_tokens=95, duration=1.9)
    with watchkeeper.llm.request("claude-sonnet-4", api_key=key) as call:
        reply = client.messages.create(...)
        call.usage(reply.usage.input_tokens, reply.usage.output_tokens)
    client = watchkeeper.llm.wrap(openai.OpenAI())    # or anthropic.Anthropic(), async too

Metrics (what the generated LLMCostOverBudget alert and the "LLM and quotas"
dashboard query):

- ``llm_tokens_total{model, kind="input|output"}``, ``llm_cost_usd_total{model}``
  (from the price table in ``llm_prices``; unknown models are never guessed:
  ``llm_unpriced_requests_total{model}``, logged once per model);
- ``llm_requests_total{model, result="ok|error", error_type}`` and
  ``llm_request_duration_seconds{model}``;
- per API key, bounded: ``llm_api_key_requests_total{api_key_id}``,
  ``llm_api_key_tokens_total{api_key_id, kind}``, ``llm_api_key_cost_usd_total{api_key_id}``
  where ``api_key_id`` is a keyed hash of the key (never the key), the first
  ``max_keys`` ids get their own series and the rest share ``other``;
- ``llm_active_api_keys`` (distinct keys seen in the last ``active_window`` seconds)
  and ``llm_daily_active_api_keys`` (last 24 h), counted over at most
  ``max_tracked_keys`` keys.

Models and error types are bounded too (``max_models``; 20 error types). Nothing
here raises into the application: faults are reported and the call goes on.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from time import monotonic, perf_counter
from types import TracebackType
from typing import Any

from watchkeeper.instrument import faults
from watchkeeper.instrument._bounded import BoundedValues
from watchkeeper.instrument.llm_prices import PRICES_AS_OF, Price, PriceLike, PriceTable
from watchkeeper.instrument.registry import REGISTRY, Registry

__all__ = [
    "DURATION_BUCKETS",
    "PRICES_AS_OF",
    "LLMCall",
    "LLMMetrics",
    "Price",
    "PriceTable",
    "configure",
    "key_id",
    "record",
    "request",
    "wrap",
]

logger = logging.getLogger("watchkeeper")

# LLM calls take from a fraction of a second (a short completion) to minutes (long
# reasoning): wider than the HTTP buckets.
DURATION_BUCKETS: tuple[float, ...] = (
    0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0, 300.0,
)  # fmt: skip
DAY_S = 86_400.0
DEFAULT_KEY_SALT = "watchkeeper.llm"
_EXTENSION = "llm"


def key_id(api_key: str, salt: str = DEFAULT_KEY_SALT) -> str:
    """A stable, non-reversible id for an API key: 16 hex digits of keyed BLAKE2b.

    BLAKE2b's key parameter makes it a MAC like HMAC-SHA256, at a third of the cost
    (it runs on every request that carries a key).
    """
    secret = salt.encode()
    if len(secret) > 64:  # BLAKE2b keys are at most 64 bytes
        secret = hashlib.sha256(secret).digest()
    return hashlib.blake2b(api_key.encode(), key=secret, digest_size=8).hexdigest()


class _KeyActivity:
    """When each key was last seen, least recent first, at most ``limit`` keys."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.last_seen: OrderedDict[str, float] = OrderedDict()
        self.lock = threading.Lock()

    def seen(self, kid: str, now: float) -> None:
        with self.lock:
            self.last_seen[kid] = now
            self.last_seen.move_to_end(kid)
            while len(self.last_seen) > self.limit:
                self.last_seen.popitem(last=False)

    def counts(self, now: float, window: float) -> tuple[int, int]:
        """(keys seen within ``window``, keys seen within a day); forgets older keys."""
        with self.lock:
            while self.last_seen:
                kid, at = next(iter(self.last_seen.items()))
                if now - at <= DAY_S:
                    break
                del self.last_seen[kid]
            daily = len(self.last_seen)
            active = 0
            for at in reversed(self.last_seen.values()):
                if now - at > window:
                    break
                active += 1
        return active, daily


class LLMMetrics:
    """The LLM metric set of one registry, with its price table and bounds."""

    def __init__(
        self,
        registry: Registry,
        prices: PriceTable | None = None,
        *,
        max_models: int = 50,
        max_keys: int = 100,
        max_tracked_keys: int = 10_000,
        active_window: float = 300.0,
        key_salt: str = DEFAULT_KEY_SALT,
        clock: Callable[[], float] = monotonic,
    ) -> None:
        if active_window <= 0 or active_window > DAY_S:
            raise ValueError(f"active_window must be in (0, 86400] seconds, got {active_window}")
        self.registry = registry
        self.prices = prices or PriceTable()
        self.models = BoundedValues(max_models)
        self.error_types = BoundedValues(20)
        self.keys = BoundedValues(max_keys)
        self.activity = _KeyActivity(max_tracked_keys)
        self.active_window = active_window
        self.key_salt = key_salt
        self.clock = clock
        self._unpriced_logged: set[str] = set()
        r = registry
        self.tokens = r.counter("llm_tokens", "LLM tokens by model and kind (input or output).",
                                ["model", "kind"])  # fmt: skip
        self.cost = r.counter("llm_cost_usd", "LLM spend in US dollars, from the price table.",
                              ["model"])  # fmt: skip
        self.unpriced = r.counter(
            "llm_unpriced_requests",
            "LLM requests whose model has no price in the table (their cost is not counted).",
            ["model"],
        )
        self.requests = r.counter("llm_requests", "LLM requests by model and result (ok, error).",
                                  ["model", "result", "error_type"])  # fmt: skip
        self.duration = r.histogram(
            "llm_request_duration_seconds", "Latency of LLM requests.", ["model"],
            buckets=DURATION_BUCKETS,
        )  # fmt: skip
        self.key_requests = r.counter(
            "llm_api_key_requests", "LLM requests per API key (hashed id, bounded).",
            ["api_key_id"],
        )  # fmt: skip
        self.key_tokens = r.counter(
            "llm_api_key_tokens", "LLM tokens per API key (hashed id, bounded) and kind.",
            ["api_key_id", "kind"],
        )  # fmt: skip
        self.key_cost = r.counter(
            "llm_api_key_cost_usd", "LLM spend in US dollars per API key (hashed id, bounded).",
            ["api_key_id"],
        )  # fmt: skip
        self.active_keys = r.gauge(
            "llm_active_api_keys", "Distinct API keys that made an LLM request recently "
            "(within the active window, 5 minutes by default), in this process.",
            multiprocess_mode="livemax",
        )  # fmt: skip
        self.daily_active_keys = r.gauge(
            "llm_daily_active_api_keys",
            "Distinct API keys that made an LLM request in the last 24 hours, in this process.",
            multiprocess_mode="livemax",
        )

    @classmethod
    def of(cls, registry: Registry) -> LLMMetrics:
        """The registry's LLM metrics, created with defaults on first use."""
        found = registry.extensions.get(_EXTENSION)
        if isinstance(found, LLMMetrics):
            return found
        return _install(cls(registry))

    def _update_key_gauges(self) -> None:
        active, daily = self.activity.counts(self.clock(), self.active_window)
        self.active_keys.set(active)
        self.daily_active_keys.set(daily)

    def record(
        self,
        model: str,
        input_tokens: int = 0,
        output_tokens: int = 0,
        duration: float | None = None,
        error: str | BaseException | None = None,
        api_key: str | None = None,
    ) -> None:
        """Record one finished request; see the module docstring. Never raises."""
        try:
            self._record(model, input_tokens, output_tokens, duration, error, api_key)
        except Exception as exc:
            faults.report("llm.record", exc, self.registry)

    def _record(
        self,
        model: str,
        input_tokens: int,
        output_tokens: int,
        duration: float | None,
        error: str | BaseException | None,
        api_key: str | None,
    ) -> None:
        input_tokens, output_tokens = _count(input_tokens), _count(output_tokens)
        label = self.models.fold(str(model or "unknown"))
        if error is None:
            self.requests.labels(label, "ok", "").inc()
        else:
            etype = error if isinstance(error, str) else type(error).__name__
            self.requests.labels(label, "error", self.error_types.fold(etype)).inc()
        if duration is not None and duration >= 0:
            self.duration.labels(label).observe(duration)
        cost: float | None = 0.0
        if input_tokens or output_tokens:
            self.tokens.labels(label, "input").inc(input_tokens)
            self.tokens.labels(label, "output").inc(output_tokens)
            cost = self.prices.cost(str(model), input_tokens, output_tokens)
            if cost is None:
                self.unpriced.labels(label).inc()
                self._log_unpriced(str(model))
            else:
                self.cost.labels(label).inc(cost)
        if api_key:
            kid = key_id(api_key, self.key_salt)
            self.activity.seen(kid, self.clock())
            klabel = self.keys.fold(kid)
            self.key_requests.labels(klabel).inc()
            if input_tokens or output_tokens:
                self.key_tokens.labels(klabel, "input").inc(input_tokens)
                self.key_tokens.labels(klabel, "output").inc(output_tokens)
            if cost:
                self.key_cost.labels(klabel).inc(cost)

    def _log_unpriced(self, model: str) -> None:
        if model in self._unpriced_logged or len(self._unpriced_logged) >= 100:
            return
        self._unpriced_logged.add(model)
        logger.warning(
            "watchkeeper: no price for LLM model %r, so its cost is not counted (its requests "
            "are counted in llm_unpriced_requests_total). Add it: "
            "watchkeeper.llm.configure(prices={%r: (input_usd_per_1M_tokens, "
            "output_usd_per_1M_tokens)})",
            model,
            model,
        )


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"token counts must be non-negative numbers, got {value!r}")
    return int(value)


def configure(
    prices: Mapping[str, PriceLike] | None = None,
    *,
    default_prices: bool = True,
    max_models: int = 50,
    max_keys: int = 100,
    max_tracked_keys: int = 10_000,
    active_window: float = 300.0,
    key_salt: str = DEFAULT_KEY_SALT,
    registry: Registry | None = None,
) -> LLMMetrics:
    """Set the price table and bounds (call once, at start-up, before recording).

    ``prices`` extends the default table (``default_prices=False`` replaces it):
    ``{"my-model": (0.5, 1.5)}`` is USD per 1M input and output tokens. ``key_salt``
    keys the API-key hash: set a secret of your own when key ids could be guessed.
    """
    reg = registry or REGISTRY
    made = LLMMetrics(
        reg,
        PriceTable(prices, defaults=default_prices),
        max_models=max_models,
        max_keys=max_keys,
        max_tracked_keys=max_tracked_keys,
        active_window=active_window,
        key_salt=key_salt,
    )
    return _install(made)


def _install(metrics: LLMMetrics) -> LLMMetrics:
    """Make ``metrics`` the registry's LLM metrics; the key gauges follow the current one."""
    reg = metrics.registry
    first = _EXTENSION not in reg.extensions
    reg.extensions[_EXTENSION] = metrics
    if first:

        def update_key_gauges() -> None:
            current = reg.extensions.get(_EXTENSION)
            if isinstance(current, LLMMetrics):
                current._update_key_gauges()

        reg.add_pre_collect(update_key_gauges)
    return metrics


def record(
    model: str,
    *,
    input_tokens: int = 0,
    output_tokens: int = 0,
    duration: float | None = None,
    error: str | BaseException | None = None,
    api_key: str | None = None,
    registry: Registry | None = None,
) -> None:
    """Record one finished LLM request. Never raises."""
    try:
        metrics = LLMMetrics.of(registry or REGISTRY)
    except Exception as exc:
        faults.report("llm.record", exc, registry or REGISTRY)
        return
    metrics.record(model, input_tokens, output_tokens, duration, error, api_key)


class LLMCall:
    """A request being timed: ``with request(model) as call: ...; call.usage(i, o)``.

    An exception leaving the block is recorded as an error of its type (and passes
    through unchanged); ``call.model`` may be corrected to the model that answered.
    """

    def __init__(self, metrics: LLMMetrics, model: str, api_key: str | None) -> None:
        self.metrics = metrics
        self.model = model
        self.api_key = api_key
        self.input_tokens = 0
        self.output_tokens = 0
        self.error: str | BaseException | None = None
        self._start = 0.0

    def usage(self, input_tokens: int, output_tokens: int) -> None:
        self.input_tokens += input_tokens
        self.output_tokens += output_tokens

    def start(self) -> None:
        self._start = perf_counter()

    def finish(self, exc: BaseException | None = None) -> None:
        if exc is not None and self.error is None:
            self.error = exc
        self.metrics.record(
            self.model, self.input_tokens, self.output_tokens,
            perf_counter() - self._start, self.error, self.api_key,
        )  # fmt: skip

    def __enter__(self) -> LLMCall:
        self.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.finish(exc)

    async def __aenter__(self) -> LLMCall:
        return self.__enter__()

    async def __aexit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.finish(exc)


def request(model: str, *, api_key: str | None = None, registry: Registry | None = None) -> LLMCall:
    """Time one LLM request in a ``with`` (or ``async with``) block."""
    return LLMCall(LLMMetrics.of(registry or REGISTRY), model, api_key)


def wrap(client: Any, *, api_key: str | None = None, registry: Registry | None = None) -> Any:
    """Instrument an openai or anthropic client (sync or async) in place and return it."""
    from watchkeeper.instrument.llm_clients import wrap_client

    return wrap_client(client, LLMMetrics.of(registry or REGISTRY), api_key)
