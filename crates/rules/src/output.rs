//! Health codes as the contract prints them: one code as JSON, the whole population as CSV or
//! Parquet (`person_id, color, rules, valid_until`), written to a temporary file and renamed
//! at the end so an interrupted run leaves nothing half-written.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Date32Builder, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use model::Date;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::engine::Summary;
use crate::{CodeError, HealthCode};

/// Contract §4's JSON for one code, fields in the contract's order.
#[derive(serde::Serialize)]
pub struct CodeJson<'a> {
    pub person_id: &'a str,
    pub as_of: String,
    pub color: &'static str,
    pub reasons: &'a [crate::Reason],
    pub valid_until: Option<String>,
}

/// `code` as contract §4 prints it; `person_id` is the id as the caller may show it.
pub fn code_json<'a>(code: &'a HealthCode, person_id: &'a str) -> CodeJson<'a> {
    CodeJson {
        person_id,
        as_of: code.as_of.to_string(),
        color: code.color.as_str(),
        reasons: &code.reasons,
        valid_until: code.valid_until.map(|d| d.to_string()),
    }
}

const BATCH: usize = 64 * 1024;

enum Sink {
    Csv(BufWriter<File>),
    Parquet(Box<ParquetSink>),
}

struct ParquetSink {
    writer: ArrowWriter<File>,
    schema: SchemaRef,
    ids: StringBuilder,
    colors: StringBuilder,
    rules: StringBuilder,
    until: Date32Builder,
    pending: usize,
}

/// Writes codes one person at a time, to `.csv` or `.parquet` by the file name.
pub struct CodesWriter {
    path: PathBuf,
    tmp: PathBuf,
    sink: Sink,
    rows: u64,
}

impl std::fmt::Debug for CodesWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CodesWriter({})", self.path.display())
    }
}

impl CodesWriter {
    pub fn create(path: &Path) -> Result<CodesWriter, CodeError> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = path.with_file_name(format!(".{name}.tmp"));
        let io = |cause| CodeError::Write {
            path: tmp.display().to_string(),
            cause,
        };
        let file = File::create(&tmp).map_err(io)?;
        let sink = if name.to_ascii_lowercase().ends_with(".parquet") {
            let schema = Arc::new(Schema::new(vec![
                Field::new("person_id", DataType::Utf8, false),
                Field::new("color", DataType::Utf8, false),
                Field::new("rules", DataType::Utf8, false),
                Field::new("valid_until", DataType::Date32, true),
            ]));
            let props = WriterProperties::builder()
                .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).expect("level")))
                .build();
            let writer = ArrowWriter::try_new(file, schema.clone(), Some(props))
                .map_err(|e| io(std::io::Error::other(e)))?;
            Sink::Parquet(Box::new(ParquetSink {
                writer,
                schema,
                ids: StringBuilder::new(),
                colors: StringBuilder::new(),
                rules: StringBuilder::new(),
                until: Date32Builder::new(),
                pending: 0,
            }))
        } else {
            let mut w = BufWriter::with_capacity(1 << 20, file);
            w.write_all(b"person_id,color,rules,valid_until\n")
                .map_err(io)?;
            Sink::Csv(w)
        };
        Ok(CodesWriter {
            path: path.to_path_buf(),
            tmp,
            sink,
            rows: 0,
        })
    }

    fn io(&self) -> impl Fn(std::io::Error) -> CodeError + '_ {
        move |cause| CodeError::Write {
            path: self.tmp.display().to_string(),
            cause,
        }
    }

    /// Appends one person's code.
    pub fn write(&mut self, person_id: &str, s: &Summary) -> Result<(), CodeError> {
        self.rows += 1;
        let full = match &mut self.sink {
            Sink::Csv(w) => {
                let mut line = Vec::with_capacity(48);
                line.extend_from_slice(person_id.as_bytes());
                line.push(b',');
                line.extend_from_slice(s.color.as_str().as_bytes());
                line.push(b',');
                line.extend_from_slice(s.rules.as_bytes());
                line.push(b',');
                if let Some(d) = s.valid_until {
                    d.write_to(&mut line);
                }
                line.push(b'\n');
                let r = w.write_all(&line);
                return r.map_err(self.io());
            }
            Sink::Parquet(p) => {
                let ParquetSink {
                    ids,
                    colors,
                    rules,
                    until,
                    pending,
                    ..
                } = p.as_mut();
                ids.append_value(person_id);
                colors.append_value(s.color.as_str());
                rules.append_value(&s.rules);
                until.append_option(s.valid_until.map(Date::days));
                *pending += 1;
                *pending >= BATCH
            }
        };
        if full {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), CodeError> {
        let tmp = self.tmp.display().to_string();
        let Sink::Parquet(p) = &mut self.sink else {
            return Ok(());
        };
        let ParquetSink {
            writer,
            schema,
            ids,
            colors,
            rules,
            until,
            pending,
        } = p.as_mut();
        if *pending == 0 {
            return Ok(());
        }
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(ids.finish()),
                Arc::new(colors.finish()),
                Arc::new(rules.finish()),
                Arc::new(until.finish()),
            ],
        )
        .expect("columns match the schema");
        *pending = 0;
        writer.write(&batch).map_err(|e| CodeError::Write {
            path: tmp,
            cause: std::io::Error::other(e),
        })
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Completes the file and moves it into place.
    pub fn finish(mut self) -> Result<u64, CodeError> {
        self.flush()?;
        let io = |cause| CodeError::Write {
            path: self.tmp.display().to_string(),
            cause,
        };
        match self.sink {
            Sink::Csv(w) => {
                let f = w.into_inner().map_err(|e| io(e.into_error()))?;
                f.sync_all().map_err(io)?;
            }
            Sink::Parquet(p) => {
                p.writer.close().map_err(|e| io(std::io::Error::other(e)))?;
            }
        }
        std::fs::rename(&self.tmp, &self.path).map_err(|cause| CodeError::Write {
            path: self.path.display().to_string(),
            cause,
        })?;
        Ok(self.rows)
    }
}
