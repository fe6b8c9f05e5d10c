//! Sealing a row's personal fields (names, phones, addresses, plates, notes) with
//! ChaCha20-Poly1305, bound to the row and the person so a sealed cell cannot be moved.
//!
//! Each output file gets a random salt; its cipher key is derived from the vault key and that
//! salt, and the row id is the nonce. Row ids are unique within a file, so no nonce is ever
//! reused under one key, and the salt costs 16 bytes per file rather than a nonce per row.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

use crate::VaultError;

pub const SALT_LEN: usize = 16;

fn cipher(vault_key: &[u8; 32], salt: &[u8; SALT_LEN]) -> ChaCha20Poly1305 {
    let k = blake3::keyed_hash(vault_key, salt);
    ChaCha20Poly1305::new(&Key::from(*k.as_bytes()))
}

fn nonce(rid: i64) -> Nonce {
    let mut n = [0u8; 12];
    n[..8].copy_from_slice(&rid.to_le_bytes());
    Nonce::from(n)
}

fn aad(context: &str, pseudonym: i64, rid: i64) -> Vec<u8> {
    let mut a = Vec::with_capacity(context.len() + 16);
    a.extend_from_slice(context.as_bytes());
    a.extend_from_slice(&pseudonym.to_le_bytes());
    a.extend_from_slice(&rid.to_le_bytes());
    a
}

/// Seals the personal fields of rows going into one output file.
pub struct FileSealer {
    salt: [u8; SALT_LEN],
    cipher: ChaCha20Poly1305,
    buf: Vec<u8>,
}

impl std::fmt::Debug for FileSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FileSealer(…)")
    }
}

impl FileSealer {
    pub(crate) fn new(vault_key: &[u8; 32]) -> Result<FileSealer, VaultError> {
        let mut salt = [0u8; SALT_LEN];
        getrandom::fill(&mut salt).map_err(|e| VaultError::Random(e.to_string()))?;
        Ok(FileSealer {
            salt,
            cipher: cipher(vault_key, &salt),
            buf: Vec::new(),
        })
    }

    pub fn salt(&self) -> [u8; SALT_LEN] {
        self.salt
    }

    /// Seals `fields` (absent ones as `None`) of row `rid` of a `context` kind for `pseudonym`.
    /// `rid` must be unique among the rows sealed by this sealer.
    pub fn seal(
        &mut self,
        context: &str,
        pseudonym: i64,
        rid: i64,
        fields: &[Option<&str>],
    ) -> Vec<u8> {
        self.buf.clear();
        for f in fields {
            match f {
                None => self.buf.push(0),
                Some(s) => {
                    self.buf.push(1);
                    self.buf.extend_from_slice(&(s.len() as u32).to_le_bytes());
                    self.buf.extend_from_slice(s.as_bytes());
                }
            }
        }
        let aad = aad(context, pseudonym, rid);
        self.cipher
            .encrypt(
                &nonce(rid),
                Payload {
                    msg: &self.buf,
                    aad: &aad,
                },
            )
            .expect("ChaCha20-Poly1305 encryption of an in-memory buffer cannot fail")
    }
}

/// Opens rows sealed by one [`FileSealer`].
pub struct Opener {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for Opener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Opener(…)")
    }
}

impl Opener {
    pub(crate) fn new(vault_key: &[u8; 32], salt: &[u8; SALT_LEN]) -> Opener {
        Opener {
            cipher: cipher(vault_key, salt),
        }
    }

    pub fn open(
        &self,
        context: &str,
        pseudonym: i64,
        rid: i64,
        sealed: &[u8],
    ) -> Result<Vec<Option<String>>, VaultError> {
        let aad = aad(context, pseudonym, rid);
        let plain = self
            .cipher
            .decrypt(
                &nonce(rid),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .map_err(|_| VaultError::Tampered)?;
        let mut out = Vec::new();
        let mut rest = &plain[..];
        while let Some((&tag, tail)) = rest.split_first() {
            rest = tail;
            match tag {
                0 => out.push(None),
                1 => {
                    if rest.len() < 4 {
                        return Err(VaultError::Malformed("truncated length"));
                    }
                    let n = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
                    rest = &rest[4..];
                    if rest.len() < n {
                        return Err(VaultError::Malformed("truncated field"));
                    }
                    let s = std::str::from_utf8(&rest[..n])
                        .map_err(|_| VaultError::Malformed("not UTF-8"))?;
                    out.push(Some(s.to_string()));
                    rest = &rest[n..];
                }
                _ => return Err(VaultError::Malformed("unknown field tag")),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use crate::{Keys, MasterKey};

    #[test]
    fn sealed_fields_open_only_in_their_place() {
        let keys = Keys::derive(&MasterKey::from_bytes([1; 32]));
        let mut s = keys.sealer().unwrap();
        let sealed = s.seal(
            "persons",
            77,
            5,
            &[Some("张三"), None, Some("温州市鹿城区")],
        );
        assert!(!String::from_utf8_lossy(&sealed).contains("张三"));
        let o = keys.opener(&s.salt());
        assert_eq!(
            o.open("persons", 77, 5, &sealed).unwrap(),
            vec![
                Some("张三".to_string()),
                None,
                Some("温州市鹿城区".to_string())
            ]
        );
        // Moved to another person, row or kind, or altered: refused.
        assert!(o.open("persons", 78, 5, &sealed).is_err());
        assert!(o.open("persons", 77, 6, &sealed).is_err());
        assert!(o.open("registrations", 77, 5, &sealed).is_err());
        let mut bent = sealed.clone();
        bent[0] ^= 1;
        assert!(o.open("persons", 77, 5, &bent).is_err());
        // Another master key cannot open it.
        let other = Keys::derive(&MasterKey::from_bytes([2; 32]));
        assert!(
            other
                .opener(&s.salt())
                .open("persons", 77, 5, &sealed)
                .is_err()
        );
    }

    /// The sealed bytes of a row under a known key, salt and row id, written down once: stores
    /// sealed by earlier builds (and earlier versions of the cipher crate) must keep opening.
    #[test]
    fn the_sealed_format_does_not_change() {
        let mut s = super::FileSealer {
            salt: [3; super::SALT_LEN],
            cipher: super::cipher(&[9; 32], &[3; super::SALT_LEN]),
            buf: Vec::new(),
        };
        let sealed = s.seal("persons", 42, 7, &[Some("张三"), None, Some("13800000000")]);
        let hex: String = sealed.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "9ce7c3cbe5da6db03a89e06950db5244386f9392f6a8449c756d151c251bc09af309c8ae87ab9cf0f0a8fda5"
        );
        let o = super::Opener::new(&[9; 32], &[3; super::SALT_LEN]);
        assert_eq!(
            o.open("persons", 42, 7, &sealed).unwrap(),
            vec![
                Some("张三".to_string()),
                None,
                Some("13800000000".to_string())
            ]
        );
    }

    #[test]
    fn each_sealer_has_its_own_salt() {
        let keys = Keys::derive(&MasterKey::from_bytes([1; 32]));
        let (mut a, mut b) = (keys.sealer().unwrap(), keys.sealer().unwrap());
        assert_ne!(a.salt(), b.salt());
        assert_ne!(
            a.seal("persons", 1, 1, &[Some("x")]),
            b.seal("persons", 1, 1, &[Some("x")])
        );
    }
}
