"""deploy/Dockerfile, without a Docker daemon: what it refers to exists, and its steps work when run outside Docker.

The steps test does what the two stages do, here: export uv.lock's runtime packages with their hashes, build the
wheel with the locked maturin (reusing this checkout's cargo target directory, so it only packs what the editable
build compiled), install both into a fresh venv (the packages with --require-hashes, the wheel with --no-deps),
start `weir serve` from that venv, outside the source tree, and run the image's HEALTHCHECK command against it.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from packaging.requirements import Requirement

from tests.support.processes import ROOT, free_port, stop, wait_http

DOCKERFILE = ROOT / "deploy" / "Dockerfile"
# The stages' steps, which this test runs too with its own directory for /dist (the Dockerfile must contain each).
EXPORT_RUNTIME = "export --locked --no-default-groups --no-emit-project --format requirements.txt"
EXPORT_BUILD = "export --locked --only-group build --no-emit-project --format requirements.txt"
MATURIN_BUILD = "maturin build --release --locked --interpreter python3 --out /dist"
INSTALL = "uv pip install --python /opt/weir/bin/python --no-cache"  # --no-cache: nothing left in the image
INSTALL_LOCKED = "--require-hashes -r /dist/requirements.txt"
INSTALL_WHEEL = "--no-deps /dist/weir_gateway-*.whl"


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)  # (INSTRUCTION, arguments)

    def args(self, instruction: str) -> list[str]:
        return [a for i, a in self.instructions if i == instruction]


def parse(text: str) -> tuple[dict[str, str], list[Stage]]:
    """The global ARGs and the stages, each with its instructions; continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for entry in logical:
        instruction, _, arguments = entry.strip().partition(" ")
        instruction, arguments = instruction.upper(), " ".join(arguments.split())
        if instruction == "FROM":
            words = arguments.split()
            stages.append(Stage(words[0], words[2] if len(words) == 3 and words[1].upper() == "AS" else None))
        elif not stages:
            assert instruction == "ARG", entry
            name, _, value = arguments.partition("=")
            global_args[name] = value
        else:
            stages[-1].instructions.append((instruction, arguments))
    return global_args, stages


def version(text: str) -> tuple[int, int, int]:
    major, minor, patch = (*(int(part) for part in text.split(".")), 0, 0)[:3]
    return major, minor, patch


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    global_args, found = parse(DOCKERFILE.read_text())
    assert not global_args
    return found


def test_two_stages_rust_then_slim_python(stages: list[Stage]) -> None:
    build, final = stages
    rust = re.fullmatch(r"rust:(\d+\.\d+)(\.\d+)?-slim-bookworm", build.image)
    assert rust and build.name == "build", build.image
    cargo = tomllib.loads((ROOT / "Cargo.toml").read_text())["package"]
    assert version(rust.group(1)) >= version(cargo["rust-version"]), "the Rust image must meet rust-version"
    python = re.fullmatch(r"python:(\d+\.\d+)-slim-bookworm", final.image)
    assert python and final.name is None, final.image
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert version(python.group(1)) >= version(requires.removeprefix(">=")), requires
    (uv_arg,) = build.args("ARG")
    pinned = re.search(r"^UV_VERSION=(\S+)$", (ROOT / "scripts" / "uv").read_text(), re.M)
    assert pinned and uv_arg == f"UV_VERSION={pinned.group(1)}", "the image's uv is the one scripts/uv pins"


def test_what_the_stages_refer_to_exists(stages: list[Stage]) -> None:
    build, final = stages
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    for copy in build.args("COPY"):
        *sources, _ = shlex.split(copy)
        for source in sources:
            assert (ROOT / source).exists(), source
            assert source not in ignored, source
    text = " ".join(build.args("RUN"))
    for step in (f"{EXPORT_RUNTIME} -o /dist/requirements.txt", EXPORT_BUILD, MATURIN_BUILD):
        assert step in text, step
    assert "--require-hashes -r /tmp/build-requirements.txt" in text  # maturin itself comes from uv.lock
    run = " ".join(final.args("RUN"))
    for mount in re.findall(r"--mount=(\S+)", run):
        options = dict(option.split("=", 1) for option in mount.split(","))
        assert options["from"] == build.name, mount
        assert options["source"] in text, f"{options['source']} is not made by the build stage"
    for step in (INSTALL_LOCKED, INSTALL_WHEEL):
        assert f"{INSTALL} {step}" in run, step
    assert "python -m venv --without-pip /opt/weir" in run


