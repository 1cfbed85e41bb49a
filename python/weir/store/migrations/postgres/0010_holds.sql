-- Money set aside at admission (billing/reservations.py). Each process (a holder) holds a slice of an account's
-- balance and admits that account's calls against it without a store round trip; a hold is only ever granted
-- when the balance covers every live hold of the account, and each settled call's cost leaves the balance and
-- its holder's hold in the same transaction. A hold lives until expires_at unless its holder renews it: a dead
-- process's holds stop counting once expired, and the next process that takes a hold on the account deletes them.
CREATE TABLE holds (
    holder            TEXT    NOT NULL,
    account_id        BIGINT  NOT NULL REFERENCES accounts (id),
    amount_microcents BIGINT  NOT NULL CHECK (amount_microcents >= 0),
    expires_at        BIGINT  NOT NULL,
    PRIMARY KEY (account_id, holder)
);
