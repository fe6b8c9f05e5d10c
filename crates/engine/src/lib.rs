//! The one API boundary. Every question about people — a code, a trace, a community's
//! residents, a signed code, an upload, the audit log — enters here with an [`Account`] and a
//! purpose, is checked against the policy table (`privacy`), answered from the store and its
//! indexes, has every identity in the answer shown as the role may see it ([`View`]), and is
//! written to the hash-chained audit log before the answer is returned.
//!
//! Invariant: the server and the CLI return personal rows only through this crate; nothing here
//! returns an identity that did not pass through a [`View`], and no answer with personal data
//! leaves before its audit entry is committed.

pub mod accounts;
mod ask;
mod background;
mod checked;
pub mod datadir;
mod directory;
mod disclose;
mod error;
mod inbox;
pub mod local;
mod recent;
pub mod resident;
pub mod resident_api;
mod session;
#[cfg(test)]
mod test_city;

pub mod alerts_api;
pub mod attest_api;
pub mod audit_api;
#[cfg(feature = "cluster")]
pub mod cluster_mode;
pub mod codes;
pub mod corrections;
pub mod import_api;
pub mod inflow_api;
pub mod ingest_api;
pub mod issuer_api;
pub mod market_api;
pub mod nearby;
pub mod open_api;
pub mod resume_decide;
pub mod resume_match;
pub mod resume_plan;
pub mod resume_power;
pub mod retention;
pub mod returnees;
pub mod signing;
pub mod sql;
pub mod tracing_api;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, RwLock, TryLockError};

use ops::{AuditLog, Ops};
use privacy::AuditEntry;
use rules::{RiskAreas, RuleSet};
use store::Store;
use trace::{Freshness, Index};
use vault::Keys;

pub use directory::{Directory, Identity};
pub use disclose::{PersonView, View};
pub use error::EngineError;
pub use inbox::FlushReport;
pub use trace::{EvidenceOut, TraceOut};

/// The plain types callers name (ids, days, instants, zones, regions, the input kinds), so the
/// server and the CLI need no crate beneath the engine for them.
pub use model::{Date, EnterpriseId, Kind, PersonId, Region, Storage, Timestamp, Zone};
/// Bounds on SQL from outside ([`EngineOptions::sql`]).
pub use query::Limits as SqlLimits;

/// The policy's vocabulary as callers name it (roles, purposes, actions, scopes), and the
/// masking of ids in free text a caller records: the server and the CLI reach the policy only
/// through the engine.
pub use privacy::{Action, Purpose, Role, Scope, mask_id, mask_ids, mask_person_id, purposes};

/// A signed code's payload drawn as a QR code, a PNG image.
pub fn qr_png(payload: &str) -> Result<Vec<u8>, String> {
    codesign::qr::to_png(payload)
}

/// Who is asking: an account's name, role and scope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub role: Role,
    pub scope: Scope,
}

impl Account {
    /// Anyone without credentials.
    pub fn public() -> Account {
        Account {
            name: "public".into(),
            role: Role::Public,
            scope: Scope::default(),
        }
    }

