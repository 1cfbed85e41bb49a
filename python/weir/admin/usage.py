"""The usage endpoints, for one account (a key owner's, or any account an operator names) or for every account (an
operator's): per-call records in pages or as CSV, and totals per day, model, key or account."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import Response, StreamingResponse

from weir.admin.http import PAGE_PARAMS, integer, json_response, list_json, page_args
from weir.errors import InvalidRequest
from weir.service import Service, views
from weir.service.usage import EXPORT_MAX, Filters
from weir.store.records import UsageQuery, UsageRecord

FILTERS = ("key", "model", "status", "since", "until")
LIST_PARAMS = (*FILTERS, *PAGE_PARAMS, "format")
SUMMARY_PARAMS = (*FILTERS, "group_by")
CSV_BATCH = 500  # rows per chunk of a CSV response


async def usage_query(service: Service, account_id: int | None, params: dict[str, str]) -> UsageQuery | None:
    return await service.usage.query(account_id, Filters(**{k: v for k, v in params.items() if k in FILTERS}))


async def usage_list(service: Service, account_id: int | None, params: dict[str, str]) -> Response:
    """JSON pages (`limit`, `cursor`), or with `format=csv` one CSV of up to `limit` records (default and at most
    100,000), streamed; its `X-Weir-Next-Cursor` header continues it when more records follow."""
    form = params.get("format", "json")
    if form not in ("json", "csv"):
        raise InvalidRequest(f"'format' must be json or csv, got {form[:20]!r}.", param="format")
    query = await usage_query(service, account_id, params)
    if form == "json":
        limit, cursor = page_args(params)
        return json_response(list_json(await service.usage.page(query, limit, cursor), views.usage_json))
    export = await service.usage.export(query, integer(params, "limit", EXPORT_MAX), params.get("cursor") or None)
    headers = {"content-disposition": 'attachment; filename="weir-usage.csv"'}
    if export.next_cursor is not None:
        headers["x-weir-next-cursor"] = export.next_cursor
    return StreamingResponse(_csv(export.records), media_type="text/csv; charset=utf-8", headers=headers)


async def _csv(records: AsyncIterator[UsageRecord]) -> AsyncIterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(views.USAGE_FIELDS)
    count = 0
    async for record in records:
        writer.writerow(_cells(views.usage_json(record)))
        count += 1
        if count % CSV_BATCH == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _cells(row: dict[str, Any]) -> list[Any]:
    return ["" if value is None else str(value).lower() if isinstance(value, bool) else value for value in row.values()]


async def usage_summary(
    service: Service, account_id: int | None, params: dict[str, str], groups: tuple[str, ...]
) -> Response:
    group_by = params.get("group_by", "day")
    if group_by not in groups:
        raise InvalidRequest(f"'group_by' must be one of {', '.join(groups)}; got {group_by[:20]!r}.", param="group_by")
    summary = await service.usage.summary(await usage_query(service, account_id, params), group_by)
    return json_response(
        {
            "object": "usage_summary",
            "group_by": group_by,
            "since": summary.since,
            "until": summary.until,
            "truncated": summary.truncated,
            "data": [views.group_json(g, group_by) for g in summary.groups],
        }
    )
