//! Alerts and their status: stored when first computed (open), their figures refreshed when
//! computed again, and every status change kept in order with who made it.

use std::collections::HashMap;

use sqlx::Row;

use crate::{Ops, OpsError};

/// Where an alert stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AlertStatus {
    Open,
    Acknowledged,
    Done,
}

impl AlertStatus {
    pub const ALL: [AlertStatus; 3] = [
        AlertStatus::Open,
        AlertStatus::Acknowledged,
        AlertStatus::Done,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Open => "open",
            AlertStatus::Acknowledged => "acknowledged",
            AlertStatus::Done => "done",
        }
    }

    pub fn parse(s: &str) -> Option<AlertStatus> {
        AlertStatus::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// An alert as computed, to be stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertRecord {
    pub id: String,
    pub rule: String,
    pub severity: String,
    pub date: String,
    pub region: String,
    /// Empty: no community.
    pub community: String,
    pub detail: String,
    pub task: String,
    pub task_detail: String,
    pub persons: i64,
}

/// Where a stored alert stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertState {
    pub status: AlertStatus,
    pub first_seen: i64,
    pub updated_at: i64,
    /// Empty until someone changes the status.
    pub updated_by: String,
    pub note: String,
}

/// A stored alert with its state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredAlert {
    pub record: AlertRecord,
    pub state: AlertState,
}

/// One status change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertEvent {
    pub seq: i64,
    pub at_ms: i64,
    pub actor: String,
    pub from: AlertStatus,
    pub to: AlertStatus,
    pub note: String,
}

impl Ops {
    fn status_of(&self, s: &str) -> Result<AlertStatus, OpsError> {
        AlertStatus::parse(s).ok_or_else(|| self.malformed("alert status"))
    }

