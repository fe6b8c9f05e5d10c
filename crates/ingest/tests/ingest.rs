//! End-to-end tests of ingest: sources in all three formats into a real data dir, read back
//! from the Parquet files written, with every rule's rejects checked by line, column and reason.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};
use fangyi_ingest as ingest;
use ingest::{Options, Summary};
use model::{Kind, PersonId, Zone};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use store::{Store, Writer};
use vault::{Keys, MasterKey};

fn keys() -> Keys {
    Keys::derive(&MasterKey::from_bytes([9; 32]))
}

fn ingest_with(data: &Path, paths: &[PathBuf], opts: &Options) -> Summary {
    let k = keys();
    let mut w = Writer::open(data, k.key_id(), Zone::CST, || {}).unwrap();
    ingest::run(&mut w, &k, paths, opts, &|_| {}, &AtomicBool::new(false)).unwrap()
}

fn ingest(data: &Path, paths: &[PathBuf]) -> Summary {
    ingest_with(
        data,
        paths,
        &Options {
            threads: 2,
            ..Options::default()
        },
    )
}

fn read_all(files: &[PathBuf]) -> Vec<RecordBatch> {
    files
        .iter()
        .flat_map(|f| {
            let r = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(f).unwrap())
                .unwrap()
                .build()
                .unwrap();
            r.map(Result::unwrap).collect::<Vec<_>>()
        })
        .collect()
}

fn rejects(summary: &Summary) -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(&summary.rejects).unwrap();
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    rdr.records()
        .map(|r| {
            let r = r.unwrap();
            (r[1].to_string(), r[2].to_string(), r[3].to_string())
        })
        .collect()
}

const P1: &str = "33030219800101006X";
const P2: &str = "42010619900101001X";

fn pid(id: &str) -> i64 {
    keys().pseudonyms.pseudonym(id.parse::<PersonId>().unwrap())
}

fn travel_csv() -> String {
    let header = "person_id,mode,service_no,service_date,car,seat,from_station,from_region,depart_time,to_station,to_region,arrive_time";
    let rows = [
        // line 2: good, car 5 becomes 05, lowercase service number upper-cased
        format!("{P1},rail,g1234,2020-01-21,5,05F,汉口站,420100,2020-01-21T08:00:00+08:00,温州南站,330300,2020-01-21T14:30:00+08:00"),
        // line 3: good, UTC offset; departs 23:30 local on the 21st
        format!("{P2},flight,MU5321,2020-01-21,,23C,,420100,2020-01-21T15:30:00Z,,330300,2020-01-21T17:10:00Z"),
        // line 4: bad check character
        "330302198001010061,rail,G1234,2020-01-21,5,05F,,420100,2020-01-21T08:00:00+08:00,,330300,2020-01-21T14:30:00+08:00".to_string(),
        // line 5: time without offset
        format!("{P1},rail,G1234,2020-01-21,5,05F,,420100,2020-01-21T08:00:00,,330300,2020-01-21T14:30:00+08:00"),
        // line 6: arrives before it departs
        format!("{P1},rail,G1234,2020-01-21,5,05F,,420100,2020-01-21T08:00:00+08:00,,330300,2020-01-21T07:30:00+08:00"),
        // line 7: required field empty
        format!("{P1},rail,,2020-01-21,5,05F,,420100,2020-01-21T08:00:00+08:00,,330300,2020-01-21T14:30:00+08:00"),
        // line 8: unknown mode
        format!("{P1},bus,G1234,2020-01-21,5,05F,,420100,2020-01-21T08:00:00+08:00,,330300,2020-01-21T14:30:00+08:00"),
        // line 9: too few fields
        format!("{P1},rail,G1234"),
        // line 10: impossible date
        format!("{P1},rail,G1234,2020-02-30,5,05F,,420100,2020-01-21T08:00:00+08:00,,330300,2020-01-21T14:30:00+08:00"),
        // line 11: 5-digit region
        format!("{P1},rail,G1234,2020-01-21,5,05F,,42010,2020-01-21T08:00:00+08:00,,330300,2020-01-21T14:30:00+08:00"),
        // line 12: quoted station name with a comma and a newline, good
        format!("{P2},coach,K88,2020-01-22,,,\"温州,\n客运中心\",330300,2020-01-22T09:00:00+08:00,,330100,2020-01-22T13:00:00+08:00"),
        // line 14: birth date in the id is not a date (check character right for the digits)
        "420106199002300019,rail,G1234,2020-01-21,5,05F,,420100,2020-01-21T08:00:00+08:00,,330300,2020-01-21T14:30:00+08:00".to_string(),
        // line 15: born in 2030
        "330302203001010012,rail,G1234,2020-01-21,5,05F,,420100,2020-01-21T08:00:00+08:00,,330300,2020-01-21T14:30:00+08:00".to_string(),
    ];
    format!("{header}\n{}\n", rows.join("\n"))
}

