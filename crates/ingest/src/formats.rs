//! The three source formats as [`Row`]s: CSV records mapped through their header, JSON Lines
//! objects, and Parquet columns (typed or text) rendered to the same text the CSV would hold.

use std::borrow::Cow;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray, make_array};
use arrow::datatypes::{DataType, Int64Type};
use model::{FieldError, FieldType, KindSpec};
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

use crate::chunk::{ChunkBuilder, Row, Validator};
use crate::records::{Ending, Field, Found, Grammar, HeaderLine};
use crate::rejects::{JsonShape, Reason};

/// The words for a field whose bytes are not UTF-8.
const NOT_UTF8: &str = "not valid UTF-8 (save the file as UTF-8)";

/// The encoding of a text source that is not UTF-8, told by its byte-order mark or by the NUL
/// bytes UTF-16 puts beside every ASCII letter; `None` for UTF-8 (or anything else, which
/// then fails field by field).
pub(crate) fn foreign_encoding(prefix: &[u8]) -> Option<&'static str> {
    const MARKS: [(&[u8], &str); 4] = [
        (b"\x00\x00\xFE\xFF", "UTF-32 (big-endian)"),
        (b"\xFF\xFE\x00\x00", "UTF-32 (little-endian)"),
        (b"\xFE\xFF", "UTF-16 (big-endian)"),
        (b"\xFF\xFE", "UTF-16 (little-endian)"),
    ];
    if let Some((_, name)) = MARKS.iter().find(|(m, _)| prefix.starts_with(m)) {
        return Some(name);
    }
    let head = &prefix[..prefix.len().min(4096)];
    let pairs = head.len() / 2;
    if pairs < 2 {
        return None;
    }
    let even = head.iter().step_by(2).filter(|&&b| b == 0).count();
    let odd = head.iter().skip(1).step_by(2).filter(|&&b| b == 0).count();
    if even + odd > pairs {
        return Some("UTF-32 or binary data (mostly NUL bytes)");
    }
    if odd * 2 > pairs && even * 8 < pairs {
        return Some("UTF-16 (little-endian, without a byte-order mark)");
    }
    if even * 2 > pairs && odd * 8 < pairs {
        return Some("UTF-16 (big-endian, without a byte-order mark)");
    }
    None
}

/// How each kind column is found in a CSV source.
pub(crate) struct CsvHeader {
    /// For each spec column, its field index in the source.
    pub map: Vec<Option<usize>>,
    /// The record rule: the header's field count and line ending.
    pub grammar: Grammar,
    /// When the header makes every row unreadable: the column to name and why.
    pub refuse_all: Option<(&'static str, &'static str)>,
    /// Source columns the kind does not know (ignored, reported once).
    pub unknown: Vec<String>,
    /// The header line lacks a required column and reads as a data row: the file has no
    /// header, and its first line is a row to reject too.
    pub headless: bool,
}

impl CsvHeader {
    pub(crate) fn new(spec: &KindSpec, line: &HeaderLine) -> CsvHeader {
        let grammar = Grammar {
            fields: line.count,
            ending: line.ending,
        };
        let Some(raw) = &line.names else {
            return CsvHeader {
                map: vec![None; spec.columns.len()],
                grammar,
                refuse_all: Some(("", "the header line is malformed (check its quotes)")),
                unknown: Vec::new(),
                headless: false,
            };
        };
        let names: Vec<String> = raw
            .iter()
            .map(|f| column_key(&String::from_utf8_lossy(f)).into_owned())
            .collect();
        let ColumnMap { map, twice } = ColumnMap::new(spec, names.iter().map(String::as_str));
        let missing = spec
            .columns
            .iter()
            .zip(&map)
            .find(|(c, m)| c.required && m.is_none())
            .map(|(c, _)| (c.name, "required column is missing from the header"));
        let unknown = if missing.is_none() {
            shown_unknown(spec, names.iter().map(String::as_str))
        } else {
            Vec::new()
        };
        CsvHeader {
            map,
            grammar,
            headless: missing.is_some() && holds_values(names.iter().map(String::as_str)),
            refuse_all: missing
                .or(twice.map(|c| (c, "the header names this column more than once"))),
            unknown,
        }
    }
}

