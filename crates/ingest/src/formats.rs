//! The three source formats as [`Row`]s: CSV records mapped through their header, JSON Lines
//! objects, and Parquet columns (typed or text) rendered to the same text the CSV would hold.

use std::borrow::Cow;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use arrow::datatypes::DataType;
use model::{FieldError, FieldType, KindSpec};

use crate::chunk::{ChunkBuilder, Row};

/// How each kind column is found in a CSV source.
pub(crate) struct CsvHeader {
    /// For each spec column, its field index in the source.
    pub map: Vec<Option<usize>>,
    pub fields: usize,
    /// Required columns the header lacks: every row is refused for the first one.
    pub missing: Option<&'static str>,
    /// Source columns the kind does not know (ignored, reported once).
    pub unknown: Vec<String>,
}

impl CsvHeader {
    pub(crate) fn new(spec: &KindSpec, header: &csv::ByteRecord) -> CsvHeader {
        let names: Vec<String> = header
            .iter()
            .map(|f| {
                String::from_utf8_lossy(f)
                    .trim()
                    .trim_start_matches('\u{feff}')
                    .to_ascii_lowercase()
            })
            .collect();
        let map: Vec<Option<usize>> = spec
            .columns
            .iter()
            .map(|c| names.iter().position(|n| n == c.name))
            .collect();
        let missing = spec
            .columns
            .iter()
            .zip(&map)
            .find(|(c, m)| c.required && m.is_none())
            .map(|(c, _)| c.name);
        let unknown = names
            .iter()
            .filter(|n| spec.column(n).is_none() && !n.is_empty())
            .cloned()
            .collect();
        CsvHeader {
            map,
            fields: names.len(),
            missing,
            unknown,
        }
    }
}

struct CsvRow<'a> {
    rec: &'a csv::ByteRecord,
    map: &'a [Option<usize>],
}

impl Row for CsvRow<'_> {
    fn text(&self, col: usize) -> Result<Option<Cow<'_, str>>, FieldError> {
        let Some(i) = self.map[col] else {
            return Ok(None);
        };
        let raw = self.rec.get(i).unwrap_or(b"");
        let s = model::field::trim(
            std::str::from_utf8(raw).map_err(|_| FieldError::new("not valid UTF-8"))?,
        );
        Ok((!s.is_empty()).then_some(Cow::Borrowed(s)))
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
        let raw = &self.line[a as usize..b as usize];
        let s = model::field::trim(
            std::str::from_utf8(raw).map_err(|_| FieldError::new("not valid UTF-8"))?,
        );
        Ok((!s.is_empty()).then_some(Cow::Borrowed(s)))
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
    // what lies between commas, and a byte search beats the general CSV state machine.
    if memchr::memchr2(b'"', b'\r', data).is_none() {
        csv_plain_piece(b, header, data, first_line);
    } else {
        csv_quoted_piece(b, header, data, first_line);
    }
}

/// [`csv_piece`] for data without quote characters or carriage returns.
fn csv_plain_piece(b: &mut ChunkBuilder<'_>, header: &CsvHeader, data: &[u8], first_line: u64) {
    let mut fields: Vec<(u32, u32)> = Vec::with_capacity(header.fields.max(1));
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
        if let Some(col) = header.missing {
            b.reject(this, col, "required column is missing from the header");
        } else if fields.len() != header.fields {
            b.reject(
                this,
                "",
                format!("expected {} fields, found {}", header.fields, fields.len()),
            );
        } else {
            b.push(
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

/// The line a record starts on. The CSV reader positions a record where it began reading it,
/// before any blank lines it skipped, so those are counted here.
fn record_line(data: &[u8], first_line: u64, pos: Option<&csv::Position>) -> u64 {
    let Some(pos) = pos else { return first_line };
    let mut line = first_line + pos.line() - 1;
    for &c in data.get(pos.byte() as usize..).unwrap_or(&[]) {
        match c {
            b'\n' => line += 1,
            b'\r' => {}
            _ => break,
        }
    }
    line
}

/// [`csv_piece`] for any RFC 4180 data, quotes and all.
fn csv_quoted_piece(b: &mut ChunkBuilder<'_>, header: &CsvHeader, data: &[u8], first_line: u64) {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(data);
    let mut rec = csv::ByteRecord::new();
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {
                let line = record_line(data, first_line, rec.position());
                if rec.len() == 1 && rec[0].iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                if let Some(col) = header.missing {
                    b.reject(line, col, "required column is missing from the header");
                } else if rec.len() != header.fields {
                    b.reject(
                        line,
                        "",
                        format!("expected {} fields, found {}", header.fields, rec.len()),
                    );
                } else {
                    b.push(
                        line,
                        &CsvRow {
                            rec: &rec,
                            map: &header.map,
                        },
                    );
                }
            }
            Err(e) => {
                let line = first_line + e.position().map_or(1, |p| p.line()) - 1;
                b.reject(line, "", format!("malformed CSV: {e}"));
            }
        }
    }
}

struct JsonRow<'a> {
    obj: &'a serde_json::Map<String, serde_json::Value>,
    spec: &'static KindSpec,
}

