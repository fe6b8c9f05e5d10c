//! Malformed input of every shape the outside testing found, end to end: each bad row is
//! reported (with the lines it took), no good row is lost, nothing is silently changed, a
//! file that cannot be read at all is refused by name and not recorded, and no reject or
//! answer quotes a personal value.

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryArray, Date64Array, RecordBatch, StringArray, TimestampMillisecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use model::{Kind, PersonId};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use store::Store;
use support::{RejectRow, contains, ingest, keys, rejects, stored_persons, walk};

const P1: &str = "33030219800101006X";
const P2: &str = "42010619900101001X";
const CHECKINS: &str = "person_id,venue_id,time_in,time_out";

fn t(h: u32) -> String {
    format!("2020-01-21T{h:02}:00:00+08:00")
}

/// The source lines of the stored check-ins.
fn stored_lines(data: &Path, kind: Kind) -> Vec<u64> {
    let store = Store::open(data, keys().key_id()).unwrap();
    let mut lines: Vec<u64> = support::read_all(&store.table_paths(kind))
        .iter()
        .flat_map(|b| {
            use arrow::array::AsArray;
            let rid = b.column_by_name("_rid").unwrap();
            rid.as_primitive::<arrow::datatypes::Int64Type>()
                .values()
                .iter()
                .map(|v| (v & 0xFFFF_FFFF) as u64)
                .collect::<Vec<_>>()
        })
        .collect();
    lines.sort_unstable();
    lines
}

fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn spans(r: &[RejectRow]) -> Vec<(u64, u64)> {
    r.iter().map(|r| (r.line, r.last_line)).collect()
}

#[test]
fn a_stray_quote_costs_its_own_line_and_the_rows_after_it_land() {
    // Regression: the quote swallowed the next lines into one field (rows vanished, a row
    // was stored with three lines in a field, 0 rejects) or the rest of the file.
    let dir = tempfile::tempdir().unwrap();
    let rows = [
        format!("{P1},V2,{},", t(8)),
        // line 3: a quote opens in time_in and never closes into a record
        format!("{P1},V3,\"{},", t(8)),
        format!("{P2},V4,{},", t(9)),
        format!("{P2},V5,{},{}", t(9), t(10)),
        // line 6: legitimately quoted
        format!("{P1},\"V6\",\"{}\",", t(11)),
        // line 7: a stray quote opens time_out; line 9 has one that closes it in the same
        // column — a well-formed RFC 4180 record that would glue lines 7 to 9 together
        format!("{P2},V7,{},\"{}", t(8), t(9)),
        format!("{P1},V8,{},", t(12)),
        format!("{P2},V9,{},{}\"", t(8), t(13)),
        format!("{P1},V10,{},", t(14)),
        // line 11: a quote that is never closed: the rest of the file is still read
        format!("\"{P2},V11,{},", t(8)),
        format!("{P1},V12,{},", t(15)),
        format!("{P1},V13,{},", t(16)),
    ];
    let text = format!("{CHECKINS}\n{}\n", rows.join("\n"));
    let input = write(dir.path(), "checkins.csv", text);
    let data = dir.path().join("data");
    let s = ingest(&data, &[input]);
    let r = rejects(&s);
    assert_eq!(spans(&r), [(3, 3), (7, 7), (9, 9), (11, 11)], "{r:#?}");
    assert!(r[0].reason.starts_with("unbalanced quote"), "{r:?}");
    assert!(r[1].reason.starts_with("unbalanced quote"), "{r:?}");
    assert!(
        r[2].reason.starts_with("quote inside an unquoted field"),
        "{r:?}"
    );
    assert!(r[3].reason.starts_with("unbalanced quote"), "{r:?}");
    assert_eq!((s.rows_accepted, s.rows_rejected), (8, 4));
    assert_eq!(
        stored_lines(&data, Kind::Checkins),
        [2, 4, 5, 6, 8, 10, 12, 13]
    );
}

