"""What the suite measures: two mock upstreams and three proxies, each started, checked and stopped by pid.

Mocks (pinned with the load generator, CPU 1 by default):
    nginx       bench/transport/mock_upstream.py: canned JSON at /v1/..., canned 50-chunk SSE at /stream/v1/...
    PacedMock   bench/loadgen/pacedmock: time to first token, inter-chunk gap and chunk count from flags

Proxies (pinned alone, CPU 0 by default, one worker each):
    Weir        `weir --config CFG serve` on a generated config (SQLite in a temp dir, fixed pepper)
    Bare        bench/transport/proxy.py, WEIR_BENCH_VARIANT=aiohttp: Starlette + granian + aiohttp, nothing else
    LiteLLM     `litellm --config config.yaml --num_workers 1` from its own venv (bench/.venv-litellm), no database

A target answers chat_url(stream) and headers; `pid` is the root of the process tree whose CPU and RSS count.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from weirbench import BENCH, FIXTURES, ROOT, TRANSPORT
from weirbench.loads import go_binaries
from weirbench.procs import free_port, stop_tree, tree, tree_affinity, wait_http

sys.path.insert(0, str(TRANSPORT))
from mock_upstream import UPSTREAM_KEY, NginxMock

__all__ = [
    "UPSTREAM_KEY",
    "Bare",
    "Direct",
    "LiteLLM",
    "NginxMock",
    "PacedMock",
    "Weir",
    "WeirLimits",
    "WeirRedis",
    "bodies",
]

PEPPER = "weir-bench-pepper-0123456789abcdef"
LITELLM_MASTER_KEY = "sk-bench-litellm-master"
LITELLM_VENV = BENCH / ".venv-litellm"
# model name -> which upstream location it uses; the same names are configured in Weir and LiteLLM
NONSTREAM_MODEL, STREAM_MODEL, PACED_MODEL = "gpt-4o-mini", "bench-stream", "bench-paced"

_NO_PROXY_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def post(url: str, body: bytes, headers: dict[str, str], timeout: float = 30) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json", **headers})
    try:
        with _NO_PROXY_OPENER.open(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def sse_data(raw: bytes) -> list[str]:
    """The `data:` payloads of an SSE body, in order."""
    out = []
    for line in raw.decode().split("\n"):
        if line.startswith("data:"):
            out.append(line[5:].strip())
    return out


def stream_text(events: list[str]) -> str:
    text = []
    for e in events:
        if e == "[DONE]":
            continue
        for choice in json.loads(e).get("choices") or []:
            text.append((choice.get("delta") or {}).get("content") or "")
    return "".join(text)


FIXTURE_JSON = (FIXTURES / "chat_completion.json").read_bytes()
FIXTURE_SSE = (FIXTURES / "chat_completion_stream.sse").read_bytes()
FIXTURE_TEXT = json.loads(FIXTURE_JSON)["choices"][0]["message"]["content"]
FIXTURE_STREAM_TEXT = stream_text(sse_data(FIXTURE_SSE))


def bodies(workdir: Path) -> dict[str, Path]:
    """Request bodies: the transport fixtures, with the stream ones naming the suite's stream models."""
    workdir.mkdir(parents=True, exist_ok=True)
    out = {"nonstream": workdir / "nonstream.json"}
    shutil.copyfile(FIXTURES / "request.json", out["nonstream"])
    stream = json.loads((FIXTURES / "request_stream.json").read_bytes())
    assert stream["stream"] is True and stream["stream_options"]["include_usage"] is True
    for name, model in (("stream", STREAM_MODEL), ("paced", PACED_MODEL)):
        out[name] = workdir / f"{name}.json"
        out[name].write_text(json.dumps({**stream, "model": model}, separators=(",", ":")))
    return out


def check_proxy_pinning(name: str, pid: int, cpu: str) -> dict[int, list[int]]:
    aff = tree_affinity(pid)
    want = sorted(int(c) for c in cpu.split(","))
    bad = {p: a for p, a in aff.items() if a != want}
    if bad:
        raise RuntimeError(f"{name}: processes not pinned to CPU {cpu}: {bad}")
    return aff


# ------------------------------------------------------------------------------------------------ paced mock


