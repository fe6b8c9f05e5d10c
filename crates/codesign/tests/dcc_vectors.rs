//! Every EU DCC test vector in `../shared/data/dcc_testdata` (listed in `vectors_index.csv`):
//! each expected step the library can check is run on the vector's own input for that step and
//! must give the expected result; steps it cannot check are counted with the reason. Prints a
//! table of handled and unhandled steps.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ciborium::Value as Cbor;
use fangyi_codesign::cose::Sign1;
use fangyi_codesign::dcc::DccClaims;
use fangyi_codesign::transport::{self, Kind};
use fangyi_codesign::{TrustEntry, TrustList, Verifier, qr, unb64, unhex};
use serde_json::Value as Json;

fn data_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/dcc_testdata");
    assert!(
        dir.join("vectors_index.csv").exists(),
        "the DCC test vectors are missing: expected {} (the repository expects ../shared beside it)",
        dir.display()
    );
    dir
}

/// The steps a vector may expect, in chain order, with the reason a step is not checked.
const STEPS: &[(&str, Option<&str>)] = &[
    ("EXPECTEDPICTUREDECODE", None),
    ("EXPECTEDUNPREFIX", None),
    ("EXPECTEDB45DECODE", None),
    ("EXPECTEDCOMPRESSION", None),
    ("EXPECTEDVERIFY", None),
    ("EXPECTEDDECODE", None),
    ("EXPECTEDVALIDJSON", None),
    (
        "EXPECTEDSCHEMAVALIDATION",
        Some(
            "DCC JSON schema validation is not implemented (the verifier checks signature, key usage and expiry, not the payload's schema)",
        ),
    ),
    ("EXPECTEDEXPIRATIONCHECK", None),
    ("EXPECTEDKEYUSAGE", None),
    (
        "EXPECTEDVALIDOBJECT",
        Some(
            "a generation-side check of JSON against the DCC schema; schema validation is not implemented",
        ),
    ),
    ("EXPECTEDENCODE", None),
];

struct Vector {
    path: String,
    v: Json,
}

impl Vector {
    fn field(&self, name: &str) -> Option<&str> {
        self.v.get(name).and_then(Json::as_str)
    }

    fn hex(&self, name: &str) -> Option<Vec<u8>> {
        self.field(name).map(|h| unhex(h).unwrap_or_default())
    }

    fn ctx(&self, name: &str) -> Option<&str> {
        self.v["TESTCTX"].get(name).and_then(Json::as_str)
    }

    /// The validation clock in Unix seconds. Vectors write it as RFC 3339, with an offset
    /// lacking its colon (`+0200`), or with no offset at all (read as UTC).
    fn clock(&self) -> Option<i64> {
        let t = self.ctx("VALIDATIONCLOCK")?.trim();
        let mut fixed = t.to_string();
        let tail = &t[19.min(t.len())..];
        if let Some(pos) = tail.rfind(['+', '-']) {
            let off = &tail[pos..];
            if off.len() == 5 && !off.contains(':') {
                fixed = format!("{}{}:{}", &t[..19 + pos], &off[..3], &off[3..]);
            }
        } else if !tail.ends_with(['Z', 'z']) {
            fixed.push('Z');
        }
        model::Timestamp::parse_rfc3339(fixed.as_bytes())
            .ok()
            .map(|t| t.millis().div_euclid(1000))
    }

    /// The DCC in the `CBOR` field as JSON (the field holds the DCC, or the whole CWT).
    fn cbor_dcc(&self) -> Option<Json> {
        let cbor = self.hex("CBOR")?;
        let v: Cbor = ciborium::from_reader(cbor.as_slice()).ok()?;
        let dcc = match &v {
            Cbor::Map(m) => fangyi_codesign::cose::map_get(m, -260)
                .and_then(|h| match h {
                    Cbor::Map(h) => fangyi_codesign::cose::map_get(h, 1),
                    _ => None,
                })
                .unwrap_or(&v),
            _ => &v,
        };
        Some(fangyi_codesign::cose::to_json(dcc))
    }

    /// The signer certificate as a trusted key.
    fn signer(&self) -> Option<fangyi_codesign::TrustedKey> {
        TrustEntry {
            certificate: Some(self.ctx("CERTIFICATE")?.to_string()),
            ..Default::default()
        }
        .resolve()
        .ok()
    }

