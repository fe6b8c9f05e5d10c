//! End-to-end checks of generated data: determinism, valid and unique ids, every row valid
//! except the listed bad rows (each failing on its recorded column), truth consistent with
//! the recorded contacts and lab rows, and summary counts matching the files.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use arrow::array::{Array, StringArray};
use fangyi_synth::{Config, Format, Progress, generate};
use model::{Column, Kind, RowCheck, Timestamp};

fn config(persons: u64, days: u32, format: Format, bad: f64) -> Config {
    Config {
        persons,
        days,
        seed: 11,
        region: model::Region::new(330300).unwrap(),
        format,
        bad_row_rate: bad,
        rates:
            "wuhan_sojourners=0.08,wuhan_hazard=0.01,transmission=6,visitors=0.02,students_away=0.6"
                .parse()
                .unwrap(),
        ..Config::default()
    }
}

fn run(config: &Config, dir: &Path) -> fangyi_synth::Summary {
    let cancel = AtomicBool::new(false);
    generate(config, dir, &|_: Progress| {}, &cancel).expect("generate")
}

/// A record: cells by column (None = absent), and whether the field count was right.
struct Record {
    line: u64,
    cells: Vec<Option<String>>,
    fields_ok: bool,
}

fn split_csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if cur.is_empty() => quoted = true,
            (',', false) => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

fn read(path: &Path, kind: Kind) -> Vec<Record> {
    let columns = kind.spec().columns;
    let name = path.to_string_lossy();
    let mut out = Vec::new();
    if name.ends_with(".csv") {
        let text = std::fs::read_to_string(path).unwrap();
        let mut lines = text.lines();
        let header = split_csv(lines.next().unwrap());
        let names: Vec<&str> = columns.iter().map(|c| c.name).collect();
        assert_eq!(header, names, "{name}: header");
        for (i, l) in lines.enumerate() {
            let f = split_csv(l);
            out.push(Record {
                line: i as u64 + 2,
                fields_ok: f.len() == columns.len(),
                cells: f
                    .into_iter()
                    .map(|c| (!c.is_empty()).then_some(c))
                    .collect(),
            });
        }
    } else if name.ends_with(".jsonl") {
        let text = std::fs::read_to_string(path).unwrap();
        for (i, l) in text.lines().enumerate() {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let obj = v.as_object().unwrap();
            for k in obj.keys() {
                assert!(
                    columns.iter().any(|c| c.name == k),
                    "{name}: unknown field {k}"
                );
            }
            let cells = columns
                .iter()
                .map(|c| {
                    obj.get(c.name).map(|v| match v {
                        serde_json::Value::String(s) => s.clone(),
                        serde_json::Value::Array(a) => a
                            .iter()
                            .map(|x| x.as_str().unwrap().to_string())
                            .collect::<Vec<_>>()
                            .join(";"),
                        other => other.to_string(),
                    })
                })
                .collect();
            out.push(Record {
                line: i as u64 + 1,
                cells,
                fields_ok: true,
            });
        }
    } else {
        let file = std::fs::File::open(path).unwrap();
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap();
        let mut n = 0;
        for batch in reader {
            let batch = batch.unwrap();
            for r in 0..batch.num_rows() {
                n += 1;
                let cells = columns
                    .iter()
                    .map(|c| {
                        let col = batch.column_by_name(c.name).unwrap();
                        let s = col.as_any().downcast_ref::<StringArray>().unwrap();
                        (!s.is_null(r)).then(|| s.value(r).to_string())
                    })
                    .collect();
                out.push(Record {
                    line: n,
                    cells,
                    fields_ok: true,
                });
            }
        }
    }
    out
}

/// The first bad column of a record, by the contract's field rules (None: valid).
fn first_error(
    columns: &[Column],
    checks: &[RowCheck],
    cells: &[Option<String>],
) -> Option<String> {
    let mut parsed = HashMap::new();
    for (c, cell) in columns.iter().zip(cells) {
        match cell.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None if c.required => return Some(c.name.to_string()),
            None => {}
            Some(s) => match model::field::parse(c.ty, s) {
                Ok(v) => {
                    let key = match v {
                        model::Value::Timestamp(t) => Some(t.millis()),
                        model::Value::Date(d) => Some(i64::from(d.days())),
                        _ => None,
                    };
                    if let Some(k) = key {
                        parsed.insert(c.name, k);
                    }
                }
                Err(_) => return Some(c.name.to_string()),
            },
        }
    }
    for check in checks {
        let RowCheck::NotBefore { earlier, later } = check;
        if let (Some(a), Some(b)) = (parsed.get(earlier), parsed.get(later))
            && b < a
        {
            return Some(later.to_string());
        }
    }
    None
}

