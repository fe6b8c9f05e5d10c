//! Public datasets, read from where the operator keeps them and turned into the store's public
//! kinds, so they are ingested, deduplicated and queried like any other input:
//!
//! - [`baidu`]: Baidu Qianxi migration shares (`outflow_wuhan_hubei.csv`,
//!   `inflow_major_cities.csv`, `inflow_share_from_hubei.csv`) → `migration` rows;
//! - [`dxy`]: DXY cumulative case counts per city and day (`dxy_city_daily.csv`) →
//!   `city_cases` rows, and [`risk`]: risk areas derived from them by a configurable rule →
//!   `risk_areas` rows.
//!
//! Nothing here names a person. Each reader checks every field it uses and reports a bad one
//! with its file, line and column; rows naming a place without a region code (DXY's
//! "location not yet assigned", Baidu's unmapped corps cities) are counted and left out.

pub mod baidu;
pub mod dxy;
pub mod risk;

use std::path::{Path, PathBuf};

/// The most one dataset file may hold. The files are read whole into rows (the readers sort
/// and deduplicate them), so this bounds memory as well as refusing a device: some two hundred
/// times the largest published file (2.4 MiB).
pub const MAX_FILE_BYTES: u64 = 512 * model::files::MIB;

/// A problem with an input file.
#[derive(Debug, thiserror::Error)]
pub enum OpenDataError {
    #[error("{}: {message}", path.display())]
    File { path: PathBuf, message: String },
    #[error("{} line {line}, column {column}: {message}", path.display())]
    Field {
        path: PathBuf,
        line: u64,
        column: String,
        message: String,
    },
}

/// One CSV file read with its header, giving fields by column name and errors with positions.
pub(crate) struct Table {
    path: PathBuf,
    headers: Vec<String>,
    records: Vec<(u64, csv::StringRecord)>,
}

impl Table {
    pub fn read(path: &Path, required: &[&str]) -> Result<Table, OpenDataError> {
        let file_err = |message: String| OpenDataError::File {
            path: path.to_path_buf(),
            message,
        };
        let file = model::files::open(path, MAX_FILE_BYTES).map_err(|e| file_err(e.to_string()))?;
        let mut reader = csv::ReaderBuilder::new().from_reader(file);
        let headers: Vec<String> = reader
            .headers()
            .map_err(|e| file_err(e.to_string()))?
            .iter()
            .map(str::to_string)
            .collect();
        for r in required {
            if !headers.iter().any(|h| h == r) {
                return Err(file_err(format!(
                    "no column {r} (has {})",
                    headers.join(", ")
                )));
            }
        }
        let mut records = Vec::new();
        for rec in reader.records() {
            let rec = rec.map_err(|e| file_err(e.to_string()))?;
            let line = rec.position().map_or(0, |p| p.line());
            records.push((line, rec));
        }
        Ok(Table {
            path: path.to_path_buf(),
            headers,
            records,
        })
    }

    pub fn rows(&self) -> impl Iterator<Item = Row<'_>> {
        self.records.iter().map(move |(line, rec)| Row {
            table: self,
            line: *line,
            rec,
        })
    }
}

pub(crate) struct Row<'a> {
    table: &'a Table,
    line: u64,
    rec: &'a csv::StringRecord,
}

impl Row<'_> {
    pub fn get(&self, column: &str) -> &str {
        self.table
            .headers
            .iter()
            .position(|h| h == column)
            .and_then(|i| self.rec.get(i))
            .unwrap_or("")
            .trim()
    }

    pub fn error(&self, column: &str, message: impl Into<String>) -> OpenDataError {
        OpenDataError::Field {
            path: self.table.path.clone(),
            line: self.line,
            column: column.to_string(),
            message: message.into(),
        }
    }

    pub fn date(&self, column: &str) -> Result<model::Date, OpenDataError> {
        let s = self.get(column);
        model::Date::parse(s.as_bytes())
            .map_err(|e| self.error(column, format!("{s:?}: {}", e.reason())))
    }

    /// A region code, or `None` when the cell is empty (a place without a code).
    pub fn region(&self, column: &str) -> Result<Option<model::Region>, OpenDataError> {
        let s = self.get(column);
        if s.is_empty() {
            return Ok(None);
        }
        model::Region::parse(s.as_bytes())
            .map(Some)
            .map_err(|e| self.error(column, format!("{s:?}: {}", e.reason())))
    }

    /// A decimal, or `None` when the cell is empty.
    pub fn number(&self, column: &str) -> Result<Option<f64>, OpenDataError> {
        let s = self.get(column);
        if s.is_empty() {
            return Ok(None);
        }
        match s.parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 => Ok(Some(v)),
            _ => Err(self.error(column, format!("{s:?}: not a number ≥ 0"))),
        }
    }

    /// A whole number ≥ 0, or `None` when the cell is empty.
    pub fn count(&self, column: &str) -> Result<Option<u64>, OpenDataError> {
        let s = self.get(column);
        if s.is_empty() {
            return Ok(None);
        }
        s.parse::<u64>()
            .map(Some)
            .map_err(|_| self.error(column, format!("{s:?}: not a whole number ≥ 0")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pipe_device_folder_or_oversized_file_is_refused_promptly_by_name() {
        let dir = tempfile::tempdir().unwrap();
        model::files::testing::refuses_hostile_files(
            dir.path(),
            "dxy_city_daily.csv",
            MAX_FILE_BYTES,
            |p| {
                Table::read(p, &["date"])
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            },
        );
        // Through the readers, as `fangyi import` names them.
        let err = dxy::read(Path::new("/dev/zero")).unwrap_err().to_string();
        assert!(err.starts_with("/dev/zero: not a regular file"), "{err}");
        let other = dir.path().join("other");
        std::fs::create_dir_all(&other).unwrap();
        let pipe = model::files::testing::fifo(&other);
        if let Some(pipe) = pipe {
            let err = model::files::testing::refusal(
                |p| dxy::read(p).map(|_| ()).map_err(|e| e.to_string()),
                &pipe,
            );
            assert!(err.contains("not a regular file"), "{err}");
        }
    }
}
