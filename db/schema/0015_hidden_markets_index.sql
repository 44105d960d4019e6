-- Every PRICE reads which markets are hidden (prices.quotes.data_version, so that cached
-- answers change when one is hidden): a partial index makes that a look at a tiny index
-- instead of a scan of every market.
CREATE INDEX markets_hidden ON markets (id) WHERE public = 0;
