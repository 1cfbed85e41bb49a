"""The in-process view of account balances that admission reads without a store round trip.

balance = the store's balance at the last read or commit, minus the debits queued here and not yet committed.
"""

from __future__ import annotations


class Wallets:
    __slots__ = ("_pending", "_stored")

    def __init__(self) -> None:
        self._stored: dict[int, int] = {}
        self._pending: dict[int, int] = {}

    def observe(self, account_id: int, stored_balance: int) -> None:
        """A fresh read of the store's balance."""
        self._stored[account_id] = stored_balance

    def balance(self, account_id: int) -> int | None:
        stored = self._stored.get(account_id)
        if stored is None:
            return None
        return stored - self._pending.get(account_id, 0)

    def debit_pending(self, account_id: int, amount: int) -> None:
        if amount:
            self._pending[account_id] = self._pending.get(account_id, 0) + amount

    def committed(self, account_id: int, amount: int, stored_balance: int) -> None:
        """A queued debit of `amount` is now in the store, whose balance is `stored_balance`."""
        left = self._pending.get(account_id, 0) - amount
        if left > 0:
            self._pending[account_id] = left
        else:
            self._pending.pop(account_id, None)
        self._stored[account_id] = stored_balance
