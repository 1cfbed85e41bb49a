"""Token usage in one convention for every dialect, so a call costs the same whatever the client speaks.

`input` counts every prompt token: uncached, cache reads (`cached`) and cache writes (`cache_write`).
`output` counts every generated token, reasoning (`reasoning`) included.
"""

from __future__ import annotations

import msgspec


class Usage(msgspec.Struct, frozen=True):
    input: int = 0
    cached: int = 0
    output: int = 0
    reasoning: int = 0
    cache_write: int = 0

    @classmethod
    def from_tuple(cls, counts: tuple[int, ...] | None) -> Usage:
        return ZERO if counts is None else cls(*counts)


ZERO = Usage()