#[test]
fn every_rule_rejects_its_row_and_the_good_rows_land() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("travel-2020-01-21.csv");
    std::fs::write(&input, travel_csv()).unwrap();
    let data = dir.path().join("data");
    let s = ingest(&data, std::slice::from_ref(&input));
    assert_eq!((s.files, s.rows_accepted, s.rows_rejected), (1, 3, 10));
    let got = rejects(&s);
    let want = [
        (
            "4",
            "person_id",
            "check character does not match the other 17 digits (GB 11643 MOD 11-2)",
        ),
        (
            "5",
            "depart_time",
            "time has no UTC offset (add +08:00 or Z)",
        ),
        ("6", "arrive_time", "is before depart_time"),
        ("7", "service_no", "required field is missing or empty"),
        ("8", "mode", "must be one of rail, flight, coach, ship"),
        ("9", "", "expected 12 fields, found 3"),
        ("10", "service_date", "no such calendar date"),
        (
            "11",
            "from_region",
            "region must be a 6-digit GB/T 2260 code",
        ),
        ("14", "person_id", "digits 7-14 are not a valid birth date"),
        (
            "15",
            "person_id",
            "digits 7-14 are a birth date in the future",
        ),
    ];
    let want: Vec<_> = want
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(got, want);

    let store = Store::open(&data, keys().key_id()).unwrap();
    let files = store.table_paths(Kind::Travel);
    // Two service dates: two partitions.
    assert_eq!(files.len(), 2);
    assert!(
        files[0]
            .to_string_lossy()
            .contains("tables/travel/2020-01-21/")
    );
    let batches = read_all(&files);
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    assert_eq!(rows, 3);
    let b = &batches[0];
    let person = b
        .column_by_name("person_id")
        .unwrap()
        .as_primitive::<arrow::datatypes::Int64Type>();
    assert_eq!(person.value(0), pid(P1));
    assert_eq!(person.value(1), pid(P2));
    let car = b.column_by_name("car").unwrap().as_string::<i32>();
    assert_eq!(car.value(0), "05");
    assert!(car.is_null(1));
    let service = b.column_by_name("service_no").unwrap().as_string::<i32>();
    assert_eq!(service.value(0), "G1234");
    let depart = b.column_by_name("depart_time").unwrap();
    assert_eq!(
        depart.data_type(),
        &DataType::Timestamp(
            arrow::datatypes::TimeUnit::Millisecond,
            Some("+08:00".into())
        )
    );
    let rid = b
        .column_by_name("_rid")
        .unwrap()
        .as_primitive::<arrow::datatypes::Int64Type>();
    assert_eq!(
        rid.value(0) & 0xFFFF_FFFF,
        2,
        "row id carries the source line"
    );
    let station = batches[1]
        .column_by_name("from_station")
        .unwrap()
        .as_string::<i32>();
    assert_eq!(station.value(0), "温州,\n客运中心");

    // The same file again adds nothing; a copy under another name neither.
    let again = ingest(&data, std::slice::from_ref(&input));
    assert_eq!(
        (
            again.files,
            again.files_duplicate,
            again.rows_accepted,
            again.rows_rejected
        ),
        (1, 1, 0, 0)
    );
    let copy = dir.path().join("travel-copy.csv");
    std::fs::copy(&input, &copy).unwrap();
    assert_eq!(ingest(&data, &[copy]).rows_accepted, 0);
    assert_eq!(
        Store::open(&data, keys().key_id())
            .unwrap()
            .manifest()
            .kind_stats()[&Kind::Travel]
            .rows,
        3
    );
}

