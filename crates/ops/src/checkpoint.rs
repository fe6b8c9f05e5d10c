//! The audit head's checkpoint outside the database: a small file (`DIR/audit-checkpoint`) that
//! records a sequence number and hash the log has reached, with a MAC under a key derived from
//! the audit key. It only moves forward, so someone who can write the database but not this
//! file cannot empty the log or cut entries off its end and move the head back to match: the
//! log must still reach the checkpoint, with the same hash there.
//!
//! Format, one field a line: `fangyi audit checkpoint v1`, `seq N`, `hash HEX`, `mac HEX`.
//! Replaced atomically (temp file, fsync, rename) under a lock file, so several processes on one
//! data dir (a server, CLI commands) never move it backwards or leave half a file.

use std::io::Write;
use std::path::{Path, PathBuf};

use privacy::audit::{checkpoint_mac, constant_time_eq};

use crate::{OpsError, from_hex, to_hex};

const MAGIC: &str = "fangyi audit checkpoint v1";

/// A point the audit log has passed through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub seq: i64,
    pub hash: [u8; 32],
}

/// What the checkpoint file holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckpointState {
    /// No file: nothing was checkpointed here yet.
    Missing,
    /// A checkpoint whose MAC is right.
    Valid(Checkpoint),
    /// A file that does not parse or whose MAC is wrong (why, in a sentence).
    Invalid(String),
}

/// The checkpoint file of one data dir.
#[derive(Clone, Debug)]
pub struct CheckpointFile {
    path: PathBuf,
}

impl CheckpointFile {
    /// `DIR/audit-checkpoint`.
    pub fn in_data_dir(data: &Path) -> CheckpointFile {
        CheckpointFile::at(data.join("audit-checkpoint"))
    }

    pub fn at(path: PathBuf) -> CheckpointFile {
        CheckpointFile { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, cause: std::io::Error) -> OpsError {
        OpsError::Checkpoint {
            path: self.path.display().to_string(),
            cause,
        }
    }

    /// Reads and authenticates the checkpoint under the audit `key`.
    pub fn read(&self, key: &[u8; 32]) -> Result<CheckpointState, OpsError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(CheckpointState::Missing);
            }
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                return Ok(CheckpointState::Invalid("it is not text".into()));
            }
            Err(e) => return Err(self.io(e)),
        };
        Ok(match parse(&text) {
            None => CheckpointState::Invalid("it is not a checkpoint file".into()),
            Some((c, mac)) if constant_time_eq(&mac, &checkpoint_mac(key, c.seq, &c.hash)) => {
                CheckpointState::Valid(c)
            }
            Some(_) => CheckpointState::Invalid("its MAC is wrong".into()),
        })
    }

    /// Moves the checkpoint forward from `from` (what the caller read, and checked that the log
    /// still holds) to `to`. Does nothing when the file no longer holds `from` (another process
    /// moved it) or `to` is not past it, and never replaces a file that fails authentication
    /// (that is evidence for `verify`). Returns whether the file was written.
    pub fn advance(
        &self,
        key: &[u8; 32],
        from: &CheckpointState,
        to: Checkpoint,
    ) -> Result<bool, OpsError> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| self.io(e))?;
        }
        let lock_path = self.path.with_extension("lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| self.io(e))?;
        lock.lock().map_err(|e| self.io(e))?;
        let now = self.read(key)?;
        if &now != from {
            return Ok(false);
        }
        match now {
            CheckpointState::Valid(c) if c.seq >= to.seq => return Ok(false),
            CheckpointState::Invalid(why) => {
                tracing::error!(
                    path = %self.path.display(),
                    "the audit checkpoint fails authentication ({why}); not replacing it — run fangyi audit verify"
                );
                return Ok(false);
            }
            _ => {}
        }
        let mac = checkpoint_mac(key, to.seq, &to.hash);
        let text = format!(
            "{MAGIC}\nseq {}\nhash {}\nmac {}\n",
            to.seq,
            to_hex(&to.hash),
            to_hex(&mac)
        );
        let tmp = self.path.with_extension("tmp");
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            drop(f);
            std::fs::rename(&tmp, &self.path)?;
            if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::File::open(dir)?.sync_all()?;
            }
            Ok(())
        };
        write().map_err(|e| self.io(e))?;
        Ok(true)
    }
}

fn parse(text: &str) -> Option<(Checkpoint, [u8; 32])> {
    let mut lines = text.lines();
    if lines.next()? != MAGIC {
        return None;
    }
    let mut field = |name: &str| lines.next()?.strip_prefix(name)?.strip_prefix(' ');
    let seq: i64 = field("seq")?.parse().ok()?;
    let hash = from_hex::<32>(field("hash")?)?;
    let mac = from_hex::<32>(field("mac")?)?;
    if lines.next().is_some() || seq < 0 {
        return None;
    }
    Some((Checkpoint { seq, hash }, mac))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_forward_only_and_refuses_forgeries() {
        let dir = tempfile::tempdir().unwrap();
        let file = CheckpointFile::in_data_dir(dir.path());
        let key = [3u8; 32];
        assert_eq!(file.read(&key).unwrap(), CheckpointState::Missing);
        let at = |seq: i64| Checkpoint {
            seq,
            hash: [seq as u8; 32],
        };
        let valid = |seq: i64| CheckpointState::Valid(at(seq));
        assert!(
            file.advance(&key, &CheckpointState::Missing, at(5))
                .unwrap()
        );
        assert_eq!(file.read(&key).unwrap(), valid(5));
        // Never backwards, never sideways, never from a state the file no longer holds.
        assert!(!file.advance(&key, &valid(5), at(4)).unwrap());
        assert!(!file.advance(&key, &valid(5), at(5)).unwrap());
        assert!(
            !file
                .advance(&key, &CheckpointState::Missing, at(7))
                .unwrap()
        );
        assert!(!file.advance(&key, &valid(3), at(7)).unwrap());
        assert_eq!(file.read(&key).unwrap(), valid(5));
        assert!(file.advance(&key, &valid(5), at(9)).unwrap());
        assert_eq!(file.read(&key).unwrap(), valid(9));

        // Another key cannot vouch for it.
        assert!(matches!(
            file.read(&[4u8; 32]).unwrap(),
            CheckpointState::Invalid(_)
        ));
        // An edited seq fails; the file is then left alone as evidence.
        let text = std::fs::read_to_string(file.path()).unwrap();
        std::fs::write(file.path(), text.replace("seq 9", "seq 2")).unwrap();
        assert!(matches!(
            file.read(&key).unwrap(),
            CheckpointState::Invalid(_)
        ));
        let forged = file.read(&key).unwrap();
        assert!(!file.advance(&key, &forged, at(12)).unwrap());
        assert!(matches!(
            file.read(&key).unwrap(),
            CheckpointState::Invalid(_)
        ));
        std::fs::write(file.path(), "garbage").unwrap();
        assert!(matches!(
            file.read(&key).unwrap(),
            CheckpointState::Invalid(_)
        ));
    }
}
