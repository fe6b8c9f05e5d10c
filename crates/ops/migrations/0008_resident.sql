-- Residents (contract §10): one-time sign-in codes, resident sessions, and the inbox of their
-- reports. Persons are store pseudonyms; codes and tokens are stored only as keyed hashes; a
-- report is stored sealed (the engine holds the key), never in clear. Times are Unix ms.

-- The pending one-time code of a person, and the failures that lock them out. A row exists
-- for anyone someone tried to sign in as, whether or not the person is known, so a lock
-- tells nothing about who exists.
CREATE TABLE resident_otp (
    person       BIGINT PRIMARY KEY,
    code_mac     TEXT,
    expires_at   BIGINT NOT NULL DEFAULT 0,
    sent_at      BIGINT NOT NULL DEFAULT 0,
    failures     BIGINT NOT NULL DEFAULT 0,
    locked_until BIGINT NOT NULL DEFAULT 0
);

-- A resident's session: the BLAKE3 hash of its token, whose person it reaches, until when.
CREATE TABLE resident_sessions (
    token_hash TEXT PRIMARY KEY,
    person     BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX resident_sessions_expiry ON resident_sessions (expires_at);

-- Reports acknowledged to residents and not yet in the store: each a sealed JSON Lines record
-- of its kind. A flush claims the unclaimed rows of a kind as one batch, ingests the batch as
-- one source and then deletes it; a batch claimed but not deleted (a crash) is ingested again
-- with the same content, which the store recognises as a duplicate.
CREATE TABLE resident_inbox (
    id          TEXT   PRIMARY KEY,
    kind        TEXT   NOT NULL,
    received_at BIGINT NOT NULL,
    sealed      TEXT   NOT NULL,
    batch       BIGINT
);
CREATE INDEX resident_inbox_batch ON resident_inbox (kind, batch);

CREATE TABLE resident_batches (
    batch      BIGINT PRIMARY KEY,
    kind       TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);
