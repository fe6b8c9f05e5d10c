//! `fangyi demo` keeps its master key in its own folder, beside (not inside) its data dir, says
//! where, and neither reads nor creates the user's own key; what it shows of people it asks the
//! engine for, as the operator, so its own audit log records it; its work-resumption step
//! decides the largest application, shows the power index and a matched job; its provinces step
//! runs the two-province story (a hub, Chengdu asking Wenzhou, a Wenzhou code verified there)
//! and, when it fails, says so and goes on.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `fangyi args…` with `home` as HOME and no key, data dir or config folder from the caller's
/// environment.
fn fangyi(home: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_fangyi"));
    c.args(args)
        .env("HOME", home)
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("FANGYI_MASTER_KEY")
        .env_remove("FANGYI_KEY_FILE")
        .env_remove("FANGYI_DATA")
        .env_remove("FANGYI_DB")
        .env_remove("FANGYI_PURPOSE");
    c
}

fn ok(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({:?}):\n{}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Every file below `dir`.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

const SMALL: &[&str] = &["--persons", "3000", "--days", "10", "--no-serve"];

#[test]
fn the_demo_keeps_its_own_key_beside_its_data_and_leaves_the_users_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let dir = tmp.path().join("demo");
    let dir_s = dir.to_str().unwrap();

    let mut args = vec!["demo", "--dir", dir_s];
    args.extend_from_slice(SMALL);
    let out = ok(fangyi(&home, &args).output().unwrap(), "fangyi demo");

    // The key is where the demo says, private, and not inside the data dir.
    let key = dir.join("demo.key");
    assert!(key.is_file(), "no {}", key.display());
    assert!(
        out.contains(&format!("its own master key is {}", key.display())),
        "{out}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let hex = std::fs::read_to_string(&key).unwrap().trim().to_string();
    for f in files(&dir.join("data")) {
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !bytes.windows(hex.len()).any(|w| w == hex.as_bytes()),
            "{} holds the key",
            f.display()
        );
    }
    // Nothing under HOME: no ~/.config/fangyi/master.key made for synthetic data.
    assert_eq!(files(&home), Vec::<PathBuf>::new());

    // The commands it suggests open its data with its key, still without touching HOME.
    let data = dir.join("data");
    let hint = format!(
        "fangyi --data {} --key-file {} stats",
        data.display(),
        key.display()
    );
    assert!(out.contains(&hint), "{out}");
    let stats = [
        "--data",
        data.to_str().unwrap(),
        "--key-file",
        key.to_str().unwrap(),
        "stats",
    ];
    ok(fangyi(&home, &stats).output().unwrap(), "fangyi stats");
    assert_eq!(files(&home), Vec::<PathBuf>::new());

    // It traced every case and read the day's alerts by asking the engine as the operator, so
    // its own log records both (it reveals no pseudonym itself).
    let audit = [
        "--data",
        data.to_str().unwrap(),
        "--key-file",
        key.to_str().unwrap(),
        "audit",
        "show",
        "--limit",
        "1000",
        "--format",
        "json",
    ];
    let log = ok(fangyi(&home, &audit).output().unwrap(), "fangyi audit show");
    for asked in [
        "fangyi demo: trace every case",
        "fangyi demo: alerts",
        "fangyi demo: resume decide",
        "fangyi demo: resume index",
        "fangyi demo: resume match",
    ] {
        assert!(log.contains(asked), "no entry for {asked:?} in {log}");
    }
    work_resumption_step(&out);
    market_step(&out);
    provinces_step(&out, &dir, &home);
}

