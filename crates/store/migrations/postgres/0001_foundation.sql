-- The standard (versioned), the organisation tree with per-level ancestors and kept-current
-- counts, name history and unit groups. Codes use the "C" collation so that prefix ranges
-- compare byte-wise, as in SQLite.
CREATE TABLE app_state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE standards (
    id TEXT PRIMARY KEY,
    seq BIGINT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    source_toml TEXT NOT NULL,
    loaded_at TEXT NOT NULL
);

CREATE TABLE standard_categories (
    standard_id TEXT NOT NULL REFERENCES standards(id),
    number BIGINT NOT NULL,
    name TEXT NOT NULL,
    declared_count BIGINT NOT NULL,
    PRIMARY KEY (standard_id, number)
);

CREATE TABLE standard_items (
    standard_id TEXT NOT NULL REFERENCES standards(id),
    number BIGINT NOT NULL,
    category_number BIGINT NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (standard_id, number),
    FOREIGN KEY (standard_id, category_number) REFERENCES standard_categories(standard_id, number)
);

CREATE TABLE standard_indicators (
    standard_id TEXT NOT NULL REFERENCES standards(id),
    number BIGINT NOT NULL,
    group_name TEXT NOT NULL,
    distinctive BIGINT NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (standard_id, number)
);

CREATE TABLE units (
    code TEXT COLLATE "C" PRIMARY KEY,
    name TEXT NOT NULL,
    depth BIGINT NOT NULL,
    kind TEXT NOT NULL,
    is_community BIGINT NOT NULL,
    parent_code TEXT COLLATE "C" REFERENCES units(code),
    province_code TEXT COLLATE "C",
    prefecture_code TEXT COLLATE "C",
    county_code TEXT COLLATE "C",
    township_code TEXT COLLATE "C",
    source TEXT NOT NULL,
    opened_on TEXT,
    closed_on TEXT
);
CREATE INDEX units_parent ON units (parent_code, code);
CREATE INDEX units_province ON units (province_code);
CREATE INDEX units_prefecture ON units (prefecture_code);
CREATE INDEX units_county ON units (county_code);
CREATE INDEX units_township ON units (township_code);
CREATE INDEX units_name ON units (name);

CREATE TABLE unit_counts (
    code TEXT COLLATE "C" PRIMARY KEY REFERENCES units(code),
    prefecture BIGINT NOT NULL,
    county BIGINT NOT NULL,
    township BIGINT NOT NULL,
    committee BIGINT NOT NULL,
    community BIGINT NOT NULL
);

CREATE TABLE unit_name_history (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code TEXT COLLATE "C" NOT NULL REFERENCES units(code),
    old_name TEXT NOT NULL,
    new_name TEXT NOT NULL,
    changed_on TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
CREATE INDEX unit_name_history_code ON unit_name_history (code);

CREATE TABLE unit_group_members (
    group_set TEXT NOT NULL,
    group_name TEXT NOT NULL,
    unit_code TEXT COLLATE "C" NOT NULL REFERENCES units(code),
    PRIMARY KEY (group_set, group_name, unit_code)
);
CREATE INDEX unit_group_members_unit ON unit_group_members (unit_code);
