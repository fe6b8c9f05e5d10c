//! Property tests of ingest on random input with random damage, in all three formats, read
//! back from the store: every input line (or Parquet row) is accounted for exactly once —
//! in a stored row, in a reject's span, or as a blank line —, every stored value is the value
//! given (trimmed, as documented), and every good record survives whatever damage is around
//! it, however the file is cut into chunks.

mod support;

use std::sync::Arc;

use arrow::array::{ArrayRef, BinaryArray, Date32Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use fangyi_ingest::Options;
use model::PersonId;
use proptest::prelude::*;
use proptest::sample::Index;
use support::{PersonRow, rejects, stored_persons, try_ingest};

const HEADER: &str =
    "person_id,name,phone,birth_date,sex,home_region,community_id,household_id,address";

/// One good `persons` record, fields as given (before trimming).
#[derive(Clone, Debug)]
struct Person {
    name: String,
    phone: Option<String>,
    birth: Option<String>,
    sex: Option<&'static str>,
    region: &'static str,
    community: Option<String>,
    address: String,
    quote_all: bool,
}

fn text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            6 => Just('a'),
            3 => Just('张'),
            2 => Just(' '),
            2 => Just(','),
            2 => Just('"'),
            2 => Just('\n'),
            1 => Just('\r'),
            1 => Just('\t'),
            1 => Just('\''),
            1 => Just('\u{3000}'),
        ],
        0..14,
    )
    .prop_map(|mut chars| {
        // A quote opening the last field of a record pairs with a later field's opening
        // quote when that field starts with a line break (spaces may come first): the
        // result is a well-formed record by RFC 4180, an ambiguity no rule can undo. Good
        // values here do not start so.
        if matches!(chars.first(), Some(' ' | '\t' | '\n' | '\r')) {
            chars.insert(0, 'a');
        }
        // At most three commas a field: a multi-line field with as many commas as a record
        // has separators reads as a stray quote, by rule.
        let mut commas = 0;
        chars
            .into_iter()
            .map(|c| {
                if c == ',' {
                    commas += 1;
                    if commas > 3 {
                        return ';';
                    }
                }
                c
            })
            .collect()
    })
}

fn person() -> impl Strategy<Value = Person> {
    (
        text(),
        proptest::option::of(1_000_000_000u64..2_000_000_000),
        proptest::option::of((1950i32..2010, 1u32..13, 1u32..29)),
        proptest::option::of(prop_oneof![Just("M"), Just("F")]),
        prop_oneof![Just("330302"), Just("420100"), Just("110105")],
        proptest::option::of(0u32..50),
        text(),
        any::<bool>(),
    )
        .prop_map(
            |(name, phone, birth, sex, region, community, address, quote_all)| Person {
                name,
                phone: phone.map(|p| format!("1{p}")),
                birth: birth.map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}")),
                sex,
                region,
                community: community.map(|c| format!("C{c}")),
                address,
                quote_all,
            },
        )
}

fn id(i: usize) -> String {
    PersonId::from_parts(330302, model::Date(1000 + i as i32), (i % 997) as u32)
        .unwrap()
        .to_string()
}

/// What a field holding `s` is stored as.
fn as_stored(s: &str) -> Option<String> {
    let t = model::field::trim(s);
    (!t.is_empty()).then(|| t.to_string())
}

impl Person {
    fn fields(&self, i: usize) -> [Option<String>; 9] {
        [
            Some(id(i)),
            Some(self.name.clone()),
            self.phone.clone(),
            self.birth.clone(),
            self.sex.map(str::to_string),
            Some(self.region.to_string()),
            self.community.clone(),
            None,
            Some(self.address.clone()),
        ]
    }

    /// The row the store should hold.
    fn stored(&self, i: usize) -> Vec<Option<String>> {
        self.fields(i)
            .iter()
            .map(|f| f.as_deref().and_then(as_stored))
            .collect()
    }