#[test]
fn a_stray_quote_closing_into_an_invalid_record_does_not_swallow_the_next() {
    // Line 2's quote opens its household id and closes at line 3's quoted name (which
    // starts with a comma): nine well-formed fields, but the household id holds a line break.
    // Read by syntax alone, line 3's person would be gone; the record over several lines
    // fails validation, so parsing resumes at line 3.
    let dir = tempfile::tempdir().unwrap();
    let header =
        "person_id,name,phone,birth_date,sex,home_region,community_id,household_id,address";
    let text = format!("{header}\n{P1},a,,,,330302,,\",\n{P2},\",\nb\",,,,330302,,,\n");
    let data = dir.path().join("data");
    let s = ingest(&data, &[write(dir.path(), "persons.csv", text)]);
    let r = rejects(&s);
    assert_eq!(spans(&r), [(2, 2)], "{r:?}");
    assert!(r[0].reason.starts_with("unbalanced quote"), "{r:?}");
    let rows = stored_persons(&data);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, 3);
    assert_eq!(rows[0].1[0].as_deref(), Some(P2));
    assert_eq!(rows[0].1[1].as_deref(), Some(",\nb"));
}

#[test]
fn a_malformed_record_over_several_lines_is_one_reject_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    // Lines 2-4: a quoted venue id over three lines, then one field too many.
    let text = format!(
        "{CHECKINS}\n{P1},\"V\nX\nY\",{},,extra\n{P2},V5,{},\n",
        t(8),
        t(9)
    );
    let data = dir.path().join("data");
    let s = ingest(&data, &[write(dir.path(), "checkins.csv", text)]);
    let r = rejects(&s);
    assert_eq!(spans(&r), [(2, 4)]);
    assert_eq!(
        r[0].reason,
        "expected 4 fields, found 5 (lines 2-4 rejected as one)"
    );
    assert_eq!(stored_lines(&data, Kind::Checkins), [5]);
}

#[test]
fn text_after_a_closing_quote_is_refused_not_glued_on() {
    // Regression: `"V1"x` was read as `V1x`.
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "{CHECKINS}\n{P1},\"V1\"x,{},\n{P1},\"V2\"  ,{},\n",
        t(8),
        t(9)
    );
    let data = dir.path().join("data");
    let s = ingest(&data, &[write(dir.path(), "checkins.csv", text)]);
    let r = rejects(&s);
    assert_eq!(spans(&r), [(2, 2)]);
    assert!(r[0].reason.starts_with("text after a closing quote"));
    // Spaces after a closing quote are allowed.
    assert_eq!(stored_lines(&data, Kind::Checkins), [3]);
}

#[test]
fn a_bare_carriage_return_is_one_reject_and_lines_stay_counted() {
    // Regression: a lone CR inside an unquoted field split one row into two rejects.
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "{CHECKINS}\n{P1},V1\r2,{},\n{P2},V3,{},\n{P2},V4,2020-01-21T09:00:00,\n",
        t(8),
        t(9)
    );
    let data = dir.path().join("data");
    let s = ingest(&data, &[write(dir.path(), "checkins.csv", text)]);
    let r = rejects(&s);
    assert_eq!(spans(&r), [(2, 2), (4, 4)]);
    assert!(
        r[0].reason
            .starts_with("carriage return inside an unquoted field")
    );
    assert_eq!(r[1].column, "time_in");
    assert_eq!(stored_lines(&data, Kind::Checkins), [3]);
}

#[test]
fn carriage_return_files_count_their_lines() {
    // Regression: a file whose lines end with a lone CR gave wrong line numbers.
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "{CHECKINS}\r{P1},V2,{},\r{P1},\"V\r3\",{},\r{P2},V4,{},\r\r{P2},V6,{},\r",
        t(8),
        t(9),
        "2020-01-21",
        t(10)
    );
    let data = dir.path().join("data");
    let s = ingest(&data, &[write(dir.path(), "checkins.csv", text)]);
    let r = rejects(&s);
    assert_eq!(spans(&r), [(3, 4), (5, 5)], "{r:?}");
    assert_eq!(
        r[0].column, "venue_id",
        "a venue id cannot hold a line break"
    );
    assert_eq!(r[1].column, "time_in");
    assert_eq!(stored_lines(&data, Kind::Checkins), [2, 7]);
}