/// A source's column name (CSV header field, JSON key, Parquet field) as it is matched with the
/// kind's columns, one rule for every format: without surrounding whitespace or a byte-order
/// mark, ASCII letters in lower case (`Person_ID ` is `person_id`).
pub(crate) fn column_key(name: &str) -> Cow<'_, str> {
    let t = model::field::trim(name.trim_start_matches('\u{feff}'));
    if t.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(t.to_ascii_lowercase())
    } else {
        Cow::Borrowed(t)
    }
}

/// Where a kind's columns are among a source's columns, by [`column_key`].
pub(crate) struct ColumnMap {
    /// For each spec column, the index of the source column holding it.
    pub map: Vec<Option<usize>>,
    /// A kind column the source has more than once: which of them holds the value cannot be
    /// told, so no row of the source is read (JSON Lines refuses an object naming a key twice
    /// the same way).
    pub twice: Option<&'static str>,
}

impl ColumnMap {
    /// Maps `names` (already keys, or raw names: each goes through [`column_key`]).
    pub(crate) fn new<'a>(spec: &KindSpec, names: impl Iterator<Item = &'a str>) -> ColumnMap {
        let mut map = vec![None; spec.columns.len()];
        let mut twice = None;
        for (i, name) in names.enumerate() {
            if let Some((c, col)) = spec.column(&column_key(name)) {
                if map[c].is_some() {
                    twice.get_or_insert(col.name);
                } else {
                    map[c] = Some(i);
                }
            }
        }
        ColumnMap { map, twice }
    }
}

/// Does any of `names` read as a value (an id, a region, a phone, a date or time)? Then the
/// "header" is a data row, or has one run into it.
pub(crate) fn holds_values<'a>(mut names: impl Iterator<Item = &'a str>) -> bool {
    names.any(|n| {
        let n = n.trim();
        !n.is_empty()
            && [
                FieldType::PersonId,
                FieldType::EnterpriseId,
                FieldType::Region,
                FieldType::Phone,
                FieldType::Date,
                FieldType::Timestamp,
            ]
            .into_iter()
            .any(|ty| model::field::parse(ty, n).is_ok())
    })
}

/// The names among `names` the kind does not know, as they may be shown. Any of them may be a
/// value run into the header, so a name is quoted only when the header holds no value and the
/// name looks like a column name (ASCII, a letter first, no run of five digits); the rest
/// are counted.
pub(crate) fn shown_unknown<'a>(
    spec: &KindSpec,
    names: impl Iterator<Item = &'a str> + Clone,
) -> Vec<String> {
    let data_like = holds_values(names.clone());
    let mut shown = Vec::new();
    let mut withheld = 0;
    for n in names {
        if n.is_empty() || spec.column(&column_key(n)).is_some() {
            continue;
        }
        let mut digits = 0;
        let mut long_number = false;
        for b in n.bytes() {
            digits = if b.is_ascii_digit() { digits + 1 } else { 0 };
            long_number |= digits >= 5;
        }
        let plain = n.len() <= 64
            && n.as_bytes()[0].is_ascii_alphabetic()
            && n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b' '));
        if plain && !long_number && !data_like {
            shown.push(n.to_string());
        } else {
            withheld += 1;
        }
    }
    if withheld > 0 {
        shown.push(format!("{withheld} more (names not shown)"));
    }
    shown
}

/// The names of a source's columns the kind does not know that only its rows tell (JSON
/// keys): the first few distinct ones, and whether there were more.
#[derive(Clone, Debug, Default)]
pub(crate) struct UnknownNames {
    names: std::collections::BTreeSet<String>,
    more: bool,
}

impl UnknownNames {
    /// Names kept; past them (and for names too long to be shown) only that there are more.
    const KEPT: usize = 64;

