//! Alerts and their status: stored when first computed (open), their figures refreshed when
//! computed again, and every status change kept in order with who made it.

use std::collections::HashMap;

use sqlx::Row;

use crate::workflow::{ItemId, Move, Step, Workflow};
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
        let (_turn, mut tx) = self.begin_write().await?;
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
    /// alert has this id. Someone else moving it at the same moment makes this one fail.
    pub async fn set_alert_status(
        &self,
        id: &str,
        to: AlertStatus,
        actor: &str,
        note: &str,
        now_ms: i64,
    ) -> Result<Option<AlertStatus>, OpsError> {
        let step = Step {
            to: to.as_str(),
            actor,
            note,
            now_ms,
        };
        match self
            .move_item(&ALERTS, ItemId::Text(id), |_| true, step)
            .await?
        {
            Move::Missing => Ok(None),
            Move::Moved(from) => Ok(Some(self.status_of(&from)?)),
            Move::Refused(now) => Err(OpsError::Invalid(format!(
                "the alert was moved to {now} by someone else meanwhile; look again"
            ))),
        }
    }

    /// The status changes of an alert, oldest first.
    pub async fn alert_events(&self, id: &str) -> Result<Vec<AlertEvent>, OpsError> {
        self.item_events(&ALERTS, ItemId::Text(id))
            .await?
            .into_iter()
            .map(|e| {
                Ok(AlertEvent {
                    seq: e.seq,
                    at_ms: e.at_ms,
                    actor: e.actor,
                    from: self.status_of(&e.from)?,
                    to: self.status_of(&e.to)?,
                    note: e.note,
                })
            })
            .collect()
    }
}

/// Where alerts and their status changes are kept.
const ALERTS: Workflow = Workflow {
    items: "alerts",
    events: "alert_events",
    item: "alert_id",
};

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

    /// Two workers moving one alert at the same moment: never both from the same status, and
    /// the recorded changes stay one chain.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_moves_at_once_do_not_both_start_from_the_same_status() {
        for db in testing::all().await {
            let ops = &db.ops;
            let ids: Vec<String> = (0..20).map(|i| format!("r{i:02}")).collect();
            let records: Vec<AlertRecord> = ids.iter().map(|id| record(id, 1)).collect();
            ops.sync_alerts(&records, 1_000).await.unwrap();
            for id in &ids {
                // A third writer commits meanwhile, as the audit log's writer does in a server.
                let busy = [record("busy", 1)];
                let (a, b, other) = tokio::join!(
                    ops.set_alert_status(id, AlertStatus::Acknowledged, "cw1", "a", 2_000),
                    ops.set_alert_status(id, AlertStatus::Done, "cw2", "b", 2_000),
                    ops.sync_alerts(&busy, 2_000),
                );
                other.unwrap();
                // The one that comes second is told someone moved it first; never a database
                // error (a move that read and then wrote in one SQLite transaction failed with
                // "database is locked" when another connection committed in between).
                for r in [&a, &b] {
                    assert!(
                        matches!(r, Ok(Some(_)) | Err(OpsError::Invalid(_))),
                        "{id}: {r:?}"
                    );
                }
                let moved: Vec<AlertStatus> = [a, b]
                    .into_iter()
                    .filter_map(|r| r.ok().flatten())
                    .collect();
                let events = ops.alert_events(id).await.unwrap();
                assert_eq!(events.len(), moved.len(), "{id}: {moved:?}");
                assert!(!moved.is_empty(), "{id}: neither moved");
                assert_eq!(events[0].from, AlertStatus::Open);
                for pair in events.windows(2) {
                    assert_eq!(pair[0].to, pair[1].from, "{id}: not one chain");
                }
                let now = ops.alert(id).await.unwrap().unwrap().state.status;
                assert_eq!(now, events.last().unwrap().to, "{id}");
            }
        }
    }
}
