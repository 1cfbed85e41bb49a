"""`GET /pricing`: the public price list, every enabled model with its prices per 1M tokens and per unit (at 1x: an
account's and a tier's multipliers apply on top)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from weir.console.context import Console
from weir.console.owner import model_rows


class Pricing:
    def __init__(self, console: Console) -> None:
        self.console = console

    async def page(self, request: Request) -> Response:
        rows = await model_rows(self.console)
        context = {"title": "Pricing", "rows": rows, "public": True}
        return self.console.page(request, "pricing.html", context, await self.console.viewer(request))
