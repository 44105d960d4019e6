"""The market-information domain: commodities, markets, aliases, quotes, standards, imports."""
