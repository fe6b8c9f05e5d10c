//! The transport both payload kinds share: a context prefix (`FY1:` or `HC1:`), Base45 text
//! (the QR alphanumeric alphabet, so a QR code stores it compactly) of zlib-compressed COSE bytes.
//!
//! Decoding is strict, so one code has one text: Base45 groups out of range (RFC 9285) and
//! anything after the zlib stream's checksum are refused. What stays open is what the formats
//! allow: ASCII whitespace around the text (QR readers and files add line ends), and the choice
//! of deflate encoding — any zlib stream that inflates to the same COSE bytes carries the same
//! code.

use std::io::Write;

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

/// Splits off the prefix: the kind and the Base45 text after it (ASCII whitespace around the
/// payload ignored; a Base45 text never ends in its space character).
pub fn strip_prefix(payload: &str) -> Result<(Kind, &str), VerifyError> {
    let p = payload.trim_ascii();
    for kind in [Kind::Fangyi, Kind::Dcc] {
        if let Some(rest) = p.strip_prefix(kind.prefix()) {
            return Ok((kind, rest));
        }
    }
    Err(VerifyError::BadPrefix {
        found: p.chars().take(4).collect(),
    })
}

/// The Base45 alphabet (RFC 9285), by value.
const BASE45: &[u8; 45] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

/// Base45 text to bytes, strictly (RFC 9285 §4.2): every character from the alphabet, groups of
/// three worth at most 65535, a final pair worth at most 255, no single character left over.
/// So each byte string has exactly one Base45 text.
pub fn base45_decode(text: &str) -> Result<Vec<u8>, VerifyError> {
    let bad = |m: String| VerifyError::Base45(m);
    let mut digits = Vec::with_capacity(text.len());
    for (i, c) in text.bytes().enumerate() {
        match BASE45.iter().position(|&a| a == c) {
            Some(d) => digits.push(d as u32),
            None => {
                return Err(bad(format!(
                    "character {} is not in the Base45 alphabet (digits, capital letters and space $ % * + - . / :)",
                    i + 1
                )));
            }
        }
    }
    if digits.len() % 3 == 1 {
        return Err(bad(
            "its length leaves a single character over, which encodes nothing".into(),
        ));
    }
    let mut out = Vec::with_capacity(digits.len() / 3 * 2 + 1);
    for (g, group) in digits.chunks(3).enumerate() {
        let value = group.iter().rev().fold(0u32, |acc, &d| acc * 45 + d);
        let (max, bytes) = if group.len() == 3 {
            (0xffff, &value.to_be_bytes()[2..])
        } else {
            (0xff, &value.to_be_bytes()[3..])
        };
        if value > max {
            return Err(bad(format!(
                "the group of characters {} to {} is worth more than {} bytes can hold",
                3 * g + 1,
                3 * g + group.len(),
                group.len() - 1
            )));
        }
        out.extend_from_slice(bytes);
    }
    Ok(out)
}

/// Base45 text of bytes.
pub fn base45_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() / 2 * 3 + 2);
    for pair in bytes.chunks(2) {
        let (mut value, n) = match pair {
            [a, b] => ((*a as u32) << 8 | *b as u32, 3),
            [a] => (*a as u32, 2),
            _ => unreachable!("chunks of one or two"),
        };
        for _ in 0..n {
            out.push(BASE45[(value % 45) as usize] as char);
            value /= 45;
        }
    }
    out
}

