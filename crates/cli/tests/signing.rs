//! End-to-end tests of signed codes through the real binary: `keys init/export/import/rotate/
//! list`, `code issue` (payload and QR PNG), `code revoke`, `keys export-revocations` and
//! `verify` (text and the contract's JSON, `--image`, `--trust`, `--revoked`, `--at`), across
//! two provinces' data dirs; and an EU DCC test vector verified with a DCC trust list.

mod common;

use common::Env;
use model::{Date, PersonId};
use serde_json::Value;

/// Person `n` of the test city.
fn id(n: u32) -> String {
    PersonId::from_parts(330302, Date::from_ymd(1985, 3, 1 + n).unwrap(), 200 + n)
        .unwrap()
        .to_string()
}

/// Province A (Wenzhou, 330300): person 0 is green, person 1 had a fever on 2020-01-30 and is
/// yellow on 2020-02-01 (until 02-13); an issuer key is made.
fn province_a() -> Env {
    let env = Env::new();
    env.write(
        "in/persons.csv",
        &format!(
            "person_id,name,home_region,household_id\n{},某0,330302,H0\n{},某1,330302,H1\n",
            id(0),
            id(1)
        ),
    );
    env.write(
        "in/self_reports.csv",
        &format!(
            "person_id,time,temperature_c,visited_regions\n{},2020-01-30T10:00:00+08:00,37.5,\n",
            id(1)
        ),
    );
    let ingest = env.path("in");
    env.ok(&["ingest", ingest.to_str().unwrap(), "--format", "json"]);
    let out = env.ok(&["keys", "init", "--region", "330300"]);
    assert!(out.contains("issuer 330300: key generation 1"), "{out}");
    env
}

/// Issues person `n`'s code as of 2020-02-01; returns the payload and the PNG path.
fn issue(env: &Env, n: u32, png: &str) -> (String, std::path::PathBuf) {
    let png = env.path(png);
    let out = env.ok(&[
        "code",
        "issue",
        &id(n),
        "--as-of",
        "2020-02-01",
        "--png",
        png.to_str().unwrap(),
    ]);
    let payload = out.trim().to_string();
    assert!(payload.starts_with("FY1:"), "{out}");
    assert!(png.exists());
    (payload, png)
}

