-- Job seekers' consent to an enterprise seeing who they are (contract §8.4): until a row names
-- the pair, the enterprise sees the seeker matched to its openings masked. The person is the
-- store's pseudonym, never the ID number. Times are Unix milliseconds.
CREATE TABLE resume_consents (
    person        BIGINT NOT NULL,
    enterprise_id TEXT   NOT NULL,
    recorded_at   BIGINT NOT NULL,
    recorded_by   TEXT   NOT NULL,
    PRIMARY KEY (person, enterprise_id)
);
CREATE INDEX resume_consents_enterprise ON resume_consents (enterprise_id);
