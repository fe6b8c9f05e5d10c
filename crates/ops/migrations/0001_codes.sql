-- Signed health codes issued (one row per code) and revocations (one row per revoked code).
-- Ids are 16-byte blobs; times are Unix seconds.
CREATE TABLE issued_codes (
    cti     BLOB    NOT NULL PRIMARY KEY,
    subject BLOB    NOT NULL,
    issued  INTEGER NOT NULL,
    exp     INTEGER NOT NULL,
    kid     TEXT    NOT NULL,
    color   TEXT    NOT NULL
);
CREATE INDEX issued_codes_subject ON issued_codes (subject, exp);

CREATE TABLE revocations (
    cti        BLOB    NOT NULL PRIMARY KEY,
    subject    BLOB,
    revoked_at INTEGER NOT NULL,
    reason     TEXT    NOT NULL
);
