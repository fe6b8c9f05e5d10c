//! The public corpora in `../shared/data/corpora` (read in place, never copied) through ingest:
//! JSONTestSuite, parquet-testing with its corrupt files, and the big list of naughty strings.
//! Nothing panics; every file is either ingested with counts that add up to its records, or
//! refused with a reason naming the file; every value that is stored is stored as it was
//! given (fields are trimmed of surrounding whitespace, as documented).

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BinaryArray, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use fangyi_ingest::{Options, Summary};
use model::{Kind, PersonId};
use store::Store;
use support::{keys, read_all, rejects, shared, stored_persons, try_ingest};

fn ingest_as(kind: Kind, data: &Path, paths: &[PathBuf]) -> Summary {
    try_ingest(
        data,
        paths,
        &Options {
            kind: Some(kind),
            threads: 2,
            ..Options::default()
        },
    )
    .expect("a run never fails on bad input")
}

fn json_suite() -> Vec<PathBuf> {
    let dir = shared("corpora/json_test_suite/test_parsing");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 318);
    files
}

fn stem(p: &Path) -> String {
    p.file_stem().unwrap().to_string_lossy().into_owned()
}

/// Non-blank lines of a JSON Lines file, as ingest splits it.
fn json_lines(bytes: &[u8]) -> u64 {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    body.split(|&b| b == b'\n')
        .filter(|l| !l.trim_ascii().is_empty())
        .count() as u64
}

#[test]
fn json_test_suite_documents_are_each_read_or_refused() {
    let dir = tempfile::tempdir().unwrap();
    let files = json_suite();
    let s = ingest_as(Kind::Venues, &dir.path().join("data"), &files);
    assert_eq!(s.files, 318);
    let by_path: BTreeMap<String, &fangyi_ingest::FileReport> =
        s.sources.iter().map(|r| (r.path.clone(), r)).collect();
    let rejects = rejects(&s);
    for f in &files {
        let name = stem(f);
        let r = by_path[&f.display().to_string()];
        let bytes = std::fs::read(f).unwrap();
        if r.duplicate {
            // The same bytes as an earlier document (JSONTestSuite has a few): nothing added.
            assert_eq!((r.rows_accepted, r.rows_rejected), (0, 0));
            continue;
        }
        if let Some(why) = &r.refused {
            // Only text that is not UTF-8 is refused, and the reason says which it is.
            assert!(
                why.contains("UTF-16") || why.contains("UTF-32"),
                "{name}: {why}"
            );
            assert!(
                rejects
                    .iter()
                    .any(|x| x.file == r.path && x.line == 0 && x.reason.contains(why.as_str())),
                "{name}: the rejects file names the refused file"
            );
            continue;
        }
        // No document is a venue: every line is rejected, and counted once.
        assert_eq!(r.rows_accepted, 0, "{name}");
        assert_eq!(r.rows_rejected, json_lines(&bytes), "{name}");
        if name.starts_with("n_") && r.rows_rejected > 0 {
            let mine: Vec<_> = rejects.iter().filter(|x| x.file == r.path).collect();
            assert!(
                mine.iter().any(|x| x.reason.starts_with("not valid JSON")
                    || x.reason.starts_with("not a JSON object")),
                "{name}: invalid JSON is refused as such: {mine:?}"
            );
        }
        if name.starts_with("y_") && !bytes.contains(&b'\n') {
            let mine: Vec<_> = rejects.iter().filter(|x| x.file == r.path).collect();
            assert!(
                mine.iter().all(|x| !x.reason.starts_with("not valid JSON")),
                "{name}: valid JSON is never called invalid: {mine:?}"
            );
        }
    }
}

/// The stored `venues` names by venue id.
fn stored_names(data: &Path) -> BTreeMap<String, Option<String>> {
    let store = Store::open(data, keys().key_id()).unwrap();
    let mut out = BTreeMap::new();
    for b in read_all(&store.table_paths(Kind::Venues)) {
        let id = b
            .column_by_name("venue_id")
            .unwrap()
            .as_string::<i32>()
            .clone();
        let name = b.column_by_name("name").unwrap().as_string::<i32>().clone();
        for r in 0..b.num_rows() {
            let v = (!name.is_null(r)).then(|| name.value(r).to_string());
            out.insert(id.value(r).to_string(), v);
        }
    }
    out
}

/// What a field holding `s` is stored as: trimmed, absent when nothing is left.
fn as_stored(s: &str) -> Option<String> {
    let t = model::field::trim(s);
    (!t.is_empty()).then(|| t.to_string())
}

