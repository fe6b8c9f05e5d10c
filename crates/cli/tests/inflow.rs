//! End-to-end tests of `fangyi inflow` with the real binary: the figures on a generated
//! province against a plain reading of the generated files (contract §7 applied row by row),
//! golden outputs on hand-made files, and bad arguments.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::{Env, golden, indent_json};
use model::{Date, PersonId, Region, RegionTable, Timestamp, Zone};
use serde_json::{Value, json};

/// Contract §7's roll-up, read straight off the region table.
fn rolled(code: &str, level: &str) -> String {
    let r: Region = code.parse().unwrap();
    let c = r.code();
    match level {
        "province" => format!("{:06}", c / 10_000 * 10_000),
        "county" => code.to_string(),
        _ if c.is_multiple_of(100) => code.to_string(),
        _ => match RegionTable::get().info(r) {
            Some(info) => info.parent.map_or(code.to_string(), |p| p.to_string()),
            None => format!("{:06}", c / 100 * 100),
        },
    }
}

fn covers(a: &str, b: &str) -> bool {
    let a = a.trim_end_matches("00").trim_end_matches("00");
    b.starts_with(a)
}

/// Every data row of every `<kind>*.csv` under `dir`, as header → value maps.
fn rows(dir: &Path, kind: &str) -> Vec<BTreeMap<String, String>> {
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            name.ends_with(".csv")
                && (name == format!("{kind}.csv") || name.starts_with(&format!("{kind}-")))
        })
        .collect();
    files.sort();
    for f in files {
        let mut r = csv::Reader::from_path(&f).unwrap();
        let headers = r.headers().unwrap().clone();
        for rec in r.records() {
            let rec = rec.unwrap();
            out.push(
                headers
                    .iter()
                    .zip(rec.iter())
                    .map(|(h, v)| (h.to_string(), v.to_string()))
                    .collect(),
            );
        }
    }
    out
}

fn day_of(time: &str) -> Date {
    Timestamp::parse_rfc3339(time.as_bytes())
        .unwrap()
        .date(Zone::CST)
}

