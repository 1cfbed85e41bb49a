"""The web console (`/console`): server-rendered pages (Jinja2) over the one service layer, for key owners (signed in
with a management key) and operators (with an admin token); and the public price list (`/pricing`)."""

from __future__ import annotations

from weir.console.routes import console_routes

__all__ = ["console_routes"]
