"""One process of the several-processes test: `python -m tests.limits.hammer URL CALLS LIMITS_JSON...`.

Connects, prints "ready", reads a Unix time from stdin and waits for it (so that every process starts at once), then
makes CALLS admissions for each LIMITS_JSON, each on a key of its own ("k0", "k1"...), through its own RedisLimiter,
in waves of WAVE concurrent ones (so that the processes' calls interleave at Redis for a while), and prints how
many of each were admitted, as JSON (it never releases).
"""

from __future__ import annotations

import asyncio
import sys
import time

import msgspec

from weir.limits import Limits, RedisLimiter

WAVE = 5


async def hammer(url: str, calls: int, all_limits: list[Limits]) -> list[int]:
    limiter = RedisLimiter(url, timeout=5.0, on_backend_error="closed")
    try:
        assert await limiter.health() == "ok"  # connected before the start
        print("ready", flush=True)
        start_at = float(await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline))
        await asyncio.sleep(start_at - time.time())
        admitted = [0] * len(all_limits)
        for _ in range(0, calls, WAVE):
            wave = [(i, limiter.admit(f"k{i}", limits)) for i, limits in enumerate(all_limits) for _ in range(WAVE)]
            for (i, _), decision in zip(wave, await asyncio.gather(*(call for _, call in wave)), strict=True):
                admitted[i] += decision.admitted
        return admitted
    finally:
        await limiter.close()


def main() -> None:
    url, calls, *limits_json = sys.argv[1:]
    all_limits = [msgspec.json.decode(text, type=Limits) for text in limits_json]
    print(msgspec.json.encode(asyncio.run(hammer(url, int(calls), all_limits))).decode(), flush=True)


if __name__ == "__main__":
    main()
