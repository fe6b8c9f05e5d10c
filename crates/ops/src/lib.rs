//! Operational state: accounts and API tokens, the hash-chained audit log, issued and revoked
//! codes.
//!
//! One database per deployment: a SQLite file in the data dir (`ops.db`, WAL) by default, or a
//! PostgreSQL server by URL when several servers share it. Both run through sqlx's
//! runtime-generic driver with the same portable SQL (`$N` placeholders, `TEXT`/`BIGINT`
//! columns, `ON CONFLICT`), and the same migrations (`migrations/*.sql`, embedded, applied in
//! order on open and recorded in `_sqlx_migrations`). Unlike the store, this is mutable state
//! that operators change (revoking a code, adding a user).
//!
//! Invariant: holds no personal data in clear — a code's subject is the keyed code pseudonym,
//! the audit log names persons by store pseudonym and shows ids masked, tokens and passwords
//! are stored only as hashes.

mod alerts;
mod audit;
mod checkpoint;
mod codes;
mod consents;
mod corrections;
mod credentials;
mod leads;
mod peers;
mod resident;
mod users;
mod workflow;

use std::path::{Path, PathBuf};

pub use alerts::{AlertEvent, AlertRecord, AlertState, AlertStatus, StoredAlert};
pub use audit::{AuditFilter, AuditLog, AuditRecord, AuditReport, IndexStep};
pub use checkpoint::{Checkpoint, CheckpointFile, CheckpointState};
pub use codes::{IssuedCode, Revocation};
pub use corrections::{
    CorrectionFilter, CorrectionRecord, CorrectionStatus, Decision, Filed, NewCorrection,
};
pub use leads::{LeadEvent, LeadMove, LeadRecord, LeadStatus, LeadSync, StoredLead};
pub use peers::{PeerRequestSeen, StoredAttestation, StoredUnavailable};
pub use resident::{InboxBatch, InboxRow, OtpState, ResidentSession};
pub use users::{NewUser, Principal, TOKEN_PREFIX, TokenInfo, User, token_hash};

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, Connection, Executor, Row};

/// How often a server checkpoints SQLite's write-ahead log ([`Ops::start_wal_checkpointer`]).
pub const WAL_CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// Stops the checkpointing task of [`Ops::start_wal_checkpointer`] when dropped.
#[derive(Debug)]
pub struct WalCheckpointer(tokio::task::JoinHandle<()>);

impl Drop for WalCheckpointer {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Everything that can go wrong with the operational database.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error("{target}: {cause}")]
    Db { target: String, cause: sqlx::Error },
    #[error("{target}: migrating the schema: {cause}")]
    Migrate {
        target: String,
        cause: sqlx::migrate::MigrateError,
    },
    #[error("{target}: a stored {what} is malformed")]
    Malformed { target: String, what: &'static str },
    #[error("{0}")]
    Invalid(String),
    #[error("no random numbers from the operating system: {0}")]
    Random(String),
    #[error(
        "{target}: the audit log's head (entry {seq}) fails authentication, so nothing more is \
         appended to it: it was moved back or written without the key; run fangyi audit verify"
    )]
    AuditHead { target: String, seq: i64 },
    #[error("the audit log could not be written: {0}")]
    Audit(String),
    /// The runtime is shutting down and dropped the work before it ran.
    #[error("stopped: the process is shutting down")]
    Stopping,
    #[error("issued codes could not be recorded: {0}")]
    Issued(String),
    #[error("the audit checkpoint {path}: {cause}")]
    Checkpoint { path: String, cause: std::io::Error },
    #[error(
        "{target}: the database server at {host} did not answer within {secs} s (is it running, \
         and is the host and port right?)"
    )]
    Unreachable {
        target: String,
        host: String,
        secs: u64,
    },
    #[error("{target}: cannot connect to the database server at {host}: {cause}")]
    Connect {
        target: String,
        host: String,
        cause: sqlx::Error,
    },
}

/// How long reaching a database server may take before it is reported unreachable: a server
/// that is not there is named at once instead of after the pool's 30 s of silent retries.
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// `host:port` of a server URL (`postgres://user:pw@host:5432/db` → `host:5432`), for messages.
fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |x| x.1);
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |x| x.1);
    if host.is_empty() {
        "localhost".into()
    } else {
        host.to_string()
    }
}