#[test]
fn csv_jsonl_and_parquet_sources_store_the_same_rows() {
    let dir = tempfile::tempdir().unwrap();
    let csv_path = dir.path().join("self_reports.csv");
    std::fs::write(
        &csv_path,
        format!(
            "\u{feff}person_id,time,temperature_c,symptoms,visited_regions,note\n\
             {P1},2020-01-25T08:00:00+08:00,37.5,cough,420100;420500,\n\
             {P2},2020-01-25T23:30:00+08:00,36.6,,,\n\
             {P2},2020-01-26T07:00:00+08:00,98.6,,,\n"
        ),
    )
    .unwrap();
    let jsonl_path = dir.path().join("self_reports.jsonl");
    std::fs::write(
        &jsonl_path,
        format!(
            "{{\"person_id\":\"{P1}\",\"time\":\"2020-01-25T08:00:00+08:00\",\"temperature_c\":37.5,\"symptoms\":\"cough\",\"visited_regions\":[\"420100\",\"420500\"]}}\n\
             {{\"person_id\":\"{P2}\",\"time\":\"2020-01-25T23:30:00+08:00\",\"temperature_c\":36.6,\"visited_regions\":null}}\n\
             {{\"person_id\":\"{P2}\",\"time\":\"2020-01-26T07:00:00+08:00\",\"temperature_c\":98.6}}\n\
             not json\n"
        ),
    )
    .unwrap();
    // Parquet with typed columns: instants with a zone, a float, a list.
    let parquet_path = dir.path().join("self_reports.parquet");
    {
        use arrow::array::{
            Float64Array, ListBuilder, StringArray, StringBuilder, TimestampMillisecondArray,
        };
        let ts = |s: &str| {
            model::Timestamp::parse_rfc3339(s.as_bytes())
                .unwrap()
                .millis()
        };
        let mut visited = ListBuilder::new(StringBuilder::new());
        visited.values().append_value("420100");
        visited.values().append_value("420500");
        visited.append(true);
        visited.append(false);
        visited.append(false);
        let schema = Arc::new(Schema::new(vec![
            Field::new("person_id", DataType::Utf8, false),
            Field::new(
                "time",
                DataType::Timestamp(
                    arrow::datatypes::TimeUnit::Millisecond,
                    Some("+08:00".into()),
                ),
                false,
            ),
            Field::new("temperature_c", DataType::Float64, true),
            Field::new("symptoms", DataType::Utf8, true),
            Field::new(
                "visited_regions",
                DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
                true,
            ),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec![P1, P2, P2])),
                Arc::new(
                    TimestampMillisecondArray::from(vec![
                        ts("2020-01-25T08:00:00+08:00"),
                        ts("2020-01-25T23:30:00+08:00"),
                        ts("2020-01-26T07:00:00+08:00"),
                    ])
                    .with_timezone("+08:00"),
                ),
                Arc::new(Float64Array::from(vec![37.5, 36.6, 98.6])),
                Arc::new(StringArray::from(vec![Some("cough"), None, None])),
                Arc::new(visited.finish()),
            ],
        )
        .unwrap();
        let mut w = parquet::arrow::ArrowWriter::try_new(
            std::fs::File::create(&parquet_path).unwrap(),
            schema,
            None,
        )
        .unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
    }
    let mut stored = Vec::new();
    for (i, input) in [csv_path, jsonl_path, parquet_path].into_iter().enumerate() {
        let data = dir.path().join(format!("data{i}"));
        let s = ingest(&data, &[input]);
        assert_eq!(s.rows_accepted, 2, "source {i}");
        let r = rejects(&s);
        // CSV counts its header as line 1; JSON Lines and Parquet number records from 1.
        let bad_line = if i == 0 { "4" } else { "3" };
        assert!(
            r.iter().any(|(line, col, why)| line == bad_line
                && col == "temperature_c"
                && why.contains("outside 30..45")),
            "{r:?}"
        );
        if i == 1 {
            assert!(
                r.iter().any(|(line, col, why)| line == "4"
                    && col.is_empty()
                    && why.starts_with("not valid JSON")),
                "{r:?}"
            );
        }
        let store = Store::open(&data, keys().key_id()).unwrap();
        let mut rows = Vec::new();
        for b in read_all(&store.table_paths(Kind::SelfReports)) {
            let b = b.project(&[0, 1, 2, 3, 4]).unwrap();
            for r in 0..b.num_rows() {
                rows.push(
                    (0..b.num_columns())
                        .map(|c| {
                            arrow::util::display::array_value_to_string(b.column(c), r).unwrap()
                        })
                        .collect::<Vec<_>>()
                        .join("|"),
                );
            }
        }
        rows.sort();
        stored.push(rows);
    }
    assert_eq!(stored[0], stored[1]);
    assert_eq!(stored[0], stored[2]);
    assert_eq!(stored[0].len(), 2);
    assert!(
        stored[0].iter().any(|r| r.contains("[420100, 420500]")),
        "{:?}",
        stored[0]
    );
}