    pub(crate) fn note(&mut self, name: &str) {
        if self.names.contains(name) {
            return;
        }
        if self.names.len() < Self::KEPT && name.len() <= 64 {
            self.names.insert(name.to_string());
        } else {
            self.more = true;
        }
    }

    pub(crate) fn merge(&mut self, other: UnknownNames) {
        for n in other.names {
            self.note(&n);
        }
        self.more |= other.more;
    }

    /// As they may be shown ([`shown_unknown`]).
    pub(crate) fn shown(&self, spec: &KindSpec) -> Vec<String> {
        let mut shown = shown_unknown(spec, self.names.iter().map(String::as_str));
        if self.more {
            shown.push("more (names not shown)".into());
        }
        shown
    }
}

/// A field's bytes as trimmed text; `None` when empty. The fast path: no copy.
#[inline]
fn field_text(raw: &[u8]) -> Result<Option<Cow<'_, str>>, FieldError> {
    let s = model::field::trim(std::str::from_utf8(raw).map_err(|_| FieldError::new(NOT_UTF8))?);
    Ok((!s.is_empty()).then_some(Cow::Borrowed(s)))
}

/// [`field_text`] for a quoted field whose `""` pairs were undone into a copy.
fn owned_field_text(raw: Vec<u8>) -> Result<Option<Cow<'static, str>>, FieldError> {
    let s = String::from_utf8(raw).map_err(|_| FieldError::new(NOT_UTF8))?;
    let t = model::field::trim(&s);
    if t.is_empty() {
        return Ok(None);
    }
    Ok(Some(Cow::Owned(if t.len() == s.len() {
        s
    } else {
        t.to_string()
    })))
}

/// A CSV record read by the record rule, its fields as ranges of the piece.
struct CsvRow<'a> {
    data: &'a [u8],
    fields: &'a [Field],
    map: &'a [Option<usize>],
}

impl Row for CsvRow<'_> {
    fn text(&self, col: usize) -> Result<Option<Cow<'_, str>>, FieldError> {
        let Some(i) = self.map[col] else {
            return Ok(None);
        };
        match self.fields[i].bytes(self.data) {
            Cow::Borrowed(raw) => field_text(raw),
            Cow::Owned(raw) => owned_field_text(raw),
        }
    }
}

/// The fields of a CSV line without quotes, as ranges of the line.
struct PlainRow<'a> {
    line: &'a [u8],
    fields: &'a [(u32, u32)],
    map: &'a [Option<usize>],
}

impl Row for PlainRow<'_> {
    fn text(&self, col: usize) -> Result<Option<Cow<'_, str>>, FieldError> {
        let Some(i) = self.map[col] else {
            return Ok(None);
        };
        let (a, b) = self.fields[i];
        field_text(&self.line[a as usize..b as usize])
    }
}

/// Parses the CSV records of one piece (no header) into `b`.
pub(crate) fn csv_piece(
    b: &mut ChunkBuilder<'_>,
    header: &CsvHeader,
    data: &[u8],
    first_line: u64,
) {
    // Most exports quote nothing and end lines with \n: then a record is a line and a field
    // what lies between commas, and a byte search beats the general record rule (which reads
    // such data the same way).
    if memchr::memchr2(b'"', b'\r', data).is_none() {
        csv_plain_piece(b, header, data, first_line);
    } else {
        csv_quoted_piece(b, header, data, first_line);
    }
}

/// [`csv_piece`] for data without quote characters or carriage returns.
fn csv_plain_piece(b: &mut ChunkBuilder<'_>, header: &CsvHeader, data: &[u8], first_line: u64) {
    let expected = header.grammar.fields;
    let mut fields: Vec<(u32, u32)> = Vec::with_capacity(expected.max(1));
    let mut line_no = first_line;
    let mut start = 0;
    while start < data.len() {
        let end = memchr::memchr(b'\n', &data[start..]).map_or(data.len(), |i| start + i);
        let line = &data[start..end];
        start = end + 1;
        let this = line_no;
        line_no += 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        fields.clear();
        let mut a = 0;
        for c in memchr::memchr_iter(b',', line) {
            fields.push((a as u32, c as u32));
            a = c + 1;
        }
        fields.push((a as u32, line.len() as u32));
        if fields.len() != expected {
            let what = crate::records::Malformed::FieldCount {
                found: fields.len(),
            };
            b.reject(
                this,
                "",
                Reason::Malformed {
                    what,
                    fields: expected,
                    first: this,
                    last: this,
                },
            );
        } else if let Some((col, why)) = header.refuse_all {
            b.reject(this, col, Reason::Fixed(why));
        } else {
            b.push(
                this,
                this,
                &PlainRow {
                    line,
                    fields: &fields,
                    map: &header.map,
                },
            );
        }
    }
}