fn data_files(dir: &Path) -> Vec<(PathBuf, Kind)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            assert!(!name.ends_with(".tmp"), "left a temporary file {name}");
            let kind =
                Kind::from_file_name(&name).unwrap_or_else(|| panic!("{name} names no kind"));
            (p, kind)
        })
        .collect();
    v.sort();
    v
}

fn bad_list(dir: &Path) -> HashMap<(String, u64), String> {
    let text = std::fs::read_to_string(dir.join("truth/bad_rows.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("file,line,column,what"));
    lines
        .map(|l| {
            let f = split_csv(l);
            ((f[0].clone(), f[1].parse().unwrap()), f[2].clone())
        })
        .collect()
}

fn check_dir(dir: &Path, format: Format, summary: &fangyi_synth::Summary) {
    let bad = bad_list(dir);
    let mut seen_bad = 0;
    let mut good_per_kind: BTreeMap<Kind, u64> = BTreeMap::new();
    let mut bad_per_kind: BTreeMap<Kind, u64> = BTreeMap::new();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("truth/summary.json")).unwrap())
            .unwrap();
    let detail: HashMap<String, u64> = json["files_detail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["file"].as_str().unwrap().to_string(),
                f["rows"].as_u64().unwrap(),
            )
        })
        .collect();
    let files = data_files(dir);
    assert_eq!(files.len() as u64, summary.files);
    for (path, kind) in files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        assert!(name.ends_with(format.extension()));
        let spec = kind.spec();
        let mut good = 0;
        for rec in read(&path, kind) {
            if let Some(col) = bad.get(&(name.clone(), rec.line)) {
                seen_bad += 1;
                *bad_per_kind.entry(kind).or_default() += 1;
                if col.is_empty() {
                    assert!(
                        !rec.fields_ok,
                        "{name}:{} should have a wrong field count",
                        rec.line
                    );
                } else {
                    assert!(rec.fields_ok);
                    assert_eq!(
                        first_error(spec.columns, spec.checks, &rec.cells).as_deref(),
                        Some(col.as_str()),
                        "{name}:{}",
                        rec.line
                    );
                }
            } else {
                assert!(rec.fields_ok, "{name}:{} field count", rec.line);
                if let Some(col) = first_error(spec.columns, spec.checks, &rec.cells) {
                    panic!("{name}:{} bad {col}: {:?}", rec.line, rec.cells);
                }
                good += 1;
            }
        }
        assert_eq!(detail[&name], good, "{name}: rows in summary.json");
        *good_per_kind.entry(kind).or_default() += good;
    }
    assert_eq!(seen_bad, bad.len(), "every listed bad row exists");
    for (k, n) in &summary.rows {
        assert_eq!(good_per_kind.get(k).copied().unwrap_or(0), *n, "{k} rows");
        assert_eq!(json["rows"][k.name()].as_u64().unwrap(), *n);
    }
    for (k, n) in &summary.bad_rows {
        assert_eq!(
            bad_per_kind.get(k).copied().unwrap_or(0),
            *n,
            "{k} bad rows"
        );
    }
}

#[test]
fn every_row_is_valid_except_the_listed_bad_ones() {
    for format in [Format::Csv, Format::Jsonl, Format::Parquet] {
        let dir = tempfile::tempdir().unwrap();
        let summary = run(&config(1500, 9, format, 0.03), dir.path());
        assert!(
            summary.bad_rows.values().sum::<u64>() > 50,
            "{format}: too few bad rows"
        );
        check_dir(dir.path(), format, &summary);
    }
}