    /// The operator at the command line, who holds the master key: an admin named
    /// `cli:<login>`.
    pub fn local() -> Account {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("USERNAME"))
            .unwrap_or_else(|_| "operator".into());
        Account {
            name: format!("cli:{user}"),
            role: Role::Admin,
            scope: Scope::default(),
        }
    }

    /// From an account stored in the operational database.
    pub fn from_user(u: &ops::User) -> Result<Account, EngineError> {
        let role = Role::parse(&u.role).ok_or_else(|| {
            EngineError::Internal(format!("user {} has an unknown role {}", u.name, u.role))
        })?;
        // Only another deployment's signed request acts as a peer; a stored account never does.
        if role == Role::Peer {
            return Err(EngineError::Unauthenticated(format!(
                "account {} has the role peer, which no account may have",
                u.name
            )));
        }
        let region = match &u.region {
            Some(r) => Some(Region::parse(r.as_bytes()).map_err(|_| {
                EngineError::Internal(format!("user {} has a malformed region {r}", u.name))
            })?),
            None => None,
        };
        // An enterprise account's enterprise is held in its one spelling (upper case, no
        // spaces), the one every stored enterprise_id and consent has: compared as written, a
        // lower-case or padded id would match none of its own rows.
        let community = match role {
            Role::Enterprise => Some(
                u.community
                    .as_deref()
                    .and_then(|e| EnterpriseId::parse(e.trim().as_bytes()).ok())
                    .ok_or_else(|| {
                        EngineError::Internal(format!(
                            "enterprise account {} names no valid enterprise",
                            u.name
                        ))
                    })?
                    .to_string(),
            ),
            _ => u.community.clone(),
        };
        Ok(Account {
            name: u.name.clone(),
            role,
            scope: Scope {
                region,
                community,
                person: None,
            },
        })
    }

    /// The enterprise an `enterprise` account speaks for (kept where a community worker's
    /// community is: the one unit the account serves); `None` for every other role.
    pub fn enterprise(&self) -> Option<&str> {
        match self.role {
            Role::Enterprise => self.scope.community.as_deref(),
            _ => None,
        }
    }
}

/// One request: who, why, and what was asked (for the audit log; person ids in it masked).
#[derive(Clone, Debug)]
pub struct Caller {
    pub account: Account,
    pub purpose: Purpose,
    pub request: String,
}

impl Caller {
    pub fn new(account: Account, purpose: Purpose, request: impl Into<String>) -> Caller {
        Caller {
            account,
            purpose,
            request: request.into(),
        }
    }
}

/// How to open an engine.
#[derive(Clone, Debug)]
pub struct EngineOptions {
    pub data: PathBuf,
    /// The operational database (`postgres://…`, `sqlite://…`); default `DIR/ops.db`.
    pub db_url: Option<String>,
    /// The health-code rules; default the built-in set.
    pub rules: RuleSet,
    /// The alert thresholds; default the built-in ones.
    pub alert_rules: alerts::AlertRules,
    /// Bounds on SQL from outside: statement size and nesting, memory, threads.
    pub sql: query::Limits,
    /// The engine answers a question or two and goes (the command line): a question about one
    /// person reads what it needs rather than building the directory of everyone for requests
    /// that will not come.
    pub short_lived: bool,
    /// Run `sql_to`'s statements on the Ballista cluster whose scheduler is at this
    /// `HOST:PORT` (`fangyi sql --cluster`), the data dir being at the same path on its nodes.
    pub cluster: Option<String>,
}

impl EngineOptions {
    pub fn new(data: impl Into<PathBuf>) -> EngineOptions {
        EngineOptions {
            data: data.into(),
            db_url: None,
            rules: RuleSet::builtin(),
            alert_rules: alerts::AlertRules::builtin(),
            sql: query::Limits::default(),
            short_lived: false,
            cluster: None,
        }
    }
}

/// What the store looked like when a snapshot was taken: the manifest's size and mtime.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stamp(Option<(u64, std::time::SystemTime)>);

impl Stamp {
    fn of(data: &Path) -> Stamp {
        Stamp(
            std::fs::metadata(data.join("manifest.json"))
                .ok()
                .and_then(|m| Some((m.len(), m.modified().ok()?))),
        )
    }
}

/// The store and what is derived from it, as of one manifest.
pub(crate) struct Snapshot {
    stamp: Stamp,
    pub store: Store,
    pub index: Index,
    pub risk: RiskAreas,
    directory: OnceLock<Result<Arc<Directory>, String>>,
    /// Every case's public trail points by place, for the nearby search; built on first use.
    nearby: OnceLock<Result<Arc<nearby::NearbyIndex>, String>>,
}

/// Which `persons` files (table and vault) a store holds: the directory of persons is read
/// from nothing else, so two snapshots with the same list share one directory.
fn persons_files(store: &Store) -> Vec<(PathBuf, u64)> {
    let files = store.tables(Kind::Persons);
    let vaults = store.vaults(Kind::Persons);
    files
        .iter()
        .chain(&vaults)
        .map(|f| (f.path().to_path_buf(), f.rows()))
        .collect()
}

