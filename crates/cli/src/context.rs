//! Opening what commands share: the master key (never from inside the data dir) and the store.

use std::path::Path;

use anyhow::Context;
use engine::datadir::{DataDir, KeyLocation, KeySource, Keys, MANIFEST_FILE, VaultError};
use engine::{Date, Timestamp, Zone};

use crate::exit::usage;

/// Loads the master key and derives the keys. `vault` refuses a key file inside the data dir
/// (before creating one there) or with a second name, since a copy of the data dir must never
/// carry what unlocks it; a key file other users may read is used with a warning.
pub fn keys(data: &Path, key: &KeyLocation) -> anyhow::Result<Keys> {
    let loaded = key.load(data).map_err(|e| match e {
        e @ (VaultError::KeyInDataDir { .. } | VaultError::KeyLinked { .. }) => {
            usage(e.to_string())
        }
        // A folder, device or pipe named as the key file, or a huge file: the path is wrong.
        VaultError::KeyIo { ref cause, .. }
            if matches!(
                cause.kind(),
                std::io::ErrorKind::InvalidInput | std::io::ErrorKind::FileTooLarge
            ) =>
        {
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
        Needs::Store => has(MANIFEST_FILE),
        Needs::Deployment => has(MANIFEST_FILE) || has("ops.db") || has("keys/issuer.json"),
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
            MANIFEST_FILE
        )
    };
    Err(usage(msg))
}

/// Opens the store for reading; [`require`] has checked that there is one.
pub fn store(data: &Path, keys: &Keys) -> anyhow::Result<DataDir> {
    DataDir::open(data, keys).with_context(|| format!("opening {}", data.display()))
}

/// The deployment zone of the data dir, or `zone` when there is no store yet (a command that
/// creates one).
pub fn zone_or(data: &Path, zone: Zone) -> anyhow::Result<Zone> {
    Ok(engine::datadir::zone_of(data)
        .with_context(|| format!("opening {}", data.display()))?
        .unwrap_or(zone))
}

/// How many days the newest record may lie behind today before answering for today is worth
/// a warning (a daily export arrives a day or two late).
const STALE_DAYS: i32 = 2;

/// Without `--as-of` a command answers for today. Against a store whose newest record is
/// older — historical data, 2020 seen in 2026 — that is an answer about an empty present
/// (everyone green, every quarantine over, nothing arriving), so it says so on stderr, naming
/// the newest date in the store.
pub fn warn_default_as_of(store: &DataDir, given: Option<&str>) {
    if given.is_some() {
        return;
    }
    if let Some((today, newest)) = stale(store, Timestamp::now()) {
        eprintln!(
            "warning: no --as-of given, so this answers for today ({today}), but the newest record in {} is from {newest}; pass --as-of {newest} (or another day) to answer for the data's own time",
            store.root().display()
        );
    }
}

/// Today and the store's newest date, when that lies more than a couple of days before today.
pub fn stale(store: &DataDir, now: Timestamp) -> Option<(Date, Date)> {
    let today = now.date(store.zone());
    let newest = store.newest_date()?;
    (newest.add_days(STALE_DAYS) < today).then_some((today, newest))
}
