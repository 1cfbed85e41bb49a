"""scripts/bootstrap, serve and weir as a newcomer meets them: in a fresh copy of this checkout, built once.

The copy holds the checkout's tracked and untracked files (not .venv/ or target/, so uv installs everything anew
and maturin builds the extension), shares this checkout's cargo target directory (CARGO_TARGET_DIR: only Weir's
own crate compiles, about 20 s on 2 cores, since cargo finds the copy's sources newer than its last build) and
its .tools/ (the pinned uv, so nothing comes from PyPI but what uv's cache lacks). The offline start runs in a
network namespace of its own (`unshare --net`) that has only loopback.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from tests.support.processes import ROOT, free_port

SO_GLOB = "python/weir/_native*.so"


@dataclass
class Checkout:
    path: Path
    first_build: str  # what the first scripts/bootstrap printed

    @property
    def native(self) -> Path:
        (found,) = self.path.glob(SO_GLOB)
        return found


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "WEIR_CONFIG")}
    env["CARGO_TARGET_DIR"] = os.environ.get("CARGO_TARGET_DIR") or str(ROOT / "target")
    return {**env, **extra}


def script(checkout: Path, *args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args),
        cwd=checkout,
        env=environment(**env),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
    )


def copy_checkout(target: Path) -> None:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, listed):
        source = ROOT / os.fsdecode(name)
        if source.is_file():  # not a tracked file deleted in the work tree
            (target / os.fsdecode(name)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, target / os.fsdecode(name))  # new mtimes: cargo compiles Weir's crate again
    (target / ".tools").symlink_to(ROOT / ".tools")


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Checkout]:
    path = tmp_path_factory.mktemp("checkout")
    copy_checkout(path)
    assert not list(path.glob(SO_GLOB)) and not (path / ".venv").exists()
    built = script(path, "scripts/bootstrap", timeout=600)
    assert built.returncode == 0, built.stderr
    yield Checkout(path, built.stderr)


def test_the_first_build_says_what_it_is_doing(checkout: Checkout) -> None:
    said = checkout.first_build
    assert said.startswith("bootstrap: building the Rust extension (cargo, release profile"), said
    assert re.search(r"^bootstrap: cargo: Compiling weir-native v[\d.]+ \(.*\): Weir itself", said, re.M), said
    assert re.search(r"^bootstrap: cargo: Finished `release` profile", said, re.M), said
    assert "bootstrap: + weir-gateway==" in said and "bootstrap: + starlette==" in said
    assert all(line.startswith("bootstrap: ") for line in said.splitlines()), said  # stderr only, every line


OFFLINE = """
set -euo pipefail
PATH="$PATH:/usr/sbin:/sbin"
ip link set lo up
links=$(ip -o link show | awk -F': ' '{print $2}' | tr '\\n' ' ')
[ "$links" = "lo " ] || { echo "not an offline namespace: $links" >&2; exit 3; }
scripts/serve --port {port} >serve.log 2>&1 &
pid=$!
for _ in $(seq 300); do curl -fsS http://127.0.0.1:{port}/healthz && break || sleep 0.1; done
echo
kill -INT "$pid"
wait "$pid"
"""


def test_serve_starts_with_no_network_and_does_not_rebuild(checkout: Checkout, tmp_path: Path) -> None:
    native = checkout.native.stat()
    unshare = ["unshare", "--net"] if os.geteuid() == 0 else ["unshare", "--map-root-user", "--net"]
    port = free_port()
    data = str(tmp_path / "data")
    started = script(checkout.path, *unshare, "bash", "-c", OFFLINE.replace("{port}", str(port)), WEIR_DATA_DIR=data)
    log = (checkout.path / "serve.log").read_text()
    assert started.returncode == 0, f"{started.stdout}\n{started.stderr}\n{log}"
    health = orjson.loads(started.stdout.strip().splitlines()[0])
    assert (health["status"], health["db"], health["writes"], health["redis"]) == ("ok", "ok", "ok", "disabled")
    assert "Created the account 'demo'" in log
    assert "bootstrap:" not in log, log  # nothing to install or build: not a line from the bootstrap
    assert checkout.native.stat().st_mtime_ns == native.st_mtime_ns


def test_rebuilds_only_when_the_sources_change(checkout: Checkout) -> None:
    again = script(checkout.path, "scripts/bootstrap")
    assert again.returncode == 0 and again.stderr == "", again.stderr  # quiet when nothing changed

    def plan() -> str:
        dry = script(checkout.path, "scripts/uv", "sync", "--locked", "--inexact", "--dry-run")
        assert dry.returncode == 0, dry.stderr
        return dry.stdout + dry.stderr

    assert "Would make no changes" in plan()
    for source in ("rust/tokens.rs", "Cargo.lock"):  # a Rust change makes uv build the extension again
        path = checkout.path / source
        before = path.stat()
        path.touch()  # uv sees the change (its cache key); cargo, given the old mtime back, has nothing to compile
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert "+ weir-gateway @ file://" in plan(), source
        rebuilt = script(checkout.path, "scripts/bootstrap")
        assert rebuilt.returncode == 0, rebuilt.stderr
        assert "bootstrap: Building weir-gateway @ file://" in rebuilt.stderr, rebuilt.stderr
        assert "bootstrap: cargo: Finished `release` profile" in rebuilt.stderr, rebuilt.stderr
        assert "Would make no changes" in plan()


def test_scripts_weir_runs_the_operator_commands(checkout: Checkout, tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    listed = script(checkout.path, "scripts/weir", "models", "list", WEIR_DATA_DIR=data)
    assert listed.returncode == 0 and listed.stderr == "", listed.stderr
    assert "gpt-4o-mini" in {m["id"] for m in orjson.loads(listed.stdout)}
    created = script(tmp_path, str(checkout.path / "scripts/weir"), "accounts", "create", "alice", WEIR_DATA_DIR=data)
    assert created.returncode == 0, created.stderr
    assert orjson.loads(created.stdout)["name"] == "alice"
    missing = script(tmp_path, str(checkout.path / "scripts/weir"), "--config", "weir.toml", "accounts", "show", "x")
    assert missing.returncode == 2
    assert missing.stderr.startswith(f"weir: {tmp_path / 'weir.toml'} not found. Copy deploy/weir.example.toml")


def test_a_lock_that_no_longer_matches_fails_the_install(checkout: Checkout) -> None:
    pyproject = checkout.path / "pyproject.toml"
    text, before = pyproject.read_text(), pyproject.stat()
    pyproject.write_text(text.replace('    "orjson>=3.10",\n', '    "orjson>=3.10",\n    "six>=1.16",\n', 1))
    try:
        assert "six" in pyproject.read_text()
        stale = script(checkout.path, "scripts/bootstrap", "--dev")
        assert stale.returncode != 0
        assert "The lockfile at `uv.lock` needs to be updated" in stale.stderr, stale.stderr
        assert "bootstrap: failed" in stale.stderr
    finally:
        pyproject.write_text(text)
        os.utime(pyproject, ns=(before.st_atime_ns, before.st_mtime_ns))


def test_a_too_old_rust_is_named(tmp_path: Path) -> None:
    """With only Debian 12's rustc (1.63) and no apt candidate, bootstrap stops at once and says what to do."""
    fake = tmp_path / "bin"
    fake.mkdir()
    for name, body in {
        "rustc": 'echo "rustc 1.63.0"',
        "cargo": 'echo "cargo 1.63.0"',
        "apt-get": "exit 1",
        "apt-cache": "exit 0",  # no candidate versions
    }.items():
        (fake / name).write_text(f"#!/bin/sh\n{body}\n")
        (fake / name).chmod(0o755)
    env = {"PATH": f"{fake}:/usr/bin:/bin", "HOME": str(tmp_path), "PYTHON": sys.executable}
    done = script(ROOT, str(ROOT / "scripts/bootstrap"), **env)
    assert done.returncode == 1
    rust_min = re.search(r'^rust-version = "([\d.]+)"', (ROOT / "Cargo.toml").read_text(), re.M)
    assert rust_min is not None
    assert f"needs Rust {rust_min.group(1)} or newer (Cargo.toml rust-version); found rustc 1.63.0" in done.stderr
    assert "rustup" in done.stderr and "rustc-web" in done.stderr
