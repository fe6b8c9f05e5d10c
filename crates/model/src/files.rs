//! Reading a file a user names (a flag, an argument, a folder of public data): a regular file
//! of at most a bound the caller gives for that use, so a pipe (opening it would wait for a
//! writer), a device such as `/dev/zero` (it never ends) or a folder is refused by name, and a
//! huge file given by mistake is refused instead of read into memory. The one place such a read
//! is written; std only.
//!
//! Errors are plain sentences naming the bound but not the path: every caller already puts the
//! path in front of an I/O error (`trust.json: larger than 16 MiB`).

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

pub const KIB: u64 = 1 << 10;
pub const MIB: u64 = 1 << 20;

/// `bytes` as a person reads a bound: `16 MiB`, `4 KiB`, `100 bytes`.
pub fn size_text(bytes: u64) -> String {
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= KIB && bytes.is_multiple_of(KIB) {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} bytes")
    }
}

fn too_large(limit: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::FileTooLarge,
        format!("larger than {}", size_text(limit)),
    )
}

fn not_regular(meta: &std::fs::Metadata) -> io::Error {
    let what = if meta.is_dir() {
        "a folder, not a regular file"
    } else {
        "not a regular file (a device, a pipe or a socket)"
    };
    io::Error::new(io::ErrorKind::InvalidInput, what)
}

/// A regular file of at most `limit` bytes, open for reading: a read that would go past the
/// limit fails ("larger than …") instead of returning more, so a file that grows after it was
/// opened is refused too.
#[derive(Debug)]
pub struct Bounded {
    inner: io::Take<File>,
    limit: u64,
    taken: u64,
}

impl Bounded {
    /// The bound it was opened with.
    pub fn limit(&self) -> u64 {
        self.limit
    }
}

impl Read for Bounded {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.taken += n as u64;
        if self.taken > self.limit {
            return Err(too_large(self.limit));
        }
        Ok(n)
    }
}

/// Opens the file at `path` (symbolic links followed) if it is a regular file of at most
/// `limit` bytes.
pub fn open(path: &Path, limit: u64) -> io::Result<Bounded> {
    // Looked at before opening (opening a pipe waits for a writer) and again on the open file.
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(not_regular(&meta));
    }
    let file = File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(not_regular(&meta));
    }
    if meta.len() > limit {
        return Err(too_large(limit));
    }
    Ok(Bounded {
        // One byte past the limit at most, to tell a file that grew since.
        inner: file.take(limit.saturating_add(1)),
        limit,
        taken: 0,
    })
}

/// The bytes of the file at `path`: a regular file of at most `limit` bytes.
pub fn read(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let mut file = open(path, limit)?;
    let len = file.inner.get_ref().metadata()?.len().min(limit);
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The text of the file at `path`: a regular file of at most `limit` bytes, in UTF-8.
pub fn read_text(path: &Path, limit: u64) -> io::Result<String> {
    String::from_utf8(read(path, limit)?).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to() + 1),
        )
    })
}

/// Checks for tests in every crate that reads a user-named file: the reader `read`, given a
/// path, must refuse each hostile one promptly (each read runs on a thread of its own, so a
/// read that blocks fails the test instead of hanging it) with an error naming the file.
#[doc(hidden)]
pub mod testing {
    use std::path::{Path, PathBuf};
    use std::sync::mpsc;
    use std::time::Duration;

    /// How long a refusal may take.
    pub const PROMPT: Duration = Duration::from_secs(10);

