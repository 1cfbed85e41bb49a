-- The price multiplier a call was charged at (the account's rate_multiplier times its key's tier's
-- price_multiplier), in parts per million: 1000000 = 1x, what every earlier record was charged at.
ALTER TABLE usage_records ADD COLUMN multiplier_ppm INTEGER NOT NULL DEFAULT 1000000;
