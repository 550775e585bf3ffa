-- Monthly progress reports. progress_reports keeps each community month's submitted snapshot
-- (the figures as the worker submitted them, as JSON) with the first submission's instant and
-- the due date then in force, which decide on time or late, and the latest one. report_deadlines keeps the due day a
-- unit above the communities set for a month; the nearest level's setting applies.
CREATE TABLE progress_reports (
    unit_code TEXT NOT NULL REFERENCES units(code),
    year INTEGER NOT NULL,
    month INTEGER NOT NULL,
    first_submitted_at TEXT NOT NULL,
    first_submitted_on TEXT NOT NULL,
    due_on TEXT NOT NULL,
    submitted_at TEXT NOT NULL,
    submitted_by TEXT NOT NULL,
    submissions INTEGER NOT NULL,
    snapshot TEXT NOT NULL,
    PRIMARY KEY (unit_code, year, month)
);

CREATE TABLE report_deadlines (
    unit_code TEXT NOT NULL REFERENCES units(code),
    year INTEGER NOT NULL,
    month INTEGER NOT NULL,
    day INTEGER NOT NULL,
    set_by TEXT NOT NULL,
    set_at TEXT NOT NULL,
    PRIMARY KEY (unit_code, year, month)
);