/// The migrations, in order, embedded at build time.
fn migrator() -> Migrator {
    let m = |version: i64, name: &str, sql: &'static str| {
        Migration::new(
            version,
            name.to_string().into(),
            MigrationType::Simple,
            sqlx::SqlSafeStr::into_sql_str(sql),
            false,
        )
    };
    Migrator::with_migrations(vec![
        m(
            1,
            "issued codes and revocations",
            include_str!("../migrations/0001_codes.sql"),
        ),
        m(
            2,
            "users and tokens",
            include_str!("../migrations/0002_users.sql"),
        ),
        m(3, "audit log", include_str!("../migrations/0003_audit.sql")),
        m(
            4,
            "alerts and their status changes",
            include_str!("../migrations/0004_alerts.sql"),
        ),
        m(
            5,
            "the audit head's MAC",
            include_str!("../migrations/0005_audit_head_mac.sql"),
        ),
        m(
            6,
            "the audit log's persons packed in each entry, indexed in bulk",
            include_str!("../migrations/0006_audit_person_lists.sql"),
        ),
        m(
            7,
            "job seekers' consent to an enterprise",
            include_str!("../migrations/0007_resume_consents.sql"),
        ),
        m(
            8,
            "residents' one-time codes, sessions and report inbox",
            include_str!("../migrations/0008_resident.sql"),
        ),
        m(
            9,
            "corrections of health codes (accepted ones are the code overrides)",
            include_str!("../migrations/0009_corrections.sql"),
        ),
        m(
            10,
            "health attestations between deployments (received, unavailable, requests seen)",
            include_str!("../migrations/0010_peer_attestations.sql"),
        ),
        m(
            11,
            "market supervision leads and their status changes",
            include_str!("../migrations/0011_market_leads.sql"),
        ),
    ])
}

/// Which database server is behind the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The operational database.
#[derive(Debug, Clone)]
pub struct Ops {
    pool: AnyPool,
    /// Where it is, for messages (a file path, or a URL without its password).
    target: String,
    backend: Backend,
    /// Tokens checked, until credentials change.
    credentials: std::sync::Arc<credentials::Credentials>,
    /// Whose turn it is to write, in this process ([`Ops::begin_write`]).
    write_turn: std::sync::Arc<tokio::sync::Mutex<()>>,
}

/// `sqlite://` URL of a file path, with the characters the URL syntax would misread escaped.
fn sqlite_url(path: &Path) -> String {
    let mut out = String::from("sqlite://");
    for c in path.display().to_string().chars() {
        match c {
            '%' => out.push_str("%25"),
            '?' => out.push_str("%3F"),
            '#' => out.push_str("%23"),
            c => out.push(c),
        }
    }
    out.push_str("?mode=rwc");
    out
}

/// A URL shown without its password.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

impl Ops {
    /// `DIR/ops.db`.
    pub fn path(data: &Path) -> PathBuf {
        data.join("ops.db")
    }