impl Snapshot {
    /// Opens the store as it is now. What `previous` derived from files the new store still
    /// holds unchanged (the directory of persons) is kept rather than read again: a flush of
    /// residents' reports every few seconds must not rebuild the directory of a province.
    fn open(
        data: &Path,
        keys: &Keys,
        previous: Option<&Snapshot>,
    ) -> Result<Snapshot, EngineError> {
        // Records removed by another process between opening the store and its index make
        // the index outdated for this view (the store's registry says so): open both again.
        let mut tries = 0;
        let (stamp, store, index) = loop {
            let stamp = Stamp::of(data);
            let store = Store::open_or_empty(data, keys.key_id(), Zone::CST)
                .map_err(EngineError::internal)?;
            match Snapshot::index(&store) {
                Err(trace::TraceError::Outdated { .. }) if tries < 2 => tries += 1,
                index => break (stamp, store, index?),
            }
        };
        let risk = RiskAreas::load(&store).map_err(EngineError::internal)?;
        let directory = OnceLock::new();
        if let Some(prev) = previous
            && let Some(Ok(built)) = prev.directory.get()
            && persons_files(&prev.store) == persons_files(&store)
        {
            let _ = directory.set(Ok(built.clone()));
        }
        Ok(Snapshot {
            stamp,
            store,
            index,
            risk,
            directory,
            nearby: OnceLock::new(),
        })
    }

    /// Builds now what `previous` had built by the time it was replaced — the directory of
    /// persons, the index's diagnosed persons' events —, everything when there is no previous
    /// one (a server starting): what requests were using is ready for them, and what none
    /// asked for (codes while only reports arrive) costs no flush anything. A directory that
    /// cannot be built keeps its error for the requests that need it.
    fn prepare_like(&self, previous: Option<&Snapshot>) {
        if previous.is_none_or(|p| p.directory.get().is_some()) {
            let _ = self.directory();
        }
        if previous.is_none_or(|p| p.index.is_prepared()) {
            self.index.prepare();
        }
    }

    /// The trace index of `store`, brought up to date with it first.
    fn index(store: &Store) -> Result<Index, trace::TraceError> {
        if trace::freshness(store)? != Freshness::Current {
            trace::update(store, &|_| {})?;
        }
        Index::open(store)
    }

    /// The directory of persons, built on first use.
    pub fn directory(&self) -> Result<Arc<Directory>, EngineError> {
        self.directory
            .get_or_init(|| {
                Directory::build(&self.store)
                    .map(Arc::new)
                    .map_err(|e| e.to_string())
            })
            .clone()
            .map_err(EngineError::Internal)
    }

    /// The nearby search's index of public trail points, built on first use.
    pub(crate) fn nearby(&self) -> Result<Arc<nearby::NearbyIndex>, EngineError> {
        self.nearby
            .get_or_init(|| {
                nearby::NearbyIndex::build(&self.store, &self.index)
                    .map(Arc::new)
                    .map_err(|e| e.to_string())
            })
            .clone()
            .map_err(EngineError::Internal)
    }

    pub fn zone(&self) -> Zone {
        self.store.zone()
    }
}

