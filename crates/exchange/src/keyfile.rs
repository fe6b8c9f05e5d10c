//! The trust anchor's key files. The secret key is a small JSON file (`{"kind":
//! "fangyi-trust-anchor", "secret_key", "public_key"}`, base64) made once by `fangyi hub
//! anchor-keygen`, readable by its owner only, and kept offline — outside every data dir and
//! hub folder, like an issuer's master key: whoever holds it decides which keys every province
//! trusts. Its public key (base64 of 32 bytes, in `FILE.pub` and printed) is what deployments
//! are configured with (`--anchor`).

use std::io::Write;
use std::path::{Path, PathBuf};

use codesign::anchor::{AnchorKey, AnchorPublic};
use serde::{Deserialize, Serialize};

use crate::ExchangeError;

/// The most a key file may hold.
const MAX_KEY_BYTES: u64 = 4 * model::files::KIB;

const KIND: &str = "fangyi-trust-anchor";

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretFile {
    kind: String,
    secret_key: String,
    public_key: String,
}

/// The public key file written beside a secret key file: `FILE.pub`.
pub fn public_path(secret: &Path) -> PathBuf {
    let mut name = secret.as_os_str().to_owned();
    name.push(".pub");
    PathBuf::from(name)
}

/// A folder at or above `path` that is a fangyi data dir or hub folder, if any: an anchor key
/// there would travel with every copy of it.
fn inside_managed_folder(path: &Path) -> Option<PathBuf> {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty())?;
    let start = std::fs::canonicalize(parent).ok()?;
    start
        .ancestors()
        .find(|d| {
            d.join("manifest.json").is_file()
                || d.join("keys").join("issuer.json").is_file()
                || d.join(crate::hub::HUB_FILE).is_file()
        })
        .map(Path::to_path_buf)
}

/// Makes a new anchor key: the secret file at `path` (created, never overwritten, mode 0600)
/// and its public key at `FILE.pub`. Returns the public key.
pub fn generate(path: &Path) -> Result<AnchorPublic, ExchangeError> {
    if let Some(dir) = inside_managed_folder(path) {
        return Err(ExchangeError::Bad(format!(
            "{}: inside {}, a fangyi data dir or hub folder; keep the trust anchor's key outside them (offline)",
            path.display(),
            dir.display()
        )));
    }
    let (key, seed) = AnchorKey::generate();
    let public = key.public();
    let file = SecretFile {
        kind: KIND.into(),
        secret_key: codesign::b64(&seed),
        public_key: public.to_b64(),
    };
    let mut text = serde_json::to_string_pretty(&file).expect("serialisable");
    text.push('\n');
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            ExchangeError::Bad(format!(
                "{}: already exists; an anchor key is made once (remove it yourself to replace it, and every deployment's --anchor with it)",
                path.display()
            ))
        } else {
            ExchangeError::io(path, e)
        }
    })?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| ExchangeError::io(path, e))?;
    let pub_path = public_path(path);
    crate::write_atomic(&pub_path, format!("{}\n", public.to_b64()).as_bytes())?;
    Ok(public)
}

/// Reads the secret key at `path`; the second value is a warning when others may read it.
pub fn read_secret(path: &Path) -> Result<(AnchorKey, Option<String>), ExchangeError> {
    let text =
        model::files::read_text(path, MAX_KEY_BYTES).map_err(|e| ExchangeError::io(path, e))?;
    let bad = |why: &str| ExchangeError::Bad(format!("{}: {why}", path.display()));
    let file: SecretFile = serde_json::from_str(&text)
        .map_err(|_| bad("not a trust anchor key file (fangyi hub anchor-keygen makes one)"))?;
    if file.kind != KIND {
        return Err(bad("not a trust anchor key file"));
    }
    let seed = codesign::unb64(&file.secret_key)
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| bad("secret_key is not 32 bytes of base64"))?;
    let key = AnchorKey::from_seed(&seed);
    if key.public().to_b64() != file.public_key {
        return Err(bad(
            "the public key does not match the secret key: the file was altered",
        ));
    }
    let mut warning = None;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            warning = Some(format!(
                "{}: others may read the trust anchor's secret key (chmod 600 it)",
                path.display()
            ));
        }
    }
    Ok((key, warning))
}

/// An anchor public key given on the command line: its base64 text, or a file holding it
/// (`FILE.pub`).
pub fn read_public(arg: &str) -> Result<AnchorPublic, ExchangeError> {
    if let Ok(k) = AnchorPublic::parse(arg) {
        return Ok(k);
    }
    let path = Path::new(arg);
    let text = model::files::read_text(path, MAX_KEY_BYTES).map_err(|e| {
        ExchangeError::Bad(format!(
            "--anchor {arg}: neither a public key (base64 of 32 bytes) nor a readable file holding one ({e})"
        ))
    })?;
    AnchorPublic::parse(&text).map_err(|e| ExchangeError::Bad(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_reads_back_private_to_its_owner() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("anchor.key");
        let public = generate(&path).unwrap();
        let (key, warning) = read_secret(&path).unwrap();
        assert_eq!(key.public(), public);
        assert_eq!(warning, None);
        assert_eq!(
            read_public(public_path(&path).to_str().unwrap()).unwrap(),
            public
        );
        assert_eq!(read_public(&public.to_b64()).unwrap(), public);
        // Never overwritten.
        assert!(
            generate(&path)
                .unwrap_err()
                .to_string()
                .contains("already exists")
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_readable_key_warns_and_an_altered_one_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("anchor.key");
        generate(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(read_secret(&path).unwrap().1.is_some());
        let text = std::fs::read_to_string(&path).unwrap();
        let other = AnchorKey::from_seed(&[3; 32]).public().to_b64();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let altered = text.replace(v["public_key"].as_str().unwrap(), &other);
        std::fs::write(&path, altered).unwrap();
        assert!(read_secret(&path).is_err());
    }

    #[test]
    fn a_key_inside_a_data_dir_or_hub_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("data/keys")).unwrap();
        std::fs::write(dir.path().join("data/manifest.json"), "{}").unwrap();
        let e = generate(&dir.path().join("data/keys/anchor.key")).unwrap_err();
        assert!(e.to_string().contains("outside"), "{e}");
        crate::Hub::open(&dir.path().join("hub")).unwrap();
        assert!(generate(&dir.path().join("hub/anchor.key")).is_err());
    }

    #[test]
    fn hostile_key_files_are_refused_promptly() {
        let dir = tempfile::tempdir().unwrap();
        model::files::testing::refuses_hostile_files(
            dir.path(),
            "anchor.key",
            MAX_KEY_BYTES,
            |p| read_secret(p).map(|_| ()).map_err(|e| e.to_string()),
        );
        assert!(read_public("/dev/zero").is_err());
        assert!(read_public("no such file").is_err());
    }
}
