//! End-to-end test of `fangyi exposed` with the real binary: hand-made files are ingested,
//! the list comes back as JSON, CSV and counts, and bad arguments exit with code 2.

mod common;

use common::{EXPOSED_WUHAN, Env};

use std::path::Path;

use model::{Date, PersonId};
use serde_json::json;

fn id(n: u32) -> String {
    PersonId::from_parts(330302, Date::from_ymd(1985, 3, n).unwrap(), 100 + n)
        .unwrap()
        .to_string()
}

fn write(dir: &Path, name: &str, lines: &[String]) {
    std::fs::write(dir.join(name), lines.join("\n") + "\n").unwrap();
}

/// Person 1 came by rail from Wuchang, person 2 registered from Wuhan, person 3 declared a
/// visit to Jianghan (and drove out of Wuhan after the period); person 4 came from Changsha.
fn load(env: &Env) {
    let input = env.path("input");
    std::fs::create_dir_all(&input).unwrap();
    let (p1, p2, p3, p4) = (id(1), id(2), id(3), id(4));
    write(
        &input,
        "persons.csv",
        &[
            "person_id,name,phone,birth_date,sex,home_region,community_id,household_id,address"
                .into(),
            format!("{p1},,,,,330302,C1,,"),
            format!("{p2},,,,,330303,C5,,"),
            format!("{p4},,,,,330302,C1,,"),
        ],
    );
    write(
        &input,
        "travel.csv",
        &[
            "person_id,mode,service_no,service_date,car,seat,from_station,from_region,depart_time,to_station,to_region,arrive_time".into(),
            format!("{p1},rail,G1722,2020-01-20,3,07A,武昌,420106,2020-01-20T08:00:00+08:00,温州南,330302,2020-01-20T14:00:00+08:00"),
            format!("{p4},rail,G1380,2020-01-20,2,01A,长沙南,430100,2020-01-20T08:00:00+08:00,温州南,330302,2020-01-20T15:00:00+08:00"),
        ],
    );
    write(
        &input,
        "registrations.csv",
        &[
            "person_id,arrival_date,from_region,stay_region,stay_community,stay_address,phone"
                .into(),
            format!("{p2},2020-01-21,420100,330304,C9,,"),
        ],
    );
    write(
        &input,
        "self_reports.csv",
        &[
            "person_id,time,temperature_c,symptoms,visited_regions,note".into(),
            format!("{p3},2020-01-22T10:00:00+08:00,36.8,,330100;420103,"),
        ],
    );
    write(
        &input,
        "checkpoint.csv",
        &[
            "pass_id,plate,person_id,role,checkpoint_id,region,time,origin_region,destination_region,purpose".into(),
            format!("P1,浙C12345,{p3},driver,G15-01,330302,2020-01-23T16:30:00Z,420100,330302,"),
        ],
    );
    let out = env.ok(&[
        "ingest",
        "--no-index",
        "--format",
        "json",
        input.to_str().unwrap(),
    ]);
    let summary: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(summary["rows_rejected"], 0, "{out}");
}

#[test]
fn the_list_of_arrivals_from_wuhan_with_their_stays() {
    let env = Env::new();
    load(&env);

    let out = env.ok(&[&EXPOSED_WUHAN[..], &["--format", "json"]].concat());
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        rows,
        json!([
            {"person_id": id(1), "first_arrival": "2020-01-20", "last_arrival": "2020-01-20",
             "kinds": ["rail"], "origins": ["420106"], "stay_region": "330302",
             "stay_region_name": "鹿城区", "stay_community": "C1", "stay_source": "home"},
            {"person_id": id(2), "first_arrival": "2020-01-21", "last_arrival": "2020-01-21",
             "kinds": ["registration"], "origins": ["420100"], "stay_region": "330304",
             "stay_region_name": "瓯海区", "stay_community": "C9", "stay_source": "registration"},
            {"person_id": id(3), "first_arrival": "2020-01-22", "last_arrival": "2020-01-22",
             "kinds": ["self_report"], "origins": ["420103"], "stay_region": null,
             "stay_region_name": null, "stay_community": null, "stay_source": "unknown"},
        ])
    );

    let out = env.ok(&[&EXPOSED_WUHAN[..], &["--format", "json", "--summary"]].concat());
    let counts: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        counts,
        json!([
            {"stay_region": "330302", "stay_region_name": "鹿城区", "persons": 1,
             "communities": [{"stay_community": "C1", "persons": 1}]},
            {"stay_region": "330304", "stay_region_name": "瓯海区", "persons": 1,
             "communities": [{"stay_community": "C9", "persons": 1}]},
            {"stay_region": null, "stay_region_name": null, "persons": 1,
             "communities": [{"stay_community": null, "persons": 1}]},
        ])
    );

    let csv = env.ok(&[&EXPOSED_WUHAN[..], &["--format", "csv"]].concat());
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "person_id,first_arrival,last_arrival,kinds,origins,stay_region,stay_region_name,stay_community,stay_source"
    );
    assert_eq!(
        lines[1],
        format!(
            "{},2020-01-20,2020-01-20,rail,420106,330302,鹿城区,C1,home",
            id(1)
        )
    );
    assert_eq!(lines.len(), 4);

    // The checkpoint pass at 16:30Z on the 23rd is the 24th in +08:00.
    let out = env.ok(&[
        "exposed",
        "--region",
        "420100",
        "--from",
        "2020-01-24",
        "--to",
        "2020-01-24",
        "--format",
        "json",
    ]);
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 1);
    assert_eq!(rows[0]["person_id"], id(3));
    assert_eq!(rows[0]["kinds"], json!(["road"]));

    let table = env.ok(&[&EXPOSED_WUHAN[..], &["--format", "table"]].concat());
    assert!(
        table.starts_with("3 persons arrived from 420100 武汉市 between 2020-01-10 and 2020-01-23"),
        "{table}"
    );
    assert!(
        table.contains("\n330302 鹿城区: 1 person\n  community C1: 1\n"),
        "{table}"
    );
}

#[test]
fn bad_arguments_exit_with_code_2() {
    let env = Env::new();
    // An empty data dir: the arguments are what is wrong.
    env.ok(&["init"]);
    for (args, says) in [
        (
            vec![
                "--region",
                "4201",
                "--from",
                "2020-01-10",
                "--to",
                "2020-01-23",
            ],
            "--region 4201",
        ),
        (
            vec![
                "--region",
                "wuhan",
                "--from",
                "2020-01-10",
                "--to",
                "2020-01-23",
            ],
            "--region wuhan",
        ),
        (
            vec![
                "--region",
                "420100",
                "--from",
                "2020-01-32",
                "--to",
                "2020-01-23",
            ],
            "--from 2020-01-32",
        ),
        (
            vec![
                "--region",
                "420100",
                "--from",
                "2020-01-23",
                "--to",
                "2020-01-10",
            ],
            "is after --to",
        ),
        (vec!["--region", "420100", "--from", "2020-01-10"], "--to"),
    ] {
        let out = env.run(&[&["exposed"][..], &args].concat());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}