    /// Stores alerts not seen before as open and refreshes the figures of those seen; returns
    /// the state of each, by id.
    pub async fn sync_alerts(
        &self,
        alerts: &[AlertRecord],
        now_ms: i64,
    ) -> Result<HashMap<String, AlertState>, OpsError> {
        let mut tx = self.pool.begin().await.map_err(|e| self.db(e))?;
        for chunk in alerts.chunks(64) {
            let mut sql = String::from(
                "INSERT INTO alerts (id, rule, severity, alert_date, region, community, detail, \
                 task, task_detail, persons, status, first_seen, updated_at, updated_by, note) VALUES ",
            );
            for i in 0..chunk.len() {
                if i > 0 {
                    sql.push_str(", ");
                }
                // Ten fields, then status 'open', first_seen and updated_at, no actor or note.
                sql.push('(');
                sql.push_str(&self.placeholders(i * 12, 10));
                sql.push_str(", 'open', ");
                sql.push_str(&self.placeholders(i * 12 + 10, 2));
                sql.push_str(", '', '')");
            }
            sql.push_str(
                " ON CONFLICT (id) DO UPDATE SET severity = excluded.severity, \
                 detail = excluded.detail, task_detail = excluded.task_detail, \
                 persons = excluded.persons",
            );
            // Only placeholders and fixed text are formatted in; every value is bound.
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for a in chunk {
                q = q
                    .bind(&a.id)
                    .bind(&a.rule)
                    .bind(&a.severity)
                    .bind(&a.date)
                    .bind(&a.region)
                    .bind(&a.community)
                    .bind(&a.detail)
                    .bind(&a.task)
                    .bind(&a.task_detail)
                    .bind(a.persons)
                    .bind(now_ms)
                    .bind(now_ms);
            }
            q.execute(&mut *tx).await.map_err(|e| self.db(e))?;
        }
        tx.commit().await.map_err(|e| self.db(e))?;
        let mut out = HashMap::with_capacity(alerts.len());
        for chunk in alerts.chunks(256) {
            let sql = format!(
                "SELECT id, status, first_seen, updated_at, updated_by, note FROM alerts WHERE id IN ({})",
                self.placeholders(0, chunk.len())
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for a in chunk {
                q = q.bind(&a.id);
            }
            for r in q.fetch_all(&self.pool).await.map_err(|e| self.db(e))? {
                let id: String = r.get("id");
                let status: String = r.get("status");
                out.insert(
                    id,
                    AlertState {
                        status: self.status_of(&status)?,
                        first_seen: r.get("first_seen"),
                        updated_at: r.get("updated_at"),
                        updated_by: r.get("updated_by"),
                        note: r.get("note"),
                    },
                );
            }
        }
        Ok(out)
    }

    /// One stored alert.
    pub async fn alert(&self, id: &str) -> Result<Option<StoredAlert>, OpsError> {
        let r = sqlx::query(
            "SELECT id, rule, severity, alert_date, region, community, detail, task, task_detail, \
             persons, status, first_seen, updated_at, updated_by, note FROM alerts WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.db(e))?;
        let Some(r) = r else { return Ok(None) };
        let status: String = r.get("status");
        Ok(Some(StoredAlert {
            record: AlertRecord {
                id: r.get("id"),
                rule: r.get("rule"),
                severity: r.get("severity"),
                date: r.get("alert_date"),
                region: r.get("region"),
                community: r.get("community"),
                detail: r.get("detail"),
                task: r.get("task"),
                task_detail: r.get("task_detail"),
                persons: r.get("persons"),
            },
            state: AlertState {
                status: self.status_of(&status)?,
                first_seen: r.get("first_seen"),
                updated_at: r.get("updated_at"),
                updated_by: r.get("updated_by"),
                note: r.get("note"),
            },
        }))
    }

    /// Sets an alert's status, recording the change; returns the status it had. `None` when no
    /// alert has this id.
    pub async fn set_alert_status(
        &self,
        id: &str,
        to: AlertStatus,
        actor: &str,
        note: &str,
        now_ms: i64,
    ) -> Result<Option<AlertStatus>, OpsError> {
        let mut tx = self.pool.begin().await.map_err(|e| self.db(e))?;
        let r = sqlx::query("SELECT status FROM alerts WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| self.db(e))?;
        let Some(r) = r else { return Ok(None) };
        let from = self.status_of(&r.get::<String, _>("status"))?;
        let seq: i64 = sqlx::query(
            "SELECT COALESCE(MAX(seq), 0) + 1 AS next FROM alert_events WHERE alert_id = $1",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| self.db(e))?
        .get("next");
        sqlx::query(
            "INSERT INTO alert_events (alert_id, seq, at_ms, actor, from_status, to_status, note) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(seq)
        .bind(now_ms)
        .bind(actor)
        .bind(from.as_str())
        .bind(to.as_str())
        .bind(note)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.db(e))?;
        sqlx::query(
            "UPDATE alerts SET status = $1, updated_at = $2, updated_by = $3, note = $4 WHERE id = $5",
        )
        .bind(to.as_str())
        .bind(now_ms)
        .bind(actor)
        .bind(note)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.db(e))?;
        tx.commit().await.map_err(|e| self.db(e))?;
        Ok(Some(from))
    }

    /// The status changes of an alert, oldest first.
    pub async fn alert_events(&self, id: &str) -> Result<Vec<AlertEvent>, OpsError> {
        let rows = sqlx::query(
            "SELECT seq, at_ms, actor, from_status, to_status, note FROM alert_events \
             WHERE alert_id = $1 ORDER BY seq",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.db(e))?;
        rows.into_iter()
            .map(|r| {
                Ok(AlertEvent {
                    seq: r.get("seq"),
                    at_ms: r.get("at_ms"),
                    actor: r.get("actor"),
                    from: self.status_of(&r.get::<String, _>("from_status"))?,
                    to: self.status_of(&r.get::<String, _>("to_status"))?,
                    note: r.get("note"),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    fn record(id: &str, persons: i64) -> AlertRecord {
        AlertRecord {
            id: id.into(),
            rule: "high_risk_arrivals".into(),
            severity: "high".into(),
            date: "2020-01-22".into(),
            region: "330302".into(),
            community: "C1".into(),
            detail: format!("{persons} persons arrived"),
            task: "visit".into(),
            task_detail: "Visit them.".into(),
            persons,
        }
    }

    #[tokio::test]
    async fn alerts_keep_their_status_when_computed_again() {
        for db in testing::all().await {
            let ops = &db.ops;
            let many: Vec<AlertRecord> = (0..150).map(|i| record(&format!("a{i:03}"), i)).collect();
            let states = ops.sync_alerts(&many, 1_000).await.unwrap();
            assert_eq!(states.len(), 150);
            assert!(
                states
                    .values()
                    .all(|s| s.status == AlertStatus::Open && s.first_seen == 1_000)
            );

            let from = ops
                .set_alert_status("a007", AlertStatus::Acknowledged, "cw", "on my way", 2_000)
                .await
                .unwrap();
            assert_eq!(from, Some(AlertStatus::Open));
            ops.set_alert_status("a007", AlertStatus::Done, "cw", "visited", 3_000)
                .await
                .unwrap();
            assert_eq!(
                ops.set_alert_status("nope", AlertStatus::Done, "cw", "", 3_000)
                    .await
                    .unwrap(),
                None
            );

            // Computed again with new figures: the status stays, the figures change.
            let states = ops.sync_alerts(&[record("a007", 9)], 4_000).await.unwrap();
            let s = &states["a007"];
            assert_eq!(
                (
                    s.status,
                    s.first_seen,
                    s.updated_by.as_str(),
                    s.note.as_str()
                ),
                (AlertStatus::Done, 1_000, "cw", "visited")
            );
            let stored = ops.alert("a007").await.unwrap().unwrap();
            assert_eq!(stored.record.persons, 9);
            assert_eq!(stored.record.detail, "9 persons arrived");
            let events = ops.alert_events("a007").await.unwrap();
            let steps: Vec<_> = events.iter().map(|e| (e.seq, e.from, e.to)).collect();
            assert_eq!(
                steps,
                [
                    (1, AlertStatus::Open, AlertStatus::Acknowledged),
                    (2, AlertStatus::Acknowledged, AlertStatus::Done)
                ]
            );
            assert!(ops.alert("nope").await.unwrap().is_none());
        }
    }
}
