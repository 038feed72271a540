"""A process that runs the notifier on a data dir, for the kill -9 test.

``python -m tests.monitor.notify.notifier_proc DATA_DIR CONFIG_JSON feed`` posts two
alert groups, resolves them after they were flushed, then keeps running;
``... serve`` only runs (delivering whatever the outbox holds). Killed, never stopped.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import orjson

from tests.monitor.notify.support import alert
from watchkeeper.monitor.notify import DeliveryOptions, Notifier, parse_config


async def main(data_dir: Path, config_path: Path, mode: str) -> None:
    config = parse_config(orjson.loads(config_path.read_bytes()))
    options = DeliveryOptions(max_attempts=10_000, backoff_initial_s=0.05, backoff_max_s=0.3)
    notifier = Notifier(config, data_dir, delivery=options)
    await notifier.start()
    if mode == "feed":
        now = int(time.time() * 1000)
        firing = [
            alert("Down", starts=now, ends=now + 3_600_000, instance="a"),
            alert("Down", starts=now, ends=now + 3_600_000, instance="b"),
            alert("Slow", starts=now, ends=now + 3_600_000, instance="a"),
        ]
        notifier.notify(firing)
        # Wait until both groups were flushed (their firing notifications are queued).
        while notifier.store.counts().get("pending", 0) < 2:
            await asyncio.sleep(0.05)
        later = int(time.time() * 1000)
        notifier.notify(
            [alert("Down", starts=now, ends=later, instance=i) for i in ("a", "b")]
            + [alert("Slow", starts=now, ends=later, instance="a")]
        )
    print("fed", flush=True)
    while True:
        await asyncio.sleep(3600)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]))
