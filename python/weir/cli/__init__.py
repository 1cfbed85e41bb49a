"""The `weir` command: serve, accounts, keys, models, tiers, providers, migrate, admin. Errors go to stderr with a
non-zero exit. (`serve` is in serve.py, the other commands in commands.py, the grammar in parser.py.)"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from weir.cli import commands
from weir.cli.key_flags import FLAGS as KEY_FLAGS
from weir.cli.parser import PRICE_FLAGS, build_parser
from weir.cli.run import CommandError
from weir.cli.serve import cmd_serve
from weir.config import TIER_LIMITS, ConfigError, load_config
from weir.service.errors import Invalid, ServiceError
from weir.store.base import StoreError

__all__ = ["main"]

# The service's names for inputs, as this command line spells them (in messages)
_FLAGS = {
    "balance": "--balance-usd",
    "amount": "USD",
    "note": "--note",
    "idempotency_key": "--idempotency-key",
    **KEY_FLAGS,
    **{f"price.{flag.replace('-', '_')}": f"--{flag}" for flag in PRICE_FLAGS},
    "price_multiplier": "--price-multiplier",
    **{name: "--" + name.replace("_", "-") for name in TIER_LIMITS},
    "description": "--description",
}


def _config_path(args: argparse.Namespace) -> str | None:
    path: str | None = getattr(args, "config", None) or os.environ.get("WEIR_CONFIG") or None
    return str(Path(path).resolve()) if path else None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config_path = _config_path(args)
    try:
        if args.command == "serve":
            cmd_serve(args, config_path)
            return 0
        if args.command == "admin":  # needs no configuration
            commands.cmd_admin(args, None)
            return 0
        config = load_config(config_path)
        handlers = {
            "accounts": commands.cmd_accounts,
            "keys": commands.cmd_keys,
            "models": commands.cmd_models,
            "tiers": commands.cmd_tiers,
            "byok": commands.cmd_byok,
            "providers": commands.cmd_providers,
            "migrate": commands.cmd_migrate,
        }
        handlers[args.command](args, config)
    except ConfigError as exc:
        sys.stderr.write(f"weir: {exc}\n")
        return 2
    except Invalid as exc:
        name = exc.param or ""
        sys.stderr.write(f"weir: error: {_FLAGS.get(name.partition('[')[0], name)}: {exc.reason}\n")
        return 1
    except (CommandError, ServiceError, StoreError, ValueError) as exc:
        sys.stderr.write(f"weir: error: {exc}\n")
        return 1
    return 0
