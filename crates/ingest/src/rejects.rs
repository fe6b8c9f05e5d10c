//! The rejects file of one ingest run: `file,line,column,reason`, one row per bad row, written
//! as each source commits. Reasons never quote personal values, so the file is safe to share.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::{IngestError, Reject};

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
        writeln!(out, "file,line,column,reason").map_err(io)?;
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
                "{},{},{},{}",
                quote(source),
                r.line,
                quote(&r.column),
                quote(&r.reason)
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