impl Row for JsonRow<'_> {
    fn text(&self, col: usize) -> Result<Option<Cow<'_, str>>, FieldError> {
        use serde_json::Value as J;
        let c = &self.spec.columns[col];
        let text: Cow<'_, str> = match self.obj.get(c.name) {
            None | Some(J::Null) => return Ok(None),
            Some(J::String(s)) => Cow::Borrowed(s.trim()),
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

/// Parses the JSON Lines of one piece into `b`.
pub(crate) fn jsonl_piece(b: &mut ChunkBuilder<'_>, data: &[u8], first_line: u64) {
    let spec = b.spec();
    for (i, line) in data.split(|&c| c == b'\n').enumerate() {
        let line_no = first_line + i as u64;
        let trimmed = line.trim_ascii();
        if trimmed.is_empty() {
            continue;
        }
        match serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(trimmed) {
            Ok(obj) => b.push(line_no, &JsonRow { obj: &obj, spec }),
            Err(e) => b.reject(line_no, "", format!("not a JSON object: {e}")),
        }
    }
}

/// A Parquet column rendered as text.
enum TextColumn {
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
        let s = match &self.cols[col] {
            TextColumn::Absent => return Ok(None),
            TextColumn::Strings(a) => {
                if a.is_null(self.row) {
                    return Ok(None);
                }
                a.value(self.row).trim()
            }
            TextColumn::Joined(v) => match &v[self.row] {
                None => return Ok(None),
                Some(s) => s.as_str(),
            },
        };
        Ok((!s.is_empty()).then_some(Cow::Borrowed(s)))
    }
}

fn text_column(array: &ArrayRef) -> Result<TextColumn, String> {
    match array.data_type() {
        DataType::List(_) | DataType::LargeList(_) => {
            let list: Vec<Option<ArrayRef>> = match array.data_type() {
                DataType::List(_) => array.as_list::<i32>().iter().collect(),
                _ => array.as_list::<i64>().iter().collect(),
            };
            let mut out = Vec::with_capacity(list.len());
            for item in list {
                out.push(match item {
                    None => None,
                    Some(values) => {
                        let strings = arrow::compute::cast(&values, &DataType::Utf8)
                            .map_err(|e| e.to_string())?;
                        let strings = strings.as_string::<i32>();
                        Some(strings.iter().flatten().collect::<Vec<_>>().join(";"))
                    }
                });
            }
            Ok(TextColumn::Joined(out))
        }
        _ => {
            let strings =
                arrow::compute::cast(array, &DataType::Utf8).map_err(|e| e.to_string())?;
            Ok(TextColumn::Strings(strings.as_string::<i32>().clone()))
        }
    }
}

/// Parses one Parquet record batch, whose first row is row `first_row` (1-based), into `b`.
pub(crate) fn parquet_batch(b: &mut ChunkBuilder<'_>, batch: &RecordBatch, first_row: u64) {
    let spec = b.spec();
    let schema = batch.schema();
    let mut cols = Vec::with_capacity(spec.columns.len());
    let mut missing = None;
    for c in spec.columns {
        match schema.index_of(c.name) {
            Ok(i) => match text_column(batch.column(i)) {
                Ok(t) => cols.push(t),
                Err(e) => {
                    for r in 0..batch.num_rows() {
                        b.reject(
                            first_row + r as u64,
                            c.name,
                            format!("column type cannot be read: {e}"),
                        );
                    }
                    return;
                }
            },
            Err(_) => {
                if c.required && missing.is_none() {
                    missing = Some(c.name);
                }
                cols.push(TextColumn::Absent);
            }
        }
    }
    for r in 0..batch.num_rows() {
        let line = first_row + r as u64;
        match missing {
            Some(col) => b.reject(line, col, "required column is missing from the file"),
            None => b.push(
                line,
                &ParquetRow {
                    cols: &cols,
                    row: r,
                },
            ),
        }
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
        let header = csv::ByteRecord::from(vec!["person_id", "venue_id", "time_in", "time_out"]);
        let header = CsvHeader::new(Kind::Checkins.spec(), &header);
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
        for f in store.table_files(Kind::Checkins) {
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