    /// Runs `read(path)` on a thread and returns its error text, or panics when it succeeds or
    /// does not return within [`PROMPT`].
    pub fn refusal<F>(read: F, path: &Path) -> String
    where
        F: FnOnce(&Path) -> Result<(), String> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel();
        let owned = path.to_path_buf();
        std::thread::spawn(move || {
            let _ = tx.send(read(&owned));
        });
        match rx.recv_timeout(PROMPT) {
            Ok(Ok(())) => panic!("{} was read", path.display()),
            Ok(Err(e)) => e,
            Err(_) => panic!(
                "reading {} did not return within {PROMPT:?}",
                path.display()
            ),
        }
    }

    /// A named pipe in `dir`, or `None` where `mkfifo` is missing (the check is skipped).
    pub fn fifo(dir: &Path) -> Option<PathBuf> {
        let path = dir.join("pipe");
        let made = std::process::Command::new("mkfifo").arg(&path).status();
        match made {
            Ok(s) if s.success() => Some(path),
            _ => {
                eprintln!("mkfifo unavailable: the named-pipe check is skipped");
                None
            }
        }
    }

    /// A sparse file of `len` bytes at `dir/name` (no time or disk spent writing it).
    pub fn sized(dir: &Path, name: &str, len: u64) -> PathBuf {
        let path = dir.join(name);
        std::fs::File::create(&path)
            .and_then(|f| f.set_len(len))
            .unwrap();
        path
    }

    /// Checks that `read` refuses a named pipe, `/dev/zero`, a folder and a file of `limit + 1`
    /// bytes (`dir/name`), each promptly, with an error naming the file and saying why (not a
    /// regular file; larger than the bound).
    pub fn refuses_hostile_files<F>(dir: &Path, name: &str, limit: u64, read: F)
    where
        F: Fn(&Path) -> Result<(), String> + Clone + Send + 'static,
    {
        let named = |path: &Path, err: &str| {
            assert!(
                err.contains(&path.display().to_string()),
                "the error does not name {}: {err}",
                path.display()
            );
        };
        let folder = dir.join("folder");
        std::fs::create_dir_all(&folder).unwrap();
        let big = sized(dir, name, limit + 1);
        let mut cases = vec![
            (folder, "not a regular file".to_string()),
            (big, format!("larger than {}", super::size_text(limit))),
        ];
        #[cfg(unix)]
        cases.push((PathBuf::from("/dev/zero"), "not a regular file".to_string()));
        if let Some(p) = fifo(dir) {
            cases.push((p, "not a regular file".to_string()));
        }
        for (path, why) in cases {
            let err = refusal(read.clone(), &path);
            named(&path, &err);
            assert!(
                err.contains(&why),
                "{}: {err} (expected {why})",
                path.display()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh folder under the system's temporary one, removed when dropped (model has no
    /// `tempfile`).
    struct TempDir(std::path::PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            let p = std::env::temp_dir()
                .join(format!("fangyi-model-files-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(&p).unwrap();
            TempDir(p)
        }

        fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(size_text(MIB), "1 MiB");
        assert_eq!(size_text(16 * MIB), "16 MiB");
        assert_eq!(size_text(4 * KIB), "4 KiB");
        assert_eq!(size_text(100), "100 bytes");
        assert_eq!(size_text(MIB + 1), "1048577 bytes");
    }

    #[test]
    fn a_file_within_the_bound_reads_and_one_byte_more_does_not() {
        let dir = TempDir::new("bound");
        let at = dir.path().join("at.txt");
        std::fs::write(&at, "0123456789").unwrap();
        assert_eq!(read_text(&at, 10).unwrap(), "0123456789");
        assert_eq!(read(&at, 10).unwrap(), b"0123456789");
        let err = read_text(&at, 9).unwrap_err();
        assert_eq!(err.to_string(), "larger than 9 bytes");
        assert_eq!(err.kind(), io::ErrorKind::FileTooLarge);
        let empty = dir.path().join("empty.txt");
        std::fs::write(&empty, "").unwrap();
        assert_eq!(read_text(&empty, 0).unwrap(), "");
        let latin = dir.path().join("latin.txt");
        std::fs::write(&latin, b"a\xe9").unwrap();
        assert_eq!(
            read_text(&latin, 10).unwrap_err().to_string(),
            "not UTF-8 text (byte 2)"
        );
        assert_eq!(
            read(&dir.path().join("missing"), 10).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
    }

    #[test]
    fn a_file_that_grows_after_opening_is_refused_at_the_bound() {
        let dir = TempDir::new("grows");
        let path = dir.path().join("growing");
        std::fs::write(&path, "12345").unwrap();
        let mut r = open(&path, 8).unwrap();
        assert_eq!(r.limit(), 8);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut f| io::Write::write_all(&mut f, b"6789"))
            .unwrap();
        let mut out = Vec::new();
        let err = r.read_to_end(&mut out).unwrap_err();
        assert_eq!(err.to_string(), "larger than 8 bytes");
    }

    #[test]
    fn pipes_devices_folders_and_large_files_are_refused_promptly() {
        let dir = TempDir::new("hostile");
        testing::refuses_hostile_files(dir.path(), "big.bin", 4 * KIB, |p| {
            read(p, 4 * KIB)
                .map(|_| ())
                .map_err(|e| format!("{}: {e}", p.display()))
        });
        assert_eq!(
            read_text(dir.path(), MIB).unwrap_err().to_string(),
            "a folder, not a regular file"
        );
        #[cfg(unix)]
        assert_eq!(
            read(Path::new("/dev/zero"), MIB).unwrap_err().to_string(),
            "not a regular file (a device, a pipe or a socket)"
        );
    }
}