/// The demo's two-province step: a hub publishes both provinces' keys, Chengdu pulls them,
/// asks Wenzhou (served in-process) about its arrivals, shows its code for the one not green
/// at home by Wenzhou's word, and verifies a code Wenzhou signed. Chengdu's data opens with its
/// own key, and its code says the same from the command line.
fn provinces_step(out: &str, dir: &Path, home: &Path) {
    let step = out
        .split("\n[10/10] provinces together")
        .nth(1)
        .unwrap_or_else(|| panic!("no provinces step in {out}"))
        .split("\ndone in ")
        .next()
        .unwrap();
    assert!(!step.contains("FAIL"), "{step}");
    let line = |starts: &str| {
        step.lines()
            .find(|l| l.trim_start().starts_with(starts))
            .unwrap_or_else(|| panic!("no line {starts:?} in {step}"))
    };
    assert!(line("trust hub ").contains("Wenzhou and Chengdu enrolled"));
    for who in ["Chengdu pulled it", "Wenzhou pulled it"] {
        assert!(
            line(who).contains("checked the anchor's signature: version 1, 2 keys"),
            "{step}"
        );
    }
    assert!(
        line("Wenzhou serves POST /exchange/v1/attestations on http://127.0.0.1:")
            .contains("(in this process")
    );
    // "Chengdu asked Wenzhou about 10 arrivals: 10 attested, 2 not green"
    let asked = line("Chengdu asked Wenzhou about ");
    let n: Vec<u64> = asked
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .map(|w| w.parse().unwrap())
        .collect();
    assert_eq!(n.len(), 3, "{asked}");
    assert!(
        n[0] >= 3 && n[1] == n[0] && n[2] >= 1 && n[2] < n[0],
        "{asked}"
    );
    let code = line("Chengdu's code for ");
    assert!(
        code.contains(" in Wenzhou: ") && !code.contains(": GREEN"),
        "{code}"
    );
    let reason = step
        .lines()
        .find(|l| l.contains(" peer_attestation "))
        .unwrap_or_else(|| panic!("no peer_attestation reason in {step}"));
    assert!(reason.contains("home province 330300 attested"), "{reason}");
    assert!(
        line("ok   Wenzhou's signed green code of ")
            .contains("verified in Chengdu against the hub's list: valid"),
        "{step}"
    );
    assert!(line("the two provinces' story in ").ends_with(" s"));

    // The command it suggests answers the same at Chengdu, with Chengdu's key.
    let hint = line("(fangyi --data ");
    let id = code
        .split("Chengdu's code for ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    let b_data = dir.join("provinces/chengdu");
    let b_key = dir.join("chengdu.key");
    assert!(
        hint.contains(&format!(
            "--data {} --key-file {} code {id}",
            b_data.display(),
            b_key.display()
        )),
        "{hint}"
    );
    let day = hint
        .split("--as-of ")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap();
    let json = ok(
        fangyi(
            home,
            &[
                "--data",
                b_data.to_str().unwrap(),
                "--key-file",
                b_key.to_str().unwrap(),
                "code",
                id,
                "--as-of",
                day,
                "--format",
                "json",
            ],
        )
        .output()
        .unwrap(),
        "fangyi code at Chengdu",
    );
    assert!(
        json.contains("\"peer_attestation\"") && json.contains("330300"),
        "{json}"
    );
    // Keys stay beside the data dirs: Chengdu's data dir holds no key file.
    assert!(b_key.is_file() && !b_data.join("chengdu.key").exists());
}

/// The demo's market step: captures flagged and the top leads, each with its rules.
fn market_step(out: &str) {
    let step = out
        .split("\n[9/10] market supervision")
        .nth(1)
        .unwrap_or_else(|| panic!("no market step in {out}"));
    let flagged = step
        .lines()
        .find(|l| l.contains("listing captures flagged"))
        .unwrap_or_else(|| panic!("no market summary in {step}"));
    let n: u64 = flagged
        .trim()
        .split(' ')
        .next()
        .unwrap()
        .replace(',', "")
        .parse()
        .unwrap();
    assert!(n > 0, "{flagged}");
    let leads: Vec<&str> = step
        .lines()
        .filter(|l| l.trim_start().starts_with("1. "))
        .collect();
    assert_eq!(leads.len(), 1, "{step}");
    assert!(
        leads[0].contains("seller:") || leads[0].contains("shop:"),
        "{step}"
    );
}

/// The demo's work-resumption step: the largest application's summary, the city's power index
/// for the seven days to its start date (here the generated ten days end before it, and it says
/// so), the day's matching with one job filled, and an enterprise account for the dashboard.
fn work_resumption_step(out: &str) {
    let step = out
        .split("\n[8/10] work resumption")
        .nth(1)
        .unwrap_or_else(|| panic!("no work-resumption step in {out}"));
    let lines: Vec<&str> = step.lines().collect();
    let summary = lines
        .iter()
        .find(|l| l.contains(": applied "))
        .unwrap_or_else(|| panic!("no application summary in {step}"));
    // "A330302-000125 (91330302…): applied 1,015 → office 964, quarantine 41, not allowed 2, …"
    let counts: Vec<u64> = summary
        .split(": applied ")
        .nth(1)
        .unwrap()
        .split(['→', ','])
        .map(|part| {
            part.trim()
                .rsplit(' ')
                .next()
                .unwrap()
                .replace(',', "")
                .parse()
                .unwrap_or_else(|_| panic!("not a count in {summary}"))
        })
        .collect();
    assert_eq!(counts.len(), 6, "{summary}");
    assert!(
        summary.contains("→ office ") && summary.contains(", quarantine "),
        "{summary}"
    );
    assert_eq!(counts[0], counts[1..].iter().sum::<u64>(), "{summary}");
    assert!(counts[0] > 0, "{summary}");

    let at = lines
        .iter()
        .position(|l| l.contains("power index of resumption, Wenzhou"))
        .unwrap_or_else(|| panic!("no power index in {step}"));
    // Ten days from 2020-01-14 end before any start date: the last seven generated days.
    assert!(
        lines[at].contains("2020-01-17 to 2020-01-23")
            && lines[at].contains("the generated days end before the start date"),
        "{}",
        lines[at]
    );
    let days: Vec<&str> = lines[at + 1..]
        .iter()
        .take_while(|l| l.starts_with("    2020-"))
        .copied()
        .collect();
    assert_eq!(days.len(), 7, "{step}");
    for d in &days {
        assert!(
            d.contains(" index ") && d.contains(" enterprises resumed, "),
            "{d}"
        );
    }
    let jobs = lines
        .iter()
        .find(|l| l.trim_start().starts_with("jobs on "))
        .unwrap_or_else(|| panic!("no job matching in {step}"));
    assert!(
        jobs.contains(" openings, ") && jobs.contains(" filled"),
        "{jobs}"
    );
    let job = lines
        .iter()
        .find(|l| l.trim_start().starts_with("e.g. job "))
        .unwrap_or_else(|| panic!("no matched job in {step}"));
    // Its seekers are printed masked: birth date and sequence hidden.
    assert!(job.contains("********"), "{job}");
    assert!(
        out.contains("  enterprise     ") && out.contains("its own applications and jobs"),
        "no enterprise account in {out}"
    );
}

#[test]
fn a_configured_key_is_neither_used_nor_changed_by_the_demo() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    // The user's real key, named every way the operator's key can be.
    let real = home.join(".config/fangyi/master.key");
    std::fs::create_dir_all(real.parent().unwrap()).unwrap();
    let real_hex = "ab".repeat(32);
    std::fs::write(&real, format!("{real_hex}\n")).unwrap();
    let dir = tmp.path().join("demo");
    let dir_s = dir.to_str().unwrap();
    let mut args = vec!["--key-file", real.to_str().unwrap(), "demo", "--dir", dir_s];
    args.extend_from_slice(SMALL);
    let run = || {
        ok(
            fangyi(&home, &args)
                .env("FANGYI_MASTER_KEY", "cd".repeat(32))
                .env("FANGYI_KEY_FILE", &real)
                .output()
                .unwrap(),
            "fangyi demo",
        )
    };
    run();
    let key = dir.join("demo.key");
    let first = std::fs::read_to_string(&key).unwrap();
    assert_ne!(first.trim(), real_hex);
    assert_ne!(first.trim(), "cd".repeat(32));
    // A second run clears its data and keeps its key.
    run();
    assert_eq!(std::fs::read_to_string(&key).unwrap(), first);
    // Chengdu's key named by a folder: the provinces step says what failed, the demo goes on
    // (and still serves its report); the next run, with the folder gone, has the step back.
    let b_key = dir.join("chengdu.key");
    std::fs::remove_file(&b_key).unwrap();
    std::fs::create_dir(&b_key).unwrap();
    let out = run();
    let failed = out
        .lines()
        .find(|l| l.contains("FAIL provinces together stopped: "))
        .unwrap_or_else(|| panic!("no failure line in {out}"));
    assert!(
        failed.contains("chengdu.key") && failed.contains("the rest of the demo goes on"),
        "{failed}"
    );
    assert!(out.contains("\ndone in "), "{out}");
    std::fs::remove_dir(&b_key).unwrap();
    let out = run();
    assert!(
        out.contains("Chengdu asked Wenzhou about ") && !out.contains("FAIL"),
        "{out}"
    );
    assert_eq!(
        std::fs::read_to_string(&real).unwrap(),
        format!("{real_hex}\n")
    );
    assert_eq!(files(&home), vec![real.clone()]);

    // Its data was written under its own key: that opens it, the user's does not.
    let data = dir.join("data");
    let with = |k: &Path| {
        fangyi(
            &home,
            &[
                "--data",
                data.to_str().unwrap(),
                "--key-file",
                k.to_str().unwrap(),
                "stats",
            ],
        )
        .output()
        .unwrap()
    };
    ok(with(&key), "stats with the demo's key");
    assert!(!with(&real).status.success());
}
