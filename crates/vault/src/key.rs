//! The 32-byte master key: the operator's from `FANGYI_MASTER_KEY`, a key file, or a per-user
//! default file created on first use (mode 0600), or a folder's own key file for synthetic data
//! (`KeyLocation::Own`); never from inside the data dir (checked before a file is read or
//! created) and never through a hard link.

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

/// A loaded master key, where it came from, and what the operator should know about its file.
#[derive(Debug)]
pub struct LoadedKey {
    pub key: MasterKey,
    pub source: KeySource,
    /// Problems that do not stop the key from being used (a file other users may read).
    pub warnings: Vec<String>,
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
    ///
    /// A key file is checked before it is read or created: it must not lie inside `data_dir`
    /// (compared by canonical path, so `..` and symbolic links do not hide it) and must have
    /// a single name (a hard link could put it inside a data dir under another name). A file
    /// other users may read is used with a warning in [`LoadedKey::warnings`].
    pub fn load(file: Option<&Path>, data_dir: &Path) -> Result<LoadedKey, VaultError> {
        if let Ok(hex) = std::env::var("FANGYI_MASTER_KEY") {
            return Ok(LoadedKey {
                key: MasterKey::from_hex(&hex, "FANGYI_MASTER_KEY")?,
                source: KeySource::Env,
                warnings: Vec::new(),
            });
        }
        let path = file.map(Path::to_path_buf).unwrap_or_else(default_key_path);
        MasterKey::load_file(&path, data_dir)
    }

    /// Loads the key from `path` alone, created with a new random key if it does not exist yet;
    /// `FANGYI_MASTER_KEY` and the per-user default file are not consulted. The same checks as
    /// [`MasterKey::load`] apply: never inside `data_dir`, one name only.
    pub fn load_file(path: &Path, data_dir: &Path) -> Result<LoadedKey, VaultError> {
        let path = path.to_path_buf();
        refuse_inside(&path, data_dir)?;
        if path.exists() {
            let warnings = check_file(&path)?;
            return Ok(LoadedKey {
                key: MasterKey::read(&path)?,
                source: KeySource::File(path),
                warnings,
            });
        }
        let key = MasterKey::generate()?;
        key.write_new(&path)?;
        Ok(LoadedKey {
            key,
            source: KeySource::Created(path),
            warnings: Vec::new(),
        })
    }

    /// Reads a key file: 64 hex digits, in a regular file of at most [`MAX_KEY_FILE_BYTES`]
    /// (a pipe, a device or a folder named by `--key-file` is refused, not waited on or read
    /// without end).
    pub fn read(path: &Path) -> Result<MasterKey, VaultError> {
        let text = model::files::read_text(path, MAX_KEY_FILE_BYTES).map_err(|cause| {
            VaultError::KeyIo {
                path: path.display().to_string(),
                cause,
            }
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

/// The most a key file may hold: its 64 hex digits with room for surrounding whitespace.
pub const MAX_KEY_FILE_BYTES: u64 = 4 * model::files::KIB;

/// Where a command's master key comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyLocation {
    /// The operator's key: `FANGYI_MASTER_KEY`, else this file, else the per-user default file
    /// ([`default_key_path`]).
    Operator(Option<PathBuf>),
    /// A folder's own key, for data fangyi makes up itself (the demo, a benchmark's province):
    /// this file only, kept beside that data dir. The operator's key — the environment and
    /// the per-user file — is neither read nor created, so synthetic data never touches it.
    Own(PathBuf),
}

impl KeyLocation {
    /// Loads (or on first use creates) the key this location names, for `data_dir`.
    pub fn load(&self, data_dir: &Path) -> Result<LoadedKey, VaultError> {
        match self {
            KeyLocation::Operator(file) => MasterKey::load(file.as_deref(), data_dir),
            KeyLocation::Own(file) => MasterKey::load_file(file, data_dir),
        }
    }
}

/// Refuses a key file that is, or would be created, inside `data_dir`. A path that cannot be
/// resolved is refused too: the check fails closed.
fn refuse_inside(key: &Path, data_dir: &Path) -> Result<(), VaultError> {
    let resolve = |p: &Path| {
        canonical(p).map_err(|cause| VaultError::KeyIo {
            path: p.display().to_string(),
            cause,
        })
    };
    if resolve(key)?.starts_with(resolve(data_dir)?) {
        return Err(VaultError::KeyInDataDir {
            key: key.display().to_string(),
            data: data_dir.display().to_string(),
        });
    }
    Ok(())
}

/// `p` made absolute and resolved component by component: each part that exists is
/// canonicalised (so symbolic links are followed and `..` means the real parent), the parts
/// that do not exist yet are appended as written (`..` among them removing the one before).
fn canonical(p: &Path) -> std::io::Result<PathBuf> {
    use std::path::Component;
    let p = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()?.join(p)
    };
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Prefix(_) | Component::RootDir => out.push(c),
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(name) => {
                out.push(name);
                if std::fs::symlink_metadata(&out).is_ok() {
                    out = out.canonicalize()?;
                }
            }
        }
    }
    Ok(out)
}