#[test]
fn json_test_suite_values_embedded_in_records_arrive_intact() {
    // Each single-line document (or the one element of a one-element array) becomes the
    // `name` of a venue: valid values land as given, invalid JSON is refused as such.
    let dir = tempfile::tempdir().unwrap();
    let mut lines = Vec::new();
    let mut expected = Vec::new();
    for (i, f) in json_suite().iter().enumerate() {
        let bytes = std::fs::read(f).unwrap();
        let Ok(text) = std::str::from_utf8(&bytes) else {
            continue;
        };
        let text = text.trim_matches(|c| c == ' ' || c == '\t' || c == '\r' || c == '\n');
        if text.contains(['\n', '\r']) || text.starts_with('\u{feff}') {
            continue;
        }
        let parsed: Option<serde_json::Value> = serde_json::from_str(text).ok();
        let inner = match &parsed {
            Some(serde_json::Value::Array(items)) if items.len() == 1 => text
                .trim()
                .strip_prefix('[')
                .and_then(|t| t.strip_suffix(']')),
            _ => None,
        };
        let value = inner.unwrap_or(text);
        let id = format!("V{i}");
        lines.push(format!(
            "{{\"venue_id\":\"{id}\",\"region\":\"330302\",\"name\":{value}}}"
        ));
        let meant = match (inner, parsed) {
            (Some(_), Some(serde_json::Value::Array(mut items))) => Some(items.remove(0)),
            (_, parsed) => parsed,
        };
        expected.push((id, (stem(f), meant)));
    }
    let input = dir.path().join("venues.jsonl");
    std::fs::write(&input, lines.join("\n")).unwrap();
    let data = dir.path().join("data");
    let s = ingest_as(Kind::Venues, &data, &[input]);
    assert_eq!(s.rows_accepted + s.rows_rejected, lines.len() as u64);
    let rejected: BTreeMap<u64, String> = rejects(&s)
        .into_iter()
        .map(|r| (r.line, r.reason))
        .collect();
    let stored = stored_names(&data);
    let mut landed = 0;
    for (n, (id, (name, meant))) in expected.iter().enumerate() {
        let line = n as u64 + 1;
        use serde_json::Value as J;
        let want = match meant {
            Some(J::String(s)) => Some(as_stored(s)),
            Some(J::Number(x)) => Some(Some(x.to_string())),
            Some(J::Bool(b)) => Some(Some(b.to_string())),
            Some(J::Null) => Some(None),
            _ => None,
        };
        match (stored.get(id), want) {
            (Some(got), Some(want)) => {
                assert_eq!(got, &want, "{name}");
                landed += 1;
            }
            (Some(got), None) => panic!("{name} was stored as {got:?}"),
            (None, Some(want)) => {
                panic!("{name} ({want:?}) was refused: {:?}", rejected.get(&line))
            }
            (None, None) => {
                let why = &rejected[&line];
                if name.starts_with("y_") {
                    assert!(!why.starts_with("not valid JSON"), "{name}: {why}");
                }
            }
        }
        if name.starts_with("n_") {
            assert!(!stored.contains_key(id), "{name} must not be accepted");
        }
    }
    assert!(landed > 40, "{landed} values landed");
}

fn parquet_corpus() -> Vec<PathBuf> {
    let root = shared("corpora/parquet_testing");
    let mut out = support::walk(&root);
    out.retain(|p| p.extension().is_some_and(|e| e == "parquet"));
    out.sort();
    assert!(out.len() > 70, "{} files", out.len());
    out
}

/// The rows a Parquet file declares, when its footer can be read: the file's count, or what
/// its row groups hold when that is more.
fn declared_rows(p: &Path) -> Option<u64> {
    use parquet::file::reader::FileReader;
    let f = std::fs::File::open(p).ok()?;
    let r = std::panic::catch_unwind(|| {
        parquet::file::serialized_reader::SerializedFileReader::new(f).ok()
    })
    .ok()??;
    let meta = r.metadata();
    let groups: i64 = meta.row_groups().iter().map(|g| g.num_rows()).sum();
    Some(meta.file_metadata().num_rows().max(groups) as u64)
}

#[test]
fn parquet_testing_files_are_counted_row_by_row_or_refused() {
    let dir = tempfile::tempdir().unwrap();
    let files = parquet_corpus();
    let root = shared("corpora/parquet_testing");
    let s = ingest_as(Kind::Persons, &dir.path().join("data"), &[root]);
    assert_eq!(s.files as usize, files.len());
    let all_rejects = rejects(&s);
    let mut refused = 0;
    for r in &s.sources {
        let name = Path::new(&r.path).file_name().unwrap().to_string_lossy();
        if r.duplicate {
            // The same bytes as an earlier document (JSONTestSuite has a few): nothing added.
            assert_eq!((r.rows_accepted, r.rows_rejected), (0, 0));
            continue;
        }
        if let Some(why) = &r.refused {
            refused += 1;
            assert!(
                why.starts_with("not a readable Parquet file"),
                "{name}: {why}"
            );
            continue;
        }
        let declared = declared_rows(Path::new(&r.path))
            .unwrap_or_else(|| panic!("{name} was read, so its footer is readable"));
        // None has a person_id column: every row is rejected, and every row is counted.
        assert_eq!(r.rows_accepted, 0, "{name}");
        assert_eq!(r.rows_rejected, declared, "{name}");
        let covered: u64 = all_rejects
            .iter()
            .filter(|x| x.file == r.path)
            .map(|x| x.last_line - x.line + 1)
            .sum();
        assert_eq!(covered, declared, "{name}: rejects cover each row once");
    }
    // The deliberately broken footers are refused; most of the rest is readable.
    assert!((1..20).contains(&refused), "{refused} refused");
}