    fn csv(&self, i: usize) -> Vec<String> {
        self.fields(i)
            .iter()
            .map(|f| {
                let f = f.as_deref().unwrap_or("");
                if self.quote_all || f.contains([',', '"', '\n', '\r']) {
                    format!("\"{}\"", f.replace('"', "\"\""))
                } else {
                    f.to_string()
                }
            })
            .collect()
    }

    fn json(&self, i: usize) -> serde_json::Map<String, serde_json::Value> {
        let names: Vec<&str> = HEADER.split(',').collect();
        names
            .iter()
            .zip(self.fields(i))
            .filter_map(|(n, f)| f.map(|f| (n.to_string(), f.into())))
            .collect()
    }
}

/// Damage done to a record.
#[derive(Clone, Debug)]
enum Damage {
    /// One `"` opening a field that was not quoted.
    StrayQuote(Index),
    /// A field written `"value"x`.
    TextAfterQuote(Index),
    /// A carriage return inside an unquoted field.
    BareCr,
    ExtraField,
    MissingField,
    /// A wrong check character.
    BadId,
    /// Bytes that are not UTF-8 in the name.
    NotUtf8,
    /// The text cut short at some point (before its line break).
    Truncated(Index),
    /// A line of random bytes instead of the record.
    Garbage(Vec<u8>),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        any::<Index>().prop_map(Damage::StrayQuote),
        any::<Index>().prop_map(Damage::TextAfterQuote),
        Just(Damage::BareCr),
        Just(Damage::ExtraField),
        Just(Damage::MissingField),
        Just(Damage::BadId),
        Just(Damage::NotUtf8),
        any::<Index>().prop_map(Damage::Truncated),
        proptest::collection::vec(
            prop_oneof![Just(b'x'), Just(b','), Just(b'"'), Just(b' '), Just(0xFFu8)],
            0..30
        )
        .prop_map(Damage::Garbage),
    ]
}

#[derive(Clone, Debug)]
struct Plan {
    person: Person,
    damage: Option<Damage>,
    blanks_before: u8,
}

fn plans() -> impl Strategy<Value = Vec<Plan>> {
    proptest::collection::vec(
        (
            person(),
            proptest::option::weighted(0.25, damage()),
            prop_oneof![8 => Just(0u8), 1 => Just(1), 1 => Just(2)],
        )
            .prop_map(|(person, damage, blanks_before)| Plan {
                person,
                damage,
                blanks_before,
            }),
        1..40,
    )
}

fn bad_id(i: usize) -> String {
    let mut id = id(i).into_bytes();
    id[17] = if id[17] == b'0' { b'1' } else { b'0' };
    String::from_utf8(id).unwrap()
}

/// The CSV text of a damaged record (without its line break).
fn damaged_csv(p: &Person, i: usize, d: &Damage) -> Vec<u8> {
    let mut fields = p.csv(i);
    match d {
        Damage::StrayQuote(at) => {
            // A quote that opens an unquoted field (a quote elsewhere can leave a record that
            // is well formed and means something else, which is no damage to test).
            // Fields after the last quoted one: a quote opening one of them cannot pair
            // with another in the record.
            let last_quoted = fields.iter().rposition(|f| f.starts_with('"'));
            let open: Vec<usize> = (last_quoted.map_or(0, |q| q + 1)..fields.len()).collect();
            if open.is_empty() {
                // Inside the id: `"3"30…` or `33"0…`, quotes where none may be.
                fields[0].insert(2, '"');
            } else {
                let k = open[at.index(open.len())];
                fields[k].insert(0, '"');
            }
        }
        Damage::TextAfterQuote(f) => {
            let f = f.index(9);
            fields[f] = format!("\"{}\"x", fields[f].trim_matches('"'));
        }
        // Inside the region, unquoted.
        Damage::BareCr => fields[5] = "33\r0302".into(),
        Damage::ExtraField => fields.push("x".into()),
        Damage::MissingField => {
            fields.pop();
        }
        Damage::BadId => fields[0] = bad_id(i),
        Damage::NotUtf8 => {
            let mut t = Vec::new();
            for (k, f) in fields.iter().enumerate() {
                if k > 0 {
                    t.push(b',');
                }
                if k == 1 {
                    t.extend_from_slice(b"\xFF\xFE");
                }
                t.extend_from_slice(f.as_bytes());
            }
            return t;
        }
        Damage::Truncated(at) => {
            let t = fields.join(",").into_bytes();
            // Cut before the home region at the latest, so a required field is lost.
            let limit = t.len().min(p.csv(i)[..5].join(",").len());
            return t[..at.index(limit.max(1))].to_vec();
        }
        Damage::Garbage(bytes) => return bytes.clone(),
    }
    fields.join(",").into_bytes()
}