fn utf16le(text: &str, bom: bool) -> Vec<u8> {
    let mut out = if bom { vec![0xFF, 0xFE] } else { Vec::new() };
    for u in text.encode_utf16() {
        out.extend_from_slice(&u.to_le_bytes());
    }
    out
}

#[test]
fn utf16_files_are_refused_by_name_and_not_recorded() {
    // Regression: a UTF-16 file gave phantom rows with a misleading reason, and was recorded.
    let dir = tempfile::tempdir().unwrap();
    let text = format!("{CHECKINS}\n{P1},V1,{},\n", t(8));
    let with_bom = write(dir.path(), "checkins-a.csv", utf16le(&text, true));
    let without = write(dir.path(), "checkins-b.csv", utf16le(&text, false));
    let json = format!(
        "{{\"person_id\":\"{P1}\",\"venue_id\":\"V1\",\"time_in\":\"{}\"}}\n",
        t(8)
    );
    let jsonl = write(dir.path(), "checkins-c.jsonl", utf16le(&json, true));
    let data = dir.path().join("data");
    let paths = [with_bom, without, jsonl];
    for round in 0..2 {
        let s = ingest(&data, &paths);
        assert_eq!(
            (
                s.files,
                s.files_refused,
                s.files_duplicate,
                s.rows_accepted,
                s.rows_rejected
            ),
            (3, 3, 0, 0, 0),
            "round {round}: refused again, never \"already present\""
        );
        let why: Vec<&str> = s
            .sources
            .iter()
            .map(|f| f.refused.as_deref().unwrap())
            .collect();
        assert!(why[0].contains("UTF-16 (little-endian)"), "{why:?}");
        assert!(why[1].contains("UTF-16 (little-endian, without a byte-order mark)"));
        assert!(why[2].contains("JSON Lines must be UTF-8"), "{why:?}");
        let r = rejects(&s);
        assert_eq!(r.len(), 3);
        assert!(
            r.iter()
                .all(|r| r.line == 0 && r.reason.starts_with("file refused: "))
        );
        assert!(r[0].file.ends_with("checkins-a.csv"));
    }
    let store = Store::open(&data, keys().key_id()).unwrap();
    assert!(store.manifest().sources().is_empty());
}

#[test]
fn a_byte_order_mark_does_not_cost_the_first_json_line() {
    // Regression: a UTF-8 BOM made the first record "not a JSON object".
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "\u{feff}{{\"person_id\":\"{P1}\",\"venue_id\":\"V1\",\"time_in\":\"{}\"}}\r\n{{\"person_id\":\"{P2}\",\"venue_id\":\"V2\",\"time_in\":\"{}\"}}\r\n",
        t(8),
        t(9)
    );
    let data = dir.path().join("data");
    let s = ingest(&data, &[write(dir.path(), "checkins.jsonl", text)]);
    assert_eq!(
        (s.rows_accepted, s.rows_rejected),
        (2, 0),
        "{:?}",
        rejects(&s)
    );
    assert_eq!(stored_lines(&data, Kind::Checkins), [1, 2]);
}

#[test]
fn json_lines_ending_in_carriage_returns_count_their_lines() {
    // Regression (a sibling of the CSV one): a file of lines ending with a lone CR was one
    // line, one reject for every record.
    let dir = tempfile::tempdir().unwrap();
    let row = |id: &str, v: &str, h: u32| {
        format!(
            "{{\"person_id\":\"{id}\",\"venue_id\":\"{v}\",\"time_in\":\"{}\"}}",
            t(h)
        )
    };
    let text = format!(
        "{}\r\r{}\r[]\r{}",
        row(P1, "V1", 8),
        row(P2, "V2", 9),
        row(P1, "V3", 10)
    );
    let data = dir.path().join("data");
    let s = ingest(&data, &[write(dir.path(), "checkins.jsonl", text)]);
    assert_eq!(spans(&rejects(&s)), [(4, 4)]);
    assert_eq!(stored_lines(&data, Kind::Checkins), [1, 3, 5]);
}

