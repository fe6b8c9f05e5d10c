//! Scratch files of a bounded-memory build: a folder of its own beside the segments (removed
//! when the build ends, however it ends), fixed-width records written and read back through
//! small buffers, and byte strings (group keys, labels) as the segment stores them: bytes in
//! one file, end offsets in another.

use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use bytemuck::Pod;

use crate::TraceError;

/// Names of scratch folders: a folder so named is a build's leftovers (a crash) once no
/// build holds the index's lock.
pub(crate) const SCRATCH_PREFIX: &str = "build-";

/// A build's scratch folder, removed with everything in it when dropped.
pub(crate) struct Scratch {
    dir: PathBuf,
    next: u32,
}

impl Scratch {
    pub fn create(dir: PathBuf) -> Result<Scratch, TraceError> {
        // Leftovers of a crashed build under the same name go first.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(TraceError::io(&dir))?;
        Ok(Scratch { dir, next: 0 })
    }

    /// A new file name in the folder.
    pub fn file(&mut self, what: &str) -> PathBuf {
        self.next += 1;
        self.dir.join(format!("{:05}-{what}", self.next))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Writes fixed-width records to a file.
pub(crate) struct RecordWriter<T> {
    path: PathBuf,
    out: BufWriter<File>,
    count: u64,
    _t: PhantomData<T>,
}

impl<T: Pod> RecordWriter<T> {
    pub fn create(path: PathBuf, buffer: usize) -> Result<RecordWriter<T>, TraceError> {
        let f = File::create(&path).map_err(TraceError::io(&path))?;
        Ok(RecordWriter {
            out: BufWriter::with_capacity(buffer, f),
            path,
            count: 0,
            _t: PhantomData,
        })
    }

    #[inline]
    pub fn push(&mut self, v: T) -> Result<(), TraceError> {
        self.count += 1;
        self.out
            .write_all(bytemuck::bytes_of(&v))
            .map_err(TraceError::io(&self.path))
    }

    pub fn push_all(&mut self, vs: &[T]) -> Result<(), TraceError> {
        self.count += vs.len() as u64;
        self.out
            .write_all(bytemuck::cast_slice(vs))
            .map_err(TraceError::io(&self.path))
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// Flushes; the file's path and how many records it holds. Scratch files are not synced:
    /// a crash loses the build anyway.
    pub fn finish(self) -> Result<(PathBuf, u64), TraceError> {
        let RecordWriter {
            path, out, count, ..
        } = self;
        out.into_inner().map_err(|e| TraceError::Io {
            path: path.clone(),
            cause: e.into_error(),
        })?;
        Ok((path, count))
    }
}

/// Reads back the fixed-width records of a file, a buffer at a time.
pub(crate) struct RecordReader<T> {
    path: PathBuf,
    file: File,
    buf: Vec<T>,
    at: usize,
    left: u64,
}

impl<T: Pod> RecordReader<T> {
    /// The `count` records of `path`, read `buffer` bytes at a time.
    pub fn open(path: &Path, count: u64, buffer: usize) -> Result<RecordReader<T>, TraceError> {
        Self::open_at(path, 0, count, buffer)
    }

    /// The `count` records of `path` from byte `offset` on (a section of a segment).
    pub fn open_at(
        path: &Path,
        offset: u64,
        count: u64,
        buffer: usize,
    ) -> Result<RecordReader<T>, TraceError> {
        let mut file = File::open(path).map_err(TraceError::io(path))?;
        file.seek(SeekFrom::Start(offset))
            .map_err(TraceError::io(path))?;
        let cap = (buffer / size_of::<T>().max(1)).max(1);
        Ok(RecordReader {
            path: path.to_path_buf(),
            file,
            buf: Vec::with_capacity(cap),
            at: 0,
            left: count,
        })
    }

    /// The next record, if any.
    #[inline]
    pub fn next(&mut self) -> Result<Option<T>, TraceError> {
        if self.at == self.buf.len() && !self.fill()? {
            return Ok(None);
        }
        self.at += 1;
        Ok(Some(self.buf[self.at - 1]))
    }

    fn fill(&mut self) -> Result<bool, TraceError> {
        if self.left == 0 {
            return Ok(false);
        }
        let n = (self.buf.capacity() as u64).min(self.left) as usize;
        self.buf.clear();
        self.buf.resize(n, T::zeroed());
        self.file
            .read_exact(bytemuck::cast_slice_mut(&mut self.buf))
            .map_err(TraceError::io(&self.path))?;
        self.left -= n as u64;
        self.at = 0;
        Ok(true)
    }
}

/// Writes byte strings as a segment stores them: their bytes, and each one's end offset.
pub(crate) struct StringsWriter {
    bytes: RecordWriter<u8>,
    ends: RecordWriter<u64>,
    at: u64,
}

impl StringsWriter {
    pub fn create(scratch: &mut Scratch, buffer: usize) -> Result<StringsWriter, TraceError> {
        Ok(StringsWriter {
            bytes: RecordWriter::create(scratch.file("bytes"), buffer)?,
            ends: RecordWriter::create(scratch.file("ends"), buffer)?,
            at: 0,
        })
    }

    pub fn push(&mut self, s: &[u8]) -> Result<(), TraceError> {
        self.bytes.push_all(s)?;
        self.at += s.len() as u64;
        self.ends.push(self.at)
    }

    pub fn count(&self) -> u64 {
        self.ends.count()
    }

    pub fn finish(self) -> Result<Strings, TraceError> {
        let (bytes, len) = self.bytes.finish()?;
        let (ends, count) = self.ends.finish()?;
        Ok(Strings {
            bytes: (bytes, 0, len),
            ends: (ends, 0),
            count,
        })
    }
}

/// Byte strings on disk: `count` end offsets (u64) at `ends` (file, byte offset), into the
/// bytes at `bytes` (file, byte offset, length). A [`StringsWriter`]'s, or a segment's.
pub(crate) struct Strings {
    pub bytes: (PathBuf, u64, u64),
    pub ends: (PathBuf, u64),
    pub count: u64,
}

/// Reads back [`Strings`] one at a time.
pub(crate) struct StringsReader {
    bytes: RecordReader<u8>,
    ends: RecordReader<u64>,
    at: u64,
    current: Vec<u8>,
}

impl StringsReader {
    pub fn open(s: &Strings, buffer: usize) -> Result<StringsReader, TraceError> {
        let (path, at, len) = &s.bytes;
        Ok(StringsReader {
            bytes: RecordReader::open_at(path, *at, *len, buffer)?,
            ends: RecordReader::open_at(&s.ends.0, s.ends.1, s.count, buffer)?,
            at: 0,
            current: Vec::new(),
        })
    }

    /// The next string (valid until the next call), if any.
    pub fn next(&mut self) -> Result<Option<&[u8]>, TraceError> {
        let Some(end) = self.ends.next()? else {
            return Ok(None);
        };
        self.current.clear();
        while self.at < end {
            let b = self.bytes.next()?.ok_or_else(|| TraceError::Corrupt {
                path: self.bytes.path.clone(),
                reason: "scratch strings shorter than their offsets".into(),
            })?;
            self.current.push(b);
            self.at += 1;
        }
        Ok(Some(&self.current))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes the strings in order to a new scratch pair.
    fn write_strings<'a>(
        scratch: &mut Scratch,
        list: impl IntoIterator<Item = &'a [u8]>,
        buffer: usize,
    ) -> Result<Strings, TraceError> {
        let mut w = StringsWriter::create(scratch, buffer)?;
        for s in list {
            w.push(s)?;
        }
        w.finish()
    }

    #[test]
    fn records_and_strings_round_trip_and_scratch_goes() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("build-x");
        {
            let mut s = Scratch::create(dir.clone()).unwrap();
            let mut w = RecordWriter::<u64>::create(s.file("n"), 16).unwrap();
            for i in 0..1000u64 {
                w.push(i * 3).unwrap();
            }
            let (p, n) = w.finish().unwrap();
            let mut r = RecordReader::<u64>::open(&p, n, 24).unwrap();
            let mut got = Vec::new();
            while let Some(v) = r.next().unwrap() {
                got.push(v);
            }
            assert_eq!(got, (0..1000).map(|i| i * 3).collect::<Vec<_>>());

            let words: Vec<&[u8]> = vec![b"", b"a", b"venue-17", b"", b"\xff\x00z"];
            let st = write_strings(&mut s, words.iter().copied(), 8).unwrap();
            let mut r = StringsReader::open(&st, 3).unwrap();
            let mut back = Vec::new();
            while let Some(w) = r.next().unwrap() {
                back.push(w.to_vec());
            }
            assert_eq!(back, words.iter().map(|w| w.to_vec()).collect::<Vec<_>>());
            assert!(dir.exists());
        }
        assert!(!dir.exists(), "scratch removed on drop");
    }
}
