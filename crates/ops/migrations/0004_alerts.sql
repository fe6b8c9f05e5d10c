-- Alerts as community workers handle them: one row per alert id (a stable hash of what the
-- alert is about), its latest figures, its status (open, acknowledged, done) and who set it;
-- and every status change, in order. Times are Unix milliseconds.
CREATE TABLE alerts (
    id          TEXT   NOT NULL PRIMARY KEY,
    rule        TEXT   NOT NULL,
    severity    TEXT   NOT NULL,
    alert_date  TEXT   NOT NULL,
    region      TEXT   NOT NULL,
    community   TEXT   NOT NULL,
    detail      TEXT   NOT NULL,
    task        TEXT   NOT NULL,
    task_detail TEXT   NOT NULL,
    persons     BIGINT NOT NULL,
    status      TEXT   NOT NULL,
    first_seen  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    updated_by  TEXT   NOT NULL,
    note        TEXT   NOT NULL
);
CREATE INDEX alerts_place ON alerts (region, community, alert_date);

CREATE TABLE alert_events (
    alert_id    TEXT   NOT NULL,
    seq         BIGINT NOT NULL,
    at_ms       BIGINT NOT NULL,
    actor       TEXT   NOT NULL,
    from_status TEXT   NOT NULL,
    to_status   TEXT   NOT NULL,
    note        TEXT   NOT NULL,
    PRIMARY KEY (alert_id, seq)
);
