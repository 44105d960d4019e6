"""Writing price observations: the one upsert that imports and the review queue share.

A row for a series and date that is already there is updated only when its price, USD
price or flag changed, so a file imported twice changes nothing the second time (and
`total_changes` counts only real changes).
"""

from __future__ import annotations

UPSERT = """
INSERT INTO prices (commodity_id, market_id, unit, price_type, currency, date,
                    price, usd_price, price_flag, source, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (commodity_id, market_id, unit, price_type, currency, date) DO UPDATE SET
    price = excluded.price, usd_price = excluded.usd_price, price_flag = excluded.price_flag,
    source = excluded.source, updated_at = excluded.updated_at
WHERE excluded.price IS NOT prices.price OR excluded.usd_price IS NOT prices.usd_price
   OR excluded.price_flag IS NOT prices.price_flag
"""