/// Does the CSV record `fields` pass validation? For the splitter, which must decide records
/// over several lines as [`csv_quoted_piece`] will.
pub(crate) fn csv_record_valid(
    v: &mut Validator<'_>,
    header: &CsvHeader,
    data: &[u8],
    fields: &[Field],
) -> bool {
    header.refuse_all.is_none()
        && v.check(&CsvRow {
            data,
            fields,
            map: &header.map,
        })
}

/// [`csv_piece`] for any data, by the record rule of [`crate::records`].
fn csv_quoted_piece(b: &mut ChunkBuilder<'_>, header: &CsvHeader, data: &[u8], first_line: u64) {
    let g = header.grammar;
    let mut fields = Vec::with_capacity(g.fields.max(1));
    let mut pos = 0;
    let mut line = first_line;
    while pos < data.len() {
        // A record is stored as the rule reads it; if it is refused, why.
        let mut refused = None;
        let mut store = |data: &[u8], fields: &[Field]| {
            let outcome = match header.refuse_all {
                Some((col, why)) => Err((col, Reason::Fixed(why))),
                None => b
                    .try_push_row(
                        line,
                        &CsvRow {
                            data,
                            fields,
                            map: &header.map,
                        },
                    )
                    .map_err(|(col, e)| (col, Reason::Field(e))),
            };
            match outcome {
                Ok(()) => true,
                Err(e) => {
                    refused = Some(e);
                    false
                }
            }
        };
        let step = g
            .next(data, pos, true, &mut fields, &mut store)
            .expect("the end of a piece decides every step");
        let last = line + step.lines - 1;
        match step.found {
            Found::Blank | Found::Record => {}
            Found::Refused => {
                let (col, why) = refused.expect("a refused record says why");
                b.reject_span(line, last, col, why, 1);
            }
            Found::Bad(what) => b.reject_span(
                line,
                last,
                "",
                Reason::Malformed {
                    what,
                    fields: g.fields,
                    first: line,
                    last,
                },
                1,
            ),
        }
        line += step.lines;
        pos = step.end;
    }
}

/// The members of a JSON object in input order, duplicates kept (so they can be refused).
struct Members(Vec<(String, serde_json::Value)>);

impl<'de> Deserialize<'de> for Members {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Members, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Members, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = m.next_entry::<String, serde_json::Value>()? {
                    out.push(entry);
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(V)
    }
}

struct JsonRow<'a> {
    members: &'a [(String, serde_json::Value)],
    /// For each spec column, the member holding it.
    map: &'a [Option<usize>],
    spec: &'static KindSpec,
}

impl Row for JsonRow<'_> {
    fn text(&self, col: usize) -> Result<Option<Cow<'_, str>>, FieldError> {
        use serde_json::Value as J;
        let c = &self.spec.columns[col];
        let value = self.map[col].map(|m| &self.members[m].1);
        let text: Cow<'_, str> = match value {
            None | Some(J::Null) => return Ok(None),
            Some(J::String(s)) => Cow::Borrowed(model::field::trim(s)),
            Some(J::Number(n)) => Cow::Owned(n.to_string()),
            Some(J::Bool(b)) => Cow::Borrowed(if *b { "true" } else { "false" }),
            Some(J::Array(items)) if c.ty == FieldType::RegionList => {
                let mut parts = Vec::with_capacity(items.len());
                for it in items {
                    match it {
                        J::String(s) => parts.push(s.clone()),
                        J::Number(n) => parts.push(n.to_string()),
                        _ => return Err(FieldError::new("list items must be strings")),
                    }
                }
                Cow::Owned(parts.join(";"))
            }
            Some(J::Array(_)) => return Err(FieldError::new("expected one value, found a list")),
            Some(J::Object(_)) => {
                return Err(FieldError::new("expected one value, found an object"));
            }
        };
        Ok((!text.is_empty()).then_some(text))
    }
}

