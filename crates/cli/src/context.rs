//! Opening what commands share: the master key (never from inside the data dir) and the store.

use std::path::Path;

use anyhow::Context;
use store::Store;
use vault::{KeyLocation, KeySource, Keys};

use crate::exit::usage;

/// Loads the master key and derives the keys. `vault` refuses a key file inside the data dir
/// (before creating one there) or with a second name, since a copy of the data dir must never
/// carry what unlocks it; a key file other users may read is used with a warning.
pub fn keys(data: &Path, key: &KeyLocation) -> anyhow::Result<Keys> {
    let loaded = key.load(data).map_err(|e| match e {
        e @ (vault::VaultError::KeyInDataDir { .. } | vault::VaultError::KeyLinked { .. }) => {
            usage(e.to_string())
        }
        e => anyhow::Error::new(e).context("loading the master key"),
    })?;
    for w in &loaded.warnings {
        eprintln!("warning: {w}");
    }
    match (&loaded.source, key) {
        (KeySource::Created(p), KeyLocation::Operator(_)) => eprintln!(
            "created a new master key at {} (back it up: without it the data cannot be read)",
            p.display()
        ),
        (KeySource::Created(p), KeyLocation::Own(_)) => eprintln!(
            "created {}, the master key of {} alone (your own key is neither read nor created)",
            p.display(),
            data.display()
        ),
        _ => {}
    }
    Ok(Keys::derive(&loaded.key))
}

/// What a command needs of the data dir before it may run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Needs {
    /// Nothing (the generator, help texts, benchmarks in their own folders).
    Nothing,
    /// It creates the data dir when there is none (ingest, import, `init`, `users add`).
    Creates,
    /// A data dir with a store: something was ingested, or `fangyi init` made it. A reading
    /// command on a folder that was never a data dir would answer from nothing (everyone
    /// green, no contacts), so it is refused instead.
    Store,
    /// A data dir fangyi made: a store, an operational database or an issuer key (the server,
    /// accounts and the audit log in `DIR/ops.db`, issuer keys).
    Deployment,
}

/// Refuses to go on when the data dir is not what the command needs: a mistyped `--data`
/// must not quietly create an empty data dir and answer from it. A usage error (exit 2)
/// naming the path and how to make a data dir.
pub fn require(data: &Path, needs: Needs) -> anyhow::Result<()> {
    let has = |name: &str| data.join(name).exists();
    let ok = match needs {
        Needs::Nothing | Needs::Creates => true,
        Needs::Store => has(store::MANIFEST_FILE),
        Needs::Deployment => has(store::MANIFEST_FILE) || has("ops.db") || has("keys/issuer.json"),
    };
    if ok {
        return Ok(());
    }
    let d = data.display();
    let create = format!(
        "create one with `fangyi --data {d} ingest FILES…` (or an empty one with `fangyi --data {d} init`), or point --data / FANGYI_DATA at an existing data dir"
    );
    let msg = if !data.exists() {
        format!("{d} does not exist, so there is no data to answer from; {create}")
    } else if !data.is_dir() {
        format!("{d} is not a folder; point --data / FANGYI_DATA at a data dir")
    } else if needs == Needs::Store && (has("ops.db") || has("keys/issuer.json")) {
        format!(
            "{d} holds no data yet (nothing was ingested there); load some with `fangyi --data {d} ingest FILES…`"
        )
    } else {
        format!(
            "{d} is not a fangyi data dir (it has no {}); {create}",
            store::MANIFEST_FILE
        )
    };
    Err(usage(msg))
}

/// Opens the store for reading; [`require`] has checked that there is one.
pub fn store(data: &Path, keys: &Keys) -> anyhow::Result<Store> {
    Store::open(data, keys.key_id()).with_context(|| format!("opening {}", data.display()))
}

/// The deployment zone of the data dir, or `zone` when there is no store yet (a command that
/// creates one).
pub fn zone_or(data: &Path, zone: model::Zone) -> anyhow::Result<model::Zone> {
    Ok(store::Manifest::load(data)
        .with_context(|| format!("opening {}", data.display()))?
        .map_or(zone, |m| m.zone()))
}

/// How many days the newest record may lie behind today before answering for today is worth
/// a warning (a daily export arrives a day or two late).
const STALE_DAYS: i32 = 2;

/// The latest partition date of any kind in the store: the day its newest dated record is of.
pub fn newest_date(store: &Store) -> Option<model::Date> {
    store
        .manifest()
        .kind_stats()
        .values()
        .filter_map(|k| k.last_date.as_deref())
        .filter_map(|d| model::Date::parse(d.as_bytes()).ok())
        .max()
}

/// Without `--as-of` a command answers for today. Against a store whose newest record is
/// older — historical data, 2020 seen in 2026 — that is an answer about an empty present
/// (everyone green, every quarantine over, nothing arriving), so it says so on stderr, naming
/// the newest date in the store.
pub fn warn_default_as_of(store: &Store, given: Option<&str>) {
    if given.is_some() {
        return;
    }
    if let Some((today, newest)) = stale(store, model::Timestamp::now()) {
        eprintln!(
            "warning: no --as-of given, so this answers for today ({today}), but the newest record in {} is from {newest}; pass --as-of {newest} (or another day) to answer for the data's own time",
            store.root().display()
        );
    }
}

