-- Product standards (grades, moisture, contaminant limits) sent by the STD command.
-- Rows are only ever added: a new version of a product's standard is a new row, and the
-- one in force on a day is the row with the latest effective_date on or before that day.
CREATE TABLE standards (
    id INTEGER PRIMARY KEY,
    product TEXT NOT NULL,                   -- folded key, e.g. MAIZE
    title TEXT NOT NULL,                     -- product name shown in lists (English)
    title_sw TEXT,                           -- NULL = use title
    title_fr TEXT,
    version TEXT NOT NULL,
    effective_date TEXT NOT NULL,            -- YYYY-MM-DD
    text_en TEXT NOT NULL,                   -- the bulletin body, GSM-7
    text_sw TEXT,                            -- NULL = use text_en
    text_fr TEXT,
    source TEXT NOT NULL,                    -- short label sent by SMS, e.g. "EAX; EAS 2"
    source_urls TEXT NOT NULL,               -- one URL per line, at least one
    imported_at TEXT NOT NULL,
    UNIQUE (product, version)
);
CREATE INDEX standards_current ON standards (product, effective_date);

-- Names people text for a product (folded), in the language they belong to.
-- One alias may name two products: the STD command then asks which one was meant.
CREATE TABLE standard_aliases (
    alias TEXT NOT NULL,
    language TEXT NOT NULL,                  -- en | sw | fr
    product TEXT NOT NULL,
    PRIMARY KEY (alias, product)
);
