-- Residents' democratic evaluations. A survey keeps the questions, scale and threshold it was
-- opened with, and running counts of its online ballots, updated in the transaction that casts
-- each ballot. Ballot codes are stored only as hashes with their state; a cast ballot is stored
-- apart from its code, without a time or anything else that could link the two.
CREATE TABLE surveys (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    unit_code TEXT COLLATE "C" NOT NULL REFERENCES units(code),
    year BIGINT NOT NULL,
    kind TEXT NOT NULL,
    spec TEXT NOT NULL,
    standard_id TEXT NOT NULL,
    opens_on TEXT,
    closes_on TEXT,
    closed_at TEXT,
    online_ballots BIGINT NOT NULL,
    online_answers BIGINT NOT NULL,
    online_satisfied BIGINT NOT NULL,
    province_code TEXT COLLATE "C",
    prefecture_code TEXT COLLATE "C",
    county_code TEXT COLLATE "C",
    township_code TEXT COLLATE "C",
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    UNIQUE (unit_code, year, kind)
);
CREATE INDEX surveys_year ON surveys (year, kind);

CREATE TABLE ballot_codes (
    code_hash TEXT COLLATE "C" PRIMARY KEY,
    survey_id BIGINT NOT NULL REFERENCES surveys(id),
    state TEXT NOT NULL
);
CREATE INDEX ballot_codes_survey ON ballot_codes (survey_id, state);

CREATE TABLE ballots (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    survey_id BIGINT NOT NULL REFERENCES surveys(id),
    answers TEXT NOT NULL
);
CREATE INDEX ballots_survey ON ballots (survey_id);

CREATE TABLE ballot_failures (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX ballot_failures_client ON ballot_failures (client, at);
