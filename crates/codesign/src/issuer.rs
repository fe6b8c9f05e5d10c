//! The issuer's public side in the data dir: `keys/issuer.json` (region and every key
//! generation: kid, public key, created, retired) and `keys/trust.json` (the trust list this
//! data dir verifies with: its own keys plus those imported from other provinces). Private
//! keys are never stored: generation n's key is derived from the master key when needed.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::trust::{self, TrustEntry};
use crate::{CodesignError, IssuerKey, MAX_TTL_SECS, b64, rfc3339};

/// One key generation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generation {
    pub generation: u32,
    /// Base64 of the 8-byte key id.
    pub kid: String,
    /// Base64 of the raw 32-byte Ed25519 public key.
    pub public_key: String,
    pub created: String,
    /// When a newer generation replaced it; codes it signed stay valid until they expire.
    #[serde(default)]
    pub retired_at: Option<String>,
}

/// `keys/issuer.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Issuer {
    /// The 6-digit region code this issuer signs for (the codes' `iss`).
    pub region: String,
    pub generations: Vec<Generation>,
}

fn secs(t: &str) -> Option<i64> {
    model::Timestamp::parse_rfc3339(t.as_bytes())
        .ok()
        .map(|t| t.millis().div_euclid(1000))
}

impl Issuer {
    pub fn path(data: &Path) -> PathBuf {
        data.join("keys").join("issuer.json")
    }

    pub fn trust_path(data: &Path) -> PathBuf {
        data.join("keys").join("trust.json")
    }

    /// The issuer of a data dir, or `None` before `keys init`.
    pub fn load(data: &Path) -> Result<Option<Issuer>, CodesignError> {
        let path = Issuer::path(data);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| CodesignError::format(&path, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(CodesignError::io(&path, e)),
        }
    }

    pub fn save(&self, data: &Path) -> Result<(), CodesignError> {
        let mut text = serde_json::to_string_pretty(self).expect("serialisable");
        text.push('\n');
        write_atomic(&Issuer::path(data), text.as_bytes())
    }

    /// A new issuer for `region` with generation 1's key.
    pub fn new(region: &str, key: &IssuerKey, now: i64) -> Issuer {
        Issuer {
            region: region.to_string(),
            generations: vec![Generation {
                generation: 1,
                kid: b64(&key.kid()),
                public_key: b64(&key.public_key()),
                created: rfc3339(now),
                retired_at: None,
            }],
        }
    }

    /// The generation that signs new codes (the newest).
    pub fn current(&self) -> &Generation {
        self.generations.last().expect("an issuer has a generation")
    }

    /// Checks that `key` (derived from the master key for the current generation) is the
    /// one recorded, so a data dir opened with another master key fails loudly.
    pub fn check_key(&self, key: &IssuerKey) -> Result<(), CodesignError> {
        if self.current().public_key != b64(&key.public_key()) {
            return Err(CodesignError::Invalid(format!(
                "the master key does not derive this data dir's issuer key (kid {}); use the key the data dir was made with",
                self.current().kid
            )));
        }
        Ok(())
    }

    /// Retires the current generation at `now` and makes `next` (generation n+1) the signer.
    pub fn rotate(&mut self, next: &IssuerKey, now: i64) {
        let generation = self.current().generation + 1;
        if let Some(cur) = self.generations.last_mut() {
            cur.retired_at = Some(rfc3339(now));
        }
        self.generations.push(Generation {
            generation,
            kid: b64(&next.kid()),
            public_key: b64(&next.public_key()),
            created: rfc3339(now),
            retired_at: None,
        });
    }

    /// Trust entries for every generation; a retired one has `not_after` = retirement + the
    /// longest code TTL, so every code it signed verifies until it expires.
    pub fn trust_entries(&self) -> Vec<TrustEntry> {
        self.generations
            .iter()
            .map(|g| TrustEntry {
                kid: Some(g.kid.clone()),
                public_key: Some(g.public_key.clone()),
                region: Some(self.region.clone()),
                issuer: Some(format!("fangyi {}", self.region)),
                not_after: g
                    .retired_at
                    .as_deref()
                    .and_then(secs)
                    .map(|t| rfc3339(t + MAX_TTL_SECS)),
                ..Default::default()
            })
            .collect()
    }

    /// Writes this issuer's entries into the data dir's trust list, keeping imported ones.
    pub fn sync_trust(&self, data: &Path) -> Result<Vec<TrustEntry>, CodesignError> {
        let path = Issuer::trust_path(data);
        let mut entries = read_trust(data)?;
        trust::merge(&mut entries, &self.trust_entries());
        trust::write_entries(&path, &entries)?;
        Ok(entries)
    }
}

/// The data dir's trust list (empty when there is none yet).
pub fn read_trust(data: &Path) -> Result<Vec<TrustEntry>, CodesignError> {
    let path = Issuer::trust_path(data);
    if !path.exists() {
        return Ok(Vec::new());
    }
    trust::read_entries(&path)
}

/// Writes `bytes` to `path` through a temporary file and a rename, creating the folder.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CodesignError> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    if let Some(d) = dir {
        std::fs::create_dir_all(d).map_err(|e| CodesignError::io(d, e))?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        CodesignError::io(path, e)
    })
}
