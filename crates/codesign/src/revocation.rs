//! Revoked code ids for offline verifiers: a JSON array of `{"cti": "<hex>", "revoked_at":
//! "<RFC 3339>", "exp": "<RFC 3339>"}` (`fangyi keys export-revocations`). Only codes not yet
//! expired need listing; an expired code fails anyway.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{CodesignError, hex, rfc3339, unhex};

/// One revoked code, as written in the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RevokedEntry {
    pub cti: String,
    pub revoked_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<String>,
}

/// The most a revocation list file may hold: some 130,000 live revoked codes.
pub const MAX_REVOCATION_BYTES: u64 = 16 * model::files::MIB;

/// Revoked code ids and when they were revoked.
#[derive(Debug, Clone, Default)]
pub struct RevocationList {
    revoked: HashMap<[u8; 16], i64>,
}

impl RevocationList {
    pub fn insert(&mut self, cti: [u8; 16], revoked_at: i64) {
        self.revoked.insert(cti, revoked_at);
    }

    /// When `cti` was revoked, if it was.
    pub fn get(&self, cti: &[u8; 16]) -> Option<i64> {
        self.revoked.get(cti).copied()
    }

    pub fn len(&self) -> usize {
        self.revoked.len()
    }

    pub fn is_empty(&self) -> bool {
        self.revoked.is_empty()
    }

    /// Reads a file written by [`write_entries`]: a regular file of at most
    /// [`MAX_REVOCATION_BYTES`], so a pipe, a device or a folder named by `--revoked` is
    /// refused by name.
    pub fn read(path: &Path) -> Result<RevocationList, CodesignError> {
        let text = model::files::read_text(path, MAX_REVOCATION_BYTES)
            .map_err(|e| CodesignError::io(path, e))?;
        let entries: Vec<RevokedEntry> = serde_json::from_str(&text).map_err(|e| {
            CodesignError::format(path, format!("not a JSON array of revoked codes: {e}"))
        })?;
        let mut list = RevocationList::default();
        for (i, e) in entries.iter().enumerate() {
            let cti = unhex(&e.cti)
                .and_then(|b| <[u8; 16]>::try_from(b).ok())
                .ok_or_else(|| {
                    CodesignError::format(path, format!("entry {i}: cti is not 32 hex digits"))
                })?;
            let at = model::Timestamp::parse_rfc3339(e.revoked_at.as_bytes())
                .map_err(|err| {
                    CodesignError::format(path, format!("entry {i}: revoked_at: {}", err.reason()))
                })?
                .millis()
                .div_euclid(1000);
            list.insert(cti, at);
        }
        Ok(list)
    }
}

/// The file text for revoked codes `(cti, revoked_at, exp)`, as [`RevocationList::read`]
/// reads it.
pub fn entries_text(rows: &[([u8; 16], i64, i64)]) -> String {
    let entries: Vec<RevokedEntry> = rows
        .iter()
        .map(|(cti, at, exp)| RevokedEntry {
            cti: hex(cti),
            revoked_at: rfc3339(*at),
            exp: Some(rfc3339(*exp)),
        })
        .collect();
    let mut text = serde_json::to_string_pretty(&entries).expect("serialisable");
    text.push('\n');
    text
}

/// Writes revoked codes `(cti, revoked_at, exp)` to `path` (atomically).
pub fn write_entries(path: &Path, rows: &[([u8; 16], i64, i64)]) -> Result<(), CodesignError> {
    crate::issuer::write_atomic(path, entries_text(rows).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_list_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("revoked.json");
        write_entries(&path, &[([7; 16], 1_580_000_000, 1_580_100_000)]).unwrap();
        let list = RevocationList::read(&path).unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list.get(&[7; 16]), Some(1_580_000_000));
    }

    #[test]
    fn a_pipe_device_folder_or_oversized_list_is_refused_promptly_by_name() {
        let dir = tempfile::tempdir().unwrap();
        model::files::testing::refuses_hostile_files(
            dir.path(),
            "revoked.json",
            MAX_REVOCATION_BYTES,
            |p| {
                RevocationList::read(p)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            },
        );
    }
}