    /// A trust list holding the vector's signer certificate (kid derived, as the DCC does).
    fn trust(&self) -> Option<TrustList> {
        let cert = self.ctx("CERTIFICATE")?;
        let entry = TrustEntry {
            certificate: Some(cert.to_string()),
            ..Default::default()
        };
        TrustList::from_entries(&[entry]).ok()
    }

    /// The COSE bytes: the `COSE` field, else the chain decoded from the nearest earlier field.
    fn cose(&self) -> Option<Vec<u8>> {
        if let Some(c) = self.hex("COSE") {
            return Some(c);
        }
        if let Some(z) = self.hex("COMPRESSED") {
            return transport::inflate(&z).ok();
        }
        let b45 = match self.field("BASE45") {
            Some(b) => b.to_string(),
            None => transport::strip_prefix(self.field("PREFIX")?)
                .ok()?
                .1
                .to_string(),
        };
        transport::inflate(&transport::base45_decode(&b45).ok()?).ok()
    }

    fn claims(&self) -> Option<Result<DccClaims, String>> {
        let cose = self.cose()?;
        Some(
            Sign1::parse(&cose)
                .and_then(|s| DccClaims::decode(s.payload()))
                .map_err(|e| e.to_string()),
        )
    }

    /// Runs one step: `Ok(result)` or `Err(why it cannot be run)`.
    fn run(&self, step: &str) -> Result<bool, String> {
        match step {
            "EXPECTEDPICTUREDECODE" => {
                let png = match self.field("2DCODE") {
                    Some(b) => unb64(b).ok_or("2DCODE is not base64")?,
                    None => {
                        // A missing 2DCODE field: the same QR code is in the folder's png/.
                        let raw = data_dir().join(&self.path);
                        let stem = raw.file_stem().unwrap().to_string_lossy();
                        // FR names `X_Raw.json` `X.png`, and `test_pcr_ok.json` `test-pcr_ok.png`.
                        let stem = stem.trim_end_matches("_Raw");
                        let folder = raw
                            .parent()
                            .and_then(Path::parent)
                            .and_then(Path::parent)
                            .map(|g| g.join("png"))
                            .ok_or("no folder")?;
                        let png = [stem.to_string(), stem.replacen('_', "-", 1)]
                            .iter()
                            .map(|s| folder.join(format!("{s}.png")))
                            .find(|p| p.exists())
                            .ok_or("no 2DCODE field and no PNG beside the vector")?;
                        std::fs::read(png).map_err(|e| e.to_string())?
                    }
                };
                let prefix = self.field("PREFIX").ok_or("no PREFIX to compare with")?;
                Ok(qr::from_png(&png).is_ok_and(|text| text == prefix))
            }
            "EXPECTEDUNPREFIX" => {
                let p = self.field("PREFIX").ok_or("no PREFIX field")?;
                Ok(match transport::strip_prefix(p) {
                    Ok((Kind::Dcc, rest)) => self.field("BASE45").is_none_or(|b| b == rest),
                    _ => false,
                })
            }
            "EXPECTEDB45DECODE" => {
                let b45 = match self.field("BASE45") {
                    Some(b) => b.to_string(),
                    None => transport::strip_prefix(self.field("PREFIX").ok_or("no BASE45")?)
                        .map_err(|e| e.to_string())?
                        .1
                        .to_string(),
                };
                Ok(transport::base45_decode(&b45)
                    .is_ok_and(|z| self.hex("COMPRESSED").is_none_or(|c| c == z)))
            }
            "EXPECTEDCOMPRESSION" => {
                let z = match self.hex("COMPRESSED") {
                    Some(z) => z,
                    None => {
                        let p = self.field("PREFIX").ok_or("no COMPRESSED")?;
                        let (_, b45) = transport::strip_prefix(p).map_err(|e| e.to_string())?;
                        transport::base45_decode(b45).map_err(|e| e.to_string())?
                    }
                };
                Ok(transport::inflate(&z).is_ok_and(|c| self.hex("COSE").is_none_or(|x| x == c)))
            }
            "EXPECTEDVERIFY" => {
                let trust = self.trust().ok_or("no usable CERTIFICATE")?;
                let cose = self.cose().ok_or("no COSE input")?;
                let verifier = Verifier::new(trust, Default::default());
                Ok(Sign1::parse(&cose).is_ok_and(|s| verifier.check_signature(&s).is_ok()))
            }
            "EXPECTEDDECODE" => {
                let claims = self.claims().ok_or("no COSE input")?;
                // `CBOR` holds the DCC itself in some vectors, the whole CWT in others.
                let payload = self
                    .cose()
                    .and_then(|c| Sign1::parse(&c).ok())
                    .and_then(|s| ciborium::from_reader::<Cbor, _>(s.payload()).ok());
                Ok(match claims {
                    Ok(c) => match self.hex("CBOR") {
                        None => true,
                        Some(cbor) => {
                            ciborium::from_reader::<Cbor, _>(cbor.as_slice()).is_ok_and(|v| {
                                cbor_eq(&v, &c.hcert)
                                    || payload.as_ref().is_some_and(|p| cbor_eq(&v, p))
                            })
                        }
                    },
                    Err(_) => false,
                })
            }
            "EXPECTEDVALIDJSON" => {
                let json = self.v.get("JSON").ok_or("no JSON field")?;
                let claims = self.claims().ok_or("no COSE input")?;
                let Ok(c) = claims else { return Ok(false) };
                let decoded = fangyi_codesign::cose::to_json(&c.hcert);
                if !json_eq(&decoded, json)
                    && let Some(cbor) = self.cbor_dcc()
                    && !json_eq(&cbor, json)
                    && json_eq(&cbor, &decoded)
                {
                    return Err("the vector's JSON field differs from its own CBOR field (an upstream data error: other names, or a time shifted by its zone); the signed DCC equals CBOR".into());
                }
                Ok(json_eq(&decoded, json))
            }
            "EXPECTEDEXPIRATIONCHECK" => {
                let at = self.clock().ok_or("no VALIDATIONCLOCK")?;
                let claims = self.claims().ok_or("no COSE input")?;
                Ok(claims.is_ok_and(|c| c.check_time(at).is_ok()))
            }
            "EXPECTEDKEYUSAGE" => {
                let key = self.signer().ok_or("no usable CERTIFICATE")?;
                let claims = self.claims().ok_or("no COSE input")?;
                let claims = claims.map_err(|e| format!("the claims do not decode: {e}"))?;
                Ok(claims.check_key_usage(key.allowed.as_deref()).is_ok())
            }
            "EXPECTEDENCODE" => {
                let json = self.v.get("JSON").ok_or("no JSON field")?;
                let cbor = self.cbor_dcc().ok_or("no readable CBOR field")?;
                Ok(json_eq(&cbor, json))
            }
            other => Err(format!("{other}: not a step this harness knows")),
        }
    }
}