/// Why one record, checked alone ([`check_json_record`]), would be rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{column}: {reason}")]
pub struct RecordError {
    /// The offending column; empty when the record as a whole is malformed.
    pub column: String,
    /// Never quotes a value, like every reject reason.
    pub reason: String,
}

/// Decides one JSON object exactly as an ingest of it as a line of JSON Lines would (the same
/// fields, types, checks and keys), storing nothing: records that arrive one at a time (a
/// resident's self-report) are held to the rules of a file. `today` is the day "future" dates
/// are judged against.
pub fn check_json_record(
    kind: model::Kind,
    zone: model::Zone,
    keys: &vault::Keys,
    today: model::Date,
    record: &[u8],
) -> Result<(), RecordError> {
    let refuse = |column: &str, reason: Reason| RecordError {
        column: column.to_string(),
        reason: reason.to_string(),
    };
    let trimmed = record.trim_ascii();
    if trimmed.first() != Some(&b'{') {
        return Err(refuse("", Reason::NotObject(JsonShape::of(trimmed))));
    }
    let Members(members) = serde_json::from_slice::<Members>(trimmed)
        .map_err(|e| refuse("", Reason::JsonSyntax(e)))?;
    let spec = kind.spec();
    let found = ColumnMap::new(spec, members.iter().map(|(k, _)| k.as_str()));
    if let Some(col) = found.twice {
        return Err(refuse(col, Reason::DuplicateKey(Some(col))));
    }
    let twice = members
        .iter()
        .enumerate()
        .any(|(i, (k, _))| members[..i].iter().any(|(other, _)| other == k));
    if twice {
        return Err(refuse("", Reason::DuplicateKey(None)));
    }
    let mut validator = Validator::new(kind, zone, keys, today);
    let row = JsonRow {
        members: &members,
        map: &found.map,
        spec,
    };
    validator.decide(&row).map_err(|(col, e)| {
        let column = col.map_or("", |c| validator.column_name(c));
        refuse(column, Reason::Field(e))
    })
}

/// Parses the JSON Lines of one piece into `b`.
pub(crate) fn jsonl_piece(b: &mut ChunkBuilder<'_>, data: &[u8], first_line: u64, ending: Ending) {
    let spec = b.spec();
    for (i, line) in crate::records::lines(data, ending).enumerate() {
        let line_no = first_line + i as u64;
        let trimmed = line.trim_ascii();
        if trimmed.is_empty() {
            continue;
        }
        if trimmed[0] != b'{' {
            let reason = match serde_json::from_slice::<serde::de::IgnoredAny>(trimmed) {
                Ok(_) => Reason::NotObject(JsonShape::of(trimmed)),
                Err(e) => Reason::JsonSyntax(e),
            };
            b.reject(line_no, "", reason);
            continue;
        }
        match serde_json::from_slice::<Members>(trimmed) {
            Ok(Members(members)) => {
                // Keys name columns as CSV headers do; a column named twice (`time` and
                // `Time `, or the same key again) is refused, not resolved.
                let found = ColumnMap::new(spec, members.iter().map(|(k, _)| k.as_str()));
                for (k, _) in &members {
                    if spec.column(&column_key(k)).is_none() {
                        b.unknown.note(k);
                    }
                }
                let twice = members
                    .iter()
                    .enumerate()
                    .any(|(i, (k, _))| members[..i].iter().any(|(other, _)| other == k));
                match (found.twice, twice) {
                    (Some(col), _) => {
                        b.reject(line_no, col, Reason::DuplicateKey(Some(col)));
                    }
                    (None, true) => b.reject(line_no, "", Reason::DuplicateKey(None)),
                    (None, false) => b.push(
                        line_no,
                        line_no,
                        &JsonRow {
                            members: &members,
                            map: &found.map,
                            spec,
                        },
                    ),
                }
            }
            Err(e) => b.reject(line_no, "", Reason::JsonSyntax(e)),
        }
    }
}