struct Inner {
    data: PathBuf,
    keys: Keys,
    ops: Ops,
    audit: AuditLog,
    rules: RuleSet,
    alert_rules: alerts::AlertRules,
    /// Opened on first use, reopened when the manifest changes.
    snapshot: RwLock<Option<Arc<Snapshot>>>,
    /// Held while a snapshot is opened, so one request opens it, not every request in flight.
    opening: Mutex<()>,
    /// One ingest at a time (the store's writer lock would make a second one wait anyway).
    writer: tokio::sync::Mutex<()>,
    verifiers: signing::VerifierCache,
    /// The issuer and its current key.
    signers: signing::SignerCache,
    /// Recent inflow rows and alerts, by snapshot and request.
    inflow_rows: recent::Recent<inflow_api::CacheKey, Vec<inflow::InflowRow>>,
    day_alerts: recent::Recent<(Stamp, Date), Vec<alerts::Alert>>,
    /// Recent answers of the power index and its forecasts, by the files they read.
    power: resume_power::PowerAnswers,
    /// Failed password logins per account name, and the logins being checked now.
    logins: session::LoginGuard,
    /// The SQL threads and each role's tables per snapshot.
    sql: sql::SqlState,
    /// The code overrides (accepted corrections), kept between requests.
    overrides: corrections::OverrideCache,
    /// Home provinces' attestations received (issue 19), kept between requests.
    peers: attest_api::PeerCache,
    short_lived: bool,
    /// Where residents' one-time codes go (set by the server).
    notifier: RwLock<Option<Arc<dyn resident::Notifier>>>,
    /// Residents' reports on their way into the store.
    inbox: inbox::InboxWriter,
    /// Codes signed for residents lately, handed out again while they say the same.
    signed_codes: resident_api::SignedCodes,
    /// Resident sessions checked lately.
    resident_sessions: resident::SessionCache,
    /// A long-lived engine's checkpoints of SQLite's write-ahead log, off the writers' path.
    _wal: Option<ops::WalCheckpointer>,
}

/// The engine; cheap to clone and share between requests.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Engine({})", self.inner.data.display())
    }
}

impl Engine {
    /// Opens the data dir with the master key's derived keys. Needs a tokio runtime (the audit
    /// writer runs on it). The store and its indexes are opened on first use (`warm` opens
    /// them now).
    pub async fn open(opts: EngineOptions, keys: Keys) -> Result<Engine, EngineError> {
        let ops = Ops::open_for(&opts.data, opts.db_url.as_deref()).await?;
        let checkpoint = ops::CheckpointFile::in_data_dir(&opts.data);
        let audit = AuditLog::start(ops.clone(), keys.audit_key(), Some(checkpoint));
        let wal = if opts.short_lived {
            None
        } else {
            ops.start_wal_checkpointer()
        };
        Ok(Engine {
            inner: Arc::new(Inner {
                data: opts.data,
                keys,
                ops: ops.clone(),
                audit,
                rules: opts.rules,
                alert_rules: opts.alert_rules,
                snapshot: RwLock::new(None),
                opening: Mutex::new(()),
                writer: tokio::sync::Mutex::new(()),
                verifiers: signing::VerifierCache::default(),
                signers: signing::SignerCache::default(),
                inflow_rows: recent::Recent::new(16),
                day_alerts: recent::Recent::new(8),
                power: resume_power::PowerAnswers::new(),
                logins: session::LoginGuard::default(),
                sql: sql::SqlState::new(opts.sql, opts.cluster),
                overrides: corrections::OverrideCache::new(corrections::OVERRIDES_TTL),
                peers: attest_api::PeerCache::new(attest_api::PEERS_TTL),
                short_lived: opts.short_lived,
                notifier: RwLock::new(None),
                inbox: inbox::InboxWriter::start(ops.clone()),
                signed_codes: resident_api::SignedCodes::default(),
                resident_sessions: resident::SessionCache::default(),
                _wal: wal,
            }),
        })
    }

    pub fn data(&self) -> &Path {
        &self.inner.data
    }

    /// Opens the store and brings the trace index up to date now, rather than on the first
    /// request.
    pub async fn warm(&self) -> Result<(), EngineError> {
        self.read(|_| Ok(())).await
    }

    pub fn ops(&self) -> &Ops {
        &self.inner.ops
    }

    pub fn keys(&self) -> &Keys {
        &self.inner.keys
    }

    pub fn rules(&self) -> &RuleSet {
        &self.inner.rules
    }

