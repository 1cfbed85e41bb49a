"""CPU per call of Weir's own request path, in process: the hot ASGI app driven with fake ASGI messages against an
in-memory upstream, under uvloop, counting the main thread's CPU only (the SQLite writer thread is left out).

What it leaves out is what Weir does not own (granian, aiohttp, the kernel), so a difference here is a difference
in Weir's Python; `bench/run compare` measures the whole server. `--base PATH` runs the same measurement on
another checkout (a worktree of an older commit with its own .venv), interleaved, so a change is measured side
by side in one run: that checkout's own `weir` package is imported, and an upstream transport is patched in
where the checkout has none.

    .venv/bin/python bench/micro/exchange.py                       # unary and stream, ~30 s
    .venv/bin/python bench/micro/exchange.py --base /work/wt-base  # and the same for another checkout

`WEIR_BENCH_BALANCE` is the account's balance in microcents (default 10**15: rich; 40000000 makes it nearly empty
for the reservations, a store round trip per call, for some 10,000 calls). `WEIR_BENCH_EXCHANGE_TOML` holds more
configuration after [auth] (a tier with limits, say: `default_tier = "t"` and
its [[tiers]] table).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
ROOT = HERE.parents[2]

BODY = json.dumps(
    {
        "id": "c",
        "object": "chat.completion",
        "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 36, "completion_tokens": 64, "total_tokens": 100},
    }
).encode()
CHUNK = (
    b'data: {"id":"c","object":"chat.completion.chunk",'
    b'"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":null}]}\n\n'
)
STREAM = (
    CHUNK * 50
    + b'data: {"id":"c","choices":[],"usage":{"prompt_tokens":36,"completion_tokens":64,"total_tokens":100}}\n\n'
    + b"data: [DONE]\n\n"
)
PEPPER = "bench-pepper-0123456789abcdef"


class _Content:
    def __init__(self, body: bytes) -> None:
        self._body = body

    async def iter_any(self) -> Any:
        yield self._body


class _Response:
    """Enough of aiohttp's ClientResponse for every version of Weir's relays."""

    def __init__(self, body: bytes, content_type: str) -> None:
        self.status = 200
        self.headers = {"Content-Type": content_type}
        self.content = _Content(body)
        self._body = body

    async def read(self) -> bytes:
        return self._body

    def release(self) -> None:
        return None

    def close(self) -> None:
        return None


class _Upstream:
    async def post(self, url: str, data: Any = None, headers: Any = None, **_: Any) -> _Response:
        body = data if isinstance(data, bytes) else b"".join([piece async for piece in data])
        if b'"stream":true' in body:
            return _Response(STREAM, "text/event-stream")
        return _Response(BODY, "application/json")


async def _measure(stream: bool, calls: int, rounds: int, upstream: str = "") -> list[float]:
    from weir import keys
    from weir.app import create_app
    from weir.config import ConfigError, parse_config
    from weir.upstreams import provider

    data = tempfile.mkdtemp(prefix="weir-bench-exchange-")
    text = f"""
