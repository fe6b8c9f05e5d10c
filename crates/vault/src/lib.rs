//! Keys and privacy primitives of the store: the master key (always outside the data dir), the
//! keyed pseudonym of person ids, and sealing of personal fields into the vault.
//!
//! Invariant: the only crate that touches key material. Everything written to a data dir is
//! either non-identifying, a pseudonym, or sealed here.

mod key;
mod pseudonym;
mod seal;

pub use key::{KeySource, MasterKey};
pub use pseudonym::Pseudonymizer;
pub use seal::{FileSealer, Opener, SALT_LEN};

/// Everything that can go wrong with keys and sealed data.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("reading the master key from {path}: {cause}")]
    KeyIo { path: String, cause: std::io::Error },
    #[error("the master key in {origin} is not 64 hex digits")]
    KeyFormat { origin: String },
    #[error("no random numbers from the operating system: {0}")]
    Random(String),
    #[error("a sealed record failed authentication (wrong key, or the data was altered)")]
    Tampered,
    #[error("a sealed record is malformed: {0}")]
    Malformed(&'static str),
}

/// The keys a data dir is written and read with, derived once from the master key.
#[derive(Clone)]
pub struct Keys {
    pub pseudonyms: Pseudonymizer,
    vault_key: [u8; 32],
    key_id: String,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keys {{ key_id: {} }}", self.key_id)
    }
}

impl Keys {
    pub fn derive(master: &MasterKey) -> Keys {
        let bytes = master.bytes();
        Keys {
            pseudonyms: Pseudonymizer::new(&blake3::derive_key(
                "fangyi 2020 person pseudonym v1",
                bytes,
            )),
            vault_key: blake3::derive_key("fangyi 2020 vault v1", bytes),
            key_id: blake3::derive_key("fangyi 2020 key id v1", bytes)[..8]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
        }
    }

    /// A public fingerprint of the master key, stored in the data dir so that opening it with
    /// another key fails loudly instead of producing other pseudonyms.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// A sealer with a fresh random salt, for one output file.
    pub fn sealer(&self) -> Result<FileSealer, VaultError> {
        FileSealer::new(&self.vault_key)
    }

    /// Opens records sealed with `salt`.
    pub fn opener(&self, salt: &[u8; SALT_LEN]) -> Opener {
        Opener::new(&self.vault_key, salt)
    }
}
