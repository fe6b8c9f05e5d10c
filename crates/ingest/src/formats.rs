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

/// Parses the CSV records of one piece (no header) into `b`.
pub(crate) fn csv_piece(
    b: &mut ChunkBuilder<'_>,
    header: &CsvHeader,
    data: &[u8],
    first_line: u64,
) {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(data);
    let mut rec = csv::ByteRecord::new();
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {
                let line = first_line + rec.position().map_or(1, |p| p.line()) - 1;
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
