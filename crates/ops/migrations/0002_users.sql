-- Accounts and their API tokens. A token is stored only as its BLAKE3 hash (hex); a password
-- only as an Argon2id PHC string. Times are Unix seconds; NULL means "not yet" / "never".
CREATE TABLE users (
    name      TEXT   NOT NULL PRIMARY KEY,
    role      TEXT   NOT NULL,
    region    TEXT,
    community TEXT,
    password  TEXT,
    created   BIGINT NOT NULL,
    disabled  BIGINT
);

CREATE TABLE tokens (
    id        TEXT   NOT NULL PRIMARY KEY,
    user_name TEXT   NOT NULL REFERENCES users (name),
    hash      TEXT   NOT NULL UNIQUE,
    label     TEXT   NOT NULL,
    created   BIGINT NOT NULL,
    expires   BIGINT,
    revoked   BIGINT
);
CREATE INDEX tokens_user ON tokens (user_name);