    /// The current snapshot, reopened first when the manifest changed (another process
    /// ingested, or a flush of residents' reports). One request opens the new one; requests
    /// arriving meanwhile answer from the snapshot they would have had a moment earlier (a
    /// consistent store, not yet the newest) instead of waiting or opening copies of their own.
    /// Blocking: call from blocking work.
    pub(crate) fn snapshot(&self) -> Result<Arc<Snapshot>, EngineError> {
        let current = match self.current_if_fresh() {
            Ok(fresh) => return Ok(fresh),
            Err(stale) => stale,
        };
        let _opening = match self.inner.opening.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::WouldBlock) => match current {
                Some(s) => return Ok(s),
                None => self.inner.opening.lock().unwrap_or_else(|p| p.into_inner()),
            },
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
        };
        // Whoever held the lock may have opened the snapshot wanted.
        match self.current_if_fresh() {
            Ok(fresh) => Ok(fresh),
            Err(stale) => self.open_snapshot(stale.as_deref()),
        }
    }

    /// The installed snapshot if the manifest still says what it was opened from; otherwise
    /// the installed one (if any) as the stale one.
    fn current_if_fresh(&self) -> Result<Arc<Snapshot>, Option<Arc<Snapshot>>> {
        match self.current_snapshot() {
            Some(s) if s.stamp == Stamp::of(&self.inner.data) => Ok(s),
            stale => Err(stale),
        }
    }

    /// Reopens the snapshot whatever the manifest says (after this process ingested), waiting
    /// for a snapshot being opened by a request.
    pub(crate) fn refresh(&self) -> Result<(), EngineError> {
        let _opening = self.inner.opening.lock().unwrap_or_else(|p| p.into_inner());
        let current = self.current_snapshot();
        self.open_snapshot(current.as_deref()).map(|_| ())
    }

    fn current_snapshot(&self) -> Option<Arc<Snapshot>> {
        self.inner.snapshot.read().expect("snapshot lock").clone()
    }

    /// Opens and installs a new snapshot; the caller holds `opening`. A long-lived engine (a
    /// server) builds what the snapshot would build on first use before installing it (as far
    /// as the previous one was built: [`Snapshot::prepare_like`]): requests meanwhile answer
    /// from the previous one instead of all waiting for the first.
    fn open_snapshot(&self, previous: Option<&Snapshot>) -> Result<Arc<Snapshot>, EngineError> {
        let fresh = Arc::new(Snapshot::open(
            &self.inner.data,
            &self.inner.keys,
            previous,
        )?);
        if !self.inner.short_lived {
            fresh.prepare_like(previous);
        }
        *self.inner.snapshot.write().expect("snapshot lock") = Some(fresh.clone());
        Ok(fresh)
    }

    /// The account a bearer token belongs to: a staff account's, or a resident's session
    /// ([`resident::RESIDENT_TOKEN_PREFIX`]), which reaches that one person only.
    pub async fn authenticate(&self, token: &str) -> Result<Account, EngineError> {
        let token = token.trim();
        if token.starts_with(resident::RESIDENT_TOKEN_PREFIX) {
            return self.resident_session(token).await;
        }
        match self
            .inner
            .ops
            .authenticate(token.trim(), Timestamp::now().secs())
            .await?
        {
            Some(p) => Account::from_user(&p.user),
            None => Err(EngineError::Unauthenticated(
                "the token is unknown, revoked or expired".into(),
            )),
        }
    }

    /// Appends one audit entry for `caller` and waits for its commit.
    pub(crate) async fn audit(
        &self,
        caller: &Caller,
        action: Action,
        persons: Vec<i64>,
        rows: i64,
        outcome: String,
    ) -> Result<(), EngineError> {
        self.audit_issuing(caller, action, persons, rows, outcome, Vec::new())
            .await
    }

    /// [`Engine::audit`], recording `issued` (the signed codes the answer hands out) in the
    /// same commit.
    pub(crate) async fn audit_issuing(
        &self,
        caller: &Caller,
        action: Action,
        persons: Vec<i64>,
        rows: i64,
        outcome: String,
        issued: Vec<ops::IssuedCode>,
    ) -> Result<(), EngineError> {
        let entry = AuditEntry {
            at_ms: Timestamp::now().millis(),
            actor: caller.account.name.clone(),
            role: caller.account.role.as_str().into(),
            purpose: caller.purpose.as_str().into(),
            action: action.as_str().into(),
            query: caller.request.clone(),
            persons,
            rows,
            outcome,
        };
        self.append_audit_issuing(entry, issued).await
    }

    /// The one way the engine writes the audit log. The text fields — actor, request and
    /// outcome, which may echo what a client sent (an error quoting a parameter, a login
    /// name) — are masked here ([`privacy::mask_personal`]: ID numbers and mobile numbers)
    /// and cut to a bounded length, so no caller can get a personal value or an unbounded
    /// string into the log by the way it builds an entry.
    async fn append_audit(&self, entry: AuditEntry) -> Result<(), EngineError> {
        self.append_audit_issuing(entry, Vec::new()).await
    }

    /// [`Engine::append_audit`], with the codes the entry's answer hands out recorded in the
    /// same commit.
    async fn append_audit_issuing(
        &self,
        mut entry: AuditEntry,
        issued: Vec<ops::IssuedCode>,
    ) -> Result<(), EngineError> {
        entry.actor = audit_text(&entry.actor, 128);
        entry.query = audit_text(&entry.query, 2048);
        entry.outcome = audit_text(&entry.outcome, 1024);
        self.inner.audit.append_issuing(entry, issued).await?;
        Ok(())
    }

    /// Runs blocking work with the current snapshot, without authorisation or audit: for
    /// answers that carry no personal data (the public self-check, health checks).
    pub(crate) async fn read<T, F>(&self, work: F) -> Result<T, EngineError>
    where
        T: Send + 'static,
        F: FnOnce(&Snapshot) -> Result<T, EngineError> + Send + 'static,
    {
        let engine = self.clone();
        tokio::task::spawn_blocking(move || {
            let snap = engine.snapshot()?;
            work(&snap)
        })
        .await
        .map_err(EngineError::internal)?
    }

    /// Store-wide figures for the health check and metrics: rows per kind, index events.
    pub async fn status(&self) -> Result<Status, EngineError> {
        self.read(|s| {
            let stats = s.store.manifest().kind_stats();
            // The last day of the personal records (public figures may run further).
            let last_date = stats
                .iter()
                .filter(|(k, _)| k.spec().column("person_id").is_some())
                .filter_map(|(_, v)| v.last_date.clone())
                .max();
            Ok(Status {
                sources: s.store.manifest().sources().len() as u64,
                rows: stats.values().map(|k| k.rows).sum(),
                last_date,
                index_events: s.index.events() as u64,
                zone: s.zone().to_string(),
            })
        })
        .await
    }
}

