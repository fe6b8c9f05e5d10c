//! Why rows are refused, and the rejects file of one ingest run: `file,line,column,reason,
//! last_line`, one row per rejected row or span, written as each source commits.
//!
//! A reason is a [`Reason`]: fixed words, numbers, the kind's column names, the record rule's
//! [`Malformed`] shapes, and `model`'s field errors (which never quote a value). There is no
//! way to build one from a field's text or from a parser's free-form message, so the rejects
//! file and the ingest answer cannot carry a personal value and are safe to hand back.

use std::fmt;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use model::FieldError;

use crate::records::Malformed;
use crate::{IngestError, Reject};

/// What a JSON Lines line is when it is not an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum JsonShape {
    String,
    Number,
    Array,
    Bool,
    Null,
    Other,
}

impl JsonShape {
    /// The shape of a JSON text from its first byte.
    pub(crate) fn of(text: &[u8]) -> JsonShape {
        match text.first() {
            Some(b'"') => JsonShape::String,
            Some(b'-' | b'0'..=b'9') => JsonShape::Number,
            Some(b'[') => JsonShape::Array,
            Some(b't' | b'f') => JsonShape::Bool,
            Some(b'n') => JsonShape::Null,
            _ => JsonShape::Other,
        }
    }
}

/// Why a row (or a span of lines, or a range of Parquet rows) was refused.
#[derive(Debug)]
pub(crate) enum Reason {
    /// A field broke its rule (`model` words these without the value).
    Field(FieldError),
    Fixed(&'static str),
    /// The CSV record rule refused a span of lines.
    Malformed {
        what: Malformed,
        fields: usize,
        first: u64,
        last: u64,
    },
    /// A JSON Lines line that is valid JSON but not an object.
    NotObject(JsonShape),
    /// A JSON Lines line that is not valid JSON. Only serde_json's syntax and end-of-input
    /// errors are kept: their words are fixed; its data errors could quote the input.
    JsonSyntax(serde_json::Error),
    /// An object naming a key twice: the key if it is one of the kind's columns.
    DuplicateKey(Option<&'static str>),
    /// A Parquet column whose Arrow type cannot be read as the column's text.
    ParquetType(String),
    /// Parquet rows that could not be decoded: the row group and the decoder's words, which
    /// describe the file's structure (pages, encodings), not values.
    ParquetDecode {
        row_group: usize,
        cause: String,
    },
    /// Rows a row group declares that its reader did not return.
    ParquetMissing {
        row_group: usize,
        declared: u64,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Field(e) => f.write_str(e.reason()),
            Reason::Fixed(s) => f.write_str(s),
            Reason::Malformed {
                what,
                fields,
                first,
                last,
            } => f.write_str(&what.describe(*fields, *first, *last)),
            Reason::NotObject(shape) => {
                let what = match shape {
                    JsonShape::String => "a string",
                    JsonShape::Number => "a number",
                    JsonShape::Array => "an array",
                    JsonShape::Bool => "true or false",
                    JsonShape::Null => "null",
                    JsonShape::Other => "something else",
                };
                write!(f, "not a JSON object: the line holds {what}")
            }
            Reason::JsonSyntax(e) => {
                use serde_json::error::Category;
                match e.classify() {
                    Category::Syntax | Category::Eof => {
                        // Its words are fixed; the position is given as a column of the line.
                        let text = e.to_string();
                        let what = text.split(" at line ").next().unwrap_or("");
                        write!(f, "not valid JSON: {what} (column {})", e.column())
                    }
                    Category::Data | Category::Io => f.write_str("not a valid JSON object"),
                }
            }
            Reason::DuplicateKey(Some(k)) => write!(f, "key {k} appears more than once"),
            Reason::DuplicateKey(None) => f.write_str("a key appears more than once"),
            Reason::ParquetType(t) => write!(f, "column type {t} cannot be read as text"),
            Reason::ParquetDecode { row_group, cause } => {
                let cause: String = cause
                    .lines()
                    .next()
                    .unwrap_or("")
                    .chars()
                    .take(200)
                    .collect();
                write!(f, "row group {row_group} cannot be decoded here: {cause}")
            }
            Reason::ParquetMissing {
                row_group,
                declared,
            } => write!(
                f,
                "row group {row_group} declares {declared} rows, its reader returned fewer"
            ),
        }
    }
}

pub(crate) struct RejectsFile {
    path: PathBuf,
    out: BufWriter<std::fs::File>,
}

impl RejectsFile {
    pub(crate) fn create(path: &Path) -> Result<RejectsFile, IngestError> {
        let io = |cause| IngestError::Io {
            path: path.to_path_buf(),
            cause,
        };
        let f = std::fs::File::create(path).map_err(io)?;
        let mut out = BufWriter::new(f);
        writeln!(out, "file,line,column,reason,last_line").map_err(io)?;
        Ok(RejectsFile {
            path: path.to_path_buf(),
            out,
        })
    }

    pub(crate) fn write(&mut self, source: &str, rejects: &[Reject]) -> Result<(), IngestError> {
        let io = |cause| IngestError::Io {
            path: self.path.clone(),
            cause,
        };
        for r in rejects {
            writeln!(
                self.out,
                "{},{},{},{},{}",
                quote(source),
                r.line,
                quote(&r.column),
                quote(&r.reason),
                r.last_line
            )
            .map_err(io)?;
        }
        self.out.flush().map_err(io)
    }
}

fn quote(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\"")).into()
    } else {
        s.into()
    }
}
