-- Community records: one table for every kind (the kind's fields as JSON, the columns that
-- filters, uniqueness and later aggregates need pulled out), evidence files, and one row per
-- community year with its lock flag and a version that every write bumps, so that an import
-- planned against one state of a year is refused if the year changed meanwhile.
CREATE TABLE record_years (
    unit_code TEXT COLLATE "C" NOT NULL REFERENCES units(code),
    year BIGINT NOT NULL,
    version BIGINT NOT NULL,
    locked BIGINT NOT NULL,
    PRIMARY KEY (unit_code, year)
);

CREATE TABLE records (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind TEXT NOT NULL,
    unit_code TEXT COLLATE "C" NOT NULL REFERENCES units(code),
    year BIGINT NOT NULL,
    month BIGINT,
    record_date TEXT,
    sort_key TEXT COLLATE "C" NOT NULL,
    category TEXT,
    item_no BIGINT,
    quantity BIGINT,
    group_name TEXT,
    slot TEXT COLLATE "C",
    record_ref TEXT COLLATE "C",
    content_key TEXT NOT NULL,
    fields TEXT NOT NULL,
    standard_id TEXT,
    confirmed BIGINT NOT NULL,
    province_code TEXT COLLATE "C",
    prefecture_code TEXT COLLATE "C",
    county_code TEXT COLLATE "C",
    township_code TEXT COLLATE "C",
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL
);
CREATE INDEX records_unit_year ON records (unit_code, kind, year, sort_key, id);
CREATE INDEX records_township ON records (kind, year, township_code);
CREATE INDEX records_county ON records (kind, year, county_code);
CREATE INDEX records_prefecture ON records (kind, year, prefecture_code);
CREATE INDEX records_content ON records (kind, unit_code, content_key);
CREATE UNIQUE INDEX records_slot ON records (kind, unit_code, year, slot);
CREATE UNIQUE INDEX records_ref ON records (kind, unit_code, record_ref);

CREATE TABLE record_files (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    record_id BIGINT NOT NULL REFERENCES records(id) ON DELETE CASCADE,
    file_name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    data BYTEA NOT NULL,
    uploaded_at TEXT NOT NULL,
    uploaded_by TEXT NOT NULL
);
CREATE INDEX record_files_record ON record_files (record_id);
