//! The transport both payload kinds share: a context prefix (`FY1:` or `HC1:`), Base45 text
//! (the QR alphanumeric alphabet, so a QR code stores it compactly) of zlib-compressed COSE bytes.

use std::io::{Read, Write};

use crate::VerifyError;

/// Which kind of payload a prefix announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An `FY1:` fangyi health code.
    Fangyi,
    /// An `HC1:` EU Digital COVID Certificate.
    Dcc,
}

impl Kind {
    pub fn prefix(self) -> &'static str {
        match self {
            Kind::Fangyi => "FY1:",
            Kind::Dcc => "HC1:",
        }
    }

    /// The contract's name: `fangyi` or `dcc`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Fangyi => "fangyi",
            Kind::Dcc => "dcc",
        }
    }
}

/// Compressed payloads larger than this are refused (a QR code holds under 3 KB; this bounds
/// what a hostile payload can make us inflate).
const MAX_INFLATED: u64 = 64 * 1024;

/// Splits off the prefix: the kind and the Base45 text after it (surrounding whitespace ignored).
pub fn strip_prefix(payload: &str) -> Result<(Kind, &str), VerifyError> {
    let p = payload.trim();
    for kind in [Kind::Fangyi, Kind::Dcc] {
        if let Some(rest) = p.strip_prefix(kind.prefix()) {
            return Ok((kind, rest));
        }
    }
    Err(VerifyError::BadPrefix {
        found: p.chars().take(4).collect(),
    })
}

/// Base45 text to bytes.
pub fn base45_decode(text: &str) -> Result<Vec<u8>, VerifyError> {
    base45::decode(text).map_err(|e| VerifyError::Base45(e.to_string()))
}

/// zlib-inflates `compressed` (at most 64 KiB out); a truncated or corrupt stream fails.
pub fn inflate(compressed: &[u8]) -> Result<Vec<u8>, VerifyError> {
    let mut out = Vec::with_capacity(compressed.len() * 2);
    let mut d = flate2::read::ZlibDecoder::new(compressed).take(MAX_INFLATED + 1);
    d.read_to_end(&mut out)
        .map_err(|e| VerifyError::Zlib(e.to_string()))?;
    if out.len() as u64 > MAX_INFLATED {
        return Err(VerifyError::Zlib(format!(
            "inflates to more than {MAX_INFLATED} bytes"
        )));
    }
    Ok(out)
}

/// zlib-compresses `bytes` at the best level.
pub fn deflate(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(bytes).expect("writing to memory");
    e.finish().expect("writing to memory")
}

/// The whole transport decoding: prefix, Base45, zlib; the kind and the COSE bytes.
pub fn decode(payload: &str) -> Result<(Kind, Vec<u8>), VerifyError> {
    let (kind, text) = strip_prefix(payload)?;
    let compressed = base45_decode(text)?;
    Ok((kind, inflate(&compressed)?))
}

/// The whole transport encoding of COSE bytes.
pub fn encode(kind: Kind, cose: &[u8]) -> String {
    let mut s = String::from(kind.prefix());
    s.push_str(&base45::encode(deflate(cose)));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_failures() {
        let bytes: Vec<u8> = (0..200u8).collect();
        let p = encode(Kind::Fangyi, &bytes);
        assert!(p.starts_with("FY1:"));
        assert_eq!(decode(&p).unwrap(), (Kind::Fangyi, bytes.clone()));
        assert!(matches!(
            decode(&p.replacen("FY1:", "FY2:", 1)),
            Err(VerifyError::BadPrefix { .. })
        ));
        assert!(matches!(
            decode(&format!("{}~", &p)),
            Err(VerifyError::Base45(_))
        ));
        // Truncating whole base45 triples keeps valid base45 but cuts the zlib stream.
        let cut = &p[..4 + (p.len() - 4) / 3 / 2 * 3];
        assert!(matches!(decode(cut), Err(VerifyError::Zlib(_))));
    }
}
