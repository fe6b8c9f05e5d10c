//! Signed codes as issued, and their revocations.

use sqlx::Row;

use crate::{Ops, OpsError, from_hex, to_hex};

/// A signed code as issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCode {
    pub cti: [u8; 16],
    pub subject: [u8; 16],
    /// Unix seconds.
    pub issued: i64,
    pub exp: i64,
    /// Base64 key id of the signing key.
    pub kid: String,
    pub color: String,
}

/// A revoked code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    pub cti: [u8; 16],
    pub revoked_at: i64,
    pub reason: String,
    /// The code's expiry, when it was issued here.
    pub exp: Option<i64>,
}

impl Ops {
    fn id16(&self, s: String, what: &'static str) -> Result<[u8; 16], OpsError> {
        from_hex::<16>(&s).ok_or_else(|| self.malformed(what))
    }

    /// Records a code just issued.
    pub async fn record_issued(&self, c: &IssuedCode) -> Result<(), OpsError> {
        self.record_issued_many(std::slice::from_ref(c)).await
    }

    /// Records codes just issued, in one transaction.
    pub async fn record_issued_many(&self, codes: &[IssuedCode]) -> Result<(), OpsError> {
        if codes.is_empty() {
            return Ok(());
        }
        let (_turn, mut tx) = self.begin_write().await?;
        self.insert_issued(&mut tx, codes).await?;
        tx.commit().await.map_err(|e| self.db(e))
    }

    /// Inserts `codes` in the transaction `tx` (the issued log's own, or an audit append's:
    /// [`crate::AuditLog::append_issuing`]).
    pub(crate) async fn insert_issued(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        codes: &[IssuedCode],
    ) -> Result<(), OpsError> {
        for chunk in codes.chunks(CODES_PER_INSERT) {
            let mut sql = String::from(
                "INSERT INTO issued_codes (cti, subject, issued, exp, kid, color) VALUES ",
            );
            for i in 0..chunk.len() {
                if i > 0 {
                    sql.push(',');
                }
                sql.push('(');
                sql.push_str(&self.placeholders(i * 6, 6));
                sql.push(')');
            }
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for c in chunk {
                q = q
                    .bind(to_hex(&c.cti))
                    .bind(to_hex(&c.subject))
                    .bind(c.issued)
                    .bind(c.exp)
                    .bind(c.kid.clone())
                    .bind(c.color.clone());
            }
            q.execute(&mut **tx).await.map_err(|e| self.db(e))?;
        }
        Ok(())
    }