/// Physical lines of `body` as the record rule counts them.
fn physical_lines(body: &[u8], cr: bool) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < body.len() {
        let c = body[i];
        if c == b'\n' || (cr && c == b'\r') {
            let end = if c == b'\r' && body.get(i + 1) == Some(&b'\n') {
                i + 1
            } else {
                i
            };
            out.push(&body[start..i]);
            start = end + 1;
            i = end + 1;
        } else {
            i += 1;
        }
    }
    if start < body.len() {
        out.push(&body[start..]);
    }
    out
}

/// Checks a run's accounting: the stored rows and the rejects cover the body's non-blank
/// lines exactly once; returns the stored rows by person id.
fn account(
    s: &fangyi_ingest::Summary,
    stored: &[PersonRow],
    spans: &std::collections::BTreeMap<String, (u64, u64)>,
    lines: &[&[u8]],
    first_line: u64,
) -> Result<(), TestCaseError> {
    let mut covered = vec![0u32; lines.len()];
    let mut mark = |a: u64, b: u64, what: &str| -> Result<(), TestCaseError> {
        prop_assert!(a >= first_line && b >= a, "{what}: {a}-{b}");
        for l in a..=b {
            let k = (l - first_line) as usize;
            prop_assert!(k < covered.len(), "{what}: line {l} past the end");
            covered[k] += 1;
        }
        Ok(())
    };
    for (line, f) in stored {
        let id = f[0].as_ref().unwrap();
        let (start, end) = spans[id];
        prop_assert_eq!(*line, start, "stored row {} starts where it was", id);
        mark(start, end, "stored")?;
    }
    for r in rejects(s) {
        mark(r.line, r.last_line, &r.reason)?;
    }
    for (k, n) in covered.iter().enumerate() {
        let blank = lines[k].iter().all(u8::is_ascii_whitespace);
        prop_assert!(
            *n == 1 || (*n == 0 && blank),
            "line {} covered {} times: {:?}",
            k as u64 + first_line,
            n,
            String::from_utf8_lossy(lines[k])
        );
    }
    Ok(())
}

