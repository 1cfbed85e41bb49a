"""What every command shares: its errors, JSON output, and a call on the service layer."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from weir.config import Config
from weir.service import Service, open_service


class CommandError(Exception):
    pass


def print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def service_call(config: Config, action: Callable[[Service], Awaitable[None]]) -> None:
    async def run() -> None:
        async with open_service(config) as service:
            await action(service)

    asyncio.run(run())
