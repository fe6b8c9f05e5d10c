-- The audit log: one row per access, hash-chained (hash = keyed BLAKE3 over prev, seq and every
-- field, persons included), the persons each access showed (store pseudonyms), and the head
-- (the last seq and hash), moved forward in the same transaction as each append so that two
-- writers never fork the chain and a truncated log is noticed.
CREATE TABLE audit_log (
    seq     BIGINT NOT NULL PRIMARY KEY,
    at_ms   BIGINT NOT NULL,
    actor   TEXT   NOT NULL,
    role    TEXT   NOT NULL,
    purpose TEXT   NOT NULL,
    action  TEXT   NOT NULL,
    query   TEXT   NOT NULL,
    persons BIGINT NOT NULL,
    row_count BIGINT NOT NULL,
    outcome TEXT   NOT NULL,
    prev    TEXT   NOT NULL,
    hash    TEXT   NOT NULL
);
CREATE INDEX audit_log_actor ON audit_log (actor, seq);

CREATE TABLE audit_persons (
    person BIGINT NOT NULL,
    seq    BIGINT NOT NULL,
    PRIMARY KEY (person, seq)
);
CREATE INDEX audit_persons_seq ON audit_persons (seq);

CREATE TABLE audit_head (
    id   BIGINT NOT NULL PRIMARY KEY,
    seq  BIGINT NOT NULL,
    hash TEXT   NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
