//! A `kill -9` during ingest never leaves half a source visible: after each kill the store
//! holds every committed source whole and nothing else, and a rerun completes it exactly.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const PER_FILE: u64 = 40_000;
const FILES: u64 = 6;

fn write_inputs(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for f in 0..FILES {
        let mut text = String::from("person_id,venue_id,time_in,time_out\n");
        for i in 0..PER_FILE {
            let id = model::PersonId::from_parts(
                330302,
                model::Date(5000 + (i % 9000) as i32),
                ((i / 9000) % 1000) as u32,
            )
            .unwrap();
            text.push_str(&format!(
                "{id},V{f}{},2020-01-{:02}T{:02}:15:00+08:00,\n",
                i % 500,
                14 + f,
                8 + i % 12
            ));
        }
        std::fs::write(dir.join(format!("checkins-{f}.csv")), text).unwrap();
    }
}

fn fangyi(key: &Path, data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_fangyi"));
    c.env("FANGYI_KEY_FILE", key)
        .env_remove("FANGYI_MASTER_KEY")
        .arg("--data")
        .arg(data);
    c
}

fn committed_rows(key: &Path, data: &Path) -> (u64, u64) {
    let out = fangyi(key, data)
        .args(["stats", "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stats: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = stats["checkins"]["rows"].as_u64().unwrap();
    let sources = stats["checkins"]["sources"].as_u64().unwrap();
    let out = fangyi(key, data)
        .args([
            "sql",
            "--format",
            "json",
            "SELECT count(*) AS n FROM checkins",
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v[0]["n"].as_u64().unwrap(),
        rows,
        "SQL reads exactly the committed files"
    );
    (rows, sources)
}

#[test]
fn kill_9_during_ingest_leaves_each_source_whole_or_absent() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("input");
    write_inputs(&input);
    let key = tmp.path().join("master.key");
    let mut kills_mid_way = 0;
    for (round, delay_ms) in [30u64, 80, 150, 250, 400, 600, 900, 1300]
        .iter()
        .enumerate()
    {
        let data: PathBuf = tmp.path().join(format!("data{round}"));
        // A first, interrupted run.
        let mut child = fangyi(&key, &data)
            .args(["ingest", "--threads", "2"])
            .arg(&input)
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(*delay_ms));
        let finished = child.try_wait().unwrap().is_some();
        child.kill().ok();
        child.wait().unwrap();
        if data.join("manifest.json").exists() {
            let (rows, sources) = committed_rows(&key, &data);
            assert_eq!(
                rows,
                sources * PER_FILE,
                "round {round}: a source is partly visible"
            );
            if !finished && sources < FILES {
                kills_mid_way += 1;
            }
        }
        // The rerun completes exactly, adding each remaining source once.
        let out = fangyi(&key, &data)
            .args(["ingest", "--format", "json"])
            .arg(&input)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            committed_rows(&key, &data),
            (FILES * PER_FILE, FILES),
            "round {round}"
        );
        assert!(!data.join("staging").exists());
    }
    assert!(
        kills_mid_way > 0,
        "no kill landed during an ingest; the test proved nothing"
    );
}
