-- Markets a deployment does not offer to farmers as a place to sell: refugee camps, for one,
-- whose prices WFP reports but where a farmer cannot take goods. Their prices stay (PRICE
-- at that market still answers); "best markets" and "nearest markets" never list them.
ALTER TABLE markets ADD COLUMN public INTEGER NOT NULL DEFAULT 1 CHECK (public IN (0, 1));