/// Contract §7 applied to the generated files row by row: (region, date) → the rows' figures.
fn reference(input: &Path, level: &str, first: Date, last: Date) -> Value {
    // (origin, level, from, to)
    let high: Vec<(String, Date, Option<Date>)> = rows(input, "risk_areas")
        .into_iter()
        .filter(|r| r["level"] == "high")
        .map(|r| {
            (
                r["region"].clone(),
                r["valid_from"].parse().unwrap(),
                (!r["valid_to"].is_empty()).then(|| r["valid_to"].parse().unwrap()),
            )
        })
        .collect();
    let is_high = |origin: &str, d: Date| {
        high.iter()
            .any(|(r, from, to)| covers(r, origin) && *from <= d && to.is_none_or(|t| d <= t))
    };
    // (region, date) → person → (kinds, origins, from high risk)
    type Persons = BTreeMap<String, (BTreeSet<&'static str>, BTreeSet<String>, bool)>;
    let mut acc: BTreeMap<(String, Date), Persons> = BTreeMap::new();
    let mut arrive = |person: &str, to: &str, from: &str, d: Date, kind: &'static str| {
        if d < first || d > last {
            return;
        }
        let dest = rolled(to, level);
        if !from.is_empty() && covers(&dest, from) {
            return;
        }
        let e = acc
            .entry((dest, d))
            .or_default()
            .entry(person.to_string())
            .or_default();
        e.0.insert(kind);
        if !from.is_empty() {
            e.1.insert(rolled(from, "prefecture"));
            e.2 |= is_high(from, d);
        }
    };
    for r in rows(input, "travel") {
        let kind = match r["mode"].as_str() {
            "rail" => "rail",
            "flight" => "flight",
            "coach" => "coach",
            _ => "ship",
        };
        let d = day_of(&r["arrive_time"]);
        arrive(&r["person_id"], &r["to_region"], &r["from_region"], d, kind);
    }
    for r in rows(input, "checkpoint") {
        let d = day_of(&r["time"]);
        arrive(
            &r["person_id"],
            &r["region"],
            &r["origin_region"],
            d,
            "road",
        );
    }
    for r in rows(input, "registrations") {
        if r["stay_region"].is_empty() {
            continue;
        }
        let d: Date = r["arrival_date"].parse().unwrap();
        let (p, stay, from) = (&r["person_id"], &r["stay_region"], &r["from_region"]);
        arrive(p, stay, from, d, "registration");
    }
    let out: Vec<Value> = acc
        .into_iter()
        .map(|((region, date), persons)| {
            let n = persons.len() as u64;
            let kind = |k: &str| persons.values().filter(|p| p.0.contains(k)).count();
            let mut origins: BTreeMap<&str, u64> = BTreeMap::new();
            for p in persons.values() {
                for o in &p.1 {
                    *origins.entry(o).or_default() += 1;
                }
            }
            let mut ranked: Vec<(&str, u64)> = origins.into_iter().collect();
            ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            ranked.truncate(10);
            json!({
                "region": region,
                "date": date.to_string(),
                "arrivals": n,
                "from_high_risk": persons.values().filter(|p| p.2).count(),
                "by_kind": {
                    "rail": kind("rail"), "flight": kind("flight"), "coach": kind("coach"),
                    "ship": kind("ship"), "road": kind("road"), "registration": kind("registration"),
                },
                "top_origins": ranked.iter().map(|(o, p)| json!({
                    "region": o,
                    "persons": p,
                    // Half up in thousandths, by integers.
                    "share": ((p * 2000 + n) / (2 * n)) as f64 / 1000.0,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    Value::Array(out)
}

#[test]
fn figures_match_a_plain_reading_of_the_generated_files() {
    let env = Env::new();
    env.generate_and_ingest(4000, 14);
    let input = env.path("input");
    let (first, last): (Date, Date) =
        ("2020-01-16".parse().unwrap(), "2020-01-25".parse().unwrap());
    for level in ["province", "prefecture", "county"] {
        let out = env.ok(&[
            "inflow",
            "--as-of",
            "2020-01-25",
            "--days",
            "10",
            "--level",
            level,
            "--format",
            "json",
        ]);
        let got: Value = serde_json::from_str(&out).unwrap();
        let want = reference(&input, level, first, last);
        assert!(
            want.as_array().unwrap().len() > 10,
            "the generated province has arrivals at the {level} level"
        );
        if got != want {
            let (g, w) = (got.as_array().unwrap(), want.as_array().unwrap());
            let diff = g
                .iter()
                .zip(w)
                .find(|(a, b)| a != b)
                .map(|(a, b)| format!("first difference:\n  got  {a}\n  want {b}"));
            panic!(
                "{level}: {} rows, reference {}; {}",
                g.len(),
                w.len(),
                diff.unwrap_or_default()
            );
        }
    }
}

fn id(n: u32) -> String {
    PersonId::from_parts(330302, Date::from_ymd(1985, 3, n).unwrap(), 100 + n)
        .unwrap()
        .to_string()
}

/// Three persons into Wenzhou on the 22nd (two from Wuhan, high risk from the 20th), one from
/// Hangzhou into Lucheng on the 23rd, and a move within Wenzhou; person 1 lives in 330302 / C1.
fn load_small(env: &Env) {
    let (p1, p2, p3, p4, p5) = (id(1), id(2), id(3), id(4), id(5));
    env.write(
        "input/travel.csv",
        &format!(
            "person_id,mode,service_no,service_date,car,seat,from_station,from_region,depart_time,to_station,to_region,arrive_time\n\
             {p1},rail,G1722,2020-01-22,3,07A,武昌,420106,2020-01-22T08:00:00+08:00,温州南,330302,2020-01-22T14:00:00+08:00\n\
             {p2},flight,CA1541,2020-01-22,,23C,,110105,2020-01-22T08:00:00+08:00,,330300,2020-01-22T10:30:00+08:00\n\
             {p4},rail,G7501,2020-01-23,5,01A,杭州东,330106,2020-01-23T08:00:00+08:00,温州南,330302,2020-01-23T11:00:00+08:00\n\
             {p5},coach,K101,2020-01-23,,05,,330303,2020-01-23T08:00:00+08:00,,330302,2020-01-23T09:00:00+08:00\n"
        ),
    );
    env.write(
        "input/checkpoint.csv",
        &format!(
            "pass_id,plate,person_id,role,checkpoint_id,region,time,origin_region,destination_region,purpose\n\
             P1,浙C12345,{p1},passenger,G15-01,330302,2020-01-22T20:00:00+08:00,420100,330302,探亲\n"
        ),
    );
    env.write(
        "input/registrations.csv",
        &format!(
            "person_id,arrival_date,from_region,stay_region,stay_community,stay_address,phone\n\
             {p3},2020-01-22,420100,330304,C9,,\n"
        ),
    );
    env.write(
        "input/persons.csv",
        &format!(
            "person_id,name,phone,birth_date,sex,home_region,community_id,household_id,address\n\
             {p1},张三,13812345678,1985-03-01,M,330302,C1,H1,\n"
        ),
    );
    env.write(
        "input/risk_areas.csv",
        "region,level,valid_from,valid_to\n420100,high,2020-01-20,\n420000,medium,2020-01-20,\n",
    );
    env.ok(&["ingest", env.path("input").to_str().unwrap()]);
}

#[test]
fn outputs_match_their_golden_files() {
    let env = Env::new();
    load_small(&env);
    let args = |level: &'static str, format: &'static str| {
        vec![
            "inflow",
            "--as-of",
            "2020-01-23",
            "--days",
            "2",
            "--level",
            level,
            "--format",
            format,
        ]
    };
    golden(
        "inflow-prefecture.json",
        &indent_json(&env.ok(&args("prefecture", "json"))),
    );
    golden(
        "inflow-county.csv",
        &env.ok(&[args("county", "csv"), vec!["--detail"]].concat()),
    );
    golden("inflow-county.txt", &env.ok(&args("county", "table")));
    let detail: Value =
        serde_json::from_str(&env.ok(&[args("community", "json"), vec!["--detail"]].concat()))
            .unwrap();
    let row = detail
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["region"] == "330304")
        .unwrap();
    assert_eq!(row["community"], "C9", "the registration's community");
    assert_eq!(row["name"], "瓯海区");
    assert_eq!(row["by_origin_risk"]["high"], 1);
    assert_eq!(row["top_origins"][0]["name"], "武汉市");
    // --region narrows to destinations it covers.
    let lucheng: Value = serde_json::from_str(
        &env.ok(&[args("county", "json"), vec!["--region", "330302"]].concat()),
    )
    .unwrap();
    let regions: BTreeSet<&str> = lucheng
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["region"].as_str().unwrap())
        .collect();
    assert_eq!(regions, BTreeSet::from(["330302"]));
    // The read is audited like any other.
    let audit = env.ok(&["audit", "show", "--format", "json"]);
    assert!(audit.contains("\"action\":\"inflow\""), "{audit}");
}

#[test]
fn bad_arguments_exit_2_with_the_reason() {
    let env = Env::new();
    load_small(&env);
    let err = env.fails(&["inflow", "--as-of", "2020-01-32"], 2);
    assert!(err.contains("2020-01-32"), "{err}");
    let err = env.fails(&["inflow", "--as-of", "2020-01-23", "--days", "0"], 2);
    assert!(err.contains("days 0"), "{err}");
    let err = env.fails(&["inflow", "--as-of", "2020-01-23", "--level", "city"], 2);
    assert!(err.contains("city"), "{err}");
    let err = env.fails(&["inflow", "--as-of", "2020-01-23", "--region", "33"], 2);
    assert!(err.contains("region 33"), "{err}");
}

#[test]
fn alerts_list_the_days_tasks_and_bad_rules_name_their_line() {
    let env = Env::new();
    load_small(&env);
    let shown = env.ok(&["alerts", "--show-rules"]);
    assert!(shown.contains("[unregistered_returnee]"), "{shown}");
    // On the 23rd: persons 1 and 3 came from Wuhan on the 22nd; 3 registered (the
    // registration names a stay), 1 did not.
    let out = env.ok(&["alerts", "--as-of", "2020-01-23", "--format", "json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    let rules: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["unregistered_returnee"], "{v}");
    assert_eq!(v[0]["persons"][0], id(1));
    assert_eq!(v[0]["status"], "open");
    let table = env.ok(&["alerts", "--as-of", "2020-01-22", "--format", "table"]);
    assert!(table.contains("high_risk_arrivals"), "{table}");
    assert!(table.contains("→ visit"), "{table}");
    let bad = env.write("bad.toml", "[arrival_jump]\n\nfactor = 0.5\n");
    let err = env.fails(&["alerts", "--rules", bad.to_str().unwrap()], 2);
    assert!(
        err.contains("bad.toml, line 1: [arrival_jump]: factor 0.5"),
        "{err}"
    );
}

#[test]
fn roads_and_the_watch_list_count_what_the_files_say() {
    let env = Env::new();
    load_small(&env);
    let v: Value =
        serde_json::from_str(&env.ok(&["roads", "--as-of", "2020-01-22", "--format", "json"]))
            .unwrap();
    assert_eq!(
        v,
        json!([{"region": "330302", "name": "鹿城区", "date": "2020-01-22", "vehicles": 1,
            "persons": 1, "arriving": 1,
            "origins": [{"key": "420100", "name": "武汉市", "persons": 1}],
            "destinations": [{"key": "330302", "name": "鹿城区", "persons": 1}],
            "purposes": [{"key": "探亲", "persons": 1}]}])
    );
    // Persons 1 (rail and road from Wuhan) and 3 (registered from Wuhan) arrived from a
    // high-risk area on the 22nd: watched until 4 February.
    let list: Value =
        serde_json::from_str(&env.ok(&["watch", "--as-of", "2020-01-23", "--format", "json"]))
            .unwrap();
    let rows: Vec<(String, String, Option<String>)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["person_id"].as_str().unwrap().to_string(),
                p["until"].as_str().unwrap().to_string(),
                p["stay_community"].as_str().map(str::to_string),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (id(1), "2020-02-04".to_string(), Some("C1".to_string())),
            (id(3), "2020-02-04".to_string(), Some("C9".to_string())),
        ]
    );
    let summary: Value = serde_json::from_str(&env.ok(&[
        "watch",
        "--as-of",
        "2020-02-05",
        "--summary",
        "--format",
        "json",
    ]))
    .unwrap();
    assert_eq!(summary, json!([]), "the 14 days are over");
    let err = env.fails(&["watch", "--days", "0"], 2);
    assert!(err.contains("--days 0"), "{err}");
}

#[test]
fn a_high_risk_arrivals_alert_says_where_the_persons_it_counts_are_named() {
    let env = Env::new();
    load_small(&env);
    // On the 22nd, persons 1 (Lucheng C1) and 3 (C9) came from Wuhan, high risk that day.
    let alerts: Value =
        serde_json::from_str(&env.ok(&["alerts", "--as-of", "2020-01-22", "--format", "json"]))
            .unwrap();
    let high: Vec<&Value> = alerts
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["rule"] == "high_risk_arrivals")
        .collect();
    assert!(!high.is_empty(), "{alerts}");
    for a in high {
        let task = a["task_detail"].as_str().unwrap();
        assert!(task.contains("watch list"), "{task}");
        // The watch list of that place names at least as many who arrived that day.
        let mut args = vec!["watch", "--as-of", "2020-01-22", "--format", "json"];
        let region = a["region"].as_str().unwrap();
        args.extend(["--region", region]);
        if let Some(c) = a["community"].as_str() {
            assert!(task.contains(&format!("community {c}")), "{task}");
            args.extend(["--community", c]);
        }
        let listed: Value = serde_json::from_str(&env.ok(&args)).unwrap();
        let that_day = listed
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["arrived"] == "2020-01-22")
            .count();
        assert!(
            that_day as u64 >= a["count"].as_u64().unwrap(),
            "{a} but the watch list has {listed}"
        );
    }
}
