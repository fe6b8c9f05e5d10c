//! Sealing operational texts — a resident's reason for a correction, a decision's outcome — so
//! the operational database holds them only as ciphertext. ChaCha20-Poly1305 under a key
//! derived for this use alone, a random nonce per text (stored in front of it), and the text's
//! context (what it is, whose it is) as associated data, so a sealed text cannot be moved to
//! another field or person.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

use crate::VaultError;

/// The format's first byte.
const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;

/// Seals and opens operational texts.
#[derive(Clone)]
pub struct TextSealer {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for TextSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TextSealer(…)")
    }
}

fn aad(context: &str, person: i64) -> Vec<u8> {
    let mut a = Vec::with_capacity(context.len() + 9);
    a.push(context.len().min(255) as u8);
    a.extend_from_slice(context.as_bytes());
    a.extend_from_slice(&person.to_le_bytes());
    a
}

impl TextSealer {
    pub(crate) fn new(key: &[u8; 32]) -> TextSealer {
        TextSealer {
            cipher: ChaCha20Poly1305::new(&Key::from(*key)),
        }
    }

    /// `text` sealed for `context` (say `correction reason`) and `person` (a store pseudonym):
    /// version, random nonce, ciphertext with its tag.
    pub fn seal(&self, context: &str, person: i64, text: &str) -> Result<Vec<u8>, VaultError> {
        let mut nonce = [0u8; NONCE_LEN];
        // Random 96-bit nonces: collisions are negligible for the few texts a deployment keeps.
        getrandom::fill(&mut nonce).map_err(|e| VaultError::Random(e.to_string()))?;
        let aad = aad(context, person);
        let sealed = self
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: text.as_bytes(),
                    aad: &aad,
                },
            )
            .expect("ChaCha20-Poly1305 encryption of an in-memory buffer cannot fail");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// The text sealed by [`TextSealer::seal`] with the same context and person.
    pub fn open(&self, context: &str, person: i64, sealed: &[u8]) -> Result<String, VaultError> {
        let Some((&VERSION, rest)) = sealed.split_first() else {
            return Err(VaultError::Malformed("unknown sealed text version"));
        };
        if rest.len() < NONCE_LEN + 16 {
            return Err(VaultError::Malformed("sealed text too short"));
        }
        let (nonce, body) = rest.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().expect("nonce length");
        let aad = aad(context, person);
        let plain = self
            .cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: body,
                    aad: &aad,
                },
            )
            .map_err(|_| VaultError::Tampered)?;
        String::from_utf8(plain).map_err(|_| VaultError::Malformed("sealed text is not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use crate::{Keys, MasterKey};

    #[test]
    fn a_text_opens_only_for_its_context_and_person_and_key() {
        let k = Keys::derive(&MasterKey::from_bytes([3; 32]));
        let s = k.text_sealer();
        let sealed = s
            .seal("correction reason", 7, "I was not on that train")
            .unwrap();
        assert!(!sealed.windows(5).any(|w| w == b"train"), "no clear text");
        assert_eq!(
            s.open("correction reason", 7, &sealed).unwrap(),
            "I was not on that train"
        );
        // Two seals of one text differ (fresh nonces).
        assert_ne!(
            sealed,
            s.seal("correction reason", 7, "I was not on that train")
                .unwrap()
        );
        assert!(s.open("correction reason", 8, &sealed).is_err());
        assert!(s.open("correction outcome", 7, &sealed).is_err());
        let other = Keys::derive(&MasterKey::from_bytes([4; 32])).text_sealer();
        assert!(other.open("correction reason", 7, &sealed).is_err());
        let mut bad = sealed.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(s.open("correction reason", 7, &bad).is_err());
        assert!(s.open("correction reason", 7, &[]).is_err());
        assert!(s.open("correction reason", 7, &[1, 2, 3]).is_err());
        // The empty text round-trips too.
        let e = s.seal("c", 1, "").unwrap();
        assert_eq!(s.open("c", 1, &e).unwrap(), "");
    }
}