#[test]
fn a_json_array_is_refused_as_not_json_lines_without_being_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let one = format!(
        "{{\"person_id\":\"{P1}\",\"venue_id\":\"V1\",\"time_in\":\"{}\"}}",
        t(8)
    );
    let mut text = String::from("[");
    while text.len() < 3 << 20 {
        text.push_str(&one);
        text.push(',');
    }
    text.push_str(&one);
    text.push(']');
    let data = dir.path().join("data");
    let s = ingest(&data, &[write(dir.path(), "checkins.json", text)]);
    assert_eq!(s.files_refused, 1);
    let why = s.sources[0].refused.as_deref().unwrap();
    assert!(why.contains("not JSON Lines (a JSON array?"), "{why}");
}

#[test]
fn json_lines_refuse_duplicate_keys_and_say_what_a_line_holds() {
    let dir = tempfile::tempdir().unwrap();
    let good = format!(
        "{{\"person_id\":\"{P1}\",\"venue_id\":\"V1\",\"time_in\":\"{}\"}}",
        t(8)
    );
    let text = [
        good.clone(),
        // Two venue ids: which one is meant is not for ingest to guess.
        format!(
            "{{\"person_id\":\"{P1}\",\"venue_id\":\"V1\",\"venue_id\":\"V2\",\"time_in\":\"{}\"}}",
            t(8)
        ),
        "[1, 2]".into(),
        "{\"person_id\": ".into(),
        good,
    ]
    .join("\n");
    let data = dir.path().join("data");
    let s = ingest(&data, &[write(dir.path(), "checkins.jsonl", text)]);
    let r = rejects(&s);
    let got: Vec<(u64, &str, &str)> = r
        .iter()
        .map(|r| (r.line, r.column.as_str(), r.reason.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (2, "venue_id", "key venue_id appears more than once"),
            (3, "", "not a JSON object: the line holds an array"),
            (
                4,
                "",
                "not valid JSON: EOF while parsing a value (column 13)"
            ),
        ]
    );
    assert_eq!(stored_lines(&data, Kind::Checkins), [1, 5]);
}

