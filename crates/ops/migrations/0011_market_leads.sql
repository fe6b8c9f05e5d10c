-- Market supervision leads (contract §9, issue 20): one row per lead — a seller (or a shop of a
-- platform, `subject` `seller:<code>` / `shop:<platform>/<shop>`) whose listings a scan flagged —
-- with the scan's latest figures, routed to `county` ('' when no listing said), and where it
-- stands in the workflow: new → assigned → verified → closed, or dismissed with a reason. A new
-- scan updates the subject's open lead; a closed or dismissed one stays as it was, and a new lead
-- is opened only for captures after it. The officer's note may name people, so it is stored
-- sealed (ChaCha20-Poly1305 under a key the database does not hold), as hex. Times are Unix
-- milliseconds.
CREATE TABLE market_leads (
    id                   BIGINT NOT NULL PRIMARY KEY,
    subject              TEXT   NOT NULL,
    seller_enterprise_id TEXT   NOT NULL,
    platform             TEXT   NOT NULL,
    shop_id              TEXT   NOT NULL,
    county               TEXT   NOT NULL,
    rules                TEXT   NOT NULL,
    listings             BIGINT NOT NULL,
    captures             BIGINT NOT NULL,
    sales                BIGINT NOT NULL,
    first_seen           BIGINT NOT NULL,
    last_seen            BIGINT NOT NULL,
    status               TEXT   NOT NULL,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    updated_by           TEXT   NOT NULL,
    note                 TEXT   NOT NULL
);
CREATE INDEX market_leads_subject ON market_leads (subject, id);
CREATE INDEX market_leads_county ON market_leads (county, status);
-- At most one open lead per seller or shop.
CREATE UNIQUE INDEX market_leads_one_open ON market_leads (subject)
    WHERE status IN ('new', 'assigned', 'verified');

CREATE TABLE market_lead_events (
    lead_id     BIGINT NOT NULL,
    seq         BIGINT NOT NULL,
    at_ms       BIGINT NOT NULL,
    actor       TEXT   NOT NULL,
    from_status TEXT   NOT NULL,
    to_status   TEXT   NOT NULL,
    note        TEXT   NOT NULL,
    PRIMARY KEY (lead_id, seq)
);
