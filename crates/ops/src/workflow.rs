//! The status workflow of a stored item (a community alert, a market lead): a move is
//! recorded as an event numbered in the item's own sequence and applied only where the item
//! still stands as it was read, in one transaction, so two people moving the same item at
//! once cannot both move it from the same place; and the events read back in order.

use sqlx::Row;
use sqlx::any::{Any, AnyArguments};
use sqlx::query::Query;

use crate::{Ops, OpsError};

/// Where one kind of item and its events are kept (the names are constants of this crate,
/// so the statements made from them are safe).
pub(crate) struct Workflow {
    /// The items' table (`id`, `status`, `updated_at`, `updated_by`, `note`).
    pub items: &'static str,
    /// The events' table (the item column, `seq`, `at_ms`, `actor`, `from_status`,
    /// `to_status`, `note`).
    pub events: &'static str,
    /// The events' column naming the item.
    pub item: &'static str,
}

/// An item's id as its table keeps it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ItemId<'a> {
    Text(&'a str),
    Int(i64),
}

fn bind<'q>(q: Query<'q, Any, AnyArguments>, id: ItemId<'q>) -> Query<'q, Any, AnyArguments> {
    match id {
        ItemId::Text(s) => q.bind(s),
        ItemId::Int(i) => q.bind(i),
    }
}

/// What became of a move.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Move {
    /// No item has the id.
    Missing,
    /// Not from where the item stands (the workflow does not allow it, or someone moved it
    /// first); the status it has.
    Refused(String),
    /// Moved; the status it had.
    Moved(String),
}

/// One recorded move, as stored.
pub(crate) struct Event {
    pub seq: i64,
    pub at_ms: i64,
    pub actor: String,
    pub from: String,
    pub to: String,
    pub note: String,
}

/// A move to record: to which status, by whom, with what note (as stored), when.
pub(crate) struct Step<'a> {
    pub to: &'a str,
    pub actor: &'a str,
    pub note: &'a str,
    pub now_ms: i64,
}

impl Ops {
    /// Moves item `id` of `w` as `step` says when `allowed` accepts the status it has.
    pub(crate) async fn move_item(
        &self,
        w: &Workflow,
        id: ItemId<'_>,
        allowed: impl FnOnce(&str) -> bool,
        step: Step<'_>,
    ) -> Result<Move, OpsError> {
        let db = |e| self.db(e);
        // Read before the transaction, which then writes first: on SQLite a transaction that
        // reads and then writes fails at once ("database is locked", SQLITE_BUSY_SNAPSHOT) when
        // another connection (the audit log's writer, say) committed in between, where one
        // that starts by writing waits for the lock.
        let Some(from) = self.item_status(w, id).await? else {
            return Ok(Move::Missing);
        };
        if !allowed(&from) {
            return Ok(Move::Refused(from));
        }
        let (_turn, mut tx) = self.begin_write().await?;
        // Applied only where the item still stands as read, so two people racing cannot both
        // move it.
        let update = format!(
            "UPDATE {} SET status = $1, updated_at = $2, updated_by = $3, note = $4 \
             WHERE id = $5 AND status = $6",
            w.items
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(update))
            .bind(step.to)
            .bind(step.now_ms)
            .bind(step.actor)
            .bind(step.note);
        let moved = bind(q, id)
            .bind(from.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        if moved.rows_affected() != 1 {
            drop(tx);
            // Someone moved it first: where it stands now.
            return Ok(match self.item_status(w, id).await? {
                Some(now) => Move::Refused(now),
                None => Move::Missing,
            });
        }
        let next = format!(
            "SELECT COALESCE(MAX(seq), 0) + 1 AS next FROM {} WHERE {} = $1",
            w.events, w.item
        );
        let seq: i64 = bind(sqlx::query(sqlx::AssertSqlSafe(next)), id)
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?
            .get("next");
        let insert = format!(
            "INSERT INTO {} ({}, seq, at_ms, actor, from_status, to_status, note) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            w.events, w.item
        );
        bind(sqlx::query(sqlx::AssertSqlSafe(insert)), id)
            .bind(seq)
            .bind(step.now_ms)
            .bind(step.actor)
            .bind(from.as_str())
            .bind(step.to)
            .bind(step.note)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(Move::Moved(from))
    }

    /// The status item `id` of `w` has; `None` when no item has the id.
    async fn item_status(&self, w: &Workflow, id: ItemId<'_>) -> Result<Option<String>, OpsError> {
        let read = format!("SELECT status FROM {} WHERE id = $1", w.items);
        let row = bind(sqlx::query(sqlx::AssertSqlSafe(read)), id)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.db(e))?;
        Ok(row.map(|r| r.get("status")))
    }

    /// The recorded moves of item `id` of `w`, oldest first.
    pub(crate) async fn item_events(
        &self,
        w: &Workflow,
        id: ItemId<'_>,
    ) -> Result<Vec<Event>, OpsError> {
        let read = format!(
            "SELECT seq, at_ms, actor, from_status, to_status, note FROM {} \
             WHERE {} = $1 ORDER BY seq",
            w.events, w.item
        );
        let rows = bind(sqlx::query(sqlx::AssertSqlSafe(read)), id)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.db(e))?;
        Ok(rows
            .into_iter()
            .map(|r| Event {
                seq: r.get("seq"),
                at_ms: r.get("at_ms"),
                actor: r.get("actor"),
                from: r.get("from_status"),
                to: r.get("to_status"),
                note: r.get("note"),
            })
            .collect())
    }
}
