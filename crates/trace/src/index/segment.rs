//! One index segment on disk: fixed-width columns in one file, memory-mapped for reading, so a
//! single trace touches only the pages it needs.
//!
//! Layout: sections (each 64-byte aligned, little-endian), then a JSON footer naming them,
//! then the footer's length (u64) and the magic `FYTRACE1`. Written once, never modified.
//!
//! Contents of a segment built from some sources:
//! - `key.bytes`/`key.off`: the group keys, sorted (a group is a ride service on a date, a
//!   vehicle pass, a venue or a household; see [`super::GroupKey`]); a group's number is its
//!   position.
//! - `group.off`, `group.maxdur`: where each group's events start; its longest event.
//! - `ev.*`: events sorted by (group, start): person pseudonym, start, end (ms), label (car,
//!   seat or checkpoint, an index into `label.*`), num (flight seat row, or -1).
//! - `post.*`: persons sorted, with the positions of their events: person → groups.
//! - `lab.*`: lab results sorted by person.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use bytemuck::Pod;
use serde::{Deserialize, Serialize};

use crate::TraceError;

#[cfg(not(target_endian = "little"))]
compile_error!("trace index segments are little-endian; this target is not");

const MAGIC: &[u8; 8] = b"FYTRACE1";
const ALIGN: u64 = 64;

#[derive(Serialize, Deserialize, Debug, Clone)]
struct Section {
    name: String,
    offset: u64,
    len: u64,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
struct Footer {
    sections: Vec<Section>,
}

/// Streams sections into a new segment file.
pub(crate) struct SegmentWriter {
    path: PathBuf,
    out: BufWriter<File>,
    pos: u64,
    sections: Vec<Section>,
}

impl SegmentWriter {
    pub fn create(path: &Path) -> Result<SegmentWriter, TraceError> {
        let f = File::create(path).map_err(TraceError::io(path))?;
        Ok(SegmentWriter {
            path: path.to_path_buf(),
            out: BufWriter::with_capacity(1 << 20, f),
            pos: 0,
            sections: Vec::new(),
        })
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), TraceError> {
        self.out
            .write_all(bytes)
            .map_err(TraceError::io(&self.path))?;
        self.pos += bytes.len() as u64;
        Ok(())
    }

    /// Writes one section whose values are the bytes of the file `from` (fixed-width values
    /// written elsewhere), after `first` if given: the section is copied, not read into memory.
    pub fn file_section(
        &mut self,
        name: &str,
        first: Option<u64>,
        from: &Path,
    ) -> Result<(), TraceError> {
        let pad = (ALIGN - self.pos % ALIGN) % ALIGN;
        self.write(&[0u8; ALIGN as usize][..pad as usize])?;
        let offset = self.pos;
        if let Some(v) = first {
            self.write(&v.to_le_bytes())?;
        }
        self.out.flush().map_err(TraceError::io(&self.path))?;
        let mut src = File::open(from).map_err(TraceError::io(from))?;
        // File to file: the kernel copies (copy_file_range), no buffer of ours.
        let n = std::io::copy(&mut src, self.out.get_mut()).map_err(TraceError::io(&self.path))?;
        self.pos += n;
        self.sections.push(Section {
            name: name.to_string(),
            offset,
            len: self.pos - offset,
        });
        Ok(())
    }

    /// Writes the footer and syncs the file.
    pub fn finish(mut self) -> Result<u64, TraceError> {
        let footer = serde_json::to_vec(&Footer {
            sections: std::mem::take(&mut self.sections),
        })
        .expect("serialisable");
        self.write(&footer)?;
        self.write(&(footer.len() as u64).to_le_bytes())?;
        self.write(MAGIC)?;
        let f = self.out.into_inner().map_err(|e| TraceError::Io {
            path: self.path.clone(),
            cause: e.into_error(),
        })?;
        f.sync_all().map_err(TraceError::io(&self.path))?;
        Ok(self.pos)
    }
}

/// A memory-mapped segment with its sections located.
pub(crate) struct SegmentFile {
    path: PathBuf,
    map: memmap2::Mmap,
    sections: Vec<(String, Range<usize>)>,
}

impl std::fmt::Debug for SegmentFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SegmentFile({})", self.path.display())
    }
}

#[allow(unsafe_code)]
fn map(file: &File) -> std::io::Result<memmap2::Mmap> {
    // SAFETY: segment files are written once under a temporary name, renamed into place and
    // never modified again; an update writes new files and removes old ones, which leaves an
    // existing mapping valid on Unix. Nothing in fangyi writes to a mapped segment.
    unsafe { memmap2::Mmap::map(file) }
}

impl SegmentFile {
    pub fn open(path: &Path) -> Result<SegmentFile, TraceError> {
        let f = File::open(path).map_err(TraceError::io(path))?;
        let map = map(&f).map_err(TraceError::io(path))?;
        let corrupt = |why: &str| TraceError::Corrupt {
            path: path.to_path_buf(),
            reason: why.to_string(),
        };
        let n = map.len();
        if n < 16 || &map[n - 8..] != MAGIC {
            return Err(corrupt("not a trace index segment (bad magic)"));
        }
        let footer_len =
            u64::from_le_bytes(map[n - 16..n - 8].try_into().expect("8 bytes")) as usize;
        let footer_start = (n - 16)
            .checked_sub(footer_len)
            .ok_or_else(|| corrupt("footer length beyond the file"))?;
        let footer: Footer = serde_json::from_slice(&map[footer_start..n - 16])
            .map_err(|e| corrupt(&format!("footer: {e}")))?;
        let mut sections = Vec::with_capacity(footer.sections.len());
        for s in footer.sections {
            let (start, len) = (s.offset as usize, s.len as usize);
            if start % ALIGN as usize != 0 || start + len > footer_start {
                return Err(corrupt(&format!("section {} out of place", s.name)));
            }
            sections.push((s.name, start..start + len));
        }
        Ok(SegmentFile {
            path: path.to_path_buf(),
            map,
            sections,
        })
    }

    /// Where section `name` lies; an error names a missing one.
    pub fn locate(&self, name: &str) -> Result<Range<usize>, TraceError> {
        self.sections
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, r)| r.clone())
            .ok_or_else(|| TraceError::Corrupt {
                path: self.path.clone(),
                reason: format!("section {name} missing"),
            })
    }

    /// Checks that `range` holds whole values of `T`.
    pub fn check<T: Pod>(&self, name: &str, range: &Range<usize>) -> Result<(), TraceError> {
        bytemuck::try_cast_slice::<u8, T>(&self.map[range.clone()])
            .map(|_| ())
            .map_err(|e| TraceError::Corrupt {
                path: self.path.clone(),
                reason: format!("section {name}: {e:?}"),
            })
    }

    /// The values of a section checked with [`SegmentFile::check`].
    #[inline]
    pub fn slice<T: Pod>(&self, range: &Range<usize>) -> &[T] {
        bytemuck::cast_slice(&self.map[range.clone()])
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}
