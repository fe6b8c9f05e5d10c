//! Residents' operational state (contract §10): the pending one-time code and the failures of
//! each person someone tried to sign in as, resident sessions, and the inbox of reports
//! acknowledged but not yet in the store. Codes and tokens arrive here as keyed hashes and
//! reports sealed: the engine holds the keys, this crate only keeps the rows.

use sqlx::Row;

use crate::{Ops, OpsError};

/// A person's sign-in state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OtpState {
    /// The keyed hash of the pending code; `None` when none is pending.
    pub code_mac: Option<String>,
    pub expires_at: i64,
    /// When the last code was sent.
    pub sent_at: i64,
    /// Wrong codes in a row since the last success or lock.
    pub failures: i64,
    /// Sign-in refused until then.
    pub locked_until: i64,
}

/// A resident session found by its token's hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResidentSession {
    pub person: i64,
    pub expires_at: i64,
}

/// One report in the inbox: a sealed JSON Lines record of `kind`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboxRow {
    /// Random, unique; orders rows received in the same millisecond.
    pub id: String,
    pub kind: String,
    pub received_at: i64,
    pub sealed: String,
}

/// A batch of one kind's reports claimed for one flush into the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboxBatch {
    pub batch: i64,
    pub kind: String,
}

impl Ops {
    /// The sign-in state of `person`; the default when nobody tried.
    pub async fn otp_state(&self, person: i64) -> Result<OtpState, OpsError> {
        let row = sqlx::query(
            "SELECT code_mac, expires_at, sent_at, failures, locked_until \
             FROM resident_otp WHERE person = $1",
        )
        .bind(person)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.db(e))?;
        Ok(row.map_or_else(OtpState::default, |r| OtpState {
            code_mac: r.get("code_mac"),
            expires_at: r.get("expires_at"),
            sent_at: r.get("sent_at"),
            failures: r.get("failures"),
            locked_until: r.get("locked_until"),
        }))
    }

    /// Makes `code_mac` the person's pending code until `expires_at` (a code sent at `now`
    /// replaces any earlier one; failures and a lock stay).
    pub async fn otp_set_code(
        &self,
        person: i64,
        code_mac: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<(), OpsError> {
        let _turn = self.write_turn().await;
        sqlx::query(
            "INSERT INTO resident_otp (person, code_mac, expires_at, sent_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (person) DO UPDATE SET \
             code_mac = excluded.code_mac, expires_at = excluded.expires_at, \
             sent_at = excluded.sent_at",
        )
        .bind(person)
        .bind(code_mac)
        .bind(expires_at)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(|e| self.db(e))?;
        Ok(())
    }

    /// Uses the pending code if it is `code_mac`, unexpired and the person not locked at `now`:
    /// true once (the code is gone after, and the failures cleared).
    pub async fn otp_consume(
        &self,
        person: i64,
        code_mac: &str,
        now: i64,
    ) -> Result<bool, OpsError> {
        let _turn = self.write_turn().await;
        let done = sqlx::query(
            "UPDATE resident_otp SET code_mac = NULL, failures = 0 \
             WHERE person = $1 AND code_mac = $2 AND expires_at > $3 AND locked_until <= $3",
        )
        .bind(person)
        .bind(code_mac)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(|e| self.db(e))?;
        Ok(done.rows_affected() == 1)
    }

    /// Counts a wrong code for `person` (known or not); the `lock_after`th in a row locks them
    /// until `now + lock_ms` and drops the pending code. Returns the lock's end, if locked.
    pub async fn otp_failed(
        &self,
        person: i64,
        now: i64,
        lock_after: i64,
        lock_ms: i64,
    ) -> Result<Option<i64>, OpsError> {
        let (_turn, mut tx) = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO resident_otp (person, failures) VALUES ($1, 1) \
             ON CONFLICT (person) DO UPDATE SET failures = resident_otp.failures + 1",
        )
        .bind(person)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.db(e))?;
        let failures: i64 = sqlx::query("SELECT failures FROM resident_otp WHERE person = $1")
            .bind(person)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| self.db(e))?
            .get("failures");
        let locked = if failures >= lock_after {
            let until = now + lock_ms;
            sqlx::query(
                "UPDATE resident_otp SET failures = 0, code_mac = NULL, locked_until = $2 \
                 WHERE person = $1",
            )
            .bind(person)
            .bind(until)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.db(e))?;
            Some(until)
        } else {
            None
        };
        tx.commit().await.map_err(|e| self.db(e))?;
        Ok(locked)
    }

    /// Records a resident session by its token's hash.
    pub async fn add_resident_session(
        &self,
        token_hash: &str,
        person: i64,
        now: i64,
        expires_at: i64,
    ) -> Result<(), OpsError> {
        let _turn = self.write_turn().await;
        sqlx::query(
            "INSERT INTO resident_sessions (token_hash, person, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(person)
        .bind(now)
        .bind(expires_at)
        .execute(&self.pool)
        .await
        .map_err(|e| self.db(e))?;
        Ok(())
    }

    /// The unexpired session a token's hash names.
    pub async fn resident_session(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<ResidentSession>, OpsError> {
        let row = sqlx::query(
            "SELECT person, expires_at FROM resident_sessions \
             WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.db(e))?;
        Ok(row.map(|r| ResidentSession {
            person: r.get("person"),
            expires_at: r.get("expires_at"),
        }))
    }

    /// Ends a session; true when there was one.
    pub async fn end_resident_session(&self, token_hash: &str) -> Result<bool, OpsError> {
        let _turn = self.write_turn().await;
        let done = sqlx::query("DELETE FROM resident_sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await
            .map_err(|e| self.db(e))?;
        Ok(done.rows_affected() > 0)
    }

    /// Forgets expired sessions, and sign-in states with nothing pending, no lock, no failure
    /// and no code sent for a day (failures stay until a success or a lock clears them).
    pub async fn purge_residents(&self, now: i64) -> Result<u64, OpsError> {
        let day = 86_400_000;
        let _turn = self.write_turn().await;
        let sessions = sqlx::query("DELETE FROM resident_sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(|e| self.db(e))?;
        let otp = sqlx::query(
            "DELETE FROM resident_otp WHERE locked_until <= $1 AND expires_at <= $1 \
             AND sent_at <= $2 AND failures = 0",
        )
        .bind(now)
        .bind(now - day)
        .execute(&self.pool)
        .await
        .map_err(|e| self.db(e))?;
        Ok(sessions.rows_affected() + otp.rows_affected())
    }

    /// Adds reports to the inbox, all in one transaction: when this returns they are durable.
    pub async fn inbox_add(&self, rows: &[InboxRow]) -> Result<(), OpsError> {
        let (_turn, mut tx) = self.begin_write().await?;
        for r in rows {
            sqlx::query(
                "INSERT INTO resident_inbox (id, kind, received_at, sealed) VALUES ($1, $2, $3, $4)",
            )
            .bind(&r.id)
            .bind(&r.kind)
            .bind(r.received_at)
            .bind(&r.sealed)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.db(e))?;
        }
        tx.commit().await.map_err(|e| self.db(e))?;
        Ok(())
    }

    /// Reports waiting for a flush (claimed or not).
    pub async fn inbox_pending(&self) -> Result<i64, OpsError> {
        let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM resident_inbox")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.db(e))?
            .get("n");
        Ok(n)
    }

    /// The next batch of `kind` to flush: one claimed before and not finished (a crash in
    /// between), else every unclaimed report of the kind as a new batch; `None` when there is
    /// nothing to flush.
    pub async fn inbox_claim(&self, kind: &str, now: i64) -> Result<Option<InboxBatch>, OpsError> {
        let left = sqlx::query("SELECT MIN(batch) AS b FROM resident_batches WHERE kind = $1")
            .bind(kind)
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.db(e))?
            .get::<Option<i64>, _>("b");
        if let Some(batch) = left {
            return Ok(Some(InboxBatch {
                batch,
                kind: kind.to_string(),
            }));
        }
        // Numbered by the claim's time, so batches (and the sources named after them) count up
        // across restarts without a counter kept anywhere. Read before the transaction, which
        // then writes first: on SQLite a transaction that reads and then writes fails at once
        // ("database is locked") when another writer got in between, where one that writes
        // first waits its turn. Two claims at once collide on the batch's key and one fails.
        let last: i64 = sqlx::query(
            "SELECT COALESCE(MAX(b), 0) AS last FROM \
             (SELECT MAX(batch) AS b FROM resident_batches \
              UNION ALL SELECT MAX(batch) AS b FROM resident_inbox) AS t",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.db(e))?
        .get("last");
        let batch = now.max(last + 1);
        let (_turn, mut tx) = self.begin_write().await?;
        sqlx::query("INSERT INTO resident_batches (batch, kind, created_at) VALUES ($1, $2, $3)")
            .bind(batch)
            .bind(kind)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.db(e))?;
        let claimed =
            sqlx::query("UPDATE resident_inbox SET batch = $1 WHERE kind = $2 AND batch IS NULL")
                .bind(batch)
                .bind(kind)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.db(e))?
                .rows_affected();
        if claimed == 0 {
            tx.rollback().await.map_err(|e| self.db(e))?;
            return Ok(None);
        }
        tx.commit().await.map_err(|e| self.db(e))?;
        Ok(Some(InboxBatch {
            batch,
            kind: kind.to_string(),
        }))
    }

    /// A batch's reports in the order they were received (ties by id): the same order every
    /// time, so a batch flushed again is the same source.
    pub async fn inbox_rows(&self, batch: i64) -> Result<Vec<InboxRow>, OpsError> {
        let rows = sqlx::query(
            "SELECT id, kind, received_at, sealed FROM resident_inbox WHERE batch = $1 \
             ORDER BY received_at, id",
        )
        .bind(batch)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.db(e))?;
        Ok(rows
            .iter()
            .map(|r| InboxRow {
                id: r.get("id"),
                kind: r.get("kind"),
                received_at: r.get("received_at"),
                sealed: r.get("sealed"),
            })
            .collect())
    }

    /// Forgets a batch once the store holds it.
    pub async fn inbox_done(&self, batch: i64) -> Result<(), OpsError> {
        let (_turn, mut tx) = self.begin_write().await?;
        for sql in [
            "DELETE FROM resident_inbox WHERE batch = $1",
            "DELETE FROM resident_batches WHERE batch = $1",
        ] {
            sqlx::query(sql)
                .bind(batch)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.db(e))?;
        }
        tx.commit().await.map_err(|e| self.db(e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    #[tokio::test]
    async fn a_code_is_used_once_and_five_wrong_ones_lock() {
        for db in testing::all().await {
            let ops = &db.ops;
            assert_eq!(ops.otp_state(7).await.unwrap(), OtpState::default());
            ops.otp_set_code(7, "mac-1", 1_000, 10).await.unwrap();
            assert!(!ops.otp_consume(7, "mac-2", 20).await.unwrap());
            assert!(
                !ops.otp_consume(7, "mac-1", 1_000).await.unwrap(),
                "expired"
            );
            assert!(ops.otp_consume(7, "mac-1", 20).await.unwrap());
            assert!(!ops.otp_consume(7, "mac-1", 21).await.unwrap(), "used");

            ops.otp_set_code(7, "mac-3", 10_000, 30).await.unwrap();
            for i in 1..5 {
                assert_eq!(ops.otp_failed(7, 40 + i, 5, 900).await.unwrap(), None);
            }
            assert_eq!(ops.otp_failed(7, 50, 5, 900).await.unwrap(), Some(950));
            let s = ops.otp_state(7).await.unwrap();
            assert_eq!((s.code_mac, s.failures, s.locked_until), (None, 0, 950));
            // Locked: even a fresh right code is refused until the lock ends.
            ops.otp_set_code(7, "mac-4", 10_000, 60).await.unwrap();
            assert!(!ops.otp_consume(7, "mac-4", 100).await.unwrap());
            assert!(ops.otp_consume(7, "mac-4", 950).await.unwrap());
            // Someone nobody sent a code to is counted and locked the same way.
            for i in 0..4 {
                assert_eq!(ops.otp_failed(8, i, 5, 900).await.unwrap(), None);
            }
            assert_eq!(ops.otp_failed(8, 4, 5, 900).await.unwrap(), Some(904));
        }
    }

    #[tokio::test]
    async fn sessions_expire_and_end() {
        for db in testing::all().await {
            let ops = &db.ops;
            ops.add_resident_session("h1", 42, 0, 100).await.unwrap();
            let s = ops.resident_session("h1", 50).await.unwrap();
            assert_eq!(
                s,
                Some(ResidentSession {
                    person: 42,
                    expires_at: 100
                })
            );
            assert_eq!(ops.resident_session("h1", 100).await.unwrap(), None);
            assert_eq!(ops.resident_session("h2", 50).await.unwrap(), None);
            assert!(ops.end_resident_session("h1").await.unwrap());
            assert_eq!(ops.resident_session("h1", 50).await.unwrap(), None);
            ops.add_resident_session("h3", 43, 0, 100).await.unwrap();
            assert_eq!(ops.purge_residents(200).await.unwrap(), 1);
        }
    }

    fn row(id: &str, kind: &str, at: i64) -> InboxRow {
        InboxRow {
            id: id.into(),
            kind: kind.into(),
            received_at: at,
            sealed: format!("sealed-{id}"),
        }
    }

    #[tokio::test]
    async fn a_batch_claimed_and_not_finished_is_claimed_again_unchanged() {
        for db in testing::all().await {
            let ops = &db.ops;
            assert_eq!(ops.inbox_claim("self_reports", 0).await.unwrap(), None);
            ops.inbox_add(&[row("b", "self_reports", 2), row("a", "self_reports", 2)])
                .await
                .unwrap();
            ops.inbox_add(&[row("c", "registrations", 1)])
                .await
                .unwrap();
            let first = ops.inbox_claim("self_reports", 5).await.unwrap().unwrap();
            // Reports arriving after the claim wait for the next batch.
            ops.inbox_add(&[row("d", "self_reports", 6)]).await.unwrap();
            let ids = |rows: Vec<InboxRow>| rows.into_iter().map(|r| r.id).collect::<Vec<_>>();
            assert_eq!(ids(ops.inbox_rows(first.batch).await.unwrap()), ["a", "b"]);
            // A crash before `inbox_done`: the same batch again, with the same rows.
            let again = ops.inbox_claim("self_reports", 7).await.unwrap().unwrap();
            assert_eq!(again, first);
            assert_eq!(ids(ops.inbox_rows(again.batch).await.unwrap()), ["a", "b"]);
            ops.inbox_done(first.batch).await.unwrap();
            let next = ops.inbox_claim("self_reports", 8).await.unwrap().unwrap();
            assert!(next.batch > first.batch);
            assert_eq!(ids(ops.inbox_rows(next.batch).await.unwrap()), ["d"]);
            let reg = ops.inbox_claim("registrations", 9).await.unwrap().unwrap();
            assert!(reg.batch > next.batch);
            assert_eq!(ids(ops.inbox_rows(reg.batch).await.unwrap()), ["c"]);
            assert_eq!(ops.inbox_pending().await.unwrap(), 2);
        }
    }
}
