-- Health attestations between deployments (issue 19 item 1).
--
-- At the arrival province (B): what each home province attested of a person (the store's
-- pseudonym), one row per person and province, replaced by each newer answer: the color, the
-- rule groups behind it (comma-separated `case`, `contact`, …: never records), the last day it
-- holds (YYYY-MM-DD, inclusive), when it was received (Unix ms) and the request it answered.
CREATE TABLE peer_attestations (
    person      BIGINT NOT NULL,
    province    TEXT   NOT NULL,
    color       TEXT   NOT NULL,
    groups      TEXT   NOT NULL,
    until_day   TEXT   NOT NULL,
    received_at BIGINT NOT NULL,
    request_id  TEXT   NOT NULL,
    PRIMARY KEY (person, province)
);
-- A home province that did not answer for a person (down, slow, refusing): the day it failed
-- (the code says "home data unavailable" that day), how many attempts failed in a row and why
-- the last did. Gone once the province answers.
CREATE TABLE peer_unavailable (
    person    BIGINT NOT NULL,
    province  TEXT   NOT NULL,
    on_day    TEXT   NOT NULL,
    failures  BIGINT NOT NULL,
    failed_at BIGINT NOT NULL,
    error     TEXT   NOT NULL,
    PRIMARY KEY (person, province)
);
-- At the home province (A): every request id accepted, so a replay is refused, and the region
-- and time each came from, for the per-region rate limit.
CREATE TABLE peer_requests (
    request_id  TEXT   NOT NULL PRIMARY KEY,
    from_region TEXT   NOT NULL,
    seen_at     BIGINT NOT NULL,
    persons     BIGINT NOT NULL
);
CREATE INDEX peer_requests_region ON peer_requests (from_region, seen_at);