#[test]
fn personal_fields_are_sealed_and_nothing_readable_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("persons.csv");
    std::fs::write(
        &input,
        format!(
            "person_id,name,phone,birth_date,sex,home_region,community_id,household_id,address\n\
             {P1},张三丰,+86 138-1234-5678,1980-01-01,男,330302,C330302001,H1,鹿城区五马街道12号\n\
             {P2},,,1990-01-01,M,420106,,,\n"
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    let s = ingest(&data, &[input]);
    assert_eq!(s.rows_accepted, 2);
    // No byte sequence of a name, phone, address or id anywhere in the data dir.
    for needle in ["张三丰", "13812345678", "鹿城区五马", P1, P2, &P1[..17]] {
        for f in walk(&data) {
            let bytes = std::fs::read(&f).unwrap();
            assert!(
                !contains(&bytes, needle.as_bytes()),
                "{needle} found in {}",
                f.display()
            );
        }
    }
    // The vault opens with the key.
    let store = Store::open(&data, keys().key_id()).unwrap();
    let vault = read_all(&store.vault_paths(Kind::Persons));
    assert_eq!(
        vault.iter().map(RecordBatch::num_rows).sum::<usize>(),
        1,
        "only rows with personal fields"
    );
    let v = &vault[0];
    let rid = v
        .column(0)
        .as_primitive::<arrow::datatypes::Int64Type>()
        .value(0);
    let pseudonym = v
        .column(1)
        .as_primitive::<arrow::datatypes::Int64Type>()
        .value(0);
    let salt: [u8; 16] = v
        .column(2)
        .as_fixed_size_binary()
        .value(0)
        .try_into()
        .unwrap();
    let sealed = v.column(3).as_binary::<i32>().value(0);
    assert_eq!(pseudonym, pid(P1));
    let fields = keys()
        .opener(&salt)
        .open("persons", pseudonym, rid, sealed)
        .unwrap();
    assert_eq!(
        fields,
        vec![
            Some("张三丰".into()),
            Some("13812345678".into()),
            Some("鹿城区五马街道12号".into())
        ]
    );
    assert_eq!(keys().pseudonyms.reveal(pseudonym).unwrap().to_string(), P1);
}

#[test]
fn a_header_without_a_required_column_refuses_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("checkins.csv");
    std::fs::write(
        &input,
        format!(
            "person_id,time_in\n{P1},2020-01-21T08:00:00+08:00\n{P2},2020-01-21T09:00:00+08:00\n"
        ),
    )
    .unwrap();
    let s = ingest(&dir.path().join("data"), &[input]);
    assert_eq!((s.rows_accepted, s.rows_rejected), (0, 2));
    assert!(
        rejects(&s)
            .iter()
            .all(|(_, c, r)| c == "venue_id" && r.contains("missing from the header"))
    );
}

