//! Row sinks for CSV, JSON Lines and Parquet. A row is assembled once as text cells; each
//! format renders it without per-row allocation. Files are written as `*.tmp` and renamed
//! when complete, so a cancelled or failed run never leaves a half file under a final name.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use model::{Column, FieldType, Kind, PersonId, Region, Timestamp, Zone};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::Error;
use crate::bad_rows::{self, BadRow};
use crate::config::Format;
use crate::rng::{Rng, hash, tag};

/// One row as text cells (an empty cell is an absent value).
#[derive(Debug, Default, Clone)]
pub struct Row {
    pub buf: Vec<u8>,
    pub ends: Vec<usize>,
}

impl Row {
    pub fn clear(&mut self) {
        self.buf.clear();
        self.ends.clear();
    }
    #[inline]
    fn end(&mut self) {
        self.ends.push(self.buf.len());
    }
    pub fn len(&self) -> usize {
        self.ends.len()
    }
    pub fn cell(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.buf[start..self.ends[i]]
    }
    #[inline]
    pub fn empty(&mut self) {
        self.end();
    }
    #[inline]
    pub fn str(&mut self, s: &str) {
        self.buf.extend_from_slice(s.as_bytes());
        self.end();
    }
    #[inline]
    pub fn bytes(&mut self, s: &[u8]) {
        self.buf.extend_from_slice(s);
        self.end();
    }
    /// Appends to the cell being built; finish it with [`Row::done`].
    #[inline]
    pub fn raw(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }
    #[inline]
    pub fn done(&mut self) {
        self.end();
    }
    #[inline]
    pub fn ts(&mut self, t: Timestamp, zone: Zone) {
        t.write_rfc3339(zone, &mut self.buf);
        self.end();
    }
    #[inline]
    pub fn opt_ts(&mut self, t: Option<Timestamp>, zone: Zone) {
        match t {
            Some(t) => self.ts(t, zone),
            None => self.empty(),
        }
    }
    #[inline]
    pub fn date(&mut self, d: model::Date) {
        d.write_to(&mut self.buf);
        self.end();
    }
    #[inline]
    pub fn int(&mut self, v: i64) {
        let mut b = itoa::Buffer::new();
        self.buf.extend_from_slice(b.format(v).as_bytes());
        self.end();
    }
    #[inline]
    pub fn float(&mut self, v: f64) {
        let mut b = ryu::Buffer::new();
        let s = b.format(v);
        let s = s.strip_suffix(".0").unwrap_or(s);
        self.buf.extend_from_slice(s.as_bytes());
        self.end();
    }
    /// A number with one decimal from tenths (temperatures).
    #[inline]
    pub fn tenths(&mut self, v: u16) {
        let mut b = itoa::Buffer::new();
        self.buf.extend_from_slice(b.format(v / 10).as_bytes());
        self.buf.push(b'.');
        self.buf.push(b'0' + (v % 10) as u8);
        self.end();
    }
    #[inline]
    pub fn person(&mut self, id: PersonId) {
        self.buf.extend_from_slice(&id.to_bytes());
        self.end();
    }
    #[inline]
    pub fn region(&mut self, r: Region) {
        crate::layout::push_code(&mut self.buf, r.code());
        self.end();
    }
}

/// What one finished file holds.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FileStat {
    pub file: String,
    pub kind: String,
    pub rows: u64,
    pub bad_rows: u64,
    pub bytes: u64,
}

enum Out {
    Text(BufWriter<File>),
    Parquet(Box<ParquetOut>),
}

struct ParquetOut {
    writer: ArrowWriter<File>,
    schema: SchemaRef,
    builders: Vec<StringBuilder>,
    pending: usize,
}

const PARQUET_BATCH: usize = 32_768;

/// A file of one kind being written.
pub struct Sink {
    kind: Kind,
    format: Format,
    columns: &'static [Column],
    name: String,
    tmp: PathBuf,
    path: PathBuf,
    out: Option<Out>,
    /// Good rows, and records written including bad ones.
    rows: u64,
    records: u64,
    bad_rate: f64,
    bad_rng: Rng,
    pub bad: Vec<BadRow>,
    line: Vec<u8>,
    scratch: Row,
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sink")
            .field("name", &self.name)
            .field("rows", &self.rows)
            .finish()
    }
}

