//! Turning the paths a user gives into the list of source files, each with its kind and format.
//! A file named explicitly must be readable as a kind; files met while walking a folder whose
//! kind or format is unknown (READMEs, ground truth, temporaries) are skipped and reported.

use std::path::{Path, PathBuf};

use model::Kind;

use crate::IngestError;

/// How a source is encoded, from its extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    JsonLines,
    Parquet,
}

impl Format {
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(Format::Csv),
            "jsonl" | "ndjson" | "json" => Some(Format::JsonLines),
            "parquet" | "pq" => Some(Format::Parquet),
            _ => None,
        }
    }
}

/// One file to ingest.
#[derive(Clone, Debug)]
pub struct Source {
    pub path: PathBuf,
    /// What the source is called in the manifest, the rejects file and the reports: its path
    /// as given, or the name [`crate::Options::source_name`] gives it.
    pub name: String,
    pub kind: Kind,
    pub format: Format,
    pub bytes: u64,
}

const NOT_REGULAR: &str = "not a regular file (a device, a pipe or a socket)";

/// A file met while walking a folder that is not input, with the reason.
pub type NotInput = (PathBuf, String);

/// Expands `inputs` (files and folders, walked recursively in name order) into sources.
/// Returns the sources and the files that were skipped while walking, with the reason.
pub fn discover(
    inputs: &[PathBuf],
    kind: Option<Kind>,
) -> Result<(Vec<Source>, Vec<NotInput>), IngestError> {
    let mut sources = Vec::new();
    let mut skipped = Vec::new();
    for input in inputs {
        let meta = std::fs::metadata(input).map_err(|e| IngestError::Input {
            path: input.clone(),
            reason: e.to_string(),
        })?;
        if meta.is_dir() {
            walk(input, kind, &mut sources, &mut skipped)?;
        } else if !meta.is_file() {
            // A pipe would block the reader waiting for a writer, a device never ends.
            return Err(IngestError::Input {
                path: input.clone(),
                reason: NOT_REGULAR.into(),
            });
        } else {
            match classify(input, kind, meta.len()) {
                Ok(s) => sources.push(s),
                Err(reason) => {
                    return Err(IngestError::Input {
                        path: input.clone(),
                        reason,
                    });
                }
            }
        }
    }
    Ok((sources, skipped))
}

fn walk(
    dir: &Path,
    kind: Option<Kind>,
    out: &mut Vec<Source>,
    skipped: &mut Vec<NotInput>,
) -> Result<(), IngestError> {
    let io = |e: std::io::Error| IngestError::Input {
        path: dir.to_path_buf(),
        reason: e.to_string(),
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io)?
        .collect::<Result<_, _>>()
        .map_err(io)?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let meta = e.metadata().map_err(io)?;
        if meta.is_dir() {
            // The generator's ground truth is not input, whatever `--kind` says.
            if !path.join(model::GROUND_TRUTH_MARKER).exists() {
                walk(&path, kind, out, skipped)?;
            }
        } else {
            // What a symbolic link names, and its length rather than the link's.
            let meta = match std::fs::metadata(&path) {
                Ok(m) if m.is_file() => m,
                Ok(_) => {
                    skipped.push((path, NOT_REGULAR.into()));
                    continue;
                }
                Err(e) => {
                    skipped.push((path, e.to_string()));
                    continue;
                }
            };
            match classify(&path, kind, meta.len()) {
                Ok(s) => out.push(s),
                Err(reason) => skipped.push((path, reason)),
            }
        }
    }
    Ok(())
}