#[test]
fn many_small_chunks_keep_every_row_and_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("checkins-big.csv");
    let mut text = String::from("person_id,venue_id,time_in,time_out\n");
    for i in 0..5000 {
        let who = if i % 2 == 0 { P1 } else { P2 };
        if i % 997 == 0 {
            text.push_str(&format!("{who},V{i},2020-01-21T08:00:00,\n"));
        } else {
            text.push_str(&format!(
                "{who},V{i},2020-01-2{}T08:00:00+08:00,\n",
                1 + i % 3
            ));
        }
    }
    std::fs::write(&input, text).unwrap();
    let s = ingest_with(
        &dir.path().join("data"),
        &[input],
        &Options {
            threads: 3,
            chunk_bytes: 4096,
            kind: None,
            source_name: None,
            only_enterprise: None,
        },
    );
    let bad: Vec<u64> = (0..5000).filter(|i| i % 997 == 0).map(|i| i + 2).collect();
    assert_eq!(s.rows_accepted, 5000 - bad.len() as u64);
    let got: Vec<u64> = rejects(&s).iter().map(|r| r.0.parse().unwrap()).collect();
    assert_eq!(got, bad);
    let store = Store::open(&dir.path().join("data"), keys().key_id()).unwrap();
    // Many chunks, yet each worker keeps one file per date: at most 3 dates x 3 workers.
    let files = store.table_paths(Kind::Checkins).len();
    assert!((3..=9).contains(&files), "{files} files");
    assert_eq!(store.manifest().dates(Kind::Checkins).len(), 3);
    let lines: std::collections::BTreeSet<i64> = read_all(&store.table_paths(Kind::Checkins))
        .iter()
        .flat_map(|b| {
            let r = b
                .column_by_name("_rid")
                .unwrap()
                .as_primitive::<arrow::datatypes::Int64Type>();
            r.values()
                .iter()
                .map(|v| v & 0xFFFF_FFFF)
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(lines.len(), 5000 - bad.len());
    assert_eq!(lines.first(), Some(&3));
    assert_eq!(lines.last(), Some(&5001));
}

#[test]
fn partitions_follow_the_deployment_zone() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("checkins.csv");
    // 16:30Z on the 21st is 00:30 on the 22nd in +08:00.
    std::fs::write(&input, format!("person_id,venue_id,time_in,time_out\n{P1},V1,2020-01-21T16:30:00Z,\n{P1},V1,2020-01-21T15:30:00Z,\n")).unwrap();
    let data = dir.path().join("data");
    let s = ingest(&data, &[input]);
    assert_eq!(s.rows_rejected, 0, "{:?}", rejects(&s));
    let store = Store::open(&data, keys().key_id()).unwrap();
    let dates: Vec<String> = store
        .manifest()
        .dates(Kind::Checkins)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(dates, ["2020-01-21", "2020-01-22"]);
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The shared folder sits beside the repository: `<repo>/../shared`.
fn shared_regions() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/regions")
}

#[test]
fn every_real_region_code_is_accepted_and_twelve_digit_adcodes_are_not() {
    let dir = shared_regions();
    let table = std::fs::read_to_string(dir.join("regions.csv"))
        .expect("../shared/data/regions/regions.csv beside the repo");
    // The vendored copy is the shared table, byte for byte.
    assert_eq!(table, include_str!("../../model/data/regions.csv"));
    let codes: Vec<&str> = table
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(codes.len(), 3511);
    let adcodes = std::fs::read_to_string(dir.join("adcodes.csv")).unwrap();
    let twelve: Vec<&str> = adcodes
        .lines()
        .skip(1)
        .take(50)
        .map(|l| l.split(',').next().unwrap())
        .collect();

    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("risk_areas.csv");
    let mut text = String::from("region,level,valid_from,valid_to\n");
    for c in &codes {
        text.push_str(&format!("{c},low,2020-01-20,\n"));
    }
    for c in &twelve {
        text.push_str(&format!("{c},low,2020-01-20,\n"));
    }
    std::fs::write(&input, text).unwrap();
    let s = ingest(&tmp.path().join("data"), &[input]);
    assert_eq!(s.rows_accepted, codes.len() as u64);
    assert_eq!(s.rows_rejected, twelve.len() as u64);
    assert!(
        rejects(&s)
            .iter()
            .all(|(_, col, why)| col == "region" && why.contains("6-digit"))
    );
}

#[test]
fn a_copy_in_the_same_run_adds_nothing() {
    // Regression: both copies were checked against the manifest before either committed.
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("travel-a.csv");
    let b = dir.path().join("travel-b.csv");
    std::fs::write(&a, travel_csv()).unwrap();
    std::fs::write(&b, travel_csv()).unwrap();
    let s = ingest(&dir.path().join("data"), &[a, b]);
    assert_eq!(
        (s.files, s.files_duplicate, s.rows_accepted, s.rows_rejected),
        (2, 1, 3, 10)
    );
    let store = Store::open(&dir.path().join("data"), keys().key_id()).unwrap();
    assert_eq!(store.manifest().kind_stats()[&Kind::Travel].rows, 3);
    assert_eq!(rejects(&s).len(), 10, "rejects are written once");
}