impl Sink {
    pub fn create(
        dir: &Path,
        name: String,
        kind: Kind,
        format: Format,
        bad_rate: f64,
        seed: u64,
    ) -> Result<Sink, Error> {
        let path = dir.join(&name);
        let tmp = dir.join(format!("{name}.tmp"));
        let file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let columns = kind.spec().columns;
        let out = match format {
            Format::Csv => {
                let mut w = BufWriter::with_capacity(1 << 20, file);
                let header: Vec<&str> = columns.iter().map(|c| c.name).collect();
                w.write_all(header.join(",").as_bytes())
                    .and_then(|_| w.write_all(b"\n"))
                    .map_err(|e| Error::io(&tmp, e))?;
                Out::Text(w)
            }
            Format::Jsonl => Out::Text(BufWriter::with_capacity(1 << 20, file)),
            Format::Parquet => {
                let fields: Vec<Field> = columns
                    .iter()
                    .map(|c| Field::new(c.name, DataType::Utf8, true))
                    .collect();
                let schema: SchemaRef = Arc::new(Schema::new(fields));
                let props = WriterProperties::builder()
                    .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).expect("level")))
                    .set_max_row_group_row_count(Some(1 << 20))
                    .build();
                let writer =
                    ArrowWriter::try_new(file, schema.clone(), Some(props)).map_err(|e| {
                        Error::Parquet {
                            path: tmp.clone(),
                            source: e,
                        }
                    })?;
                Out::Parquet(Box::new(ParquetOut {
                    writer,
                    schema,
                    builders: (0..columns.len()).map(|_| StringBuilder::new()).collect(),
                    pending: 0,
                }))
            }
        };
        let key = hash(seed, tag::BAD, name_hash(&name), 0);
        Ok(Sink {
            kind,
            format,
            columns,
            name,
            tmp,
            path,
            out: Some(out),
            rows: 0,
            records: 0,
            bad_rate,
            bad_rng: Rng::new(key),
            bad: Vec::new(),
            line: Vec::with_capacity(512),
            scratch: Row::default(),
        })
    }

    /// Writes a good row, then (at the configured rate) a corrupted copy of it.
    pub fn write(&mut self, row: &Row) -> Result<(), Error> {
        debug_assert_eq!(row.len(), self.columns.len(), "{}", self.kind);
        self.emit(row, false)?;
        self.rows += 1;
        if self.bad_rate > 0.0 && self.bad_rng.f64() < self.bad_rate {
            let mut bad = std::mem::take(&mut self.scratch);
            if let Some((what, column, extra)) =
                bad_rows::corrupt(self.columns, row, self.format, &mut self.bad_rng, &mut bad)
            {
                self.emit(&bad, extra)?;
                // CSV: the header is line 1; JSONL: the first record is line 1; Parquet: row 1.
                let line = match self.format {
                    Format::Csv => self.records + 1,
                    _ => self.records,
                };
                self.bad.push(BadRow {
                    file: self.name.clone(),
                    line,
                    column: column.map(|c| self.columns[c].name).unwrap_or(""),
                    what,
                });
            }
            self.scratch = bad;
        }
        Ok(())
    }

    fn emit(&mut self, row: &Row, extra_field: bool) -> Result<(), Error> {
        self.records += 1;
        match self.out.as_mut().expect("open") {
            Out::Text(w) => {
                self.line.clear();
                match self.format {
                    Format::Csv => csv_line(row, extra_field, &mut self.line),
                    _ => json_line(self.columns, row, &mut self.line),
                }
                w.write_all(&self.line).map_err(|e| Error::io(&self.tmp, e))
            }
            Out::Parquet(p) => {
                for (i, b) in p.builders.iter_mut().enumerate() {
                    let c = row.cell(i);
                    if c.is_empty() {
                        b.append_null();
                    } else {
                        b.append_value(std::str::from_utf8(c).expect("UTF-8 cells"));
                    }
                }
                p.pending += 1;
                if p.pending >= PARQUET_BATCH {
                    flush_parquet(p, &self.tmp)?;
                }
                Ok(())
            }
        }
    }

    /// Completes the file and moves it to its final name.
    pub fn finish(mut self) -> Result<(FileStat, Vec<BadRow>), Error> {
        match self.out.take().expect("open") {
            Out::Text(mut w) => {
                w.flush().map_err(|e| Error::io(&self.tmp, e))?;
            }
            Out::Parquet(mut p) => {
                flush_parquet(&mut p, &self.tmp)?;
                p.writer.close().map_err(|e| Error::Parquet {
                    path: self.tmp.clone(),
                    source: e,
                })?;
            }
        }
        std::fs::rename(&self.tmp, &self.path).map_err(|e| Error::io(&self.path, e))?;
        let bytes = std::fs::metadata(&self.path)
            .map_err(|e| Error::io(&self.path, e))?
            .len();
        let stat = FileStat {
            file: self.name.clone(),
            kind: self.kind.name().to_string(),
            rows: self.rows,
            bad_rows: self.bad.len() as u64,
            bytes,
        };
        Ok((stat, std::mem::take(&mut self.bad)))
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        if self.out.is_some() {
            // Unfinished: drop the writer first, then the temporary file.
            self.out = None;
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

fn flush_parquet(p: &mut ParquetOut, path: &Path) -> Result<(), Error> {
    if p.pending == 0 {
        return Ok(());
    }
    let arrays: Vec<ArrayRef> = p
        .builders
        .iter_mut()
        .map(|b| Arc::new(b.finish()) as ArrayRef)
        .collect();
    let batch = RecordBatch::try_new(p.schema.clone(), arrays).map_err(|e| Error::Parquet {
        path: path.to_path_buf(),
        source: parquet::errors::ParquetError::ArrowError(e.to_string()),
    })?;
    p.writer.write(&batch).map_err(|e| Error::Parquet {
        path: path.to_path_buf(),
        source: e,
    })?;
    p.pending = 0;
    Ok(())
}

fn name_hash(s: &str) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for b in s.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// RFC 4180: quote a cell holding a comma, quote or line break; double inner quotes.
fn csv_line(row: &Row, extra_field: bool, out: &mut Vec<u8>) {
    for i in 0..row.len() {
        if i > 0 {
            out.push(b',');
        }
        let c = row.cell(i);
        if c.iter().any(|&b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
            out.push(b'"');
            for &b in c {
                if b == b'"' {
                    out.push(b'"');
                }
                out.push(b);
            }
            out.push(b'"');
        } else {
            out.extend_from_slice(c);
        }
    }
    if extra_field {
        out.extend_from_slice(b",x");
    }
    out.push(b'\n');
}

fn json_str(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0..=0x1f => {
                out.extend_from_slice(b"\\u00");
                out.push(b"0123456789abcdef"[(b >> 4) as usize]);
                out.push(b"0123456789abcdef"[(b & 15) as usize]);
            }
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

fn is_json_number(s: &[u8]) -> bool {
    !s.is_empty()
        && std::str::from_utf8(s)
            .ok()
            .and_then(|t| t.parse::<f64>().ok())
            .is_some_and(f64::is_finite)
        && s.iter()
            .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'.' | b'e' | b'E' | b'+'))
        && !s.starts_with(b"+")
        && !s.starts_with(b".")
        && !s.ends_with(b".")
}

/// One JSON object; absent fields are left out, numbers are numbers, lists are arrays.
fn json_line(columns: &[Column], row: &Row, out: &mut Vec<u8>) {
    out.push(b'{');
    let mut first = true;
    for (i, col) in columns.iter().enumerate() {
        let c = row.cell(i);
        if c.is_empty() {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        json_str(col.name.as_bytes(), out);
        out.push(b':');
        match col.ty {
            FieldType::Float { .. } | FieldType::Int { .. } if is_json_number(c) => {
                out.extend_from_slice(c)
            }
            FieldType::Bool if c == b"true" || c == b"false" => out.extend_from_slice(c),
            FieldType::RegionList => {
                out.push(b'[');
                for (j, part) in c.split(|&b| b == b';').enumerate() {
                    if j > 0 {
                        out.push(b',');
                    }
                    json_str(part, out);
                }
                out.push(b']');
            }
            _ => json_str(c, out),
        }
    }
    out.extend_from_slice(b"}\n");
}
