//! The cluster's nodes, for `fangyi cluster scheduler` and `fangyi cluster executor`: the
//! `cluster` crate's, with the master key found for an executor the way every command finds
//! it. A node answers no one's question itself — it runs plans a client's session (through
//! [`crate::Engine::sql_to`], authorised, audited) made — so nothing here goes through `ask`.

use std::path::Path;

pub use cluster::{
    ClusterError, ExecutorOptions, SchedulerOptions, host_port, jobs, run_executor, run_scheduler,
};
use vault::{KeySource, Keys, MasterKey};

use crate::EngineError;

/// The keys an executor computes `pseudonym()` with: the operator's master key from
/// `FANGYI_MASTER_KEY`, `key_file`, or the per-user default file, as every command finds it
/// (never inside `data`) — but never created: a node without a key is told so, not given a
/// new one that would compute other pseudonyms. Warnings (a key file others may read) are
/// returned to be shown.
pub fn executor_keys(
    key_file: Option<&Path>,
    data: &Path,
) -> Result<(Keys, Vec<String>), EngineError> {
    let env = std::env::var_os("FANGYI_MASTER_KEY").is_some();
    if !env {
        let path = key_file
            .map(Path::to_path_buf)
            .unwrap_or_else(vault::default_key_path);
        if !path.exists() {
            return Err(EngineError::BadRequest(format!(
                "no master key at {}: an executor uses the operator's key (FANGYI_MASTER_KEY or \
                 --key-file) and never creates one",
                path.display()
            )));
        }
    }
    let loaded =
        MasterKey::load(key_file, data).map_err(|e| EngineError::BadRequest(e.to_string()))?;
    if matches!(loaded.source, KeySource::Created(_)) {
        // Unreachable after the check above, unless the file vanished in between.
        return Err(EngineError::BadRequest(
            "the master key file disappeared while it was read".into(),
        ));
    }
    Ok((Keys::derive(&loaded.key), loaded.warnings))
}