#[test]
fn a_column_named_twice_is_refused_and_names_match_alike_in_every_format() {
    // Regression: a CSV header or a Parquet file naming a column twice kept the first and
    // silently dropped the second's values; a JSON key differing in case or spaces from the
    // column was ignored without a word (CSV headers match such names), and so were unknown
    // keys.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // The second time_in holds the first row's time; which one is meant cannot be told.
    let csv = format!(
        "{CHECKINS},Time_In\n{P1},V1,,,{}\n{P2},V2,{},,\n",
        t(8),
        t(9)
    );
    let s = ingest(&data, &[write(dir.path(), "checkins.csv", csv)]);
    let r = rejects(&s);
    assert_eq!(spans(&r), [(2, 2), (3, 3)], "{r:?}");
    assert!(r.iter().all(
        |r| r.column == "time_in" && r.reason == "the header names this column more than once"
    ));
    assert_eq!(s.rows_accepted, 0);

    let json = [
        format!(
            "{{\"person_id\":\"{P1}\",\"venue_id\":\"V1\",\"Venue_ID \":\"V2\",\"time_in\":\"{}\"}}",
            t(8)
        ),
        format!(
            "{{\"Person_ID\":\"{P1}\",\"VENUE_ID\":\"V3\",\" time_in\":\"{}\",\"remark\":1}}",
            t(10)
        ),
    ]
    .join("\n");
    let s = ingest(&data, &[write(dir.path(), "checkins.jsonl", json)]);
    let r = rejects(&s);
    let got: Vec<(u64, &str, &str)> = r
        .iter()
        .map(|r| (r.line, r.column.as_str(), r.reason.as_str()))
        .collect();
    assert_eq!(
        got,
        [(1, "venue_id", "key venue_id appears more than once")]
    );
    assert_eq!(s.rows_accepted, 1);
    assert_eq!(s.sources[0].ignored_columns, ["remark"]);

    let schema = Arc::new(Schema::new(vec![
        Field::new("person_id", DataType::Utf8, true),
        Field::new("venue_id", DataType::Utf8, true),
        Field::new("time_in", DataType::Utf8, true),
        Field::new("VENUE_ID", DataType::Utf8, true),
    ]));
    let col = |v: &[&str]| Arc::new(StringArray::from(v.to_vec())) as ArrayRef;
    let batch = RecordBatch::try_new(
        schema,
        vec![
            col(&[P1, P2]),
            col(&["", ""]),
            col(&[&t(8), &t(9)]),
            col(&["V7", "V8"]),
        ],
    )
    .unwrap();
    let twice = dir.path().join("checkins-twice.parquet");
    write_parquet(&twice, &[batch], 10);
    let schema = Arc::new(Schema::new(vec![
        Field::new("Person_ID", DataType::Utf8, true),
        Field::new("Venue_Id", DataType::Utf8, true),
        Field::new("TIME_IN", DataType::Utf8, true),
    ]));
    let batch =
        RecordBatch::try_new(schema, vec![col(&[P2]), col(&["V9"]), col(&[&t(11)])]).unwrap();
    let cased = dir.path().join("checkins-cased.parquet");
    write_parquet(&cased, &[batch], 10);
    let s = ingest(&data, &[twice, cased]);
    let r = rejects(&s);
    assert_eq!(spans(&r), [(1, 2)], "{r:?}");
    assert_eq!(
        (r[0].column.as_str(), r[0].reason.as_str()),
        ("venue_id", "the file has this column more than once")
    );
    assert_eq!((s.rows_accepted, s.rows_rejected), (1, 2));
    // Stored: the JSON line's row and the cased Parquet row, nothing from the files above.
    assert_eq!(stored_lines(&data, Kind::Checkins), [1, 2]);
}

fn persons_schema(name: DataType, birth: DataType) -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("person_id", DataType::Utf8, true),
        Field::new("name", name, true),
        Field::new("birth_date", birth, true),
        Field::new("home_region", DataType::Utf8, true),
    ]))
}

fn write_parquet(path: &Path, batches: &[RecordBatch], group_rows: usize) {
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(group_rows))
        .set_dictionary_enabled(false)
        .build();
    let mut w = ArrowWriter::try_new(
        std::fs::File::create(path).unwrap(),
        batches[0].schema(),
        Some(props),
    )
    .unwrap();
    for b in batches {
        w.write(b).unwrap();
    }
    w.close().unwrap();
}

fn id(n: u32) -> String {
    PersonId::from_parts(330302, model::Date(3000 + n as i32 % 5000), n % 1000)
        .unwrap()
        .to_string()
}

#[test]
fn parquet_bytes_that_are_not_utf8_are_rejected_like_csv() {
    // Regression: a non-UTF-8 binary value became NULL silently.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("persons.parquet");
    let day = 86_400_000i64;
    let batch = RecordBatch::try_new(
        persons_schema(DataType::Binary, DataType::Date64),
        vec![
            Arc::new(StringArray::from(vec![id(1), id(2), id(3), id(4)])) as ArrayRef,
            Arc::new(BinaryArray::from(vec![
                Some("张三".as_bytes()),
                Some(b"\xFF\xFEbad".as_slice()),
                None,
                Some(b"ok".as_slice()),
            ])),
            // Date64 is read as a date; one that is not a whole day is refused.
            Arc::new(Date64Array::from(vec![
                Some(3652 * day),
                Some(3653 * day),
                Some(3654 * day),
                Some(3655 * day + 1),
            ])),
            Arc::new(StringArray::from(vec!["330302"; 4])),
        ],
    )
    .unwrap();
    write_parquet(&path, &[batch], 1000);
    let data = dir.path().join("data");
    let s = ingest(&data, &[path]);
    let r = rejects(&s);
    let got: Vec<(u64, &str, &str)> = r
        .iter()
        .map(|r| (r.line, r.column.as_str(), r.reason.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (2, "name", "not valid UTF-8 (save the file as UTF-8)"),
            (4, "birth_date", "date64 value is not a whole day"),
        ]
    );
    let rows = stored_persons(&data);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].1[1].as_deref(), Some("张三"));
    assert_eq!(rows[0].1[3].as_deref(), Some("1980-01-01"));
    assert_eq!(rows[1].1[1], None);
    assert_eq!(rows[1].1[3].as_deref(), Some("1980-01-03"));
    assert_eq!(rows[1].1[0].as_deref(), Some(id(3).as_str()));
}

