-- Evaluation. record_facts holds the small counts each community's year is assessed from
-- (activities per type and month, service records per item, disputes, incidents, evidence),
-- kept in the transaction of every record and file write, so no evaluation scans the ledgers.
-- assessments holds what people enter: on-site checklists and overrides with their reasons.
-- reviews holds each community year's place in the review chain, review_events its history.
CREATE TABLE record_facts (
    unit_code TEXT COLLATE "C" NOT NULL,
    year BIGINT NOT NULL,
    fact TEXT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (unit_code, year, fact)
);

CREATE TABLE assessments (
    unit_code TEXT COLLATE "C" NOT NULL REFERENCES units(code),
    year BIGINT NOT NULL,
    indicator BIGINT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT,
    items TEXT,
    reason TEXT NOT NULL,
    entered_by TEXT NOT NULL,
    entered_at TEXT NOT NULL,
    PRIMARY KEY (unit_code, year, indicator, kind)
);

CREATE TABLE reviews (
    unit_code TEXT COLLATE "C" NOT NULL REFERENCES units(code),
    year BIGINT NOT NULL,
    state TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    PRIMARY KEY (unit_code, year)
);

CREATE TABLE review_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    unit_code TEXT COLLATE "C" NOT NULL REFERENCES units(code),
    year BIGINT NOT NULL,
    action TEXT NOT NULL,
    from_state TEXT NOT NULL,
    to_state TEXT NOT NULL,
    level TEXT NOT NULL,
    reason TEXT NOT NULL,
    actor TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX review_events_unit ON review_events (unit_code, year, id);
