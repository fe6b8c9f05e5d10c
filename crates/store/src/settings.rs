//! Reading a small settings file an operator names (a rule set, alert rules, a work-resumption
//! plan): a regular file of at most a bound, so a path at a device (`/dev/zero`), a pipe or a
//! folder, or a huge file by mistake, is refused by name instead of read without end. The
//! reading itself is `model::files`', shared with every other file a user names.

use std::path::Path;

/// The most a settings file may hold: far above any real one (the built-in ones are a few KiB).
pub const MAX_SETTINGS_BYTES: u64 = model::files::MIB;

/// The text of the settings file at `path`: a regular file (after symbolic links) of at most
/// `MAX_SETTINGS_BYTES`, in UTF-8. The error is a plain sentence without the path; the caller
/// names the file.
pub fn read_settings(path: &Path) -> std::io::Result<String> {
    model::files::read_text(path, MAX_SETTINGS_BYTES)
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
        let latin = dir.path().join("latin.toml");
        std::fs::write(&latin, b"a = \"\xe9\"\n").unwrap();
        assert!(
            read_settings(&latin)
                .unwrap_err()
                .to_string()
                .contains("UTF-8")
        );
        model::files::testing::refuses_hostile_files(
            dir.path(),
            "big.toml",
            MAX_SETTINGS_BYTES,
            |p| {
                read_settings(p)
                    .map(|_| ())
                    .map_err(|e| format!("{}: {e}", p.display()))
            },
        );
    }
}