/// What `status` reports.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, serde::Serialize)]
pub struct Status {
    pub sources: u64,
    pub rows: u64,
    /// The last day with personal records (`YYYY-MM-DD`), the dashboard's default day.
    pub last_date: Option<String>,
    pub index_events: u64,
    pub zone: String,
}

/// `text` as the audit log may hold it: personal numbers masked, at most `max` bytes (cut at
/// a character boundary, with `…` saying so).
fn audit_text(text: &str, max: usize) -> String {
    let mut t = privacy::mask_personal(text);
    if t.len() > max {
        let mut end = max;
        while !t.is_char_boundary(end) {
            end -= 1;
        }
        t.truncate(end);
        t.push('…');
    }
    t
}

/// At most `max` characters of a value a client sent, quoted and escaped, for an error
/// message: control characters, NULs and very long input never reach a message or the log
/// as they came.
pub fn quoted(value: &str, max: usize) -> String {
    let mut cut: String = value.chars().take(max).collect();
    if value.chars().nth(max).is_some() {
        cut.push('…');
    }
    format!("{cut:?}")
}

/// Parses a person id given in a request.
pub fn parse_person(s: &str) -> Result<PersonId, EngineError> {
    s.trim()
        .parse::<PersonId>()
        .map_err(|e| EngineError::BadRequest(format!("not a person id: {e}")))
}

/// `as_of` for codes: a date, or an RFC 3339 time whose date (in the zone) is taken; absent,
/// today.
pub fn parse_as_of_date(s: Option<&str>, zone: Zone) -> Result<Date, EngineError> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => match Date::parse(s.as_bytes()) {
            Ok(d) => Ok(d),
            Err(_) => Timestamp::parse_rfc3339(s.as_bytes())
                .map(|t| t.date(zone))
                .map_err(|e| {
                    EngineError::BadRequest(format!(
                        "as_of {s}: {} (or a date, YYYY-MM-DD)",
                        e.reason()
                    ))
                }),
        },
        None => Ok(Timestamp::now().date(zone)),
    }
}