#[test]
fn files_alike_at_both_ends_are_still_told_apart() {
    // Same size, same first and last MiB (so the same probe), different middles.
    let dir = tempfile::tempdir().unwrap();
    let row = |venue: &str| format!("{P1},{venue},2020-01-21T08:00:00+08:00,\n");
    let make = |middle: &str| {
        let mut t = String::from("person_id,venue_id,time_in,time_out\n");
        while t.len() < 1_200_000 {
            t.push_str(&row("VHEAD"));
        }
        for _ in 0..100 {
            t.push_str(&row(middle));
        }
        while t.len() < 2_500_000 {
            t.push_str(&row("VTAIL"));
        }
        t
    };
    let (a, b) = (
        dir.path().join("checkins-a.csv"),
        dir.path().join("checkins-b.csv"),
    );
    std::fs::write(&a, make("VMID1")).unwrap();
    std::fs::write(&b, make("VMID2")).unwrap();
    assert_eq!(store::probe(&a).unwrap(), store::probe(&b).unwrap());
    let data = dir.path().join("data");
    let first = ingest(&data, std::slice::from_ref(&a));
    let second = ingest(&data, std::slice::from_ref(&b));
    assert!(first.rows_accepted > 30_000);
    assert_eq!(
        second.rows_accepted, first.rows_accepted,
        "a different file with the same probe is not a duplicate"
    );
    assert_eq!(ingest(&data, &[a, b]).rows_accepted, 0);
}

#[test]
fn lines_after_blank_lines_are_counted_in_quoted_crlf_files() {
    // Regression: the CSV reader placed a record after blank lines on the first blank line.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("checkins.csv");
    let text = format!(
        "person_id,venue_id,time_in,time_out\r\n\r\n{P1},\"V,1\",2020-01-21T08:00:00,\r\n\r\n\r\n{P2},V2,2020-02-30T08:00:00Z,\r\n{P1},V3,2020-01-21T08:00:00Z,\r\n"
    );
    std::fs::write(&input, text).unwrap();
    let s = ingest(&dir.path().join("data"), &[input]);
    assert_eq!(s.rows_accepted, 1);
    let lines: Vec<String> = rejects(&s).into_iter().map(|r| r.0).collect();
    assert_eq!(lines, ["3", "6"]);
}

#[test]
fn applications_reject_bad_rows_by_line_and_field_and_store_the_person_as_a_pseudonym() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("applications.csv");
    let ent = model::EnterpriseId::from_body(b"91330106MA2B0C0D1").unwrap();
    let ent = ent.as_str();
    let bad = format!(
        "{}{}",
        &ent[..17],
        if ent.ends_with('0') { '1' } else { '0' }
    );
    let text = format!(
        "application_id,enterprise_id,person_id,start_date,submitted_time\n\
         a-1,{ent},{P1},2020-02-10,2020-02-07T09:00:00+08:00\n\
         A-1,{ent},{P2},2020-02-10,\n\
         A-1,{bad},{P1},2020-02-10,\n\
         A-1,{ent},{P1},2020-02-30,\n\
         ,{ent},{P1},2020-02-10,\n\
         A-1,{ent},{P1},2020-02-10,2020-02-07T09:00:00\n"
    );
    std::fs::write(&input, text).unwrap();
    let data = dir.path().join("data");
    let s = ingest(&data, std::slice::from_ref(&input));
    assert_eq!((s.rows_accepted, s.rows_rejected), (2, 4));
    let got: Vec<_> = rejects(&s).into_iter().map(|(l, c, _)| (l, c)).collect();
    let want = [
        ("4", "enterprise_id"),
        ("5", "start_date"),
        ("6", "application_id"),
        ("7", "submitted_time"),
    ];
    let want: Vec<_> = want
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(got, want);
    let store = Store::open(&data, keys().key_id()).unwrap();
    let batches = read_all(&store.table_paths(Kind::Applications));
    let b = &batches[0];
    let person = b
        .column_by_name("person_id")
        .unwrap()
        .as_primitive::<arrow::datatypes::Int64Type>();
    assert_eq!(person.value(0), pid(P1));
    let app = b
        .column_by_name("application_id")
        .unwrap()
        .as_string::<i32>();
    assert_eq!((app.value(0), app.value(1)), ("A-1", "A-1"));
}