    /// The codes issued to `subject` that have not expired at `now` and are not revoked.
    pub async fn live_codes(
        &self,
        subject: &[u8; 16],
        now: i64,
    ) -> Result<Vec<IssuedCode>, OpsError> {
        let rows = sqlx::query(
            "SELECT cti, subject, issued, exp, kid, color FROM issued_codes \
             WHERE subject = $1 AND exp >= $2 AND cti NOT IN (SELECT cti FROM revocations) \
             ORDER BY issued, cti",
        )
        .bind(to_hex(subject))
        .bind(now)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.db(e))?;
        rows.into_iter()
            .map(|r| {
                Ok(IssuedCode {
                    cti: self.id16(r.get("cti"), "code id")?,
                    subject: self.id16(r.get("subject"), "subject")?,
                    issued: r.get("issued"),
                    exp: r.get("exp"),
                    kid: r.get("kid"),
                    color: r.get("color"),
                })
            })
            .collect()
    }

    /// Revokes every live code of `subject`; returns them.
    pub async fn revoke_subject(
        &self,
        subject: &[u8; 16],
        now: i64,
        reason: &str,
    ) -> Result<Vec<IssuedCode>, OpsError> {
        let codes = self.live_codes(subject, now).await?;
        let (_turn, mut tx) = self.begin_write().await?;
        for c in &codes {
            sqlx::query(
                "INSERT INTO revocations (cti, subject, revoked_at, reason) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (cti) DO NOTHING",
            )
            .bind(to_hex(&c.cti))
            .bind(to_hex(subject))
            .bind(now)
            .bind(reason)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.db(e))?;
        }
        tx.commit().await.map_err(|e| self.db(e))?;
        Ok(codes)
    }

    /// Revokes one code by id (issued here or not); false when it was already revoked.
    pub async fn revoke_code(
        &self,
        cti: &[u8; 16],
        now: i64,
        reason: &str,
    ) -> Result<bool, OpsError> {
        let _turn = self.write_turn().await;
        let done = sqlx::query(
            "INSERT INTO revocations (cti, subject, revoked_at, reason) \
             VALUES ($1, (SELECT subject FROM issued_codes WHERE cti = $1), $2, $3) \
             ON CONFLICT (cti) DO NOTHING",
        )
        .bind(to_hex(cti))
        .bind(now)
        .bind(reason)
        .execute(&self.pool)
        .await
        .map_err(|e| self.db(e))?;
        Ok(done.rows_affected() > 0)
    }

    /// Revoked codes that may still be presented at `now`: not known to have expired.
    pub async fn revocations(&self, now: i64) -> Result<Vec<Revocation>, OpsError> {
        let rows = sqlx::query(
            "SELECT r.cti, r.revoked_at, r.reason, i.exp FROM revocations r \
             LEFT JOIN issued_codes i ON i.cti = r.cti \
             WHERE i.exp IS NULL OR i.exp >= $1 ORDER BY r.revoked_at, r.cti",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.db(e))?;
        rows.into_iter()
            .map(|r| {
                Ok(Revocation {
                    cti: self.id16(r.get("cti"), "code id")?,
                    revoked_at: r.get("revoked_at"),
                    reason: r.get("reason"),
                    exp: r.get("exp"),
                })
            })
            .collect()
    }

    /// When the code `cti` was revoked, if it was.
    pub async fn revoked_at(&self, cti: &[u8; 16]) -> Result<Option<i64>, OpsError> {
        let row = sqlx::query("SELECT revoked_at FROM revocations WHERE cti = $1")
            .bind(to_hex(cti))
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.db(e))?;
        Ok(row.map(|r| r.get("revoked_at")))
    }
}

/// Rows per `INSERT` statement (6 parameters each, well under every backend's limit).
const CODES_PER_INSERT: usize = 256;

#[cfg(test)]
mod tests {
    use crate::testing;

    use super::*;

    fn code(cti: u8, subject: u8, exp: i64) -> IssuedCode {
        IssuedCode {
            cti: [cti; 16],
            subject: [subject; 16],
            issued: 100,
            exp,
            kid: "a2lk".into(),
            color: "green".into(),
        }
    }

    #[tokio::test]
    async fn revoking_a_person_revokes_their_live_codes_only() {
        for db in testing::all().await {
            let ops = &db.ops;
            ops.record_issued(&code(1, 7, 1000)).await.unwrap();
            ops.record_issued(&code(2, 7, 150)).await.unwrap(); // expired by 200
            ops.record_issued(&code(3, 8, 1000)).await.unwrap();
            let revoked = ops.revoke_subject(&[7; 16], 200, "test").await.unwrap();
            assert_eq!(revoked, vec![code(1, 7, 1000)]);
            assert!(
                ops.revoke_subject(&[7; 16], 201, "again")
                    .await
                    .unwrap()
                    .is_empty()
            );
            // A code issued afterwards is live.
            ops.record_issued(&code(4, 7, 2000)).await.unwrap();
            assert_eq!(
                ops.live_codes(&[7; 16], 300).await.unwrap(),
                vec![code(4, 7, 2000)]
            );
            assert!(
                ops.revoke_code(&[9; 16], 300, "unknown code")
                    .await
                    .unwrap()
            );
            assert!(!ops.revoke_code(&[9; 16], 301, "twice").await.unwrap());
            assert_eq!(ops.revoked_at(&[9; 16]).await.unwrap(), Some(300));
            assert_eq!(ops.revoked_at(&[4; 16]).await.unwrap(), None);
            let list = ops.revocations(300).await.unwrap();
            assert_eq!(
                list.iter().map(|r| (r.cti[0], r.exp)).collect::<Vec<_>>(),
                vec![(1, Some(1000)), (9, None)],
                "{:?}",
                ops.backend()
            );
            assert!(
                ops.revocations(1001)
                    .await
                    .unwrap()
                    .iter()
                    .all(|r| r.cti[0] == 9)
            );
        }
    }
}
