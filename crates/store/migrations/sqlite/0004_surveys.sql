-- Residents' democratic evaluations. A survey keeps the questions, scale and threshold it was
-- opened with, and running counts of its online ballots, updated in the transaction that casts
-- each ballot. Ballot codes are stored only as hashes with their state; a cast ballot is stored
-- apart from its code, without a time or anything else that could link the two.
CREATE TABLE surveys (
    id INTEGER PRIMARY KEY,
    unit_code TEXT NOT NULL REFERENCES units(code),
    year INTEGER NOT NULL,
    kind TEXT NOT NULL,
    spec TEXT NOT NULL,
    standard_id TEXT NOT NULL,
    opens_on TEXT,
    closes_on TEXT,
    closed_at TEXT,
    online_ballots INTEGER NOT NULL,
    online_answers INTEGER NOT NULL,
    online_satisfied INTEGER NOT NULL,
    province_code TEXT,
    prefecture_code TEXT,
    county_code TEXT,
    township_code TEXT,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    UNIQUE (unit_code, year, kind)
);
CREATE INDEX surveys_year ON surveys (year, kind);

CREATE TABLE ballot_codes (
    code_hash TEXT PRIMARY KEY,
    survey_id INTEGER NOT NULL REFERENCES surveys(id),
    state TEXT NOT NULL
);
CREATE INDEX ballot_codes_survey ON ballot_codes (survey_id, state);

CREATE TABLE ballots (
    id INTEGER PRIMARY KEY,
    survey_id INTEGER NOT NULL REFERENCES surveys(id),
    answers TEXT NOT NULL
);
CREATE INDEX ballots_survey ON ballots (survey_id);

CREATE TABLE ballot_failures (
    id INTEGER PRIMARY KEY,
    client TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX ballot_failures_client ON ballot_failures (client, at);