/// Today and the store's newest date, when that lies more than a couple of days before today.
pub fn stale(store: &Store, now: model::Timestamp) -> Option<(model::Date, model::Date)> {
    let today = now.date(store.zone());
    let newest = newest_date(store)?;
    (newest.add_days(STALE_DAYS) < today).then_some((today, newest))
}

/// A pseudonym shown as the person id it stands for (`#n` if it is not one of this key's).
pub fn reveal(keys: &Keys, pseudonym: i64) -> String {
    keys.pseudonyms
        .reveal(pseudonym)
        .map_or_else(|| format!("#{pseudonym}"), |id| id.to_string())
}

/// Larger answers are audited by their row count alone, not person by person.
pub const AUDIT_PERSONS_MAX: usize = 10_000;

fn append(
    g: &crate::commands::Globals,
    keys: &Keys,
    entry: privacy::AuditEntry,
) -> anyhow::Result<()> {
    let data = g.data().to_path_buf();
    let db = g.db.clone();
    let key = keys.audit_key();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async move {
            let ops = ops::Ops::open_for(&data, db.as_deref()).await?;
            let mut r = ops.append_audit(&key, &[entry]).await.map(drop);
            if r.is_ok() {
                // The checkpoint outside the database follows the head at once: this process
                // keeps no writer running to do it later.
                let file = ops::CheckpointFile::in_data_dir(&data);
                r = ops.checkpoint_audit(&key, &file).await.map(drop);
            }
            ops.close().await;
            r
        })
        .context("writing the audit log")?;
    Ok(())
}

fn entry(
    action: privacy::Action,
    purpose: privacy::Purpose,
    request: String,
    persons: Vec<i64>,
    rows: i64,
    outcome: String,
) -> privacy::AuditEntry {
    let account = engine::Account::local();
    privacy::AuditEntry {
        at_ms: model::Timestamp::now().millis(),
        actor: account.name,
        role: account.role.as_str().into(),
        purpose: purpose.as_str().into(),
        action: action.as_str().into(),
        query: request,
        persons,
        rows,
        outcome,
    }
}

/// The purpose of a command-line read (`--purpose`, else the command's usual one), checked
/// against the policy for the operator (an admin). A refusal is audited and is a usage error.
pub fn check(
    g: &crate::commands::Globals,
    keys: &Keys,
    action: privacy::Action,
    usual: privacy::Purpose,
    request: &str,
) -> anyhow::Result<privacy::Purpose> {
    let purpose = match g.purpose.as_deref() {
        None => usual,
        Some(p) => privacy::Purpose::parse(p).ok_or_else(|| {
            usage(format!(
                "--purpose {p}: one of {}",
                privacy::Purpose::names()
            ))
        })?,
    };
    if let Err(d) = privacy::authorize(privacy::Role::Admin, action, purpose) {
        append(
            g,
            keys,
            entry(
                action,
                purpose,
                request.to_string(),
                Vec::new(),
                0,
                format!("denied: {d}"),
            ),
        )?;
        return Err(usage(d.to_string()));
    }
    Ok(purpose)
}

/// Records a read the operator made for `purpose` (from [`check`]). Persons beyond
/// [`AUDIT_PERSONS_MAX`] are counted in `rows` only.
pub fn record(
    g: &crate::commands::Globals,
    keys: &Keys,
    action: privacy::Action,
    purpose: privacy::Purpose,
    request: String,
    mut persons: Vec<i64>,
    rows: i64,
) -> anyhow::Result<()> {
    if persons.len() > AUDIT_PERSONS_MAX {
        persons.clear();
    }
    append(
        g,
        keys,
        entry(action, purpose, request, persons, rows, "ok".into()),
    )
}

/// Records a command that failed after [`check`] allowed it (a query that did not finish),
/// with `outcome` saying why.
pub fn record_failure(
    g: &crate::commands::Globals,
    keys: &Keys,
    action: privacy::Action,
    purpose: privacy::Purpose,
    request: String,
    outcome: String,
) -> anyhow::Result<()> {
    append(
        g,
        keys,
        entry(action, purpose, request, Vec::new(), 0, outcome),
    )
}

/// Records a read of personal data by the operator at the command line in the audit log
/// (contract §5): as `cli:<login>` with the admin role, for `--purpose` or the command's usual
/// purpose, which the policy must allow for the action ([`check`], then [`record`]).
pub fn audit(
    g: &crate::commands::Globals,
    keys: &Keys,
    action: privacy::Action,
    usual: privacy::Purpose,
    request: String,
    persons: Vec<i64>,
    rows: i64,
) -> anyhow::Result<()> {
    let purpose = check(g, keys, action, usual, &request)?;
    record(g, keys, action, purpose, request, persons, rows)
}

/// A command line as the audit log records it: the words, with person ids masked.
pub fn request(words: &[&str]) -> String {
    privacy::mask_ids(&words.join(" "))
}