#[test]
fn every_row_of_a_parquet_file_is_stored_or_rejected() {
    // Regression: a corrupt row group in the middle committed the groups around it and
    // counted its lost rows as one reject.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("persons.parquet");
    let n = 3000;
    let ids: Vec<String> = (0..n).map(id).collect();
    let names: Vec<String> = (0..n).map(|i| format!("name {i}")).collect();
    let schema = persons_schema(
        DataType::Utf8,
        DataType::Timestamp(TimeUnit::Millisecond, None),
    );
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(ids)) as ArrayRef,
            Arc::new(StringArray::from(names)),
            Arc::new(TimestampMillisecondArray::from(vec![
                None::<i64>;
                n as usize
            ])),
            Arc::new(StringArray::from(vec!["330302"; n as usize])),
        ],
    )
    .unwrap();
    write_parquet(&path, &[batch], 1000);
    // Garbage over the page header of the middle group's names.
    let meta = parquet::file::serialized_reader::SerializedFileReader::new(
        std::fs::File::open(&path).unwrap(),
    )
    .unwrap();
    use parquet::file::reader::FileReader;
    let col = meta.metadata().row_group(1).column(1);
    let at = col.data_page_offset() as usize;
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[at..at + 24].fill(0xFF);
    std::fs::write(&path, &bytes).unwrap();

    let data = dir.path().join("data");
    let s = ingest(&data, std::slice::from_ref(&path));
    assert_eq!(s.files_refused, 0);
    assert_eq!(s.rows_accepted + s.rows_rejected, u64::from(n), "{s:?}");
    assert_eq!(s.rows_accepted, 2000);
    let r = rejects(&s);
    let covered: u64 = r.iter().map(|r| r.last_line - r.line + 1).sum();
    assert_eq!(covered, 1000);
    assert!(r.iter().all(|r| (1001..=2000).contains(&r.line)
        && r.reason.starts_with("row group 1 cannot be decoded")));
    let lines: Vec<u64> = stored_persons(&data).iter().map(|r| r.0).collect();
    let want: Vec<u64> = (1..=1000).chain(2001..=3000).collect();
    assert_eq!(lines, want);
}

#[test]
fn an_unreadable_parquet_file_is_refused_and_not_recorded() {
    // Regression: it was committed as a 0-row source, so the same bytes later said
    // "already present".
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "persons.parquet",
        b"PAR1 not really parquet PAR1",
    );
    let data = dir.path().join("data");
    for _ in 0..2 {
        let s = ingest(&data, std::slice::from_ref(&path));
        assert_eq!((s.files_refused, s.files_duplicate), (1, 0));
        let why = s.sources[0].refused.as_deref().unwrap();
        assert!(why.starts_with("not a readable Parquet file"), "{why}");
    }
    let store = Store::open(&data, keys().key_id()).unwrap();
    assert!(store.manifest().sources().is_empty());
}

