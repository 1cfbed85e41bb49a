"""Admission: what is checked about a call once its key is known and before any upstream is tried."""

from __future__ import annotations

from weir.billing.wallets import Wallets
from weir.errors import InsufficientBalance
from weir.pipeline.authenticate import Principal


def admit(principal: Principal, wallets: Wallets) -> None:
    """Refuse before any upstream call when the account has nothing left to spend."""
    balance = wallets.balance(principal.account_id)
    if balance is not None and balance <= 0:
        raise InsufficientBalance(
            f"The account {principal.account_name!r} has insufficient balance; top it up to continue."
        )
