"""Usage records: the calls of an account (or of every account), filtered, in pages or as one bounded export;
and their totals per day, model, key or account."""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec

from weir.service import values
from weir.service.errors import Invalid, NotFound, check_limit, paged
from weir.store._common import now_ms
from weir.store.base import Store
from weir.store.queries import DAY_MS, MAX_PAGE
from weir.store.records import Page, UsageGroup, UsageGroupBy, UsageQuery, UsageRecord

SUMMARY_DAYS = 30  # a summary without a time range covers this many days up to now
MAX_GROUPS = 500  # rows of a summary, at most
EXPORT_MAX = 100_000  # rows of one export, at most (the next ones are a cursor away)
GROUPS: tuple[UsageGroupBy, ...] = ("day", "model", "key", "account")


class Filters(msgspec.Struct, frozen=True, kw_only=True):
    """What a caller narrows usage by, as text (a query string's, a CLI's): checked by `Usage.query`."""

    key: str | None = None
    model: str | None = None
    status: str | None = None  # 200, 4xx, ok, error
    since: str | None = None  # epoch ms or ISO 8601, included
    until: str | None = None  # excluded


class Summary(msgspec.Struct, frozen=True):
    groups: list[UsageGroup]
    since: int | None
    until: int | None
    truncated: bool  # more than MAX_GROUPS groups: only the first are here


class Export(msgspec.Struct, frozen=True):
    """A bounded export: `records` yields at most `limit` records; `next_cursor` continues after them (None when
    they are all there is)."""

    records: AsyncIterator[UsageRecord]
    next_cursor: str | None


class Usage:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def generation(self, account_id: int, request_id: str) -> UsageRecord:
        """One call's usage record, by its request id, if it is the account's and committed; else NotFound."""
        record = await self._store.get_usage(request_id) if len(request_id) <= 200 else None
        if record is None or record.account_id != account_id:
            raise NotFound(
                f"No generation {request_id[:200]!r} for this account (a call's record can be read once its usage "
                "is committed, usually within a few tens of milliseconds of its answer).",
                code="generation_not_found",
            )
        return record

    async def query(self, account_id: int | None, filters: Filters) -> UsageQuery | None:
        """The store query for `filters` on one account (None: every account); None when nothing can match (a
        key that is not the account's, or no key at all)."""
        low = high = None
        if filters.status is not None:
            low, high = values.status_range(filters.status)
        since = None if filters.since is None else values.time_ms(filters.since, "since")
        until = None if filters.until is None else values.time_ms(filters.until, "until")
        if since is not None and until is not None and until <= since:
            raise Invalid("until", "must be after since")
        if filters.key is not None:
            key = await self._store.get_key(filters.key)
            if key is None or (account_id is not None and key.account_id != account_id):
                return None
            account_id = key.account_id  # the key's account: its records are read by the (account, key) index
        return UsageQuery(
            account_id=account_id,
            key_id=filters.key,
            model=filters.model,
            status_min=low,
            status_max=high,
            since=since,
            until=until,
        )

    async def page(self, query: UsageQuery | None, limit: int, cursor: str | None = None) -> Page[UsageRecord]:
        check_limit(limit)
        if query is None:
            return Page(items=[], next_cursor=None)
        return await paged(self._store.page_usage(query, limit, cursor))

    async def summary(self, query: UsageQuery | None, group_by: str) -> Summary:
        if group_by not in GROUPS:
            raise Invalid("group_by", f"expected one of {', '.join(GROUPS)}; got {group_by!r}")
        if query is None:
            return Summary(groups=[], since=None, until=None, truncated=False)
        if query.since is None and query.until is None:
            query = msgspec.structs.replace(query, since=now_ms() - SUMMARY_DAYS * DAY_MS)
        groups = await self._store.usage_summary(query, group_by, MAX_GROUPS + 1)
        return Summary(groups[:MAX_GROUPS], query.since, query.until, truncated=len(groups) > MAX_GROUPS)

    async def export(self, query: UsageQuery | None, limit: int = EXPORT_MAX, cursor: str | None = None) -> Export:
        """At most `limit` records from `cursor` on, read a page at a time while they are sent. Where the export
        ends is found first (one bounded query), so that its continuation is known before the first row."""
        check_limit(limit, EXPORT_MAX)
        if query is None:
            return Export(records=_none(), next_cursor=None)
        last = await paged(self._store.page_usage(query, 1, cursor, offset=limit - 1))
        end = (last.items[0].created_at, last.items[0].request_id) if last.items else None
        return Export(records=self._rows(query, cursor, end), next_cursor=last.next_cursor)

    async def _rows(
        self, query: UsageQuery, cursor: str | None, end: tuple[int, str] | None
    ) -> AsyncIterator[UsageRecord]:
        while True:
            page = await self._store.page_usage(query, MAX_PAGE, cursor)
            for record in page.items:
                if end is not None and (record.created_at, record.request_id) < end:
                    return
                yield record
            if page.next_cursor is None:
                return
            cursor = page.next_cursor


async def _none() -> AsyncIterator[UsageRecord]:
    return
    yield  # an async generator that yields nothing