/// `as_of` for traces: an RFC 3339 time, or a date meaning the end of that day; absent, now.
pub fn parse_as_of_instant(s: Option<&str>, zone: Zone) -> Result<i64, EngineError> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(Timestamp::now().millis()),
        Some(s) => {
            if let Ok(d) = Date::parse(s.as_bytes()) {
                return Ok(d.end_of_day(zone).millis());
            }
            Timestamp::parse_rfc3339(s.as_bytes())
                .map(Timestamp::millis)
                .map_err(|e| {
                    EngineError::BadRequest(format!(
                        "as_of {s}: {} (or a date, YYYY-MM-DD)",
                        e.reason()
                    ))
                })
        }
    }
}

#[cfg(test)]
mod snapshot_tests {
    use super::*;
    use crate::test_city;

    /// A new snapshot builds ahead what its previous one had built, and only that: a flush of
    /// reports while nobody asks for codes must not build the codes' index every time.
    #[test]
    fn a_snapshot_is_prepared_as_far_as_its_previous_one_was() {
        let dir = tempfile::tempdir().unwrap();
        let (data, input) = (dir.path().join("data"), dir.path().join("in"));
        test_city::two_households(&data, &input);
        let keys = test_city::keys();
        let unused = Snapshot::open(&data, &keys, None).unwrap();
        let next = Snapshot::open(&data, &keys, Some(&unused)).unwrap();
        next.prepare_like(Some(&unused));
        assert!(next.directory.get().is_none() && !next.index.is_prepared());
        let first = Snapshot::open(&data, &keys, None).unwrap();
        first.prepare_like(None);
        assert!(first.directory.get().is_some() && first.index.is_prepared());
        let after = Snapshot::open(&data, &keys, Some(&first)).unwrap();
        after.prepare_like(Some(&first));
        assert!(after.directory.get().is_some() && after.index.is_prepared());
    }

    /// A flush of residents' reports every few seconds made every request in flight open a
    /// snapshot of its own, each reading the directory of persons again.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_new_snapshot_keeps_the_directory_while_persons_files_are_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let (data, input) = (dir.path().join("data"), dir.path().join("in"));
        test_city::two_households(&data, &input);
        let engine = Engine::open(EngineOptions::new(&data), test_city::keys())
            .await
            .unwrap();
        tokio::task::spawn_blocking(move || {
            let first = engine.snapshot().unwrap();
            // A long-lived engine built it before answering from the snapshot.
            assert!(first.directory.get().is_some(), "prepared");
            let directory = first.directory().unwrap();
            let reports = input.join("self_reports.csv");
            let person = test_city::person(330302, 2);
            std::fs::write(
                &reports,
                format!("person_id,time,temperature_c,visited_regions\n{person},2020-01-30T10:00:00+08:00,37.5,\n"),
            )
            .unwrap();
            test_city::ingest_files(&data, &[reports]);
            let second = engine.snapshot().unwrap();
            assert!(!Arc::ptr_eq(&first, &second), "the manifest changed");
            assert!(Arc::ptr_eq(&directory, &second.directory().unwrap()));
            assert!(Arc::ptr_eq(&second, &engine.snapshot().unwrap()), "opened once");

            let newcomer = test_city::person(330302, 9);
            let persons = input.join("persons-2.csv");
            std::fs::write(
                &persons,
                format!("person_id,home_region,community_id,household_id\n{newcomer},330302,C1,H9\n"),
            )
            .unwrap();
            test_city::ingest_files(&data, &[persons]);
            engine.refresh().unwrap();
            let third = engine.snapshot().unwrap().directory().unwrap();
            assert!(!Arc::ptr_eq(&directory, &third));
            let pseudonym = engine.keys().pseudonyms.pseudonym(newcomer);
            assert!(third.contains(pseudonym) && !directory.contains(pseudonym));
        })
        .await
        .unwrap();
    }
}