fn files_bytes(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for sub in ["", "truth"] {
        for e in std::fs::read_dir(dir.join(sub)).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() {
                out.insert(
                    format!("{sub}/{}", p.file_name().unwrap().to_string_lossy()),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

#[test]
fn two_runs_are_byte_identical() {
    for format in [Format::Csv, Format::Parquet] {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let c = config(1200, 8, format, 0.01);
        run(&c, a.path());
        run(&c, b.path());
        let fa = files_bytes(a.path());
        let fb = files_bytes(b.path());
        assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>());
        for (k, v) in &fa {
            assert!(v == &fb[k], "{k} differs between runs");
        }
    }
}

#[test]
fn ids_are_valid_unique_and_match_birth_and_sex() {
    for region in [330000, 330300] {
        let c = Config {
            persons: 4000,
            region: model::Region::new(region).unwrap(),
            rates: "visitors=0.05".parse().unwrap(),
            ..Config::default()
        };
        let ids = fangyi_synth::testing::person_ids(&c, 10_000).unwrap();
        assert_eq!(ids.len(), 4200);
        let mut seen = HashSet::new();
        for (id, birth, male) in ids {
            let parsed = model::PersonId::parse(&id.to_bytes()).unwrap();
            assert_eq!(parsed.birth_date(), Some(birth));
            assert_eq!(parsed.is_male(), male);
            assert!(seen.insert(id), "{id} repeats");
        }
    }
}

#[derive(Debug, Clone)]
struct Stay {
    venue: String,
    from: i64,
    to: i64,
}

/// mode, service, date, car, depart, arrive
type Ride = (String, String, String, String, i64, i64);
/// reported, input order, result, diagnosis
type Lab = (i64, i64, String, Option<String>);

fn ts(s: &str) -> i64 {
    Timestamp::parse_rfc3339(s.as_bytes()).unwrap().millis()
}

#[test]
fn truth_matches_recorded_contacts_and_lab_rows() {
    let dir = tempfile::tempdir().unwrap();
    let summary = run(&config(5000, 20, Format::Csv, 0.0), dir.path());
    let dir = dir.path();
    let mut household: HashMap<String, String> = HashMap::new();
    let mut stays: HashMap<String, Vec<Stay>> = HashMap::new();
    let mut rides: HashMap<String, Vec<Ride>> = HashMap::new();
    let mut passes: HashMap<String, HashSet<String>> = HashMap::new();
    let mut labs: HashMap<String, Vec<Lab>> = HashMap::new();
    let mut order = 0i64;
    let mut seats = HashSet::new();
    for (path, kind) in data_files(dir) {
        for rec in read(&path, kind) {
            let c = |i: usize| rec.cells[i].clone().unwrap_or_default();
            match kind {
                Kind::Persons => {
                    household.insert(c(0), c(7));
                }
                Kind::Checkins => {
                    let from = ts(&c(2));
                    let to = rec.cells[3].as_deref().map(ts).unwrap_or(from + 3_600_000);
                    stays.entry(c(0)).or_default().push(Stay {
                        venue: c(1),
                        from,
                        to,
                    });
                }
                Kind::Travel => {
                    rides.entry(c(0)).or_default().push((
                        c(1),
                        c(2),
                        c(3),
                        c(4),
                        ts(&c(8)),
                        ts(&c(11)),
                    ));
                    if !c(5).is_empty() {
                        let seat = (c(2), c(3), c(4), c(5));
                        assert!(seats.insert(seat.clone()), "seat sold twice: {seat:?}");
                    }
                }
                Kind::Checkpoint => {
                    passes.entry(c(0)).or_default().insert(c(2));
                }
                Kind::LabResults => {
                    order += 1;
                    labs.entry(c(0)).or_default().push((
                        ts(&c(5)),
                        order,
                        c(2),
                        rec.cells[3].clone(),
                    ));
                }
                _ => {}
            }
        }
    }
    let text = std::fs::read_to_string(dir.join("truth/infections.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "person_id,infected_time,infector_id,via,place,onset_date,outcome,reported_time"
    );
    let mut local = 0;
    let mut counted_cases = 0;
    let mut outcomes: HashMap<String, (String, String)> = HashMap::new();
    for l in lines {
        let f = split_csv(l);
        let (who, when, infector, via, place) = (&f[0], ts(&f[1]), &f[2], f[3].as_str(), &f[4]);
        outcomes.insert(who.clone(), (f[6].clone(), f[7].clone()));
        if f[6] != "undetected" {
            counted_cases += 1;
        }
        if via == "imported" {
            assert!(infector.is_empty());
            assert!(model::Region::parse(place.as_bytes()).is_ok(), "{place}");
            continue;
        }
        local += 1;
        let ok = match via {
            "household" => {
                household.get(who).is_some_and(|h| h == place)
                    && household.get(infector) == Some(place)
            }
            "venue" => {
                let mine = stays
                    .get(who)
                    .into_iter()
                    .flatten()
                    .filter(|s| &s.venue == place);
                mine.into_iter().any(|a| {
                    stays
                        .get(infector)
                        .into_iter()
                        .flatten()
                        .filter(|s| &s.venue == place)
                        .any(|b| {
                            let lo = a.from.max(b.from);
                            let hi = a.to.min(b.to);
                            hi - lo >= 15 * 60_000 && lo <= when && when <= hi
                        })
                })
            }
            "rail" | "flight" | "coach" | "ship" => {
                let parts: Vec<&str> = place.split('|').collect();
                let mine: Vec<_> = rides
                    .get(who)
                    .into_iter()
                    .flatten()
                    .filter(|r| r.0 == via && r.1 == parts[0] && r.2 == parts[1])
                    .collect();
                let theirs: Vec<_> = rides
                    .get(infector)
                    .into_iter()
                    .flatten()
                    .filter(|r| r.0 == via && r.1 == parts[0] && r.2 == parts[1])
                    .collect();
                mine.iter().any(|a| {
                    theirs.iter().any(|b| {
                        let same_car = via != "rail" || (a.3 == parts[2] && b.3 == parts[2]);
                        same_car && a.4.max(b.4) <= when && when <= a.5.min(b.5)
                    })
                })
            }
            "vehicle" => passes
                .get(place)
                .is_some_and(|s| s.contains(who) && s.contains(infector)),
            other => panic!("unknown via {other}"),
        };
        assert!(
            ok,
            "no recorded {via} contact at {place} for {who} <- {infector}"
        );
    }
    assert!(
        local > 0,
        "the outbreak should spread locally in this configuration"
    );
    assert_eq!(summary.cases, counted_cases);
    // Contract section 2 on the written lab rows.
    let mut cases = HashMap::new();
    for (person, rows) in &mut labs {
        rows.sort_by_key(|r| (r.0, r.1));
        let mut status = "none";
        let mut report = None;
        let mut confirmed = false;
        for (reported, _, result, diagnosis) in rows.iter() {
            match diagnosis.as_deref() {
                Some(d) => {
                    status = if d == "confirmed" {
                        "confirmed"
                    } else if d == "asymptomatic" {
                        "asymptomatic"
                    } else if d == "suspected" {
                        "suspected"
                    } else {
                        "recovered"
                    }
                }
                None if result == "positive" && status == "none" => status = "suspected",
                None if result == "negative" && status == "suspected" => status = "none",
                None => {}
            }
            if status == "confirmed" {
                confirmed = true;
            }
            if (status == "confirmed" || status == "asymptomatic") && report.is_none() {
                report = Some(*reported);
            }
        }
        if let Some(r) = report {
            cases.insert(person.clone(), (r, confirmed));
        }
    }
    for (person, (outcome, reported)) in &outcomes {
        match cases.get(person) {
            Some((r, confirmed)) => {
                assert_eq!(
                    outcome,
                    if *confirmed {
                        "confirmed"
                    } else {
                        "asymptomatic"
                    },
                    "{person}"
                );
                assert_eq!(ts(reported), *r, "{person} report time");
            }
            None => assert_eq!(outcome, "undetected", "{person}"),
        }
    }
    for person in cases.keys() {
        assert!(
            outcomes.contains_key(person),
            "{person} is a case without an infection"
        );
    }
}

#[test]
fn cancelling_leaves_no_partial_files() {
    let dir = tempfile::tempdir().unwrap();
    let cancel = AtomicBool::new(false);
    let c = config(1000, 6, Format::Csv, 0.0);
    let r = generate(
        &c,
        dir.path(),
        &|p: Progress| {
            if let Progress::Step { done: 3, .. } = p {
                cancel.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        },
        &cancel,
    );
    assert!(matches!(r, Err(fangyi_synth::Error::Cancelled)), "{r:?}");
    for (path, kind) in data_files(dir.path()) {
        // Whatever exists is complete and readable.
        let _ = read(&path, kind);
    }
}

#[test]
fn a_small_province_still_has_an_outbreak_to_trace() {
    // 20,000 residents at the real rate (about 20 cases per million) would have none.
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        persons: 20_000,
        days: 21,
        ..Config::default()
    };
    let summary = run(&config, dir.path());
    assert!(summary.infections >= 8, "{} infections", summary.infections);
    assert!(summary.cases >= 1, "no case among {}", summary.infections);
    // Some reported case shares a household with someone: a contact to trace.
    let mut households: HashMap<String, Vec<String>> = HashMap::new();
    for (path, kind) in data_files(dir.path()) {
        if kind != Kind::Persons {
            continue;
        }
        for rec in read(&path, kind) {
            let (id, household) = (rec.cells[0].clone(), rec.cells[7].clone());
            if let (Some(id), Some(h)) = (id, household) {
                households.entry(h).or_default().push(id);
            }
        }
    }
    let truth = std::fs::read_to_string(dir.path().join("truth/infections.csv")).unwrap();
    let reported: Vec<&str> = truth
        .lines()
        .skip(1)
        .filter(|l| l.contains(",confirmed,") || l.contains(",asymptomatic,"))
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert!(!reported.is_empty(), "{truth}");
    assert!(
        reported.iter().any(|case| households
            .values()
            .any(|members| members.len() > 1 && members.iter().any(|m| m == case))),
        "no reported case lives with anyone: {reported:?}"
    );
}
