//! `fangyi bench verify`: signed-code verification throughput — FY1 codes issued with a
//! temporary key and verified on one core and on all, and optionally the EU DCC test vectors.

use std::path::Path;
use std::time::Instant;

use codesign::{Claims, Color, IssuerKey, RevocationList, TrustEntry, TrustList, Verifier};

use crate::{BenchVerifyArgs, thousands, usage};

/// The per-core target of issue 5.
const TARGET_PER_CORE: f64 = 30_000.0;

pub fn run(a: BenchVerifyArgs) -> anyhow::Result<()> {
    if a.codes == 0 {
        return Err(usage("--codes must be at least 1"));
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let key = IssuerKey::random();
    let now = model::Timestamp::now().secs();
    let colors = [
        Color::Green,
        Color::Green,
        Color::Green,
        Color::Yellow,
        Color::Red,
    ];
    let started = Instant::now();
    let payloads: Vec<String> = (0..a.codes)
        .map(|i| {
            let mut sub = [0u8; 16];
            sub[..8].copy_from_slice(&(i as u64).to_le_bytes());
            key.sign(&Claims {
                iss: "330300".into(),
                iat: now,
                exp: now + 86_400,
                cti: Claims::new_cti(),
                sub,
                color: colors[i % colors.len()],
                valid_until: (i % 5 == 3).then(|| "2020-02-14".to_string()),
                as_of: "2020-02-01".into(),
            })
        })
        .collect();
    let issue_secs = started.elapsed().as_secs_f64();
    let avg_len = payloads.iter().map(String::len).sum::<usize>() / payloads.len();
    println!(
        "issued {} FY1 codes in {:.2} s ({}/s on one core; payloads average {avg_len} characters)",
        thousands(a.codes as u64),
        issue_secs,
        thousands((a.codes as f64 / issue_secs) as u64)
    );
    let trust = TrustList::from_entries(&[key.trust_entry("330300", None)])?;
    let verifier = Verifier::new(trust, RevocationList::default());

    println!(
        "verify FY1 (decode, Ed25519 signature, expiry, key usage, revocation), best of {}:",
        a.repeat
    );
    let mut best_per_core: f64 = 0.0;
    for (label, batched) in [
        ("one at a time (a gate)", false),
        ("in batches of 64 (a server)", true),
    ] {
        let one = best_of(a.repeat, || {
            verify_all(&verifier, &payloads, now, 1, batched)
        });
        let all = best_of(a.repeat, || {
            verify_all(&verifier, &payloads, now, cores, batched)
        });
        let rate1 = a.codes as f64 / one;
        let rate_all = a.codes as f64 / all;
        best_per_core = best_per_core.max(rate1);
        println!(
            "  {label}: 1 thread {}/s ({:.1} µs each); {cores} threads {}/s ({}/s per core)",
            thousands(rate1 as u64),
            1e6 / rate1,
            thousands(rate_all as u64),
            thousands((rate_all / cores as f64) as u64)
        );
    }
    println!(
        "  target ≥ {}/s per core: {}",
        thousands(TARGET_PER_CORE as u64),
        if best_per_core >= TARGET_PER_CORE {
            "met"
        } else {
            "NOT met"
        }
    );
    if let Some(dir) = &a.dcc {
        bench_dcc(dir, a.repeat)?;
    }
    Ok(())
}

fn best_of(repeat: usize, mut f: impl FnMut() -> f64) -> f64 {
    (0..repeat.max(1))
        .map(|_| f())
        .fold(f64::INFINITY, f64::min)
}

/// Verifies every payload on `threads` threads, one by one or in batches; seconds taken.
/// Panics if one fails (they are all valid), so the work cannot be optimised away.
fn verify_all(v: &Verifier, payloads: &[String], at: i64, threads: usize, batched: bool) -> f64 {
    let started = Instant::now();
    let chunk = payloads.len().div_ceil(threads);
    std::thread::scope(|s| {
        for part in payloads.chunks(chunk) {
            s.spawn(move || {
                if batched {
                    for o in v.verify_many(part, at) {
                        assert!(o.valid(), "{}", o.reason());
                    }
                } else {
                    for p in part {
                        let o = v.verify(p, at);
                        assert!(o.valid(), "{}", o.reason());
                    }
                }
            });
        }
    });
    started.elapsed().as_secs_f64()
}

/// Times the DCC vectors that carry a QR payload, a signer certificate and a clock.
fn bench_dcc(dir: &Path, repeat: usize) -> anyhow::Result<()> {
    let index = dir.join("vectors_index.csv");
    let mut rdr =
        csv::Reader::from_path(&index).map_err(|e| usage(format!("{}: {e}", index.display())))?;
    let mut cases = Vec::new();
    for rec in rdr.records() {
        let rec = rec?;
        let path = dir.join(&rec[0]);
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
        let (Some(prefix), Some(cert)) =
            (v["PREFIX"].as_str(), v["TESTCTX"]["CERTIFICATE"].as_str())
        else {
            continue;
        };
        let entry = TrustEntry {
            certificate: Some(cert.to_string()),
            ..Default::default()
        };
        let Ok(trust) = TrustList::from_entries(&[entry]) else {
            continue;
        };
        let at = v["TESTCTX"]["VALIDATIONCLOCK"]
            .as_str()
            .and_then(|t| model::Timestamp::parse_rfc3339(t.as_bytes()).ok())
            .map_or(model::Timestamp::now().secs(), |t| t.millis() / 1000);
        cases.push((
            Verifier::new(trust, RevocationList::default()),
            prefix.to_string(),
            at,
        ));
    }
    if cases.is_empty() {
        return Err(usage(format!(
            "{}: no vectors with a payload and a certificate",
            dir.display()
        )));
    }
    let rounds = 20;
    let secs = best_of(repeat, || {
        let started = Instant::now();
        let mut valid = 0usize;
        for _ in 0..rounds {
            for (v, p, at) in &cases {
                valid += usize::from(v.verify(p, *at).valid());
            }
        }
        std::hint::black_box(valid);
        started.elapsed().as_secs_f64()
    });
    let n = cases.len() * rounds;
    println!(
        "verify EU DCC test vectors (ES256/PS256, full chain), 1 thread: {} vectors × {rounds}: {}/s ({:.1} µs each)",
        cases.len(),
        thousands((n as f64 / secs) as u64),
        secs * 1e6 / n as f64
    );
    Ok(())
}