fn verify_json(env: &Env, args: &[&str], code: i32) -> Value {
    let mut all = vec!["verify"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    let out = env.run(&all);
    assert_eq!(
        out.status.code(),
        Some(code),
        "verify {args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn codes_verify_here_and_in_another_province_after_import() {
    let a = province_a();
    let (payload, png) = issue(&a, 1, "yellow.png");

    // The contract's JSON shape, keys in order; the subject is a pseudonym, not the id.
    let out = a.ok(&["verify", &payload, "--format", "json"]);
    let keys: Vec<&str> = [
        "\"valid\"",
        "\"kind\"",
        "\"checks\"",
        "\"reason\"",
        "\"claims\"",
    ]
    .into_iter()
    .collect();
    let pos: Vec<usize> = keys.iter().map(|k| out.find(k).unwrap()).collect();
    assert!(pos.windows(2).all(|w| w[0] < w[1]), "{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["kind"], "fangyi");
    assert_eq!(
        v["checks"],
        serde_json::json!({"decode": true, "signature": true, "expiry": true, "key_usage": true})
    );
    assert_eq!(v["reason"], "valid");
    assert_eq!(v["claims"]["color"], "yellow");
    assert_eq!(v["claims"]["valid_until"], "2020-02-13");
    assert_eq!(v["claims"]["as_of"], "2020-02-01");
    assert_eq!(v["claims"]["iss"], "330300");
    assert_eq!(v["claims"]["sub"].as_str().unwrap().len(), 32);
    assert!(!out.contains(&id(1)) && !payload.contains(&id(1)));

    // The QR image decodes to the same payload.
    let img = verify_json(&a, &["--image", png.to_str().unwrap()], 0);
    assert_eq!(img["claims"], v["claims"]);

    // Province B (Wuhan) has its own key: A's code is unknown there until B imports A's list.
    let b = Env::new();
    b.ok(&["keys", "init", "--region", "420100"]);
    let unknown = verify_json(&b, &[&payload], 1);
    assert_eq!(unknown["valid"], false);
    assert_eq!(unknown["checks"]["signature"], false);
    assert_eq!(unknown["checks"]["expiry"], Value::Null);
    assert!(
        unknown["reason"]
            .as_str()
            .unwrap()
            .starts_with("unknown key id"),
        "{unknown}"
    );
    let exported = a.path("a-trust.json");
    a.ok(&["keys", "export", "--out", exported.to_str().unwrap()]);
    let list: Value = serde_json::from_str(&std::fs::read_to_string(&exported).unwrap()).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(list[0]["kid"].is_string() && list[0]["public_key"].is_string());
    let imported = b.ok(&["keys", "import", exported.to_str().unwrap()]);
    assert!(imported.contains("1 new keys"), "{imported}");
    assert_eq!(verify_json(&b, &[&payload], 0)["valid"], true);
    // Importing again adds nothing.
    assert!(
        b.ok(&["keys", "import", exported.to_str().unwrap()])
            .contains("0 new keys")
    );
    // An explicit --trust file works without any data dir.
    let c = Env::new();
    let with_file = verify_json(&c, &[&payload, "--trust", exported.to_str().unwrap()], 0);
    assert_eq!(with_file["valid"], true);

    // Expiry by --at: the code lives 24 hours.
    let later = verify_json(&a, &[&payload, "--at", "2099-01-01"], 1);
    assert_eq!(later["checks"]["expiry"], false);
    assert!(later["reason"].as_str().unwrap().starts_with("expired at"));

    // Tampered and truncated payloads fail with their own reasons.
    let mut chars: Vec<char> = payload.chars().collect();
    let i = chars.len() - 5;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    let tampered: String = chars.into_iter().collect();
    let t = verify_json(&a, &[&tampered], 1);
    assert_eq!(t["valid"], false);
    let cut = &payload[..4 + (payload.len() - 4) / 3 * 3 - 30];
    let t = verify_json(&a, &[cut], 1);
    assert_eq!(t["checks"]["decode"], false);
    assert!(t["reason"].as_str().unwrap().contains("truncated"), "{t}");
    let t = verify_json(&a, &["XYZ:123"], 1);
    assert_eq!(t["kind"], Value::Null);
    assert!(t["reason"].as_str().unwrap().contains("FY1: or HC1:"));

    // Bad usage exits 2.
    a.fails(
        &["verify", "--image", a.path("none.png").to_str().unwrap()],
        2,
    );
    a.fails(
        &[
            "verify",
            &payload,
            "--trust",
            a.path("none.json").to_str().unwrap(),
        ],
        2,
    );
}

#[test]
fn rotation_keeps_old_codes_and_revocation_fails_them() {
    let a = province_a();
    let (old, _) = issue(&a, 0, "old.png");
    let out = a.ok(&["keys", "rotate"]);
    assert!(out.contains("key generation 2"), "{out}");
    // The code signed by generation 1 still verifies; new codes use generation 2.
    assert_eq!(verify_json(&a, &[&old], 0)["valid"], true);
    let (new, _) = issue(&a, 0, "new.png");
    assert_eq!(verify_json(&a, &[&new], 0)["claims"]["color"], "green");
    let listed: Value = serde_json::from_str(&a.ok(&["keys", "list", "--format", "json"])).unwrap();
    let status: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(status, ["retired (generation 1)", "signing (generation 2)"]);
    assert!(listed[0]["not_after"].is_string() && listed[1]["not_after"].is_null());
    let exported: Value = serde_json::from_str(&a.ok(&["keys", "export"])).unwrap();
    assert_eq!(exported.as_array().unwrap().len(), 2);

    // Revoking person 0 fails both live codes, here and (via the exported list) offline.
    let out = a.ok(&["code", "revoke", &id(0)]);
    assert!(out.contains("revoked 2 codes"), "{out}");
    for p in [&old, &new] {
        let r = verify_json(&a, &[p], 1);
        assert!(
            r["reason"].as_str().unwrap().starts_with("revoked at"),
            "{r}"
        );
        assert_eq!(r["checks"]["key_usage"], true);
    }
    let trust = a.path("trust.json");
    let revoked = a.path("revoked.json");
    std::fs::write(&trust, serde_json::to_string(&exported).unwrap()).unwrap();
    a.ok(&[
        "keys",
        "export-revocations",
        "--out",
        revoked.to_str().unwrap(),
    ]);
    let offline = Env::new();
    let args = [
        new.as_str(),
        "--trust",
        trust.to_str().unwrap(),
        "--revoked",
        revoked.to_str().unwrap(),
    ];
    assert!(
        verify_json(&offline, &args, 1)["reason"]
            .as_str()
            .unwrap()
            .starts_with("revoked")
    );
    // Without the revocation list, the offline verifier cannot know.
    assert_eq!(verify_json(&offline, &args[..3], 0)["valid"], true);

    // A code issued after the revocation is valid.
    let (again, _) = issue(&a, 0, "again.png");
    assert_eq!(verify_json(&a, &[&again], 0)["valid"], true);
    assert!(a.ok(&["code", "revoke", &id(1)]).contains("no live codes"));
}

#[test]
fn a_dcc_vector_verifies_against_a_dcc_trust_list() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/dcc_testdata/common/2DCode/raw/CO3.json");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&dir).unwrap()).unwrap();
    let env = Env::new();
    let trust = env.write(
        "dcc-trust.json",
        &serde_json::json!([{"certificate": v["TESTCTX"]["CERTIFICATE"]}]).to_string(),
    );
    let prefix = v["PREFIX"].as_str().unwrap();
    let at = v["TESTCTX"]["VALIDATIONCLOCK"].as_str().unwrap();
    let ok = verify_json(
        &env,
        &[prefix, "--trust", trust.to_str().unwrap(), "--at", at],
        0,
    );
    assert_eq!(ok["kind"], "dcc");
    assert_eq!(ok["checks"]["key_usage"], true);
    assert!(ok["claims"]["dcc"]["nam"].is_object(), "{ok}");
    // Without the signer's certificate: unknown kid.
    let empty = env.write("empty.json", "[]");
    let no = verify_json(
        &env,
        &[prefix, "--trust", empty.to_str().unwrap(), "--at", at],
        1,
    );
    assert!(no["reason"].as_str().unwrap().starts_with("unknown key id"));
}

/// Runs `fangyi args…`, which must exit 2 within 30 s with an error naming `path`; a run that
/// blocks (on a pipe waiting for a writer) or reads without end is killed and fails the test.
fn refused_promptly(env: &Env, args: &[&str], path: &std::path::Path) -> String {
    use std::io::Read;
    use std::time::{Duration, Instant};
    let mut child = env
        .cmd()
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("fangyi {args:?} did not return within 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(2), "fangyi {args:?}: {err}");
    assert!(
        err.contains(&path.display().to_string()),
        "fangyi {args:?} does not name {}: {err}",
        path.display()
    );
    err
}

#[test]
fn files_named_to_verify_and_import_are_refused_unless_regular_and_bounded() {
    let env = Env::new();
    env.ok(&["init"]);
    let folder = env.path("folder");
    std::fs::create_dir_all(&folder).unwrap();
    let sized = |name: &str, len: u64| {
        let p = env.path(name);
        std::fs::File::create(&p).unwrap().set_len(len).unwrap();
        p
    };
    let mut hostile = vec![folder.clone(), std::path::PathBuf::from("/dev/zero")];
    let pipe = env.path("pipe");
    match std::process::Command::new("mkfifo").arg(&pipe).status() {
        Ok(s) if s.success() => hostile.push(pipe),
        _ => eprintln!("mkfifo unavailable: the named-pipe check is skipped"),
    }
    let image = engine::issuer_api::MAX_IMAGE_BYTES;
    let list = 16 << 20;
    let cases: [(&[&str], &str, u64); 4] = [
        (&["verify", "--image"], "huge.png", image),
        (&["verify", "FY1:X", "--trust"], "huge-trust.json", list),
        (&["verify", "FY1:X", "--revoked"], "huge-revoked.json", list),
        (&["keys", "import"], "huge-import.json", list),
    ];
    for (words, name, limit) in cases {
        let big = sized(name, limit + 1);
        for p in hostile.iter().chain([&big]) {
            let args = [words, &[p.to_str().unwrap()]].concat();
            let err = refused_promptly(&env, &args, p);
            let why = if *p == big {
                format!("larger than {} MiB", limit >> 20)
            } else {
                "not a regular file".to_string()
            };
            assert!(err.contains(&why), "fangyi {args:?}: {err}");
        }
    }
    // The master key file, as --key-file names it.
    for p in &hostile {
        let args = ["--key-file", p.to_str().unwrap(), "init"];
        let err = refused_promptly(&env, &args, p);
        assert!(err.contains("not a regular file"), "fangyi {args:?}: {err}");
    }
}