fn classify(path: &Path, kind: Option<Kind>, bytes: u64) -> Result<Source, String> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let format = Format::from_path(path).ok_or("not a .csv, .jsonl or .parquet file")?;
    let kind = match kind {
        Some(k) => k,
        None => Kind::from_file_name(&name).ok_or_else(|| {
            let known: Vec<_> = Kind::ALL.iter().map(|k| k.name()).collect();
            format!(
                "cannot tell the kind from the name (use --kind; kinds: {})",
                known.join(", ")
            )
        })?,
    };
    Ok(Source {
        path: path.to_path_buf(),
        name: path.display().to_string(),
        kind,
        format,
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_folders_and_skips_what_is_not_input() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for f in [
            "travel-2020-01-21.csv",
            "persons.jsonl",
            "truth/infections.csv",
            "README.md",
            ".hidden.csv",
            "power.parquet",
        ] {
            let p = d.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "x").unwrap();
        }
        let (sources, skipped) = discover(&[d.to_path_buf()], None).unwrap();
        let names: Vec<_> = sources
            .iter()
            .map(|s| {
                (
                    s.path.file_name().unwrap().to_str().unwrap(),
                    s.kind,
                    s.format,
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                ("persons.jsonl", Kind::Persons, Format::JsonLines),
                ("power.parquet", Kind::Power, Format::Parquet),
                ("travel-2020-01-21.csv", Kind::Travel, Format::Csv)
            ]
        );
        assert_eq!(skipped.len(), 2);
        let e = discover(&[d.join("truth/infections.csv")], None).unwrap_err();
        assert!(e.to_string().contains("cannot tell the kind"), "{e}");
        let (forced, _) = discover(&[d.join("truth/infections.csv")], Some(Kind::Travel)).unwrap();
        assert_eq!(forced[0].kind, Kind::Travel);
        assert!(discover(&[d.join("missing.csv")], None).is_err());
    }

    #[test]
    fn a_pipe_or_device_is_refused_when_named_and_skipped_when_met() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("persons.csv"), "x").unwrap();
        let pipe = d.join("travel.csv");
        let made = std::process::Command::new("mkfifo").arg(&pipe).status();
        let mut named = vec![PathBuf::from("/dev/zero")];
        #[cfg(unix)]
        std::os::unix::fs::symlink("/dev/zero", d.join("lab_results.csv")).unwrap();
        #[cfg(unix)]
        named.push(d.join("lab_results.csv"));
        if matches!(made, Ok(s) if s.success()) {
            named.push(pipe);
        } else {
            eprintln!("mkfifo unavailable: the named-pipe check is skipped");
        }
        for p in &named {
            let e = discover(std::slice::from_ref(p), Some(Kind::Travel)).unwrap_err();
            let text = e.to_string();
            assert!(
                text.contains(&p.display().to_string()) && text.contains("not a regular file"),
                "{text}"
            );
        }
        // Walking the folder: the regular file is a source, the others are skipped with why.
        let (sources, skipped) = discover(&[d.to_path_buf()], None).unwrap();
        assert_eq!(sources.len(), 1, "{sources:?}");
        assert_eq!(sources[0].bytes, 1);
        assert_eq!(skipped.len(), named.len() - 1, "{skipped:?}");
        assert!(
            skipped
                .iter()
                .all(|(_, why)| why.contains("not a regular file"))
        );
        // A link to a regular file is followed, with the file's length.
        #[cfg(unix)]
        {
            let linked = tempfile::tempdir().unwrap();
            std::os::unix::fs::symlink(d.join("persons.csv"), linked.path().join("persons.csv"))
                .unwrap();
            let (sources, _) = discover(&[linked.path().to_path_buf()], None).unwrap();
            assert_eq!(sources.len(), 1);
            assert_eq!(sources[0].bytes, 1);
        }
    }

    #[test]
    fn the_generators_ground_truth_is_skipped_without_a_word() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for f in [
            "travel-2020-01-21.csv",
            "truth/infections.csv",
            "truth/bad_rows.csv",
            "truth/summary.json",
        ] {
            let p = d.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "x").unwrap();
        }
        std::fs::write(d.join("truth").join(model::GROUND_TRUTH_MARKER), "x").unwrap();
        for kind in [None, Some(Kind::Travel)] {
            let (sources, skipped) = discover(&[d.to_path_buf()], kind).unwrap();
            assert_eq!(sources.len(), 1, "{kind:?}: {sources:?}");
            assert!(skipped.is_empty(), "{kind:?}: {skipped:?}");
        }
    }
}
