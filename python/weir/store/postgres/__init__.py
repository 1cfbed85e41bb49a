"""The distributed store: PostgreSQL through an asyncpg pool, shared by any number of replicas.

One module per concept, each a subclass of the core (the pool, transactions, migrations) that adds that concept's
calls; ``PostgresStore`` is all of them.
"""

from __future__ import annotations

from weir.store.postgres.accounts import PostgresAccounts
from weir.store.postgres.byok import PostgresByok
from weir.store.postgres.holds import PostgresHolds
from weir.store.postgres.keys import PostgresKeys
from weir.store.postgres.providers import PostgresProviders
from weir.store.postgres.responses import PostgresResponses
from weir.store.postgres.usage import PostgresUsage

__all__ = ["PostgresStore"]


class PostgresStore(
    PostgresAccounts, PostgresKeys, PostgresUsage, PostgresResponses, PostgresProviders, PostgresHolds, PostgresByok
):
    pass
