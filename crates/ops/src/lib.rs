//! Operational state: issued codes and revocations now; users, roles and the audit log next.
//!
//! One SQLite database in the data dir (`ops.db`) through sqlx, so the same queries can move to
//! Postgres by URL when several servers share it. Unlike the store, this is mutable state that
//! operators change (revoking a code), with migrations embedded in the binary
//! (`migrations/*.sql`, applied in order on open and recorded in `_sqlx_migrations`).
//!
//! Invariant: holds no personal data in clear; a code's subject is the keyed code pseudonym.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use sqlx::Row;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

/// Everything that can go wrong with the operational database.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error("{path}: {cause}")]
    Db { path: String, cause: sqlx::Error },
    #[error("{path}: migrating the schema: {cause}")]
    Migrate {
        path: String,
        cause: sqlx::migrate::MigrateError,
    },
    #[error("{path}: a stored {what} is malformed")]
    Malformed { path: String, what: &'static str },
}

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

/// The migrations, in order, embedded at build time.
fn migrator() -> Migrator {
    Migrator::with_migrations(vec![Migration::new(
        1,
        "issued codes and revocations".into(),
        MigrationType::Simple,
        sqlx::SqlSafeStr::into_sql_str(include_str!("../migrations/0001_codes.sql")),
        false,
    )])
}

/// The operational database of a data dir.
#[derive(Debug, Clone)]
pub struct Ops {
    pool: SqlitePool,
    path: PathBuf,
}

impl Ops {
    /// `DIR/ops.db`.
    pub fn path(data: &Path) -> PathBuf {
        data.join("ops.db")
    }

    /// Opens (creating it if needed) the database at `path` and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<Ops, OpsError> {
        let name = path.display().to_string();
        let db = |cause| OpsError::Db {
            path: name.clone(),
            cause,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| db(sqlx::Error::Io(e)))?;
        }
        let opts = SqliteConnectOptions::from_str("sqlite:")
            .map_err(db)?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(std::time::Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts)
            .await
            .map_err(db)?;
        migrator()
            .run(&pool)
            .await
            .map_err(|cause| OpsError::Migrate {
                path: name.clone(),
                cause,
            })?;
        Ok(Ops {
            pool,
            path: path.to_path_buf(),
        })
    }

    fn db(&self, cause: sqlx::Error) -> OpsError {
        OpsError::Db {
            path: self.path.display().to_string(),
            cause,
        }
    }

    fn bytes16(&self, v: Vec<u8>, what: &'static str) -> Result<[u8; 16], OpsError> {
        <[u8; 16]>::try_from(v).map_err(|_| OpsError::Malformed {
            path: self.path.display().to_string(),
            what,
        })
    }

    /// Records a code just issued.
    pub async fn record_issued(&self, c: &IssuedCode) -> Result<(), OpsError> {
        sqlx::query(
            "INSERT INTO issued_codes (cti, subject, issued, exp, kid, color) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(c.cti.as_slice())
        .bind(c.subject.as_slice())
        .bind(c.issued)
        .bind(c.exp)
        .bind(&c.kid)
        .bind(&c.color)
        .execute(&self.pool)
        .await
        .map_err(|e| self.db(e))?;
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
             WHERE subject = ? AND exp >= ? AND cti NOT IN (SELECT cti FROM revocations) \
             ORDER BY issued",
        )
        .bind(subject.as_slice())
        .bind(now)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.db(e))?;
        rows.into_iter()
            .map(|r| {
                Ok(IssuedCode {
                    cti: self.bytes16(r.get("cti"), "code id")?,
                    subject: self.bytes16(r.get("subject"), "subject")?,
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
        let mut tx = self.pool.begin().await.map_err(|e| self.db(e))?;
        let codes = self.live_codes(subject, now).await?;
        for c in &codes {
            sqlx::query(
                "INSERT OR IGNORE INTO revocations (cti, subject, revoked_at, reason) VALUES (?, ?, ?, ?)",
            )
            .bind(c.cti.as_slice())
            .bind(subject.as_slice())
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
        let done = sqlx::query(
            "INSERT OR IGNORE INTO revocations (cti, subject, revoked_at, reason) \
             VALUES (?, (SELECT subject FROM issued_codes WHERE cti = ?), ?, ?)",
        )
        .bind(cti.as_slice())
        .bind(cti.as_slice())
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
             WHERE i.exp IS NULL OR i.exp >= ? ORDER BY r.revoked_at, r.cti",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.db(e))?;
        rows.into_iter()
            .map(|r| {
                Ok(Revocation {
                    cti: self.bytes16(r.get("cti"), "code id")?,
                    revoked_at: r.get("revoked_at"),
                    reason: r.get("reason"),
                    exp: r.get("exp"),
                })
            })
            .collect()
    }

    /// Closes the pool, finishing the write-ahead log.
    pub async fn close(self) {
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests {
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
        let dir = tempfile::tempdir().unwrap();
        let path = Ops::path(dir.path());
        let ops = Ops::open(&path).await.unwrap();
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
        let list = ops.revocations(300).await.unwrap();
        assert_eq!(
            list.iter().map(|r| (r.cti[0], r.exp)).collect::<Vec<_>>(),
            vec![(1, Some(1000)), (9, None)]
        );
        assert!(
            ops.revocations(1001)
                .await
                .unwrap()
                .iter()
                .all(|r| r.cti[0] == 9)
        );
        ops.close().await;
        // Reopening keeps everything and does not re-run migrations.
        let again = Ops::open(&path).await.unwrap();
        assert_eq!(again.revocations(300).await.unwrap().len(), 2);
    }
}