/// The naughty strings: the text list and the base64 list (which has bytes that are not
/// UTF-8).
fn naughty() -> Vec<Vec<u8>> {
    let dir = shared("corpora/naughty_strings");
    let text = std::fs::read_to_string(dir.join("blns.txt")).unwrap();
    let mut out: Vec<Vec<u8>> = text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.as_bytes().to_vec())
        .collect();
    let encoded: Vec<String> =
        serde_json::from_slice(&std::fs::read(dir.join("blns.base64.json")).unwrap()).unwrap();
    for e in encoded {
        out.push(base64_decode(&e));
    }
    assert!(out.len() > 900);
    out
}

fn base64_decode(s: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes().filter(|&c| c != b'=') {
        acc = (acc << 6) | u32::from(value(c));
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

fn csv_field(s: &[u8]) -> Vec<u8> {
    if s.iter().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
        let mut out = vec![b'"'];
        for &b in s {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
        out
    } else {
        s.to_vec()
    }
}

fn person(i: usize) -> String {
    PersonId::from_parts(330302, model::Date(3000 + i as i32), (i % 1000) as u32)
        .unwrap()
        .to_string()
}

#[test]
fn naughty_strings_are_stored_as_given_or_refused_with_a_reason() {
    let strings = naughty();
    let dir = tempfile::tempdir().unwrap();
    // persons: the string as name and address (sealed in the vault), one file per format.
    let header =
        b"person_id,name,phone,birth_date,sex,home_region,community_id,household_id,address\n";
    let mut csv = header.to_vec();
    let mut jsonl = Vec::new();
    for (i, s) in strings.iter().enumerate() {
        let f = csv_field(s);
        csv.extend_from_slice(format!("{},", person(i)).as_bytes());
        csv.extend_from_slice(&f);
        csv.extend_from_slice(b",,,,330302,,,");
        csv.extend_from_slice(&f);
        csv.push(b'\n');
        // JSON can only carry text.
        let text = String::from_utf8_lossy(s);
        let line = serde_json::json!({
            "person_id": person(i), "name": text, "home_region": "330302", "address": text,
        });
        jsonl.extend_from_slice(line.to_string().as_bytes());
        jsonl.push(b'\n');
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("person_id", DataType::Utf8, false),
        Field::new("name", DataType::Binary, true),
        Field::new("home_region", DataType::Utf8, false),
        Field::new("address", DataType::Utf8, true),
    ]));
    let ids: Vec<String> = (0..strings.len()).map(person).collect();
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(ids)) as ArrayRef,
            Arc::new(BinaryArray::from_iter_values(strings.iter())),
            Arc::new(StringArray::from(vec!["330302"; strings.len()])),
            Arc::new(StringArray::from_iter(
                strings.iter().map(|s| std::str::from_utf8(s).ok()),
            )),
        ],
    )
    .unwrap();
    let parquet = dir.path().join("persons.parquet");
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&parquet).unwrap(),
        schema,
        None,
    )
    .unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();

    for (format, bytes) in [
        ("csv", Some(csv)),
        ("jsonl", Some(jsonl)),
        ("parquet", None),
    ] {
        let input = match bytes {
            Some(b) => {
                let p = dir.path().join(format!("persons.{format}"));
                std::fs::write(&p, b).unwrap();
                p
            }
            None => parquet.clone(),
        };
        let data = dir.path().join(format!("data-{format}"));
        let s = ingest_as(Kind::Persons, &data, &[input]);
        assert_eq!(
            s.rows_accepted + s.rows_rejected,
            strings.len() as u64,
            "{format}"
        );
        let rejected = rejects(&s);
        assert!(
            rejected.iter().all(|r| !r.reason.is_empty()),
            "{format}: every reject says why"
        );
        let stored: BTreeMap<String, Vec<Option<String>>> = stored_persons(&data)
            .into_iter()
            .map(|(_, f)| (f[0].clone().unwrap(), f))
            .collect();
        for (i, s) in strings.iter().enumerate() {
            let utf8 = std::str::from_utf8(s).ok();
            let given = match (format, utf8) {
                ("jsonl", _) => Some(String::from_utf8_lossy(s).into_owned()),
                (_, u) => u.map(str::to_string),
            };
            match stored.get(&person(i)) {
                Some(row) => {
                    let given = given.unwrap_or_else(|| panic!("{format}: {s:?} is not text"));
                    assert_eq!(row[1], as_stored(&given), "{format}: name {s:?}");
                    assert_eq!(row[8], as_stored(&given), "{format}: address {s:?}");
                }
                None => {
                    // Text without line breaks is always a good name; only bytes that are
                    // not UTF-8 and quoted fields over several lines can be refused.
                    assert!(
                        given.is_none() || s.contains(&b'\n') || s.contains(&b'\r'),
                        "{format}: {s:?} refused"
                    );
                }
            }
        }
    }
}
