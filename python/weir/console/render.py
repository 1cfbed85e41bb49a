"""The templates (inside the package, beside the static files) and the filters they use: money as exact USD, times
as `<time datetime>` elements that console.js shows in the viewer's time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.templating import Jinja2Templates

from weir.service.views import usd_text

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


def usd(microcents: int | None) -> str:
    """An exact USD figure ($0.00012345), from integer microcents."""
    if microcents is None:
        return ""
    text = usd_text(abs(microcents))
    return f"-${text}" if microcents < 0 else f"${text}"


def price(value: object) -> str:
    """A USD price (a float from usd_prices) without float noise."""
    if not isinstance(value, int | float):
        return ""
    return "$" + (f"{value:.8f}".rstrip("0").rstrip(".") or "0")


def when(epoch_ms: int | None) -> Markup:
    """A time, in UTC until console.js rewrites it in the viewer's zone."""
    if epoch_ms is None:
        return Markup("")
    moment = datetime.fromtimestamp(epoch_ms / 1000, UTC)
    iso = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return Markup('<time datetime="{}">{}</time>').format(iso, moment.strftime("%Y-%m-%d %H:%M:%S UTC"))


def day(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%Y-%m-%d")


def kept_query(request: Request) -> str:
    """The query string of a page without its cursor (and one-off notice): where a pager's links start from."""
    return urlencode([(k, v) for k, v in request.query_params.multi_items() if k not in ("cursor", "notice")])


def templates() -> Jinja2Templates:
    made = Jinja2Templates(directory=TEMPLATES)
    made.env.filters.update(usd=usd, price=price, when=when, day=day)
    made.env.globals.update(escape=escape, kept_query=kept_query)
    return made
