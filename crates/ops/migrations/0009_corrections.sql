-- Corrections of health codes (contract §10, issue 17): a person disputes one rule behind
-- their code (themselves, or through a community worker at a service desk); an epidemiologist
-- or admin accepts — the rule is then set aside for that person through `until_day`, the
-- override the rules engine applies (accepted rows are the one source of overrides) — or
-- rejects. The person is the store's pseudonym; the reason and the outcome are free text that
-- may hold anything, so they are stored sealed (ChaCha20-Poly1305 under a key the database does
-- not hold), as hex like the audit MACs. Times are Unix milliseconds; `code_day` is the day of
-- the code disputed (the rule applied then; its evidence is read for that day) and `until_day`
-- the last day (YYYY-MM-DD, inclusive) the rule is set aside.
CREATE TABLE corrections (
    id           BIGINT NOT NULL PRIMARY KEY,
    person       BIGINT NOT NULL,
    rule         TEXT   NOT NULL,
    code_day     TEXT   NOT NULL,
    reason       TEXT   NOT NULL,
    filed_by     TEXT   NOT NULL,
    filed_role   TEXT   NOT NULL,
    filed_at     BIGINT NOT NULL,
    status       TEXT   NOT NULL,
    decided_by   TEXT,
    decided_role TEXT,
    decided_at   BIGINT,
    outcome      TEXT,
    until_day    TEXT
);
CREATE INDEX corrections_person ON corrections (person, id);
CREATE INDEX corrections_status ON corrections (status, id);
-- At most one open correction per person and rule.
CREATE UNIQUE INDEX corrections_one_open ON corrections (person, rule) WHERE status = 'open';