/// A Parquet column rendered as text, with the rows whose value cannot be.
struct TextColumn {
    values: Values,
    /// Per row: why its value cannot be read, when it cannot.
    unreadable: Option<Vec<Option<&'static str>>>,
}

enum Values {
    Absent,
    Strings(StringArray),
    /// Lists, joined with `;`.
    Joined(Vec<Option<String>>),
}

struct ParquetRow<'a> {
    cols: &'a [TextColumn],
    row: usize,
}

impl Row for ParquetRow<'_> {
    fn text(&self, col: usize) -> Result<Option<Cow<'_, str>>, FieldError> {
        let c = &self.cols[col];
        if let Some(Some(why)) = c.unreadable.as_ref().map(|u| u[self.row]) {
            return Err(FieldError::new(why));
        }
        let s = match &c.values {
            Values::Absent => return Ok(None),
            Values::Strings(a) => {
                if a.is_null(self.row) {
                    return Ok(None);
                }
                model::field::trim(a.value(self.row))
            }
            Values::Joined(v) => match &v[self.row] {
                None => return Ok(None),
                Some(s) => s.as_str(),
            },
        };
        Ok((!s.is_empty()).then_some(Cow::Borrowed(s)))
    }
}

/// Is row `i` of `array` a value (not null, dictionaries and all)?
fn present(nulls: Option<&arrow::buffer::NullBuffer>, i: usize) -> bool {
    nulls.is_none_or(|n| n.is_valid(i))
}

/// Marks rows present in `source` but null in `text` (a cast that could not read them).
fn lost_rows(
    source: &ArrayRef,
    text: &dyn Array,
    why: &'static str,
) -> Option<Vec<Option<&'static str>>> {
    let nulls = source.logical_nulls();
    let lost: Vec<Option<&'static str>> = (0..source.len())
        .map(|i| (present(nulls.as_ref(), i) && text.is_null(i)).then_some(why))
        .collect();
    lost.iter().any(Option::is_some).then_some(lost)
}

/// Byte strings as text; those that are not UTF-8 become null (and are marked by the caller).
fn utf8_rows<'a>(values: impl Iterator<Item = Option<&'a [u8]>>) -> ArrayRef {
    let text: StringArray = values
        .map(|v| v.and_then(|b| std::str::from_utf8(b).ok()))
        .collect();
    Arc::new(text)
}