[server]
data_dir = "{data}"
{{server}}
[storage]
url = "sqlite://{data}/weir.db"
[auth]
pepper = "{PEPPER}"
{os.environ.get("WEIR_BENCH_EXCHANGE_TOML", "")}
[[providers]]
name = "mock"
dialect = "openai"
base_url = "{upstream or "http://mock.invalid"}/v1"
api_keys = ["k"]
[[models]]
id = "m"
price = {{ input = 0.15, output = 0.6 }}
routes = [{{ provider = "mock", model = "m" }}]
"""
    try:  # the access log is measured on its own (bench/micro/inbound.py); checkouts before it have no setting
        config = parse_config(text.replace("{server}", "access_log = false"))
    except ConfigError:
        config = parse_config(text.replace("{server}", ""))
    fake = _Upstream()
    upstream_class: Any = provider.Upstream
    if upstream:  # a real upstream over loopback: aiohttp and the sockets are measured too
        pass
    elif "transport" in upstream_class.__slots__:  # the exchange: a transport per upstream
        original_init = upstream_class.__init__

        def init(self: Any, config: Any, base_url: Any = None, transport: Any = None) -> None:
            original_init(self, config, base_url, _Transport(fake))

        upstream_class.__init__ = init
    else:  # before it: an aiohttp session per upstream
        upstream_class.session = property(lambda self: fake)
    app = create_app(config)
    gateway = _gateway(app)
    await gateway.open()
    account = await gateway.store.create_account("bench", int(os.environ.get("WEIR_BENCH_BALANCE", 10**15)))
    plaintext, parsed = keys.generate("inference")
    secret = keys.secret_hmac(PEPPER.encode(), parsed.secret)
    await gateway.store.create_key(account.id, parsed.key_id, secret, "inference", None)
    extra = {"stream": True, "stream_options": {"include_usage": True}} if stream else {}
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hello"}], **extra}).encode()
    headers = [
        (b"authorization", b"Bearer " + plaintext.encode()),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"user-agent", b"OpenAI/Python 1.0"),
        (b"accept", b"application/json"),
    ]
    scope = {"type": "http", "method": "POST", "path": "/v1/chat/completions", "headers": headers}
    scope.update({"query_string": b"", "client": ("127.0.0.1", 5555), "http_version": "1.1", "scheme": "http"})
    never: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    async def one() -> None:
        sent = iter([{"type": "http.request", "body": body, "more_body": False}])

        async def receive() -> Any:
            message = next(sent, None)
            return message if message is not None else await never

        statuses: list[int] = []

        async def send(message: Any) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        await app(scope, receive, send)
        assert statuses == [200], statuses

    for _ in range(300):
        await one()
    results = []
    for _ in range(rounds):
        started = time.thread_time()
        for _ in range(calls):
            await one()
        results.append((time.thread_time() - started) / calls * 1e6)
    await gateway.close()
    return results


class _Transport:
    def __init__(self, upstream: _Upstream) -> None:
        self._upstream = upstream

    def post(self, url: str, body: Any, headers: Any, stream: bool = False) -> Any:
        return self._upstream.post(url, data=body, headers=headers)

    async def aclose(self) -> None:
        return None


def _gateway(app: Any) -> Any:
    """The Gateway behind the app (HotPaths wraps Starlette, whose state holds it)."""
    inner = getattr(app, "app", app)
    return inner.state.gateway


def _child(args: argparse.Namespace) -> None:
    import uvloop

    results = uvloop.run(_measure(args.kind == "stream", args.calls, args.rounds, args.upstream))
    sys.stdout.write(json.dumps(results) + "\n")


def _run(root: Path, kind: str, calls: int, rounds: int, upstream: str) -> list[float]:
    python = root / ".venv" / "bin" / "python"
    env = {**os.environ, "PYTHONPATH": str(root / "python")}
    command = [str(python), str(HERE), "--child", kind, "--calls", str(calls), "--rounds", str(rounds)]
    command += ["--upstream", upstream] if upstream else []
    out = subprocess.run(command, capture_output=True, text=True, env=env, cwd=root, timeout=600, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{root}: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", type=Path, help="another checkout to measure side by side")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3, help="processes per checkout and kind, interleaved")
    parser.add_argument(
        "--upstream", default="", help="a real upstream's base URL (without /v1): aiohttp is then measured too"
    )
    parser.add_argument("--kinds", default="unary,stream", help="unary, stream or both")
    parser.add_argument("--child", choices=["unary", "stream"], help=argparse.SUPPRESS, dest="kind")
    args = parser.parse_args()
    if args.kind:
        _child(args)
        return
    roots = {"this": ROOT, **({"base": args.base.resolve()} if args.base else {})}
    for kind in args.kinds.split(","):
        best: dict[str, list[float]] = {name: [] for name in roots}
        for _ in range(args.repeats):
            for name, root in roots.items():
                best[name].append(min(_run(root, kind, args.calls, args.rounds, args.upstream)))
        line = f"{kind:6s}"
        for name, values in best.items():
            line += f"  {name}: min {min(values):6.1f} us  median {statistics.median(values):6.1f} us"
        if "base" in best:
            line += f"  ratio {min(best['this']) / min(best['base']):.3f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
