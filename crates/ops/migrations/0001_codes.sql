-- Signed health codes issued (one row per code) and revocations (one row per revoked code).
-- Portable SQL: the same file runs on SQLite and PostgreSQL. Ids are 32 hex digits (16 bytes);
-- times are Unix seconds.
CREATE TABLE issued_codes (
    cti     TEXT   NOT NULL PRIMARY KEY,
    subject TEXT   NOT NULL,
    issued  BIGINT NOT NULL,
    exp     BIGINT NOT NULL,
    kid     TEXT   NOT NULL,
    color   TEXT   NOT NULL
);
CREATE INDEX issued_codes_subject ON issued_codes (subject, exp);

CREATE TABLE revocations (
    cti        TEXT   NOT NULL PRIMARY KEY,
    subject    TEXT,
    revoked_at BIGINT NOT NULL,
    reason     TEXT   NOT NULL
);