/// `array` as UTF-8 text, row by row: what a text cast would give, except that rows it
/// cannot read are marked (a cast would quietly make them null).
fn strings(array: &ArrayRef) -> Result<TextColumn, Reason> {
    let ms_per_day = 86_400_000;
    let (text, why): (ArrayRef, &'static str) = match array.data_type() {
        DataType::Binary => (utf8_rows(array.as_binary::<i32>().iter()), NOT_UTF8),
        DataType::LargeBinary => (utf8_rows(array.as_binary::<i64>().iter()), NOT_UTF8),
        DataType::BinaryView => (utf8_rows(array.as_binary_view().iter()), NOT_UTF8),
        DataType::FixedSizeBinary(_) => (utf8_rows(array.as_fixed_size_binary().iter()), NOT_UTF8),
        DataType::Date64 => {
            // Milliseconds of a whole day; anything else is not a date.
            let ms = arrow::compute::cast(array, &DataType::Int64)
                .map_err(|_| Reason::ParquetType(array.data_type().to_string()))?;
            let text: StringArray = ms
                .as_primitive::<Int64Type>()
                .iter()
                .map(|v| {
                    v.filter(|v| v % ms_per_day == 0)
                        .and_then(|v| i32::try_from(v / ms_per_day).ok())
                        .map(|d| model::Date(d).to_string())
                })
                .collect();
            (Arc::new(text), "date64 value is not a whole day")
        }
        DataType::Timestamp(unit, Some(_)) => {
            // Arrow keeps such instants in UTC whatever the zone's name; render them so,
            // without needing to know the name.
            let utc = DataType::Timestamp(*unit, Some("+00:00".into()));
            let data = array.to_data().into_builder().data_type(utc).build();
            let utc =
                make_array(data.map_err(|_| Reason::ParquetType(array.data_type().to_string()))?);
            let text = arrow::compute::cast(&utc, &DataType::Utf8)
                .map_err(|_| Reason::ParquetType(array.data_type().to_string()))?;
            (text, "cannot be read as a time")
        }
        _ => {
            let text = arrow::compute::cast(array, &DataType::Utf8)
                .map_err(|_| Reason::ParquetType(array.data_type().to_string()))?;
            (text, "cannot be read as text")
        }
    };
    let unreadable = lost_rows(array, text.as_ref(), why);
    let text = arrow::compute::cast(&text, &DataType::Utf8)
        .map_err(|_| Reason::ParquetType(array.data_type().to_string()))?;
    Ok(TextColumn {
        values: Values::Strings(text.as_string::<i32>().clone()),
        unreadable,
    })
}

fn text_column(array: &ArrayRef, ty: FieldType) -> Result<TextColumn, Reason> {
    let list: Vec<Option<ArrayRef>> = match array.data_type() {
        DataType::List(_) => array.as_list::<i32>().iter().collect(),
        DataType::LargeList(_) => array.as_list::<i64>().iter().collect(),
        DataType::FixedSizeList(..) => array.as_fixed_size_list().iter().collect(),
        _ => return strings(array),
    };
    let nulls = array.logical_nulls();
    let mut out = Vec::with_capacity(list.len());
    let mut unreadable = vec![None; list.len()];
    for (i, item) in list.into_iter().enumerate() {
        let values = match item {
            Some(v) if present(nulls.as_ref(), i) => v,
            _ => {
                out.push(None);
                continue;
            }
        };
        if ty != FieldType::RegionList {
            unreadable[i] = Some("expected one value, found a list");
            out.push(None);
            continue;
        }
        let items = strings(&values)?;
        let Values::Strings(texts) = &items.values else {
            unreachable!("strings gives strings")
        };
        if items.unreadable.is_some() || texts.null_count() > 0 {
            unreadable[i] = Some("list items must be text and not null");
            out.push(None);
            continue;
        }
        out.push(Some(texts.iter().flatten().collect::<Vec<_>>().join(";")));
    }
    Ok(TextColumn {
        values: Values::Joined(out),
        unreadable: unreadable.iter().any(Option::is_some).then_some(unreadable),
    })
}