/// zlib-inflates `compressed` (at most 64 KiB out). The input must be exactly one zlib stream:
/// a corrupt or truncated stream fails, and so does anything after its checksum.
pub fn inflate(compressed: &[u8]) -> Result<Vec<u8>, VerifyError> {
    let bad = |m: &str| VerifyError::Zlib(m.to_string());
    let too_big = || {
        VerifyError::Zlib(format!(
            "it inflates to more than {} KiB, more than any code holds",
            MAX_INFLATED / 1024
        ))
    };
    // FDICT in the header's second byte (RFC 1950): the stream needs a dictionary first.
    if compressed.get(1).is_some_and(|flg| flg & 0x20 != 0) {
        return Err(bad(
            "the zlib stream needs a preset dictionary, which no code uses",
        ));
    }
    // One byte more than the limit, to tell a stream of exactly the limit from a longer one.
    let limit = MAX_INFLATED as usize + 1;
    let mut d = flate2::Decompress::new(true);
    let mut out: Vec<u8> = Vec::with_capacity((compressed.len() * 3).min(limit));
    loop {
        if out.len() == out.capacity() {
            if out.len() >= limit {
                return Err(too_big());
            }
            out.reserve_exact(out.len().max(256).min(limit - out.len()));
        }
        let (read, written) = (d.total_in(), d.total_out());
        let rest = &compressed[read as usize..];
        let status = d
            .decompress_vec(rest, &mut out, flate2::FlushDecompress::None)
            .map_err(|_| bad("the zlib stream is corrupt"))?;
        match status {
            flate2::Status::StreamEnd => break,
            _ if d.total_in() == read && d.total_out() == written && out.len() < out.capacity() => {
                return Err(bad(
                    "the zlib stream is truncated: it ends before its checksum",
                ));
            }
            _ => {}
        }
    }
    if out.len() as u64 > MAX_INFLATED {
        return Err(too_big());
    }
    let extra = compressed.len() as u64 - d.total_in();
    if extra > 0 {
        return Err(VerifyError::Zlib(format!(
            "{extra} {} the end of the zlib stream",
            if extra == 1 {
                "byte follows"
            } else {
                "bytes follow"
            }
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
    s.push_str(&base45_encode(&deflate(cose)));
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

    #[test]
    fn base45_has_one_text_per_byte_string() {
        // The same coder as an independent implementation on what both accept...
        let mut bytes = Vec::new();
        for n in 0..300u32 {
            bytes.push((n.wrapping_mul(2_654_435_761) >> 13) as u8);
            let text = base45_encode(&bytes);
            assert_eq!(text, base45::encode(&bytes));
            assert_eq!(base45_decode(&text).unwrap(), bytes);
        }
        assert_eq!(base45_decode("").unwrap(), Vec::<u8>::new());
        assert_eq!(base45_encode(b"AB"), "BB8");
        assert_eq!(base45_decode("%69 VD92EX0").unwrap(), b"Hello!!");
        // ...but a final pair worth more than 255 does not wrap around onto another byte's
        // text ("::" is 2024; "75" is 232 = 2024 mod 256), and a triple over 65535 fails.
        assert_eq!(base45_decode("75").unwrap(), vec![232]);
        assert_eq!(
            base45::decode("::").unwrap(),
            vec![232],
            "the crate wraps around"
        );
        assert!(matches!(base45_decode("::"), Err(VerifyError::Base45(_))));
        assert!(matches!(base45_decode("GGW"), Err(VerifyError::Base45(_))));
        assert_eq!(base45_decode("FGW").unwrap(), vec![0xff, 0xff]);
        assert!(matches!(base45_decode("ab"), Err(VerifyError::Base45(_))));
        assert!(matches!(base45_decode("ABCD"), Err(VerifyError::Base45(_))));
    }

    #[test]
    fn only_one_whole_zlib_stream_inflates() {
        let bytes: Vec<u8> = (0..200u8).collect();
        let z = deflate(&bytes);
        assert_eq!(inflate(&z).unwrap(), bytes);
        // Anything after the stream's checksum is refused, not ignored.
        for tail in [&[0u8][..], b"x", &z[..]] {
            let e = inflate(&[&z[..], tail].concat()).unwrap_err();
            assert!(e.to_string().contains("the end of the zlib stream"), "{e}");
        }
        // Cut anywhere: truncated or corrupt, never accepted.
        for n in 0..z.len() {
            assert!(inflate(&z[..n]).is_err(), "cut at {n}");
        }
        let e = inflate(&z[..z.len() - 2]).unwrap_err();
        assert!(e.to_string().contains("truncated"), "{e}");
        // A preset dictionary (FDICT) is refused with its own reason.
        let e = inflate(&[0x78, 0xbb, 0, 0, 0, 1, 0x03, 0]).unwrap_err();
        assert!(e.to_string().contains("dictionary"), "{e}");
        // A bomb stops at the limit.
        let big = deflate(&vec![0u8; 2 * MAX_INFLATED as usize]);
        assert!(inflate(&big).unwrap_err().to_string().contains("more than"));
        let exact = vec![7u8; MAX_INFLATED as usize];
        assert_eq!(inflate(&deflate(&exact)).unwrap(), exact);
    }

    #[test]
    fn whitespace_around_a_payload_is_not_part_of_it() {
        let p = encode(Kind::Fangyi, b"payload");
        for framed in [format!("{p}\n"), format!("\r\n {p}\t"), format!(" {p}  ")] {
            assert_eq!(
                decode(&framed).unwrap(),
                (Kind::Fangyi, b"payload".to_vec())
            );
        }
        // Inside, a space is a Base45 digit like any other.
        let spaced = format!("{}  {}", &p[..8], &p[8..]);
        assert!(decode(&spaced).map_or(true, |(_, b)| b != b"payload"));
    }
}