class PacedMock:
    """bench/loadgen/pacedmock, pinned to `cpu`."""

    def __init__(self, cpu: str | None, ttft_ms: float, gap_ms: float, chunks: int, lifetime_s: float) -> None:
        self.cpu, self.ttft_ms, self.gap_ms, self.chunks, self.lifetime_s = cpu, ttft_ms, gap_ms, chunks, lifetime_s
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self, logdir: Path) -> None:
        cmd = [
            str(go_binaries()["pacedmock"]), "-addr", f"127.0.0.1:{self.port}",
            "-ttft", f"{self.ttft_ms}ms", "-gap", f"{self.gap_ms}ms", "-chunks", str(self.chunks),
            "-key", UPSTREAM_KEY, "-lifetime", f"{self.lifetime_s:.0f}s",
        ]  # fmt: skip
        if self.cpu is not None:
            cmd = ["taskset", "-c", self.cpu, *cmd]
        log = logdir / "pacedmock.log"
        with open(log, "wb") as f:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=f, stderr=f)
        wait_http(self.url + "/healthz", self.proc, 10, log)

    def stop(self) -> None:
        stop_tree(self.proc, signal.SIGTERM, 5)
        self.proc = None


# ---------------------------------------------------------------------------------------------------- targets


class Target:
    name = "?"
    proc: subprocess.Popen | None = None
    log: Path | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def chat_url(self, stream: bool) -> str:
        raise NotImplementedError

    @property
    def headers(self) -> dict[str, str]:
        raise NotImplementedError

    def start(self, logdir: Path) -> None: ...

    def stop(self) -> None:
        stop_tree(self.proc)
        self.proc = None

    def meta(self) -> dict:
        return {}


class Direct(Target):
    """No proxy: the load generator talks to the mock itself (the floor)."""

    name = "direct"

    def __init__(self, mock_url: str, by_location: bool = True) -> None:
        self.mock_url, self.by_location = mock_url, by_location

    def chat_url(self, stream: bool) -> str:
        prefix = "/stream" if stream and self.by_location else ""
        return f"{self.mock_url}{prefix}/v1/chat/completions"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {UPSTREAM_KEY}"}


def _transport_proxy_class() -> type:
    """bench/transport/run.py's Proxy (granian + proxy.py), loaded by path: bench/run.py shadows the name `run`."""
    name = "weir_bench_transport_run"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, TRANSPORT / "run.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name].Proxy


class Bare(Target):
    """The floor of the framework stack: Starlette + granian + aiohttp passthrough, bench/transport/proxy.py."""

    name = "aiohttp"

    def __init__(self, upstream: str, cpu: str) -> None:
        self.proxy = _transport_proxy_class()("aiohttp", upstream, cpu)
        self.cpu = cpu

    def start(self, logdir: Path) -> None:
        self.proxy.start(logdir)
        self.proc = self.proxy.proc
        self.log = self.proxy.log
        check_proxy_pinning(self.name, self.proc.pid, self.cpu)

    def stop(self) -> None:
        self.proxy.stop()
        self.proc = None

    def chat_url(self, stream: bool) -> str:
        return self.proxy.url + "/v1/chat/completions"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": "Bearer sk-bench-client"}