/// Parses one Parquet record batch, whose first row is row `first_row` (1-based), into `b`.
pub(crate) fn parquet_batch(b: &mut ChunkBuilder<'_>, batch: &RecordBatch, first_row: u64) {
    let n = batch.num_rows() as u64;
    if n == 0 {
        return;
    }
    let last = first_row + n - 1;
    let spec = b.spec();
    let schema = batch.schema();
    let found = ColumnMap::new(spec, schema.fields().iter().map(|f| f.name().as_str()));
    if let Some(col) = found.twice {
        let why = Reason::Fixed("the file has this column more than once");
        b.reject_span(first_row, last, col, why, n);
        return;
    }
    let mut cols = Vec::with_capacity(spec.columns.len());
    let mut missing = None;
    for (c, at) in spec.columns.iter().zip(found.map) {
        match at {
            Some(i) => match text_column(batch.column(i), c.ty) {
                Ok(t) => cols.push(t),
                Err(reason) => {
                    b.reject_span(first_row, last, c.name, reason, n);
                    return;
                }
            },
            None => {
                if c.required && missing.is_none() {
                    missing = Some(c.name);
                }
                cols.push(TextColumn {
                    values: Values::Absent,
                    unreadable: None,
                });
            }
        }
    }
    if let Some(col) = missing {
        let why = Reason::Fixed("required column is missing from the file");
        b.reject_span(first_row, last, col, why, n);
        return;
    }
    for r in 0..batch.num_rows() {
        let line = first_row + r as u64;
        b.push(
            line,
            line,
            &ParquetRow {
                cols: &cols,
                row: r,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use arrow::array::RecordBatch;
    use model::{Kind, Zone};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use proptest::prelude::*;
    use store::{SourceId, Store, Writer};
    use vault::{Keys, MasterKey};

    use super::*;
    use crate::Reject;

    const FRAGMENTS: &[&str] = &[
        "33030219800101006X",
        "42010619900101001X",
        "330302198001010061",
        "V1",
        "v2 ",
        "2020-01-21T08:00:00+08:00",
        "2020-01-21T23:30:00Z",
        "2020-01-21T08:00:00",
        "",
        " ",
        "温州",
    ];

    /// Runs one path over `data` into its own source and returns (accepted, rejects, rows).
    fn run(
        path: fn(&mut ChunkBuilder<'_>, &CsvHeader, &[u8], u64),
        data: &[u8],
    ) -> (u64, Vec<Reject>, Vec<String>) {
        let keys = Keys::derive(&MasterKey::from_bytes([4; 32]));
        let dir = tempfile::tempdir().unwrap();
        let mut w = Writer::open(dir.path(), keys.key_id(), Zone::CST, || {}).unwrap();
        let line = crate::records::header_line(b"person_id,venue_id,time_in,time_out\n", true)
            .expect("a whole line");
        let header = CsvHeader::new(Kind::Checkins.spec(), &line);
        let st = w.begin(Kind::Checkins, "c.csv".into(), 0, 1).unwrap();
        let today = model::Date::from_ymd(2026, 1, 1).unwrap();
        let mut b = ChunkBuilder::new(&st, 0, Zone::CST, &keys, today, 16).unwrap();
        path(&mut b, &header, data, 2);
        let (accepted, rejects) = (b.accepted, std::mem::take(&mut b.rejects));
        b.finish().unwrap();
        w.commit(
            st,
            SourceId {
                blake3: "x".into(),
                probe: "y".into(),
            },
            accepted,
            0,
        )
        .unwrap();
        let store = Store::open(dir.path(), keys.key_id()).unwrap();
        let mut rows = Vec::new();
        for f in store.table_paths(Kind::Checkins) {
            for batch in read(&f) {
                for r in 0..batch.num_rows() {
                    let cells: Vec<String> = (0..batch.num_columns())
                        .map(|c| {
                            arrow::util::display::array_value_to_string(batch.column(c), r).unwrap()
                        })
                        .collect();
                    rows.push(cells.join("|"));
                }
            }
        }
        rows.sort();
        (accepted, rejects, rows)
    }

    fn read(f: &Path) -> Vec<RecordBatch> {
        let r = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(f).unwrap())
            .unwrap()
            .build()
            .unwrap();
        r.map(Result::unwrap).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn the_plain_path_agrees_with_the_csv_parser(
            lines in proptest::collection::vec(
                prop_oneof![
                    3 => proptest::collection::vec(0..FRAGMENTS.len(), 4..=4),
                    1 => proptest::collection::vec(0..FRAGMENTS.len(), 0..7),
                ],
                0..40,
            ),
            final_newline in any::<bool>(),
        ) {
            let mut text = String::new();
            for (i, l) in lines.iter().enumerate() {
                let fields: Vec<&str> = l.iter().map(|&f| FRAGMENTS[f]).collect();
                text.push_str(&fields.join(","));
                if i + 1 < lines.len() || final_newline {
                    text.push('\n');
                }
            }
            let plain = run(csv_plain_piece, text.as_bytes());
            let quoted = run(csv_quoted_piece, text.as_bytes());
            prop_assert_eq!(plain, quoted);
        }
    }
}
