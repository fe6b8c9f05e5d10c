//! Opening what commands share: the master key (never from inside the data dir) and the store.

use std::path::{Path, PathBuf};

use anyhow::Context;
use store::Store;
use vault::{KeySource, Keys, MasterKey};

use crate::exit::usage;

/// Loads the master key and derives the keys; refuses a key file inside the data dir, since
/// a copy of the data dir must never carry what unlocks it.
pub fn keys(data: &Path, key_file: Option<&Path>) -> anyhow::Result<Keys> {
    let (master, source) = MasterKey::load(key_file).context("loading the master key")?;
    let path = match &source {
        KeySource::Env => None,
        KeySource::File(p) | KeySource::Created(p) => Some(p.clone()),
    };
    if let Some(p) = &path
        && let (Ok(k), Ok(d)) = (absolute(p), absolute(data))
        && k.starts_with(&d)
    {
        return Err(usage(format!(
            "the master key {} is inside the data dir {}; keep it elsewhere so a copy of the data leaks nothing",
            p.display(),
            data.display()
        )));
    }
    if let KeySource::Created(p) = &source {
        eprintln!(
            "created a new master key at {} (back it up: without it the data cannot be read)",
            p.display()
        );
    }
    Ok(Keys::derive(&master))
}

fn absolute(p: &Path) -> std::io::Result<PathBuf> {
    let p = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()?.join(p)
    };
    // Canonicalise the longest existing prefix so `..` and symlinks do not hide containment.
    let mut existing = p.clone();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.file_name(), existing.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name.to_os_string());
                existing = parent.to_path_buf();
            }
            _ => break,
        }
    }
    let mut out = existing.canonicalize().unwrap_or(existing);
    for r in rest.into_iter().rev() {
        out.push(r);
    }
    Ok(out)
}

/// Opens the store for reading; an empty view when nothing was ingested yet.
pub fn store(data: &Path, keys: &Keys) -> anyhow::Result<Store> {
    Store::open_or_empty(data, keys.key_id(), model::Zone::CST)
        .with_context(|| format!("opening {}", data.display()))
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
        at_ms: engine::now_ms(),
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