#[test]
fn no_reject_and_no_answer_quotes_a_personal_value() {
    // Regression: rejects and the ingest answer quoted ids, names and phones of bad lines.
    let dir = tempfile::tempdir().unwrap();
    let header =
        "person_id,name,phone,birth_date,sex,home_region,community_id,household_id,address";
    let bad_id = "330302198001010061";
    let secrets = [
        P1,
        P2,
        bad_id,
        "张三丰",
        "李四",
        "Wang Wu",
        "wangwu",
        "13812345678",
        "138-1234-5678",
        "13900001111",
        "鹿城区五马街道12号",
        "1 Main Street",
    ];
    let csv = [
        header.to_string(),
        // bad region: the row's id, name, phone and address must not be quoted
        format!("{P1},张三丰,138-1234-5678,1980-01-01,M,42,C1,H1,鹿城区五马街道12号"),
        // bad id, bad phone
        format!("{bad_id},李四,13812345678,,F,330302,,,1 Main Street"),
        format!("{P2},Wang Wu,1390000111x,,F,330302,,,"),
        // stray quote, wrong field count
        format!("{P2},\"wangwu,13900001111,,F,330302,,,"),
        format!("{P1},张三丰,13812345678"),
    ]
    .join("\n");
    // A file without a header: its first line is data, and must not come back as
    // "unknown columns".
    let headless = format!("{P1},张三丰,13812345678,1980-01-01,M,330302,C1,H1,1 Main Street\n");
    // A header with the first row run into it (a lost line break).
    let run_on = format!("{header}{P2},wangwu,13900001111,,F,330302,,,1 Main Street\n");
    let jsonl = [
        format!("\"{P1}\""),
        bad_id.to_string(),
        "[\"张三丰\", \"13812345678\"]".to_string(),
        format!("{{\"person_id\": \"{P2}\", \"name\": \"李四\", \"phone\": 13812345678"),
        format!("{{\"person_id\": \"{P2}\", \"name\": \"李四\", \"name\": \"Wang Wu\"}}"),
        format!("{{\"person_id\": \"{bad_id}\", \"name\": \"李四\", \"home_region\": \"330302\"}}"),
        format!("{{\"{P1}\": 1, \"{P1}\": 2, \"13812345678\": 3}}"),
        format!("{{\"person_id\": \"{P1}\", \"phone\": \"13812345678\", \"home_region\": [\"鹿城区五马街道12号\"]}}"),
    ]
    .join("\n");
    let parquet = dir.path().join("persons-p.parquet");
    let batch = RecordBatch::try_new(
        persons_schema(DataType::Utf8, DataType::Utf8),
        vec![
            Arc::new(StringArray::from(vec![P1, bad_id])) as ArrayRef,
            Arc::new(StringArray::from(vec!["张三丰", "李四"])),
            Arc::new(StringArray::from(vec!["13812345678", "1980-01-01"])),
            Arc::new(StringArray::from(vec!["鹿城区五马街道12号", "330302"])),
        ],
    )
    .unwrap();
    write_parquet(&parquet, &[batch], 1000);
    let data = dir.path().join("data");
    let paths = [
        write(dir.path(), "persons-a.csv", csv),
        write(dir.path(), "persons-b.csv", headless),
        write(dir.path(), "persons-c.csv", run_on),
        write(dir.path(), "persons-d.jsonl", jsonl),
        parquet,
    ];
    let s = ingest(&data, &paths);
    assert_eq!(s.rows_rejected, 15, "{s:?}");
    let rejects_text = std::fs::read(&s.rejects).unwrap();
    let answer = serde_json::to_vec(&s).unwrap();
    for secret in secrets {
        for form in [secret.to_string(), secret.replace('-', "")] {
            assert!(
                !contains(&rejects_text, form.as_bytes()),
                "{form} in the rejects file:\n{}",
                String::from_utf8_lossy(&rejects_text)
            );
            assert!(
                !contains(&answer, form.as_bytes()),
                "{form} in the answer: {}",
                String::from_utf8_lossy(&answer)
            );
            for f in walk(&data) {
                assert!(!contains(&std::fs::read(&f).unwrap(), form.as_bytes()));
            }
        }
    }
    // The headerless file's first line is a rejected row, not a header read in silence.
    let headless = &s.sources[1];
    assert_eq!((headless.rows_accepted, headless.rows_rejected), (0, 1));
    // A header holding values does not have its unknown "columns" named.
    let run_on = &s.sources[2];
    assert_eq!(run_on.ignored_columns, ["6 more (names not shown)"]);
}