#[test]
fn an_upload_for_one_enterprise_rejects_every_other_enterprises_row() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("applications.csv");
    let own = model::EnterpriseId::from_body(b"91330106MA2B0C0D1").unwrap();
    let other = model::EnterpriseId::from_body(b"91330106MA2B0C0D2").unwrap();
    let text = format!(
        "application_id,enterprise_id,person_id,start_date,submitted_time\n\
         A-1,{own},{P1},2020-02-10,\n\
         A-1,{other},{P2},2020-02-10,\n",
        own = own.as_str(),
        other = other.as_str()
    );
    std::fs::write(&input, text).unwrap();
    let data = dir.path().join("data");
    let s = ingest_with(
        &data,
        std::slice::from_ref(&input),
        &Options {
            threads: 2,
            only_enterprise: Some(own.as_str().to_string()),
            ..Options::default()
        },
    );
    assert_eq!((s.rows_accepted, s.rows_rejected), (1, 1));
    assert_eq!(
        rejects(&s),
        [(
            "3".to_string(),
            "enterprise_id".to_string(),
            "is not the uploading account's enterprise".to_string()
        )]
    );
}

/// The three market kinds (contract §9) as CSV, JSON Lines and Parquet: bad rows rejected by
/// file, line and field; no pseudonym and no vault (sellers are enterprises).
#[test]
fn market_kinds_reject_bad_rows_by_file_line_and_field_and_store_no_person() {
    let dir = tempfile::tempdir().unwrap();
    let ent = model::EnterpriseId::from_body(b"91330106MA2B0C0D1").unwrap();
    let ent = ent.as_str();
    let bad = format!(
        "{}{}",
        &ent[..17],
        if ent.ends_with('0') { '1' } else { '0' }
    );
    let listings = dir.path().join("listings-day1.csv");
    let header = "platform,listing_id,shop_id,seller_enterprise_id,seller_region,title,product,standard,registration_no,price_cny,units,sales,captured_time";
    let text = format!(
        "{header}\n\
         tmall,L1,S1,{ent},330106,医用外科口罩 50只,Surgical,YY 0469-2011,浙械注准20192140001,25.50,50,1200,2020-01-25T08:00:00+08:00\n\
         jd,L2,S2,,,KN95 口罩,respirator,,,9.9,1,,2020-01-25T23:30:00Z\n\
         jd,L3,S2,{bad},,口罩,daily,,,1,1,,2020-01-25T08:00:00+08:00\n\
         jd,L4,S2,,,口罩,cotton,,,1,1,,2020-01-25T08:00:00+08:00\n\
         jd,L5,S2,,,口罩,daily,,,1,0,,2020-01-25T08:00:00+08:00\n\
         jd,L6,S2,,,口罩,daily,,,-0.5,1,,2020-01-25T08:00:00+08:00\n\
         jd,L7,S2,,,口罩,daily,,,1,1,,2020-01-25T08:00:00\n\
         jd,L8,,,,口罩,daily,,,1,1,,2020-01-25T08:00:00+08:00\n\
         jd,L9,S2,,33010,口罩,daily,,,1,1,,2020-01-25T08:00:00+08:00\n"
    );
    std::fs::write(&listings, text).unwrap();
    let registrations = dir.path().join("device_registrations.jsonl");
    std::fs::write(
        &registrations,
        format!(
            "{{\"registration_no\":\"浙械注准20192140001\",\"holder_enterprise_id\":\"{ent}\",\"product\":\"surgical\",\"valid_from\":\"2019-03-01\",\"valid_to\":\"2024-02-28\"}}\n\
             {{\"registration_no\":\"浙械注准20192140002\",\"holder_enterprise_id\":\"{ent}\",\"product\":\"medical\",\"valid_from\":\"2019-03-01\"}}\n\
             {{\"registration_no\":\"浙械注准20192140003\",\"holder_enterprise_id\":\"{ent}\",\"product\":\"medical\",\"valid_from\":\"2019-03-01\",\"valid_to\":\"2018-01-01\"}}\n\
             {{\"registration_no\":\"浙械注准20192140004\",\"holder_enterprise_id\":\"{bad}\",\"product\":\"medical\",\"valid_from\":\"2019-03-01\"}}\n"
        ),
    )
    .unwrap();
    let baselines = dir.path().join("price_baselines.parquet");
    {
        use arrow::array::{Date32Array, Float64Array, StringArray};
        let day = |s: &str| model::Date::parse(s.as_bytes()).unwrap().days();
        let schema = Arc::new(Schema::new(vec![
            Field::new("shop_id", DataType::Utf8, true),
            Field::new("product", DataType::Utf8, true),
            Field::new("unit_price_cny", DataType::Float64, true),
            Field::new("date", DataType::Date32, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec![Some("S1"), Some("S1"), None])),
                Arc::new(StringArray::from(vec!["surgical", "n95", "daily"])),
                Arc::new(Float64Array::from(vec![0.35, 0.5, 0.2])),
                Arc::new(Date32Array::from(vec![
                    day("2019-12-20"),
                    day("2019-12-20"),
                    day("2019-12-20"),
                ])),
            ],
        )
        .unwrap();
        let mut w = parquet::arrow::ArrowWriter::try_new(
            std::fs::File::create(&baselines).unwrap(),
            schema,
            None,
        )
        .unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
    }
    let data = dir.path().join("data");
    let s = ingest(&data, &[listings, registrations, baselines]);
    assert_eq!((s.rows_accepted, s.rows_rejected), (2 + 2 + 1, 7 + 2 + 2));
    let text = std::fs::read_to_string(&s.rejects).unwrap();
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let mut got: Vec<(String, String, String)> = rdr
        .records()
        .map(|r| {
            let r = r.unwrap();
            let file = Path::new(&r[0])
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_else(|| r[0].to_string());
            (file, r[1].to_string(), r[2].to_string())
        })
        .collect();
    got.sort();
    let want = [
        ("device_registrations.jsonl", "3", "valid_to"),
        ("device_registrations.jsonl", "4", "holder_enterprise_id"),
        ("listings-day1.csv", "4", "seller_enterprise_id"),
        ("listings-day1.csv", "5", "product"),
        ("listings-day1.csv", "6", "units"),
        ("listings-day1.csv", "7", "price_cny"),
        ("listings-day1.csv", "8", "captured_time"),
        ("listings-day1.csv", "9", "shop_id"),
        ("price_baselines.parquet", "2", "product"),
        ("price_baselines.parquet", "3", "shop_id"),
    ];
    let mut want: Vec<_> = want
        .iter()
        .map(|(f, l, c)| (f.to_string(), l.to_string(), c.to_string()))
        .collect();
    want.push((
        "listings-day1.csv".to_string(),
        "10".to_string(),
        "seller_region".to_string(),
    ));
    want.sort();
    assert_eq!(got, want);

    let store = Store::open(&data, keys().key_id()).unwrap();
    for kind in [
        Kind::Listings,
        Kind::DeviceRegistrations,
        Kind::PriceBaselines,
    ] {
        assert!(store.vault_paths(kind).is_empty(), "{kind} has vault files");
    }
    let b = &read_all(&store.table_paths(Kind::Listings));
    let rows: usize = b.iter().map(RecordBatch::num_rows).sum();
    assert_eq!(rows, 2);
    // The product is stored by its vocabulary name, the registration number as given, the
    // price as a decimal and the seller as its credit code.
    let all: Vec<_> = b
        .iter()
        .flat_map(|b| {
            let col = |n: &str| b.column_by_name(n).unwrap().clone();
            (0..b.num_rows())
                .map(|i| {
                    let text = |n: &str| {
                        let c = col(n);
                        let c = c.as_string::<i32>();
                        c.is_valid(i).then(|| c.value(i).to_string())
                    };
                    (
                        text("listing_id").unwrap(),
                        text("product").unwrap(),
                        text("registration_no"),
                        text("seller_enterprise_id"),
                        col("price_cny")
                            .as_primitive::<arrow::datatypes::Float64Type>()
                            .value(i),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let mut all = all;
    all.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        all,
        [
            (
                "L1".to_string(),
                "surgical".to_string(),
                Some("浙械注准20192140001".to_string()),
                Some(ent.to_string()),
                25.5
            ),
            ("L2".to_string(), "respirator".to_string(), None, None, 9.9),
        ]
    );
}
