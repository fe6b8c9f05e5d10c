//! Job seekers' consent to an enterprise seeing who they are (contract §8.4): recorded once per
//! (person, enterprise) by whoever took it, withdrawn by removing it (the audit log keeps both
//! acts), and read per enterprise when its matches are shown.

use std::collections::HashSet;

use sqlx::Row;

use crate::{Ops, OpsError};

impl Ops {
    /// Records that `person` (a store pseudonym) consents to `enterprise_id` seeing who they
    /// are; false when it was recorded before (the first record stays).
    pub async fn add_consent(
        &self,
        person: i64,
        enterprise_id: &str,
        recorded_by: &str,
        now_ms: i64,
    ) -> Result<bool, OpsError> {
        let _turn = self.write_turn().await;
        let done = sqlx::query(
            "INSERT INTO resume_consents (person, enterprise_id, recorded_at, recorded_by) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (person, enterprise_id) DO NOTHING",
        )
        .bind(person)
        .bind(enterprise_id)
        .bind(now_ms)
        .bind(recorded_by)
        .execute(&self.pool)
        .await
        .map_err(|e| self.db(e))?;
        Ok(done.rows_affected() > 0)
    }

    /// Withdraws `person`'s consent to `enterprise_id`; false when none was on record.
    pub async fn withdraw_consent(
        &self,
        person: i64,
        enterprise_id: &str,
    ) -> Result<bool, OpsError> {
        let _turn = self.write_turn().await;
        let done =
            sqlx::query("DELETE FROM resume_consents WHERE person = $1 AND enterprise_id = $2")
                .bind(person)
                .bind(enterprise_id)
                .execute(&self.pool)
                .await
                .map_err(|e| self.db(e))?;
        Ok(done.rows_affected() > 0)
    }

    /// The persons who consent to `enterprise_id` now.
    pub async fn consents(&self, enterprise_id: &str) -> Result<HashSet<i64>, OpsError> {
        let rows = sqlx::query("SELECT person FROM resume_consents WHERE enterprise_id = $1")
            .bind(enterprise_id)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.db(e))?;
        Ok(rows.iter().map(|r| r.get::<i64, _>("person")).collect())
    }
}

#[cfg(test)]
mod tests {
    use crate::testing;

    #[tokio::test]
    async fn a_consent_is_recorded_once_per_enterprise() {
        for db in testing::all().await {
            let ops = &db.ops;
            assert!(ops.add_consent(42, "E1", "admin", 1).await.unwrap());
            assert!(!ops.add_consent(42, "E1", "admin", 2).await.unwrap());
            assert!(ops.add_consent(43, "E2", "admin", 3).await.unwrap());
            assert_eq!(ops.consents("E1").await.unwrap(), [42].into());
            assert!(ops.consents("E3").await.unwrap().is_empty());
            // Withdrawn: gone for that enterprise only, once; given again later, it counts.
            assert!(ops.add_consent(42, "E2", "admin", 4).await.unwrap());
            assert!(ops.withdraw_consent(42, "E1").await.unwrap());
            assert!(!ops.withdraw_consent(42, "E1").await.unwrap());
            assert!(ops.consents("E1").await.unwrap().is_empty());
            assert_eq!(ops.consents("E2").await.unwrap(), [42, 43].into());
            assert!(ops.add_consent(42, "E1", "admin", 5).await.unwrap());
            assert_eq!(ops.consents("E1").await.unwrap(), [42].into());
        }
    }
}