/// Checks an existing key file: one name only (refused otherwise), readable by its owner
/// only (a warning otherwise).
#[cfg(unix)]
fn check_file(path: &Path) -> Result<Vec<String>, VaultError> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).map_err(|cause| VaultError::KeyIo {
        path: path.display().to_string(),
        cause,
    })?;
    // A folder's link count is not a hard link's: say what is wrong with it (a pipe or a
    // device is refused the same way by the read).
    if !meta.is_file() {
        return Err(VaultError::KeyIo {
            path: path.display().to_string(),
            cause: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file"),
        });
    }
    if meta.nlink() > 1 {
        return Err(VaultError::KeyLinked {
            path: path.display().to_string(),
            links: meta.nlink(),
        });
    }
    let mode = meta.mode() & 0o777;
    let mut warnings = Vec::new();
    if mode & 0o077 != 0 {
        warnings.push(format!(
            "the master key {} can be read by {} (mode {mode:04o}); run `chmod 600 {}`",
            path.display(),
            if mode & 0o007 != 0 {
                "every user of this machine"
            } else {
                "its group"
            },
            path.display()
        ));
    }
    Ok(warnings)
}

#[cfg(not(unix))]
fn check_file(_path: &Path) -> Result<Vec<String>, VaultError> {
    Ok(Vec::new())
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

    #[test]
    fn a_key_file_at_a_pipe_device_folder_or_oversized_file_is_refused_promptly() {
        let dir = tempfile::tempdir().unwrap();
        let read = |p: &Path| MasterKey::read(p).map(|_| ()).map_err(|e| e.to_string());
        model::files::testing::refuses_hostile_files(
            dir.path(),
            "master.key",
            MAX_KEY_FILE_BYTES,
            read,
        );
        // The same through `load_file`, the way `--key FILE` is read.
        let data = dir.path().join("data");
        let load = move |p: &Path| {
            MasterKey::load_file(p, &data)
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        let mut paths = vec![dir.path().join("folder")];
        #[cfg(unix)]
        paths.push(Path::new("/dev/zero").to_path_buf());
        let other = dir.path().join("other");
        std::fs::create_dir_all(&other).unwrap();
        if let Some(p) = model::files::testing::fifo(&other) {
            paths.push(p);
        }
        for p in paths {
            let err = model::files::testing::refusal(load.clone(), &p);
            assert!(
                err.contains(&p.display().to_string()) && err.contains("not a regular file"),
                "{err}"
            );
        }
    }

    /// Runs `f` unless the environment supplies the key (then `load` never reads a file).
    fn with_file_keys(f: impl FnOnce()) {
        if std::env::var_os("FANGYI_MASTER_KEY").is_none() {
            f();
        }
    }

    #[test]
    fn a_key_inside_the_data_dir_is_refused_before_it_is_created() {
        with_file_keys(|| {
            let dir = tempfile::tempdir().unwrap();
            let data = dir.path().join("data");
            // The data dir need not exist yet; `..` does not hide the key inside it.
            for key in [
                data.join("master.key"),
                data.join("sub/../master.key"),
                dir.path().join("elsewhere/../data/keys/master.key"),
            ] {
                let e = MasterKey::load(Some(&key), &data).unwrap_err();
                assert!(matches!(e, VaultError::KeyInDataDir { .. }), "{e}");
                assert!(!key.exists() && !data.exists(), "{} created", key.display());
            }
            // Nor does a symbolic link to the data dir.
            std::fs::create_dir_all(&data).unwrap();
            #[cfg(unix)]
            {
                let link = dir.path().join("link");
                std::os::unix::fs::symlink(&data, &link).unwrap();
                let e = MasterKey::load(Some(&link.join("master.key")), &data).unwrap_err();
                assert!(matches!(e, VaultError::KeyInDataDir { .. }), "{e}");
                let e = MasterKey::load(Some(&data.join("master.key")), &link).unwrap_err();
                assert!(matches!(e, VaultError::KeyInDataDir { .. }), "{e}");
            }
            assert!(std::fs::read_dir(&data).unwrap().next().is_none());
            // Beside it is fine, and created once.
            let key = dir.path().join("keys/master.key");
            let first = MasterKey::load(Some(&key), &data).unwrap();
            assert_eq!(first.source, KeySource::Created(key.clone()));
            let again = MasterKey::load(Some(&key), &data).unwrap();
            assert_eq!(again.source, KeySource::File(key));
            assert_eq!(again.key.bytes(), first.key.bytes());
            assert!(again.warnings.is_empty(), "{:?}", again.warnings);
        });
    }

    #[test]
    fn an_own_key_is_its_file_alone_beside_the_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let own = KeyLocation::Own(dir.path().join("demo.key"));
        // Whatever the environment says (FANGYI_MASTER_KEY, FANGYI_KEY_FILE, HOME), the file is
        // created where the location names, then read back from there.
        let first = own.load(&data).unwrap();
        assert_eq!(
            first.source,
            KeySource::Created(dir.path().join("demo.key"))
        );
        let again = own.load(&data).unwrap();
        assert_eq!(again.source, KeySource::File(dir.path().join("demo.key")));
        assert_eq!(again.key.bytes(), first.key.bytes());
        // Inside the data dir it is refused like any key file, before anything is created.
        let inside = KeyLocation::Own(data.join("demo.key"));
        let e = inside.load(&data).unwrap_err();
        assert!(matches!(e, VaultError::KeyInDataDir { .. }), "{e}");
        assert!(!data.exists());
    }

    #[cfg(unix)]
    #[test]
    fn hard_linked_keys_are_refused_and_open_ones_warned_about() {
        use std::os::unix::fs::PermissionsExt;
        with_file_keys(|| {
            let dir = tempfile::tempdir().unwrap();
            let data = dir.path().join("data");
            std::fs::create_dir_all(&data).unwrap();
            let key = dir.path().join("master.key");
            MasterKey::generate().unwrap().write_new(&key).unwrap();
            // A second name inside the data dir: the path outside it must not be trusted.
            std::fs::hard_link(&key, data.join("copy.key")).unwrap();
            let e = MasterKey::load(Some(&key), &data).unwrap_err();
            assert!(matches!(e, VaultError::KeyLinked { links: 2, .. }), "{e}");
            std::fs::remove_file(data.join("copy.key")).unwrap();
            assert!(MasterKey::load(Some(&key), &data).is_ok());

            for (mode, who) in [(0o644, "every user"), (0o640, "its group")] {
                std::fs::set_permissions(&key, std::fs::Permissions::from_mode(mode)).unwrap();
                let loaded = MasterKey::load(Some(&key), &data).unwrap();
                assert_eq!(loaded.warnings.len(), 1, "{mode:o}");
                assert!(loaded.warnings[0].contains(who), "{:?}", loaded.warnings);
                assert!(loaded.warnings[0].contains("chmod 600"));
            }
        });
    }
}
