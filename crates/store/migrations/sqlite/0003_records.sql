-- Community records: one table for every kind (the kind's fields as JSON, the columns that
-- filters, uniqueness and later aggregates need pulled out), evidence files, and one row per
-- community year with its lock flag and a version that every write bumps, so that an import
-- planned against one state of a year is refused if the year changed meanwhile.
CREATE TABLE record_years (
    unit_code TEXT NOT NULL REFERENCES units(code),
    year INTEGER NOT NULL,
    version INTEGER NOT NULL,
    locked INTEGER NOT NULL,
    PRIMARY KEY (unit_code, year)
);

CREATE TABLE records (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    unit_code TEXT NOT NULL REFERENCES units(code),
    year INTEGER NOT NULL,
    month INTEGER,
    record_date TEXT,
    sort_key TEXT NOT NULL,
    category TEXT,
    item_no INTEGER,
    quantity INTEGER,
    group_name TEXT,
    slot TEXT,
    record_ref TEXT,
    content_key TEXT NOT NULL,
    fields TEXT NOT NULL,
    standard_id TEXT,
    confirmed INTEGER NOT NULL,
    province_code TEXT,
    prefecture_code TEXT,
    county_code TEXT,
    township_code TEXT,
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
    id INTEGER PRIMARY KEY,
    record_id INTEGER NOT NULL REFERENCES records(id) ON DELETE CASCADE,
    file_name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    data BLOB NOT NULL,
    uploaded_at TEXT NOT NULL,
    uploaded_by TEXT NOT NULL
);
CREATE INDEX record_files_record ON record_files (record_id);