    /// Opens (creating it if needed) the SQLite database at `path`.
    pub async fn open(path: &Path) -> Result<Ops, OpsError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| OpsError::Db {
                target: path.display().to_string(),
                cause: sqlx::Error::Io(e),
            })?;
        }
        Ops::connect_as(
            &sqlite_url(path),
            path.display().to_string(),
            CONNECT_TIMEOUT,
        )
        .await
    }

    /// Opens the data dir's database: `url` when given (`postgres://…` or `sqlite://…`), else
    /// `DIR/ops.db`.
    pub async fn open_for(data: &Path, url: Option<&str>) -> Result<Ops, OpsError> {
        match url {
            Some(u) => Ops::connect(u).await,
            None => Ops::open(&Ops::path(data)).await,
        }
    }

    /// Connects by URL and brings the schema up to date.
    pub async fn connect(url: &str) -> Result<Ops, OpsError> {
        Ops::connect_as(url, redact(url), CONNECT_TIMEOUT).await
    }

    async fn connect_as(
        url: &str,
        target: String,
        timeout: std::time::Duration,
    ) -> Result<Ops, OpsError> {
        install_default_drivers();
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            return Err(OpsError::Invalid(format!(
                "{target}: the database URL must start with sqlite:// or postgres://"
            )));
        };
        let db = |cause| OpsError::Db {
            target: target.clone(),
            cause,
        };
        let mut options = AnyPoolOptions::new().max_connections(match backend {
            // One writer at a time in SQLite anyway; a few readers beside it.
            Backend::Sqlite => 4,
            Backend::Postgres => 8,
        });
        if backend == Backend::Sqlite {
            options = options.after_connect(|conn, _| {
                Box::pin(async move {
                    // WAL lets readers go on while the audit writer commits; NORMAL syncs at
                    // checkpoints, which WAL makes safe against corruption.
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = NORMAL").await?;
                    conn.execute("PRAGMA busy_timeout = 10000").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    Ok(())
                })
            });
        }
        if backend == Backend::Postgres {
            // One connection first, bounded in time, so that a server that is not there (or
            // a wrong host or port) is named with its cause instead of the pool retrying.
            let host = host_of(url);
            let probe = tokio::time::timeout(timeout, sqlx::AnyConnection::connect(url)).await;
            match probe {
                Err(_) => {
                    return Err(OpsError::Unreachable {
                        target,
                        host,
                        secs: timeout.as_secs().max(1),
                    });
                }
                Ok(Err(cause)) => {
                    return Err(OpsError::Connect {
                        target,
                        host,
                        cause,
                    });
                }
                Ok(Ok(c)) => {
                    let _ = c.close().await;
                }
            }
            options = options.acquire_timeout(timeout.max(CONNECT_TIMEOUT));
        }
        let pool = options.connect(url).await.map_err(db)?;
        migrator().run(&pool).await.map_err(|cause| match cause {
            sqlx::migrate::MigrateError::VersionMismatch(v) => OpsError::Invalid(format!(
                "{target}: migration {v} differs from the one this database applied; it was \
                     created by a pre-release fangyi — move it away to start a new one"
            )),
            cause => OpsError::Migrate {
                target: target.clone(),
                cause,
            },
        })?;
        let sharing = match backend {
            Backend::Sqlite => credentials::Sharing::sqlite_url(url),
            Backend::Postgres => credentials::Sharing::Server,
        };
        Ok(Ops {
            pool,
            target,
            backend,
            credentials: std::sync::Arc::new(credentials::Credentials::new(sharing)),
            write_turn: Default::default(),
        })
    }

    /// Copies what SQLite's write-ahead log holds into the database file (a passive
    /// checkpoint: writers go on meanwhile); returns the log's frames and those copied. Nothing
    /// on PostgreSQL.
    pub async fn checkpoint_wal(&self) -> Result<(i64, i64), OpsError> {
        if self.backend != Backend::Sqlite {
            return Ok((0, 0));
        }
        let row = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.db(e))?;
        Ok((row.try_get(1).unwrap_or(0), row.try_get(2).unwrap_or(0)))
    }

    /// Starts a task that checkpoints the write-ahead log every [`WAL_CHECKPOINT_EVERY`] (a
    /// server's), until the returned guard is dropped: otherwise SQLite checkpoints inside
    /// whichever commit makes the log pass 1,000 pages — the audit writer's, say — and every
    /// request waiting on that commit waits for the copy and its fsync too. Kept small this
    /// way, the log rarely reaches that size. `None` on PostgreSQL.
    pub fn start_wal_checkpointer(&self) -> Option<WalCheckpointer> {
        if self.backend != Backend::Sqlite {
            return None;
        }
        let ops = self.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(WAL_CHECKPOINT_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = ops.checkpoint_wal().await {
                    tracing::warn!("checkpointing the operational database: {e}");
                }
            }
        });
        Some(WalCheckpointer(task))
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Where the database is (a path, or a URL without its password).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// `count` bind parameters after the first `before`, comma-separated, for multi-row
    /// statements: `$n` for PostgreSQL, `?` for SQLite — whose lookup of a numbered
    /// parameter's name is a linear scan, so hundreds of `$n` in one statement cost quadratic
    /// time there, while `?` binds by position.
    pub(crate) fn placeholders(&self, before: usize, count: usize) -> String {
        let mut out = String::with_capacity(count * 5);
        for i in 0..count {
            if i > 0 {
                out.push(',');
            }
            match self.backend {
                Backend::Sqlite => out.push('?'),
                Backend::Postgres => {
                    out.push('$');
                    out.push_str(&(before + i + 1).to_string());
                }
            }
        }
        out
    }

    /// A write transaction, begun in this process's turn to write (held until the guard is
    /// dropped, after the commit). SQLite has one write lock, and a connection that finds it
    /// taken sleeps in its busy handler — 1, 2, 5, 10 … up to 100 ms a time — before it looks
    /// again: the server's writers (the audit log's, the issued codes', the residents'
    /// inbox's) committing side by side made one another wait tens of milliseconds that way
    /// where each commit takes one. Taking turns here, they queue and each waits only for the
    /// commits before it. (Other processes still meet the busy handler; PostgreSQL locks rows.)
    pub(crate) async fn begin_write(
        &self,
    ) -> Result<
        (
            tokio::sync::OwnedMutexGuard<()>,
            sqlx::Transaction<'static, sqlx::Any>,
        ),
        OpsError,
    > {
        let turn = self.write_turn().await;
        let tx = self.pool.begin().await.map_err(|e| self.db(e))?;
        Ok((turn, tx))
    }

    /// This process's turn to write, for a single statement outside a transaction (see
    /// [`Ops::begin_write`]).
    pub(crate) async fn write_turn(&self) -> tokio::sync::OwnedMutexGuard<()> {
        self.write_turn.clone().lock_owned().await
    }

    fn db(&self, cause: sqlx::Error) -> OpsError {
        OpsError::Db {
            target: self.target.clone(),
            cause,
        }
    }

    fn malformed(&self, what: &'static str) -> OpsError {
        OpsError::Malformed {
            target: self.target.clone(),
            what,
        }
    }

    /// Closes the pool, finishing the write-ahead log.
    pub async fn close(self) {
        self.pool.close().await;
    }
}

