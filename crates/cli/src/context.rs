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
