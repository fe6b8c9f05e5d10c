//! Reading a small settings file an operator names (a rule set, alert rules, a work-resumption
//! plan): a regular file of at most a bound, so a path at a device (`/dev/zero`), a pipe or a
//! folder, or a huge file by mistake, is refused by name instead of read without end.

use std::io::Read;
use std::path::Path;

/// The most a settings file may hold: far above any real one (the built-in ones are a few KiB).
pub const MAX_SETTINGS_BYTES: u64 = 1 << 20;

/// The text of the settings file at `path`: a regular file (after symbolic links) of at most
/// `MAX_SETTINGS_BYTES`, in UTF-8. The error is a plain sentence without the path; the caller
/// names the file.
pub fn read_settings(path: &Path) -> std::io::Result<String> {
    let too_large = || {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {} KiB", MAX_SETTINGS_BYTES >> 10),
        )
    };
    let not_regular =
        || std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file");
    // Looked at before opening (opening a pipe would wait for a writer) and again after.
    if !std::fs::metadata(path)?.is_file() {
        return Err(not_regular());
    }
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(not_regular());
    }
    if meta.len() > MAX_SETTINGS_BYTES {
        return Err(too_large());
    }
    // The length can change after the check: read one byte past the bound at most.
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_SETTINGS_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_SETTINGS_BYTES {
        return Err(too_large());
    }
    String::from_utf8(bytes).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to() + 1),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_file_reads_and_anything_else_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ok = dir.path().join("plan.toml");
        std::fs::write(&ok, "a = 1\n").unwrap();
        assert_eq!(read_settings(&ok).unwrap(), "a = 1\n");
        let big = dir.path().join("big.toml");
        std::fs::write(&big, vec![b'#'; MAX_SETTINGS_BYTES as usize + 1]).unwrap();
        assert!(
            read_settings(&big)
                .unwrap_err()
                .to_string()
                .contains("larger than")
        );
        assert!(
            read_settings(dir.path())
                .unwrap_err()
                .to_string()
                .contains("not a regular file")
        );
        #[cfg(unix)]
        assert!(
            read_settings(Path::new("/dev/zero"))
                .unwrap_err()
                .to_string()
                .contains("not a regular file")
        );
        let latin = dir.path().join("latin.toml");
        std::fs::write(&latin, b"a = \"\xe9\"\n").unwrap();
        assert!(
            read_settings(&latin)
                .unwrap_err()
                .to_string()
                .contains("UTF-8")
        );
    }
}
