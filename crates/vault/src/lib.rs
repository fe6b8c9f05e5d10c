//! Keys and privacy primitives of the store: the master key (always outside the data dir), the
//! keyed pseudonym of person ids, and sealing of personal fields into the vault.
//!
//! Invariant: the only crate that touches key material. Everything written to a data dir is
//! either non-identifying, a pseudonym, or sealed here.

mod key;
mod pseudonym;
mod seal;
mod text;

pub use key::{KeyLocation, KeySource, LoadedKey, MasterKey, default_key_path};
use model::PersonId;
pub use pseudonym::Pseudonymizer;
pub use seal::{FileSealer, Opener, SALT_LEN};
pub use text::TextSealer;

/// Everything that can go wrong with keys and sealed data.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("reading the master key from {path}: {cause}")]
    KeyIo { path: String, cause: std::io::Error },
    #[error("the master key in {origin} is not 64 hex digits")]
    KeyFormat { origin: String },
    #[error(
        "the master key {key} is inside the data dir {data}; keep it elsewhere so a copy of the \
         data leaks nothing"
    )]
    KeyInDataDir { key: String, data: String },
    #[error(
        "the master key {path} has {links} hard links; another name could put it inside a data \
         dir unseen, so use a file with one name (copy it, then remove the links)"
    )]
    KeyLinked { path: String, links: u64 },
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
    issuer_key: [u8; 32],
    subject_key: [u8; 32],
    audit_key: [u8; 32],
    text_key: [u8; 32],
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
            issuer_key: blake3::derive_key("fangyi 2020 code issuer v1", bytes),
            subject_key: blake3::derive_key("fangyi 2020 code subject v1", bytes),
            audit_key: blake3::derive_key("fangyi 2020 audit chain v1", bytes),
            text_key: blake3::derive_key("fangyi 2020 operational texts v1", bytes),
        }
    }

    /// The Ed25519 seed of health-code issuer key generation `generation`: derived, never
    /// stored, so rotating keys needs no key store and a copy of the data dir signs nothing.
    pub fn issuer_seed(&self, generation: u32) -> [u8; 32] {
        let mut h = blake3::Hasher::new_keyed(&self.issuer_key);
        h.update(b"generation");
        h.update(&generation.to_le_bytes());
        *h.finalize().as_bytes()
    }

    /// The person's pseudonym inside signed health codes: a keyed BLAKE3 hash of the id under
    /// its own derived key, so a QR code's subject cannot be linked to the store's pseudonyms
    /// (nor, without the key, to the person).
    pub fn code_subject(&self, id: PersonId) -> [u8; 16] {
        let mut h = blake3::Hasher::new_keyed(&self.subject_key);
        h.update(id.to_string().as_bytes());
        h.finalize().as_bytes()[..16].try_into().expect("16 bytes")
    }

    /// The key of the audit log's hash chain: whoever lacks it cannot re-chain an edited log.
    pub fn audit_key(&self) -> [u8; 32] {
        self.audit_key
    }

    /// The sealer of operational texts (a correction's reason and outcome): the operational
    /// database stores only what it seals.
    pub fn text_sealer(&self) -> TextSealer {
        TextSealer::new(&self.text_key)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_keys_are_derived_separately_and_deterministically() {
        let a = Keys::derive(&MasterKey::from_bytes([1; 32]));
        let b = Keys::derive(&MasterKey::from_bytes([2; 32]));
        assert_eq!(a.issuer_seed(1), a.clone().issuer_seed(1));
        assert_ne!(a.issuer_seed(1), a.issuer_seed(2));
        assert_ne!(a.issuer_seed(1), b.issuer_seed(1));
        let id: PersonId = "11010519491231002X".parse().unwrap();
        let other = PersonId::from_parts(420106, model::Date(7000), 101).unwrap();
        assert_eq!(a.code_subject(id), a.code_subject(id));
        assert_ne!(a.code_subject(id), a.code_subject(other));
        assert_ne!(a.code_subject(id), b.code_subject(id));
        // Not the store's pseudonym in another form.
        let p = a.pseudonyms.pseudonym(id).to_le_bytes();
        assert!(!a.code_subject(id).windows(8).any(|w| w == p));
    }
}