/// Lowercase hex of bytes.
pub(crate) fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Bytes from lowercase or uppercase hex of exactly `N` bytes.
pub(crate) fn from_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let s = s.as_bytes();
    if s.len() != 2 * N {
        return None;
    }
    let nib = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = nib(s[2 * i])? << 4 | nib(s[2 * i + 1])?;
    }
    Some(out)
}

/// Random bytes from the operating system.
pub(crate) fn random<const N: usize>() -> Result<[u8; N], OpsError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| OpsError::Random(e.to_string()))?;
    Ok(b)
}

/// Test helpers: a fresh database on SQLite, and on PostgreSQL when `FANGYI_TEST_POSTGRES`
/// names a server (a new database is created on it for each call and dropped with the guard).
#[doc(hidden)]
pub mod testing {
    use super::*;

    /// Keeps a test database alive; dropping it removes the database (best effort).
    #[derive(Debug)]
    pub struct TestDb {
        pub ops: Ops,
        pub url: String,
        _dir: Option<tempfile::TempDir>,
        admin: Option<(String, String)>,
    }

    impl Drop for TestDb {
        fn drop(&mut self) {
            if let Some((admin_url, name)) = self.admin.take() {
                // A separate thread with its own runtime: drop may run inside a runtime.
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .ok()?;
                    rt.block_on(async {
                        let pool = AnyPoolOptions::new()
                            .max_connections(1)
                            .connect(&admin_url)
                            .await
                            .ok()?;
                        let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                        let _ = pool.execute(sqlx::AssertSqlSafe(sql)).await;
                        pool.close().await;
                        Some(())
                    })
                })
                .join();
            }
        }
    }

    /// The PostgreSQL server to test against, if any.
    pub fn postgres_url() -> Option<String> {
        std::env::var("FANGYI_TEST_POSTGRES")
            .ok()
            .filter(|s| !s.trim().is_empty())
    }

    /// A fresh SQLite database in a temporary folder.
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = Ops::path(dir.path());
        let ops = Ops::open(&path).await.expect("open sqlite");
        TestDb {
            ops,
            url: sqlite_url(&path),
            _dir: Some(dir),
            admin: None,
        }
    }

    /// A fresh database on the test PostgreSQL server.
    pub async fn postgres(admin_url: &str) -> TestDb {
        install_default_drivers();
        let name = format!("fangyi_test_{}", to_hex(&random::<6>().expect("random")));
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .connect(admin_url)
            .await
            .expect("connect to FANGYI_TEST_POSTGRES");
        pool.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .expect("create a test database");
        pool.close().await;
        let url = match admin_url.rfind('/') {
            Some(i) if i > "postgres://".len() => format!("{}/{name}", &admin_url[..i]),
            _ => format!("{}/{name}", admin_url.trim_end_matches('/')),
        };
        let url = url.split('?').next().unwrap_or(&url).to_string();
        let ops = Ops::connect(&url).await.expect("open the test database");
        TestDb {
            ops,
            url,
            _dir: None,
            admin: Some((admin_url.to_string(), name)),
        }
    }

    /// Runs a statement directly, bypassing every check: for tests that tamper with the log.
    pub async fn execute(ops: &Ops, sql: &str) -> u64 {
        ops.pool
            .execute(sqlx::AssertSqlSafe(sql.to_string()))
            .await
            .expect("test statement")
            .rows_affected()
    }

    /// Every backend available to tests: SQLite always, PostgreSQL when configured.
    pub async fn all() -> Vec<TestDb> {
        let mut out = vec![sqlite().await];
        if let Some(url) = postgres_url() {
            out.push(postgres(&url).await);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn a_checkpoint_copies_the_whole_log_while_the_database_is_in_use() {
        let db = testing::sqlite().await;
        for i in 0..200 {
            db.ops
                .add_consent(i, "E1", "admin", i)
                .await
                .expect("a write");
        }
        let (log, copied) = db.ops.checkpoint_wal().await.unwrap();
        assert!(log > 0, "the writes went through the log");
        assert_eq!(log, copied, "nothing held it back");
    }

    use super::*;

    #[tokio::test]
    async fn the_writers_of_one_process_take_turns() {
        let db = testing::sqlite().await;
        let (ops, other) = (db.ops.clone(), db.ops.clone());
        let (turn, tx) = ops.begin_write().await.unwrap();
        // A writer on a clone of the same Ops (as the audit writer and a server's requests are)
        // waits for the turn, not in SQLite's busy handler.
        let waiting = tokio::spawn(async move {
            other.add_resident_session("h", 7, 1, 2).await.unwrap();
            let (_turn, tx) = other.begin_write().await.unwrap();
            tx.commit().await.unwrap();
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(
            !waiting.is_finished(),
            "it went ahead while the turn was held"
        );
        tx.commit().await.unwrap();
        drop(turn);
        waiting.await.unwrap();
        let session = db.ops.resident_session("h", 0).await.unwrap();
        assert_eq!(session.map(|s| s.person), Some(7));
    }

    #[test]
    fn hosts_of_urls() {
        assert_eq!(
            host_of("postgres://fangyi:secret@db:5432/fangyi"),
            "db:5432"
        );
        assert_eq!(host_of("postgres://db-host/fangyi?sslmode=off"), "db-host");
        assert_eq!(host_of("postgresql://u@[::1]:5433"), "[::1]:5433");
        assert_eq!(host_of("postgres:///fangyi"), "localhost");
    }

    #[tokio::test]
    async fn a_database_server_that_is_not_there_is_named_with_the_cause() {
        // Refused: nothing listens on the port of a listener just closed.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let url = format!("postgres://fangyi:secret@127.0.0.1:{port}/fangyi");
        let e = Ops::connect(&url).await.unwrap_err();
        assert!(matches!(e, OpsError::Connect { .. }), "{e}");
        let msg = e.to_string();
        assert!(msg.contains(&format!("127.0.0.1:{port}")), "{msg}");
        assert!(!msg.contains("secret"), "{msg}");

        // Silent: a port that takes the connection and never answers.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "postgres://fangyi:secret@{}/fangyi",
            silent.local_addr().unwrap()
        );
        let e = Ops::connect_as(&url, redact(&url), std::time::Duration::from_millis(300))
            .await
            .unwrap_err();
        assert!(matches!(e, OpsError::Unreachable { .. }), "{e}");
        let msg = e.to_string();
        assert!(
            msg.contains("did not answer") && !msg.contains("secret"),
            "{msg}"
        );
    }

    #[test]
    fn urls() {
        assert_eq!(
            sqlite_url(Path::new("/tmp/a b?/ops.db")),
            "sqlite:///tmp/a b%3F/ops.db?mode=rwc"
        );
        assert_eq!(
            redact("postgres://fangyi:secret@db:5432/fangyi"),
            "postgres://fangyi:***@db:5432/fangyi"
        );
        assert_eq!(redact("postgres://db/fangyi"), "postgres://db/fangyi");
        assert_eq!(from_hex::<2>("0aFf"), Some([0x0a, 0xff]));
        assert_eq!(from_hex::<2>("0aF"), None);
        assert_eq!(to_hex(&[0x0a, 0xff]), "0aff");
    }

    #[tokio::test]
    async fn reopening_keeps_the_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = Ops::path(dir.path());
        Ops::open(&path).await.unwrap().close().await;
        let again = Ops::open(&path).await.unwrap();
        assert_eq!(again.backend(), Backend::Sqlite);
        assert!(
            Ops::connect("mysql://x").await.is_err(),
            "only sqlite and postgres"
        );
    }
}