def test_it_runs_weir_as_an_unprivileged_user_with_a_healthcheck(stages: list[Stage]) -> None:
    final = stages[-1]
    (user,) = final.args("USER")
    assert user not in ("root", "0")
    order = [i for i, _ in final.instructions]
    created = [a for i, a in final.instructions[: order.index("USER")] if i == "RUN" and "useradd" in a]
    assert created and re.search(rf"useradd .*\b{user}\b", created[0]), "USER is created before it is used"
    (check,) = final.args("HEALTHCHECK")
    assert "/healthz" in check and "CMD [" in check
    (entrypoint,) = final.args("ENTRYPOINT")
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert json.loads(entrypoint) == ["weir"] and "weir" in scripts
    assert json.loads(final.args("CMD")[0]) == ["serve"]
    env = " ".join(final.args("ENV"))
    assert "PATH=/opt/weir/bin:" in env and "WEIR_HOST=0.0.0.0" in env and "WEIR_PORT=8080" in env


def test_every_locked_crate_builds_with_the_declared_rust_version() -> None:
    """Cargo.toml's rust-version is the real minimum: no locked dependency asks for more."""
    declared = version(tomllib.loads((ROOT / "Cargo.toml").read_text())["package"]["rust-version"])
    metadata = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked", "--offline", "--features", "ext-module"],
        cwd=ROOT,
        capture_output=True,
        check=True,
        timeout=120,
    )
    wanted = {
        f"{p['name']} {p['version']}": p["rust_version"]
        for p in json.loads(metadata.stdout)["packages"]
        if p.get("rust_version")
    }
    assert max(version(v) for v in wanted.values()) == declared, wanted  # pyo3 and tiktoken-rs set it
    assert not [p for p, v in wanted.items() if version(v) > declared]


def uv(*args: str) -> str:
    done = subprocess.run([str(ROOT / "scripts" / "uv"), *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


@dataclass
class ImageLike:
    venv: Path  # the image's /opt/weir
    requirements: Path


@pytest.fixture(scope="module")
def image_like(tmp_path_factory: pytest.TempPathFactory) -> ImageLike:
    """The final image's /opt/weir, made here by the Dockerfile's steps (uv's cache instead of --no-cache)."""
    dist = tmp_path_factory.mktemp("dist")

    def here(step: str) -> list[str]:
        return step.replace("/dist", str(dist)).split()

    uv(*EXPORT_RUNTIME.split(), "-o", str(dist / "requirements.txt"))
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    maturin = [str(Path(sys.executable).parent / "maturin"), *here(MATURIN_BUILD)[1:]]
    built = subprocess.run(maturin, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert built.returncode == 0, built.stderr
    (wheel,) = dist.glob("weir_gateway-*.whl")
    venv = tmp_path_factory.mktemp("opt") / "weir"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    python = str(venv / "bin" / "python")
    uv("pip", "install", "--python", python, *here(INSTALL_LOCKED))
    uv("pip", "install", "--python", python, *here(INSTALL_WHEEL)[:-1], str(wheel))
    return ImageLike(venv, dist / "requirements.txt")


def test_the_images_steps_make_a_weir_that_serves(image_like: ImageLike, tmp_path: Path) -> None:
    venv = image_like.venv
    python = str(venv / "bin" / "python")
    clean = {"PATH": f"{venv / 'bin'}:{os.environ['PATH']}", "HOME": str(tmp_path)}
    where = subprocess.run(
        [python, "-c", "import weir, weir._native; print(weir.__file__, weir._native.__file__)"],
        cwd=tmp_path,
        env=clean,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert all(path.startswith(str(venv)) for path in where), where  # the wheel's files, not the source tree
    requirements = image_like.requirements.read_text()
    assert requirements.count("--hash=sha256:") > 20
    pinned = [Requirement(line.rstrip(" \\")) for line in requirements.splitlines() if "==" in line]
    locked = {r.name.lower() for r in pinned if r.marker is None or r.marker.evaluate()}  # for this Python
    frozen = uv("pip", "freeze", "--python", python)
    installed = {line.split("==")[0].split(" @ ")[0].lower() for line in frozen.splitlines()}
    assert installed == locked | {"weir-gateway"}, installed ^ (locked | {"weir-gateway"})

    port = free_port()
    env = {**clean, "WEIR_DATA_DIR": str(tmp_path / "data"), "WEIR_HOST": "127.0.0.1", "WEIR_PORT": str(port)}
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(venv / "bin" / "weir"), "serve"], cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", proc, log)
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").json()["status"] == "ok"
        (check,) = parse(DOCKERFILE.read_text())[1][-1].args("HEALTHCHECK")
        command = json.loads(check[check.index("CMD [") + 4 :])
        healthy = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=30)
        assert healthy.returncode == 0, healthy.stderr
    finally:
        assert stop(proc) == 0, log.read_text()[-4000:]
    unhealthy = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert unhealthy.returncode != 0  # nothing listens any more