/// Structural CBOR equality: maps compared as sets of entries, tags ignored.
fn cbor_eq(a: &Cbor, b: &Cbor) -> bool {
    match (a, b) {
        (Cbor::Tag(_, a), b) => cbor_eq(a, b),
        (a, Cbor::Tag(_, b)) => cbor_eq(a, b),
        (Cbor::Map(x), Cbor::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.iter().any(|(k2, v2)| cbor_eq(k, k2) && cbor_eq(v, v2)))
        }
        (Cbor::Array(x), Cbor::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| cbor_eq(a, b))
        }
        _ => a == b,
    }
}

/// Structural JSON equality; numbers compared by value (1 == 1.0), RFC 3339 times by instant
/// (`14:34:56+02:00` == `12:34:56Z`).
fn json_eq(a: &Json, b: &Json) -> bool {
    let instant = |s: &str| model::Timestamp::parse_rfc3339(s.as_bytes()).ok();
    match (a, b) {
        (Json::String(x), Json::String(y)) if x != y => {
            instant(x).is_some() && instant(x) == instant(y)
        }
        (Json::Number(x), Json::Number(y)) => x.as_f64() == y.as_f64(),
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        _ => a == b,
    }
}

#[derive(Default)]
struct Tally {
    pass_true: usize,
    pass_false: usize,
    unhandled: BTreeMap<String, usize>,
}

