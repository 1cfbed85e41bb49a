"""`weir serve`: the embedded defaults' demo account and banner, the one migration before the workers start, and the
server."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
from decimal import Decimal

from weir import __version__, server
from weir.cli.run import CommandError, service_call
from weir.config import DEMO_MODEL, Config, load_config, self_url, usd_to_microcents
from weir.service import Service, open_service

DEMO_ACCOUNT = "demo"
DEMO_BALANCE_USD = "10"


async def _bootstrap_demo(config: Config) -> str | None:
    """On first start of the embedded defaults: a demo account with a balance and a key (printed once)."""
    async with open_service(config) as service:
        if await service.accounts.find(DEMO_ACCOUNT) is not None:
            return None
        account = await service.accounts.create(DEMO_ACCOUNT, usd_to_microcents(Decimal(DEMO_BALANCE_USD), "demo"))
        return (await service.keys.create(account.id, "inference", "demo")).plaintext


def _demo_banner(config: Config, key: str | None) -> str:
    """What the embedded defaults print at start: the demo models, the key (first start only) and a curl to try,
    written as the README's recipes are (WEIR and WEIR_KEY), so that it can be pasted into a shell as it is."""
    demo = ", ".join(m.id for m in config.models)
    lines = [
        "",
        f"Weir {__version__} on embedded defaults: SQLite at {config.storage.url}",
        f"Demo models, every one answered by the built-in echo upstream (no real provider): {demo}",
    ]
    if key is None:
        lines.append(f"The demo account exists; make it a key with: weir keys create --account {DEMO_ACCOUNT}")
        lines.append("Try it, with that key:")
    else:
        lines.append(f"Created the account {DEMO_ACCOUNT!r} with ${DEMO_BALANCE_USD} and this key (shown once):")
        lines.append(f"  {key}")
        lines.append("Try it:")
    body = f'{{"model":"{DEMO_MODEL}","stream":true,"messages":[{{"role":"user","content":"hello weir"}}]}}'
    lines += [
        f"  export WEIR={self_url(config)} WEIR_KEY={key or 'sk-weir_...'}",
        '  curl -N $WEIR/v1/chat/completions -H "Authorization: Bearer $WEIR_KEY" \\',
        f"    -H 'Content-Type: application/json' -d '{body}'",
        "",
    ]
    return "\n".join(lines)


def cmd_serve(args: argparse.Namespace, config_path: str | None) -> None:
    for env, value in (("WEIR_HOST", args.host), ("WEIR_PORT", args.port), ("WEIR_WORKERS", args.workers)):
        if value is not None:
            os.environ[env] = str(value)
    config = load_config(config_path)
    if config_path:
        os.environ["WEIR_CONFIG"] = config_path
    else:
        os.environ.pop("WEIR_CONFIG", None)
    try:
        address_lock = server.claim_address(config.server.host, config.server.port)  # held until serve returns
    except server.AddressInUse as exc:
        raise CommandError(str(exc)) from exc
    try:
        if config.is_demo:
            sys.stderr.write(_demo_banner(config, asyncio.run(_bootstrap_demo(config))) + "\n")
        else:
            service_call(config, _noop)  # migrate once, before the workers start
        if config.server.workers > 1:
            metrics_dir = config.data_path / f"prometheus-{config.server.port}"
            shutil.rmtree(metrics_dir, ignore_errors=True)
            metrics_dir.mkdir(parents=True)
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
        server.serve(config)
    finally:
        if address_lock is not None:
            address_lock.close()


async def _noop(service: Service) -> None:
    return None
