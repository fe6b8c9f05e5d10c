//! Layering, checked rather than hoped for: the access decision (`privacy::authorize`) is made,
//! and audit entries are written, only inside the engine (for the CLI too); the server depends
//! on no crate of the workspace but the engine; and no crate but the store (with `query` and
//! `ingest`) decodes the store's files.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if p.is_dir() {
            if name != "target" && name != "node_modules" && !name.starts_with('.') {
                rust_files(&p, out);
            }
        } else if name.ends_with(".rs") {
            out.push(p);
        }
    }
}

/// Whether `line` (with its `//` comment cut off) names `word` as a whole identifier.
fn names(line: &str, word: &str) -> bool {
    let code = line.split("//").next().unwrap_or("");
    let b = code.as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    code.match_indices(word).any(|(i, _)| {
        let before = i == 0 || !ident(b[i - 1]);
        let after = b.get(i + word.len()).is_none_or(|&c| !ident(c));
        before && after
    })
}

/// Every line (as `crate/path.rs:line`) of the workspace's `.rs` files for which `hit` holds,
/// in files whose path under `crates/` `skip` does not pass over.
fn lines_where(skip: impl Fn(&str) -> bool, hit: impl Fn(&str) -> bool) -> Vec<String> {
    let crates = root().join("crates");
    let mut files = Vec::new();
    rust_files(&crates, &mut files);
    assert!(
        files.len() > 50,
        "{} files under {}",
        files.len(),
        crates.display()
    );
    let mut found = Vec::new();
    for f in files {
        let rel = f
            .strip_prefix(&crates)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if skip(&rel) {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        for (n, line) in text.lines().enumerate() {
            if hit(line) {
                found.push(format!("{rel}:{}", n + 1));
            }
        }
    }
    found
}

/// The calls of the access decision outside `engine` (and `privacy`, which defines it).
fn authorize_calls() -> Vec<String> {
    lines_where(
        |rel| rel.starts_with("engine/") || rel.starts_with("privacy/"),
        |line| names(line, "authorize"),
    )
}

#[test]
fn only_the_engine_decides_access() {
    let calls = authorize_calls();
    assert!(
        calls.is_empty(),
        "privacy::authorize called outside the engine (answer through Engine::ask instead): {calls:?}"
    );
}

/// Where a crate outside `engine` and `ops` (which keeps the log) writes an audit entry itself.
fn audit_writers() -> Vec<String> {
    lines_where(
        |rel| {
            ["engine/", "ops/", "privacy/"]
                .iter()
                .any(|c| rel.starts_with(c))
        },
        |line| {
            ["append_audit", "AuditLog", "AuditEntry"]
                .iter()
                .any(|w| names(line, w))
        },
    )
}

#[test]
fn only_the_engine_writes_the_audit_log() {
    // The CLI audited its own reads until issue 15; every entry now comes from Engine::ask.
    let found = audit_writers();
    assert!(
        found.is_empty(),
        "audit entries written outside the engine (answer through Engine::ask instead): {found:?}"
    );
}

/// The workspace's own crates, by the short names manifests use for them.
fn workspace_crates() -> BTreeSet<String> {
    let text = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    text.lines()
        .filter(|l| l.contains("path = \"crates/"))
        .filter_map(|l| l.split('=').next())
        .map(|n| n.trim().to_string())
        .collect()
}

/// The dependencies a manifest builds its library and binaries with (not its tests'): every
/// `[dependencies]`, `[build-dependencies]` and target-specific table, in both spellings.
fn normal_dependencies(manifest: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut in_deps = false;
    for line in manifest.lines().map(str::trim) {
        if let Some(header) = line.strip_prefix('[') {
            let header = header.trim_end_matches(']').trim();
            let table = header.rsplit('.').next().unwrap_or(header);
            let dependency_table =
                |h: &str| h.ends_with("dependencies") && !h.ends_with("dev-dependencies");
            // `[dependencies.name]`
            if let Some((head, name)) = header.rsplit_once('.')
                && dependency_table(head.rsplit('.').next().unwrap_or(head))
                && !dependency_table(table)
            {
                out.insert(name.trim().to_string());
                in_deps = false;
                continue;
            }
            in_deps = dependency_table(table);
            continue;
        }
        if in_deps && !line.is_empty() && !line.starts_with('#') {
            let name = line.split(['=', '.']).next().unwrap_or("").trim();
            if !name.is_empty() {
                out.insert(name.to_string());
            }
        }
    }
    out
}

/// The workspace crates a manifest builds with (its normal dependencies), other than `allowed`.
fn beyond(manifest: &str, allowed: &[&str]) -> Vec<String> {
    let ours = workspace_crates();
    assert!(
        ours.contains("engine") && ours.contains("privacy"),
        "{ours:?}"
    );
    let deps = normal_dependencies(manifest);
    assert!(deps.contains("engine"), "{deps:?}");
    deps.into_iter()
        .filter(|d| ours.contains(d) && !allowed.contains(&d.as_str()))
        .collect()
}

/// [`beyond`] for the package in `crates/<dir>`.
fn reaches_past(dir: &str, allowed: &[&str]) -> Vec<String> {
    let path = root().join("crates").join(dir).join("Cargo.toml");
    beyond(&std::fs::read_to_string(path).unwrap(), allowed)
}

#[test]
fn the_server_depends_on_the_engine_alone() {
    let beside = reaches_past("server", &["engine"]);
    assert!(
        beside.is_empty(),
        "the server reaches past the engine to {beside:?}: ask the engine instead"
    );
}

/// What the `fangyi` command may build with of the workspace: the engine, the server (`serve`),
/// the generator (`gen` and the demo's synthetic city) and the benchmarks' crate (`bench`).
const CLI_ALLOWED: [&str; 4] = ["engine", "server", "synth", "bench"];

#[test]
fn the_command_line_is_a_shell_over_the_engine() {
    let beside = reaches_past("cli", &CLI_ALLOWED);
    assert!(
        beside.is_empty(),
        "the fangyi command reaches past the engine to {beside:?}: call the engine method the \
         server calls (or add one beside them: engine/src/datadir.rs for what shows no person), \
         or name the type the engine re-exports (engine::Kind, engine::Date, …)"
    );
}

#[test]
fn the_checks_see_what_they_look_for() {
    assert!(names("privacy::authorize(r, a, p)", "authorize"));
    assert!(!names("// privacy::authorize(r, a, p)", "authorize"));
    assert!(!names("let authorized = true;", "authorize"));
    let m = "[package]\nname = \"x\"\n\n[dependencies]\nengine = { workspace = true }\n\
             privacy.workspace = true\n\n[dependencies.model]\nworkspace = true\n\n\
             [target.'cfg(unix)'.dependencies]\nops.workspace = true\n\n\
             [dev-dependencies]\nstore.workspace = true\n";
    let deps = normal_dependencies(m);
    let want: BTreeSet<String> = ["engine", "privacy", "model", "ops"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(deps, want);
    // Crates beneath the engine are caught, in every spelling; the allowed ones and
    // dev-dependencies are not.
    assert_eq!(beyond(m, &CLI_ALLOWED), ["model", "ops", "privacy"]);
    assert!(beyond(m, &["engine", "privacy", "model", "ops"]).is_empty());
}

/// Parquet and Arrow IPC reader types, and the store's methods handing out its files' paths:
/// who names one decodes files itself.
const FILE_READERS: [&str; 13] = [
    "table_paths",
    "vault_paths",
    "ParquetRecordBatchReader",
    "ParquetRecordBatchReaderBuilder",
    "ParquetRecordBatchStream",
    "ParquetRecordBatchStreamBuilder",
    "ParquetObjectReader",
    "ParquetMetaDataReader",
    "SerializedFileReader",
    "serialized_reader",
    "arrow_reader",
    "FileReader",
    "StreamReader",
];

/// Whether `line` (its `//` comment cut off) spells a path into a data dir's table or vault
/// folders.
fn names_stored_folder(line: &str) -> bool {
    let code = line.split("//").next().unwrap_or("");
    ["\"tables", "/tables/", "\"vault/", "/vault/", "\"vault\""]
        .iter()
        .any(|p| code.contains(p))
}

/// Where a crate outside `store` reads the store's files itself: names a file reader or a
/// path into `tables/` or `vault/`. `query` (DataFusion's tables over the manifest's files)
/// and `ingest` (its input files, and its tests checking what it stored) may; this file names
/// what it looks for.
fn store_file_readers() -> Vec<String> {
    lines_where(
        |rel| {
            ["store/", "query/", "ingest/"]
                .iter()
                .any(|c| rel.starts_with(c))
                || rel == "engine/tests/layering.rs"
        },
        |line| FILE_READERS.iter().any(|w| names(line, w)) || names_stored_folder(line),
    )
}

#[test]
fn only_the_store_reads_its_files() {
    // Tests reading what a command wrote (not the store), or looking at the store from outside
    // without decoding it; each file allowed by name, with why.
    const ALLOWED: [(&str, &str); 7] = [
        (
            "cli/tests/codes.rs",
            "reads codes.parquet, the file `fangyi codes` wrote",
        ),
        (
            "synth/tests/generated.rs",
            "reads the generator's own Parquet output",
        ),
        (
            "cli/tests/serve.rs",
            "checks retention removed a partition folder",
        ),
        (
            "cli/tests/sql.rs",
            "checks SQL errors name files relative to the data dir",
        ),
        (
            "engine/tests/sql.rs",
            "checks SQL errors name files relative to the data dir",
        ),
        (
            "server/tests/sql.rs",
            "checks SQL errors name files relative to the data dir",
        ),
        (
            "trace/tests/extsort.rs",
            "removes a stored file so that an index build fails midway",
        ),
    ];
    let found = store_file_readers();
    let outside: Vec<&String> = found
        .iter()
        .filter(|f| {
            !ALLOWED
                .iter()
                .any(|(file, _)| f.starts_with(&format!("{file}:")))
        })
        .collect();
    assert!(
        outside.is_empty(),
        "stored files read outside the store (scan them with store::DataFile::scan): {outside:?}"
    );
    for (file, why) in ALLOWED {
        assert!(
            found.iter().any(|f| f.starts_with(&format!("{file}:"))),
            "{file} is allowed ({why}) but no longer needs to be: take it off the list"
        );
    }
}

#[test]
fn the_store_file_check_sees_what_it_looks_for() {
    let hit = |l: &str| FILE_READERS.iter().any(|w| names(l, w)) || names_stored_folder(l);
    assert!(hit(
        "let b = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)?;"
    ));
    assert!(hit("use parquet::file::reader::SerializedFileReader;"));
    assert!(hit(
        "let r = arrow::ipc::reader::FileReader::try_new(f, None)?;"
    ));
    assert!(hit("let p = root.join(\"tables\").join(kind.name());"));
    assert!(hit(
        "File::open(dir.join(\"data/tables/travel/2020-01-01/1-0.parquet\"))"
    ));
    assert!(hit("let v = root.join(\"vault\");"));
    assert!(hit("for path in store.table_paths(Kind::Travel) {"));
    assert!(!hit("// ParquetRecordBatchReaderBuilder in a comment"));
    assert!(!hit("for b in file.scan(&[\"person_id\"])? {"));
    assert!(!hit("use vault::MasterKey;"));
    assert!(!hit("let tables = Tables::stored(&store);"));
}