#[test]
fn every_dcc_vector_matches_its_expected_results() {
    let dir = data_dir();
    let mut index = csv::Reader::from_path(dir.join("vectors_index.csv")).unwrap();
    let paths: Vec<String> = index
        .records()
        .map(|r| r.unwrap().get(0).unwrap().to_string())
        .collect();
    assert_eq!(
        paths.len(),
        405,
        "vectors_index.csv should list 405 vectors"
    );

    let mut tallies: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut mismatches = Vec::new();
    let (mut chain_checked, mut chain_mismatch) = (0, Vec::new());
    for path in &paths {
        let text = std::fs::read_to_string(dir.join(path)).unwrap();
        let v: Json = serde_json::from_str(&text).unwrap();
        let vector = Vector {
            path: path.clone(),
            v,
        };
        let expected = vector.v["EXPECTEDRESULTS"].clone();
        let mut handled_all_true = true;
        let mut chain_relevant_false = false;
        for (step, not_handled) in STEPS {
            let Some(want) = expected.get(*step).and_then(Json::as_bool) else {
                continue;
            };
            let tally = tallies.entry(step).or_default();
            if let Some(why) = not_handled {
                *tally.unhandled.entry(why.to_string()).or_default() += 1;
                continue;
            }
            match vector.run(step) {
                Ok(got) if got == want => {
                    if want {
                        tally.pass_true += 1;
                    } else {
                        tally.pass_false += 1;
                        handled_all_true = false;
                        if matches!(
                            *step,
                            "EXPECTEDUNPREFIX"
                                | "EXPECTEDB45DECODE"
                                | "EXPECTEDCOMPRESSION"
                                | "EXPECTEDVERIFY"
                                | "EXPECTEDDECODE"
                                | "EXPECTEDEXPIRATIONCHECK"
                                | "EXPECTEDKEYUSAGE"
                        ) {
                            chain_relevant_false = true;
                        }
                    }
                }
                Ok(got) => mismatches.push(format!("{path}: {step} expected {want}, got {got}")),
                Err(why) => {
                    *tally.unhandled.entry(why).or_default() += 1;
                }
            }
        }
        // The whole chain, as `fangyi verify` runs it on the QR text: invalid when a step on
        // its path is expected to fail; valid when every expected step passes and the vector
        // says both the signature and the expiry check succeed.
        let says = |step: &str| expected.get(step).and_then(Json::as_bool) == Some(true);
        let must_be_valid =
            handled_all_true && says("EXPECTEDVERIFY") && says("EXPECTEDEXPIRATIONCHECK");
        if let (Some(prefix), Some(trust), Some(at)) =
            (vector.field("PREFIX"), vector.trust(), vector.clock())
            && (must_be_valid || chain_relevant_false)
        {
            chain_checked += 1;
            let out = Verifier::new(trust, Default::default()).verify(prefix, at);
            if out.valid() == chain_relevant_false {
                chain_mismatch.push(format!(
                    "{path}: verify says {} ({}) but the expected steps say {}",
                    out.valid(),
                    out.reason(),
                    !chain_relevant_false
                ));
            }
        }
    }

    println!("\nDCC test vectors: {} files", paths.len());
    println!(
        "{:<26} {:>9} {:>10} {:>10}  unhandled because",
        "step", "ok (true)", "ok (false)", "unhandled"
    );
    for (step, _) in STEPS {
        let Some(t) = tallies.get(step) else { continue };
        let unhandled: usize = t.unhandled.values().sum();
        let why = t
            .unhandled
            .iter()
            .map(|(w, n)| format!("{n}× {w}"))
            .collect::<Vec<_>>()
            .join("; ");
        println!(
            "{:<26} {:>9} {:>10} {:>10}  {}",
            step.trim_start_matches("EXPECTED").to_lowercase(),
            t.pass_true,
            t.pass_false,
            unhandled,
            why
        );
    }
    println!(
        "whole chain (fangyi verify on PREFIX at VALIDATIONCLOCK): {chain_checked} vectors checked, {} mismatches",
        chain_mismatch.len()
    );
    assert!(
        mismatches.is_empty(),
        "{} step results differ from the vectors' expectations:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    assert!(
        chain_mismatch.is_empty(),
        "{} whole-chain results differ:\n{}",
        chain_mismatch.len(),
        chain_mismatch.join("\n")
    );
}
