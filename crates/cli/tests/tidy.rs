//! Repository hygiene: every Rust file says what it is for in a `//!` first line, and every
//! example id in the docs and `--help` is a valid number.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if p.is_dir() {
            if name != "target" && !name.starts_with('.') {
                rust_files(&p, out);
            }
        } else if name.ends_with(".rs") {
            out.push(p);
        }
    }
}

#[test]
fn every_rust_file_opens_with_a_module_doc_line() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    rust_files(&crates, &mut files);
    assert!(files.len() > 20);
    let missing: Vec<_> = files
        .iter()
        .filter(|f| !std::fs::read_to_string(f).unwrap().starts_with("//!"))
        .map(|f| f.strip_prefix(&crates).unwrap().display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "files without a leading //! line: {missing:?}"
    );
}

/// Every 18-character run that looks like a resident id (17 digits and a digit or X) in `text`.
fn id_like(text: &str) -> Vec<String> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i + 18 <= b.len() {
        let starts = i == 0 || !b[i - 1].is_ascii_alphanumeric();
        let ends = b.get(i + 18).is_none_or(|c| !c.is_ascii_alphanumeric());
        let digits = b[i..i + 17].iter().all(u8::is_ascii_digit);
        let check = b[i + 17].is_ascii_digit() || b[i + 17] == b'X' || b[i + 17] == b'x';
        if starts && ends && digits && check {
            out.push(text[i..i + 18].to_string());
            i += 18;
        } else {
            i += 1;
        }
    }
    out
}

#[test]
fn every_example_id_in_the_docs_and_help_is_a_valid_number() {
    // A newcomer copies the README's and --help's examples: an id failing its own check
    // character is refused, which reads as fangyi being broken.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = vec![
        root.join("README.md"),
        root.join("ARCHITECTURE.md"),
        root.join("crates/cli/src/cli.rs"),
    ];
    for dir in ["docs", "crates/synth", "crates/server/src/routes"] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "md" || x == "html") {
                files.push(p);
            }
        }
    }
    let mut seen = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for id in id_like(&text) {
            seen += 1;
            assert!(
                id.parse::<model::PersonId>().is_ok(),
                "{}: {id} is not a valid resident id (GB 11643 check character)",
                f.display()
            );
        }
    }
    assert!(seen >= 10, "only {seen} example ids found");
    assert_eq!(
        id_like("x 420106199001010028, 4201061990010100281"),
        ["420106199001010028"]
    );
}