fn options(threads: usize, chunk: usize) -> Options {
    Options {
        threads,
        chunk_bytes: chunk,
        ..Options::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn csv_accounts_for_every_line_and_keeps_every_good_row(
        plans in plans(),
        ending in prop_oneof![Just("\n"), Just("\r\n"), Just("\r")],
        bom in any::<bool>(),
        final_break in any::<bool>(),
        threads in 1usize..4,
        chunk in 1024usize..4096,
    ) {
        let cr = ending == "\r";
        let mut file: Vec<u8> = if bom { b"\xEF\xBB\xBF".to_vec() } else { Vec::new() };
        file.extend_from_slice(HEADER.as_bytes());
        file.extend_from_slice(ending.as_bytes());
        let body_start = file.len();
        let mut line = 2u64;
        let mut spans = std::collections::BTreeMap::new();
        for (i, p) in plans.iter().enumerate() {
            for _ in 0..p.blanks_before {
                file.extend_from_slice(ending.as_bytes());
                line += 1;
            }
            let text = match &p.damage {
                None => p.person.csv(i).join(",").into_bytes(),
                Some(d) => damaged_csv(&p.person, i, d),
            };
            // Its lines: its breaks and one (a text ending in a break opens a line).
            let n = physical_lines(&[&text[..], b"x"].concat(), cr).len() as u64;
            if p.damage.is_none() {
                spans.insert(id(i), (line, line + n - 1));
            }
            line += n;
            file.extend_from_slice(&text);
            if i + 1 < plans.len() || final_break {
                file.extend_from_slice(ending.as_bytes());
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("persons.csv");
        std::fs::write(&input, &file).unwrap();
        let data = dir.path().join("data");
        let s = try_ingest(&data, &[input], &options(threads, chunk)).unwrap();
        let stored = stored_persons(&data);
        let lines = physical_lines(&file[body_start..], cr);
        account(&s, &stored, &spans, &lines, 2)?;
        // Every good record, and nothing else, is stored, as given.
        let by_id: std::collections::BTreeMap<_, _> =
            stored.iter().map(|(_, f)| (f[0].clone().unwrap(), f.clone())).collect();
        for (i, p) in plans.iter().enumerate() {
            if p.damage.is_none() {
                prop_assert_eq!(by_id.get(&id(i)), Some(&p.person.stored(i)), "record {}", i);
            }
        }
        prop_assert_eq!(by_id.len(), spans.len());
        prop_assert_eq!(s.rows_accepted, spans.len() as u64);
    }

    #[test]
    fn json_lines_account_for_every_line_and_keep_every_good_row(
        plans in plans(),
        ending in prop_oneof![Just("\n"), Just("\r\n"), Just("\r")],
        bom in any::<bool>(),
        chunk in 1024usize..4096,
    ) {
        let cr = ending == "\r";
        let ending = ending.as_bytes();
        let mut file: Vec<u8> = if bom { b"\xEF\xBB\xBF".to_vec() } else { Vec::new() };
        let mut line = 1u64;
        let mut spans = std::collections::BTreeMap::new();
        for (i, p) in plans.iter().enumerate() {
            for _ in 0..p.blanks_before {
                file.extend_from_slice(ending);
                line += 1;
            }
            let good = serde_json::Value::Object(p.person.json(i)).to_string();
            let text: Vec<u8> = match &p.damage {
                None => {
                    spans.insert(id(i), (line, line));
                    good.into_bytes()
                }
                Some(Damage::StrayQuote(at) | Damage::Truncated(at)) => {
                    good.as_bytes()[..at.index(good.len() - 1)].to_vec()
                }
                Some(Damage::TextAfterQuote(_)) => good.replacen('{', "[", 1).into_bytes(),
                Some(Damage::BareCr) => format!("\"{}\"", id(i)).into_bytes(),
                Some(Damage::ExtraField) => good
                    .replacen('{', &format!("{{\"person_id\":\"{}\",", id(i)), 1)
                    .into_bytes(),
                Some(Damage::MissingField) => {
                    let mut m = p.person.json(i);
                    m.remove("person_id");
                    serde_json::Value::Object(m).to_string().into_bytes()
                }
                Some(Damage::BadId) => good.replace(&id(i), &bad_id(i)).into_bytes(),
                Some(Damage::NotUtf8) => good
                    .replacen("\"name\":\"", "\"name\":\"\u{FFFF}", 1)
                    .replace('\u{FFFF}', "\u{0}")
                    .into_bytes()
                    .into_iter()
                    .map(|b| if b == 0 { 0xFF } else { b })
                    .collect(),
                Some(Damage::Garbage(bytes)) => {
                    bytes.iter().map(|&b| if b == b' ' { b'x' } else { b }).collect()
                }
            };
            line += 1;
            file.extend_from_slice(&text);
            file.extend_from_slice(ending);
        }
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("persons.jsonl");
        std::fs::write(&input, &file).unwrap();
        let data = dir.path().join("data");
        let s = try_ingest(&data, &[input], &options(2, chunk)).unwrap();
        let stored = stored_persons(&data);
        let body = file.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&file);
        let lines = physical_lines(body, cr);
        account(&s, &stored, &spans, &lines, 1)?;
        let by_id: std::collections::BTreeMap<_, _> =
            stored.iter().map(|(_, f)| (f[0].clone().unwrap(), f.clone())).collect();
        for (i, p) in plans.iter().enumerate() {
            if p.damage.is_none() {
                prop_assert_eq!(by_id.get(&id(i)), Some(&p.person.stored(i)), "record {}", i);
            }
        }
        prop_assert_eq!(by_id.len(), spans.len());
    }

    #[test]
    fn parquet_accounts_for_every_row_and_keeps_every_good_row(
        plans in plans(),
        group in 1usize..20,
    ) {
        let n = plans.len();
        let mut ids = Vec::with_capacity(n);
        let mut names: Vec<Vec<u8>> = Vec::with_capacity(n);
        let mut spans = std::collections::BTreeMap::new();
        for (i, p) in plans.iter().enumerate() {
            let mut name = p.person.name.clone().into_bytes();
            let mut pid = id(i);
            match &p.damage {
                None => {
                    spans.insert(id(i), (i as u64 + 1, i as u64 + 1));
                }
                Some(Damage::NotUtf8 | Damage::Garbage(_) | Damage::StrayQuote(_)) => {
                    name.insert(0, 0xFF);
                }
                Some(_) => pid = bad_id(i),
            }
            ids.push(pid);
            names.push(name);
        }
        let col = |f: &dyn Fn(&Person) -> Option<String>| -> ArrayRef {
            Arc::new(StringArray::from_iter(plans.iter().map(|p| f(&p.person))))
        };
        let birth: Date32Array = plans
            .iter()
            .map(|p| p.person.birth.as_ref().map(|b| b.parse::<model::Date>().unwrap().0))
            .collect();
        let schema = Arc::new(Schema::new(vec![
            Field::new("person_id", DataType::Utf8, false),
            Field::new("name", DataType::Binary, true),
            Field::new("phone", DataType::Utf8, true),
            Field::new("birth_date", DataType::Date32, true),
            Field::new("sex", DataType::Utf8, true),
            Field::new("home_region", DataType::Utf8, true),
            Field::new("community_id", DataType::Utf8, true),
            Field::new("address", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(ids)) as ArrayRef,
                Arc::new(BinaryArray::from_iter_values(names.iter())),
                col(&|p| p.phone.clone()),
                Arc::new(birth),
                col(&|p| p.sex.map(str::to_string)),
                col(&|p| Some(p.region.to_string())),
                col(&|p| p.community.clone()),
                col(&|p| Some(p.address.clone())),
            ],
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("persons.parquet");
        let props = parquet::file::properties::WriterProperties::builder()
            .set_max_row_group_row_count(Some(group))
            .build();
        let mut w = parquet::arrow::ArrowWriter::try_new(
            std::fs::File::create(&input).unwrap(),
            schema,
            Some(props),
        )
        .unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        let data = dir.path().join("data");
        let s = try_ingest(&data, &[input], &options(2, 4096)).unwrap();
        let stored = stored_persons(&data);
        let rows: Vec<&[u8]> = vec![b"x"; n];
        account(&s, &stored, &spans, &rows, 1)?;
        prop_assert_eq!(s.rows_accepted + s.rows_rejected, n as u64);
        let by_id: std::collections::BTreeMap<_, _> =
            stored.iter().map(|(_, f)| (f[0].clone().unwrap(), f.clone())).collect();
        for (i, p) in plans.iter().enumerate() {
            if p.damage.is_none() {
                prop_assert_eq!(by_id.get(&id(i)), Some(&p.person.stored(i)), "row {}", i + 1);
            }
        }
        prop_assert_eq!(by_id.len(), spans.len());
    }
}
