-- Accounts, sessions stored so a restart keeps them, failed sign-ins for lockout, and the
-- append-only audit log with the target unit's ancestors for scope filtering.
CREATE TABLE users (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    scope_code TEXT COLLATE "C" NOT NULL REFERENCES units(code),
    active BIGINT NOT NULL,
    must_change_password BIGINT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id),
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE sign_in_failures (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username TEXT NOT NULL,
    client TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX sign_in_failures_username ON sign_in_failures (username, at);
CREATE INDEX sign_in_failures_client ON sign_in_failures (client, at);

CREATE TABLE audit_log (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    unit_code TEXT COLLATE "C",
    province_code TEXT COLLATE "C",
    prefecture_code TEXT COLLATE "C",
    county_code TEXT COLLATE "C",
    township_code TEXT COLLATE "C",
    object TEXT NOT NULL,
    summary TEXT NOT NULL,
    client TEXT NOT NULL
);
CREATE INDEX audit_log_unit ON audit_log (unit_code, id);
CREATE INDEX audit_log_province ON audit_log (province_code, id);
CREATE INDEX audit_log_prefecture ON audit_log (prefecture_code, id);
CREATE INDEX audit_log_county ON audit_log (county_code, id);
CREATE INDEX audit_log_township ON audit_log (township_code, id);
