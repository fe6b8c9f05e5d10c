//! The 32-byte master key: from `FANGYI_MASTER_KEY`, a key file, or a per-user default file
//! created on first use (mode 0600), never from inside the data dir.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::VaultError;

/// The secret every other key is derived from.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(…)")
    }
}

/// Where the key came from, for messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySource {
    Env,
    File(PathBuf),
    /// The default file was created just now.
    Created(PathBuf),
}

impl MasterKey {
    pub fn from_bytes(bytes: [u8; 32]) -> MasterKey {
        MasterKey(bytes)
    }

    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// A fresh random key.
    pub fn generate() -> Result<MasterKey, VaultError> {
        let mut b = [0u8; 32];
        getrandom::fill(&mut b).map_err(|e| VaultError::Random(e.to_string()))?;
        Ok(MasterKey(b))
    }

    /// Parses 64 hex digits (surrounding whitespace ignored).
    pub fn from_hex(text: &str, origin: &str) -> Result<MasterKey, VaultError> {
        let t = text.trim().as_bytes();
        let bad = || VaultError::KeyFormat {
            origin: origin.to_string(),
        };
        if t.len() != 64 {
            return Err(bad());
        }
        let mut b = [0u8; 32];
        for (i, pair) in t.chunks(2).enumerate() {
            let s = std::str::from_utf8(pair).map_err(|_| bad())?;
            b[i] = u8::from_str_radix(s, 16).map_err(|_| bad())?;
        }
        Ok(MasterKey(b))
    }

    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Loads the key: `FANGYI_MASTER_KEY` (hex) if set, else the key file (`file`, or the
    /// default per-user file), created with a new random key if it does not exist yet.
    pub fn load(file: Option<&Path>) -> Result<(MasterKey, KeySource), VaultError> {
        if let Ok(hex) = std::env::var("FANGYI_MASTER_KEY") {
            return Ok((
                MasterKey::from_hex(&hex, "FANGYI_MASTER_KEY")?,
                KeySource::Env,
            ));
        }
        let path = file.map(Path::to_path_buf).unwrap_or_else(default_key_path);
        if path.exists() {
            return Ok((MasterKey::read(&path)?, KeySource::File(path)));
        }
        let key = MasterKey::generate()?;
        key.write_new(&path)?;
        Ok((key, KeySource::Created(path)))
    }

    pub fn read(path: &Path) -> Result<MasterKey, VaultError> {
        let text = std::fs::read_to_string(path).map_err(|cause| VaultError::KeyIo {
            path: path.display().to_string(),
            cause,
        })?;
        MasterKey::from_hex(&text, &path.display().to_string())
    }

    /// Writes the key to a new file readable by its owner only; refuses to overwrite.
    pub fn write_new(&self, path: &Path) -> Result<(), VaultError> {
        let io = |cause| VaultError::KeyIo {
            path: path.display().to_string(),
            cause,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(path).map_err(io)?;
        writeln!(f, "{}", self.to_hex()).map_err(io)?;
        f.sync_all().map_err(io)
    }
}

/// `$FANGYI_KEY_FILE`, else `$XDG_CONFIG_HOME/fangyi/master.key`, else `~/.config/fangyi/master.key`.
pub fn default_key_path() -> PathBuf {
    if let Some(p) = std::env::var_os("FANGYI_KEY_FILE") {
        return PathBuf::from(p);
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("fangyi").join("master.key")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_bad_input() {
        let k = MasterKey::from_bytes([7; 32]);
        assert_eq!(
            MasterKey::from_hex(&format!(" {}\n", k.to_hex()), "t")
                .unwrap()
                .bytes(),
            k.bytes()
        );
        assert!(MasterKey::from_hex("abc", "t").is_err());
        assert!(MasterKey::from_hex(&"zz".repeat(32), "t").is_err());
    }

    #[test]
    fn written_keys_are_private_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/master.key");
        let k = MasterKey::generate().unwrap();
        k.write_new(&path).unwrap();
        assert_eq!(MasterKey::read(&path).unwrap().bytes(), k.bytes());
        assert!(k.write_new(&path).is_err());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }
}