class Weir(Target):
    """`weir serve` with one worker on a generated config; an account with a large balance and an inference key."""

    name = "weir"
    server_toml_env = "WEIR_BENCH_SERVER_TOML"  # TOML lines for [server]

    def __init__(self, cpu: str, workdir: Path, nginx_url: str | None = None, paced_url: str | None = None) -> None:
        self.cpu, self.workdir = cpu, workdir
        self.nginx_url, self.paced_url = nginx_url, paced_url
        self.port = free_port()
        self.exe = str(Path(sys.executable).parent / "weir")
        self.config = workdir / "weir.toml"
        self.key = ""
        self.exit_code: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def chat_url(self, stream: bool) -> str:
        return self.url + "/v1/chat/completions"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def write_config(self) -> None:
        data = self.workdir / "data"
        providers, models = [], []
        price = "{ input = 0.15, output = 0.60, cached_input = 0.075 }"
        if self.nginx_url:
            providers += [("mock", f"{self.nginx_url}/v1"), ("mock-stream", f"{self.nginx_url}/stream/v1")]
            models += [(NONSTREAM_MODEL, "mock"), (STREAM_MODEL, "mock-stream")]
        if self.paced_url:
            providers.append(("paced", f"{self.paced_url}/v1"))
            models.append((PACED_MODEL, "paced"))
        text = f"""# generated by bench/weirbench/targets.py
[server]
host = "127.0.0.1"
port = {self.port}
workers = 1
data_dir = "{data}"
{os.environ.get(self.server_toml_env, "")}

[storage]
url = "sqlite://{data / "weir.db"}"

[auth]
pepper = "{PEPPER}"
{self.extra_toml()}
"""
        for name, base in providers:
            text += f"""
[[providers]]
name = "{name}"
dialect = "openai"
base_url = "{base}"
api_keys = ["{UPSTREAM_KEY}"]
"""
        for model, provider in models:
            text += f"""
[[models]]
id = "{model}"
price = {price}
routes = [{{ provider = "{provider}", model = "gpt-4o-mini" }}]
"""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config.write_text(text)

    def extra_toml(self) -> str:
        """More configuration after [auth] (the variants below)."""
        return ""

    def _cli(self, *args: str) -> str:
        env = {k: v for k, v in os.environ.items() if k not in ("WEIR_CONFIG", "WEIR_PORT", "WEIR_HOST")}
        out = subprocess.run(
            [self.exe, "--config", str(self.config), *args], capture_output=True, text=True, timeout=60, env=env
        )
        if out.returncode != 0:
            raise RuntimeError(f"weir {' '.join(args)} failed ({out.returncode}): {out.stderr}")
        return out.stdout

    def start(self, logdir: Path) -> None:
        self.write_config()
        self._cli("accounts", "create", "bench", "--balance-usd", "1000000")
        self.key = self._cli("keys", "create", "--account", "bench", "--name", "bench").strip().splitlines()[-1]
        assert self.key.startswith("sk-weir_"), self.key
        env = {k: v for k, v in os.environ.items() if k not in ("WEIR_CONFIG", "WEIR_PORT", "WEIR_HOST")}
        self.log = logdir / "weir.log"
        with open(self.log, "wb") as f:
            # taskset execs weir, so proc.pid is weir's (granian's main) process; the worker is its child.
            self.proc = subprocess.Popen(
                ["taskset", "-c", self.cpu, self.exe, "--config", str(self.config), "serve"],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=f,
                stderr=f,
            )
        wait_http(self.url + "/healthz", self.proc, 60, self.log)
        check_proxy_pinning(self.name, self.proc.pid, self.cpu)

    def worker_pid(self) -> int | None:
        """The granian worker: the child of weir's main process with the largest RSS."""
        procs = tree(self.proc.pid)[1:] if self.proc else []
        best = None
        for p in procs:
            try:
                rss = p.memory_info().rss
            except Exception:
                continue
            if best is None or rss > best[0]:
                best = (rss, p.pid)
        return best[1] if best else None

    def stop(self) -> None:
        self.exit_code = stop_tree(self.proc, signal.SIGINT, 40)  # a clean stop flushes the usage queue
        self.proc = None

    def meta(self) -> dict:
        git = subprocess.run(
            ["git", "-C", str(ROOT), "describe", "--always", "--dirty", "--exclude", "*"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        version = subprocess.run([self.exe, "--version"], capture_output=True, text=True, timeout=30)
        return {"version": version.stdout.strip(), "git": git.stdout.strip(), "config": str(self.config)}

    def account(self) -> dict:
        return json.loads(self._cli("accounts", "show", "bench"))


class WeirBase(Weir):
    """Another build of Weir (`WEIR_BENCH_BASE`: the path of its `weir` executable, e.g. a worktree of an older
    commit with its own .venv), run exactly like `weir`, so that a change is measured side by side in one run."""

    name = "weir-base"
    server_toml_env = "WEIR_BENCH_BASE_SERVER_TOML"  # its own: an older build may not know the newer settings

    def __init__(self, cpu: str, workdir: Path, nginx_url: str | None = None, paced_url: str | None = None) -> None:
        super().__init__(cpu, workdir, nginx_url, paced_url)
        exe = os.environ.get("WEIR_BENCH_BASE", "")
        if not exe or not Path(exe).exists():
            raise SystemExit("target weir-base: set WEIR_BENCH_BASE to the weir executable of the build to compare")
        self.exe = exe

    def extra_toml(self) -> str:
        """`WEIR_BENCH_BASE_TOML`: more configuration for the other build (e.g. the limits tier, to measure a change
        to the limits against the build before it: the text of `BENCH_TIER`)."""
        return os.environ.get("WEIR_BENCH_BASE_TOML", "")

    def meta(self) -> dict:
        version = subprocess.run([self.exe, "--version"], capture_output=True, text=True, timeout=30)
        root = Path(self.exe).resolve().parents[2]
        git = subprocess.run(
            ["git", "-C", str(root), "describe", "--always", "--dirty", "--exclude", "*"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        return {"version": version.stdout.strip(), "git": git.stdout.strip(), "exe": self.exe}


# Limits no bench load reaches: every check runs on every call, none refuses.
BENCH_TIER = """default_tier = "bench"

[[tiers]]
name = "bench"
requests_per_minute = 100000000
requests_per_hour = 100000000
requests_per_day = 100000000
tokens_per_minute = 100000000000
tokens_per_day = 100000000000
max_concurrent = 100000
max_ips = 1000
"""


class WeirLimits(Weir):
    """This build with every rate limit of the key's tier on, counted in the process (the embedded default)."""

    name = "weir-limits"

    def extra_toml(self) -> str:
        """BENCH_TIER, or the text of the file WEIR_BENCH_TIER names (a `default_tier` and its [[tiers]] table)."""
        path = os.environ.get("WEIR_BENCH_TIER")
        return Path(path).read_text() if path else BENCH_TIER


class WeirRedis(WeirLimits):
    """This build with the same limits shared through a redis-server of its own (pinned with the load)."""

    name = "weir-redis"

    def __init__(self, cpu: str, workdir: Path, nginx_url: str | None = None, load_cpu: str = "1") -> None:
        super().__init__(cpu, workdir, nginx_url)
        self.redis_port = free_port()
        self.load_cpu = load_cpu
        self.redis: subprocess.Popen[bytes] | None = None

    def extra_toml(self) -> str:
        return f'{super().extra_toml()}\n[limits]\non_backend_error = "closed"\n'

    def write_config(self) -> None:
        super().write_config()
        text = self.config.read_text().replace(
            "[storage]\n", f'[storage]\nredis_url = "redis://127.0.0.1:{self.redis_port}/0"\n', 1
        )
        self.config.write_text(text)

    def start(self, logdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("target weir-redis: install redis-server (apt-get install redis-server)")
        args = ["taskset", "-c", self.load_cpu, binary, "--port", str(self.redis_port), "--bind", "127.0.0.1"]
        args += ["--save", "", "--appendonly", "no", "--dir", str(self.workdir)]
        self.workdir.mkdir(parents=True, exist_ok=True)
        with open(logdir / "redis.log", "wb") as log:
            self.redis = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        super().start(logdir)  # its /healthz answers once Redis does (limits.on_backend_error = "closed")

    def stop(self) -> None:
        super().stop()
        if self.redis is not None:
            stop_tree(self.redis, signal.SIGTERM, 10)
            self.redis = None


class LiteLLM(Target):
    """LiteLLM proxy from PyPI in bench/.venv-litellm; master key only, no database."""

    name = "litellm"

    def __init__(self, cpu: str, workdir: Path, nginx_url: str | None = None, paced_url: str | None = None) -> None:
        self.cpu, self.workdir = cpu, workdir
        self.nginx_url, self.paced_url = nginx_url, paced_url
        self.port = free_port()
        self.config = workdir / "litellm.yaml"

    @staticmethod
    def ensure_installed(spec: str = "litellm[proxy]") -> str:
        """Create bench/.venv-litellm and install LiteLLM there when it is missing; return its version."""
        exe = LITELLM_VENV / "bin" / "litellm"
        if not exe.exists():
            print(f"installing {spec} into {LITELLM_VENV} (once) ...", flush=True)
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(LITELLM_VENV)], check=True, timeout=120)
            pip = [str(LITELLM_VENV / "bin" / "python"), "-m", "pip", "install", "-q"]
            subprocess.run([*pip, spec], check=True, timeout=1200)
        out = subprocess.run(
            [str(LITELLM_VENV / "bin" / "python"), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return out.stdout.strip()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def chat_url(self, stream: bool) -> str:
        return self.url + "/v1/chat/completions"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {LITELLM_MASTER_KEY}"}

    def write_config(self) -> None:
        entries = []
        if self.nginx_url:
            entries += [(NONSTREAM_MODEL, f"{self.nginx_url}/v1"), (STREAM_MODEL, f"{self.nginx_url}/stream/v1")]
        if self.paced_url:
            entries.append((PACED_MODEL, f"{self.paced_url}/v1"))
        text = "# generated by bench/weirbench/targets.py\nmodel_list:\n"
        for name, base in entries:
            text += (
                f"  - model_name: {name}\n"
                f"    litellm_params:\n"
                f"      model: openai/gpt-4o-mini\n"
                f"      api_base: {base}\n"
                f"      api_key: {UPSTREAM_KEY}\n"
            )
        text += f"general_settings:\n  master_key: {LITELLM_MASTER_KEY}\n"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config.write_text(text)

    @staticmethod
    def env() -> dict[str, str]:
        """Keep LiteLLM on loopback: local copies of every remote JSON it would fetch, remote URLs pointed at a
        closed loopback port, an HTTPS proxy that does not exist, no database."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LITELLM_", "DATABASE_URL", "OPENAI_"))}
        dead = "http://127.0.0.1:9/"
        env.update(
            LITELLM_LOCAL_MODEL_COST_MAP="True",
            LITELLM_LOCAL_BLOG_POSTS="True",
            LITELLM_LOCAL_POLICY_TEMPLATES="True",
            LITELLM_LOCAL_AUTOROUTER_PRESETS="True",
            LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS="True",
            LITELLM_MODEL_COST_MAP_URL=dead,
            LITELLM_BLOG_POSTS_URL=dead,
            LITELLM_ANTHROPIC_BETA_HEADERS_URL=dead,
            LITELLM_AUTOROUTER_PRESETS_URL=dead,
            HTTPS_PROXY=dead,
            https_proxy=dead,
            NO_PROXY="127.0.0.1,localhost",
            no_proxy="127.0.0.1,localhost",
            DISABLE_SCHEMA_UPDATE="True",
            PYTHONUNBUFFERED="1",
        )
        for k in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
            env.pop(k, None)
        return env

    def start(self, logdir: Path) -> None:
        self.write_config()
        exe = str(LITELLM_VENV / "bin" / "litellm")
        cmd = ["taskset", "-c", self.cpu, exe, "--config", str(self.config), "--host", "127.0.0.1"]
        cmd += ["--port", str(self.port), "--num_workers", "1"]
        self.log = logdir / "litellm.log"
        with open(self.log, "wb") as f:
            self.proc = subprocess.Popen(
                cmd, env=self.env(), cwd=self.workdir, stdin=subprocess.DEVNULL, stdout=f, stderr=f
            )
        wait_http(self.url + "/health/liveliness", self.proc, 180, self.log)
        # anything it forks inherits the affinity; check the whole tree anyway
        check_proxy_pinning(self.name, self.proc.pid, self.cpu)

    def stop(self) -> None:
        stop_tree(self.proc, signal.SIGINT, 20)
        self.proc = None

    def meta(self) -> dict:
        return {"version": self.ensure_installed(), "config": str(self.config), "processes": len(tree(self.pid or 0))}


# -------------------------------------------------------------------------------------------------- checks


def check_nonstream(target: Target, body: Path, exact: bool) -> None:
    status, _, raw = post(target.chat_url(False), body.read_bytes(), target.headers)
    if status != 200:
        raise AssertionError(f"{target.name}: non-stream status {status}: {raw[:500]!r}")
    if exact:
        if raw != FIXTURE_JSON:
            raise AssertionError(f"{target.name}: non-stream body differs from the fixture: {raw[:300]!r}")
    else:
        text = json.loads(raw)["choices"][0]["message"]["content"]
        if text != FIXTURE_TEXT:
            raise AssertionError(f"{target.name}: non-stream content differs: {text!r}")


def check_stream(
    target: Target, body: Path, *, exact: bool, cost: bool, text: str | None = FIXTURE_STREAM_TEXT
) -> None:
    status, headers, raw = post(target.chat_url(True), body.read_bytes(), target.headers)
    if status != 200:
        raise AssertionError(f"{target.name}: stream status {status}: {raw[:500]!r}")
    if exact and raw != FIXTURE_SSE:
        raise AssertionError(f"{target.name}: stream body differs from the fixture")
    events = sse_data(raw)
    if not events or events[-1] != "[DONE]":
        raise AssertionError(f"{target.name}: stream does not end with data: [DONE]: {events[-2:]}")
    if text is not None and stream_text(events) != text:
        raise AssertionError(f"{target.name}: streamed text differs: {stream_text(events)[:200]!r}")
    if cost:
        usage = json.loads(events[-2]).get("usage") or {}
        if not isinstance(usage.get("cost_microcents"), int) or usage["cost_microcents"] <= 0 or "cost" not in usage:
            raise AssertionError(f"{target.name}: the last chunk before [DONE] has no cost: {events[-2][:400]}")
