//! Layering, checked rather than hoped for: the access decision (`privacy::authorize`) is made
//! only inside the engine, and the server depends on no crate of the workspace but the engine.

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

/// The calls of the access decision outside `engine` (and `privacy`, which defines it).
fn authorize_calls() -> Vec<String> {
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
        if rel.starts_with("engine/") || rel.starts_with("privacy/") {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        for (n, line) in text.lines().enumerate() {
            if names(line, "authorize") {
                found.push(format!("{rel}:{}", n + 1));
            }
        }
    }
    found
}

#[test]
fn only_the_engine_decides_access() {
    let calls = authorize_calls();
    // Issue 15: the CLI still checks its operator's purpose itself (`context::check`) until it
    // calls the engine's methods like the server does; that one call is allowed until then.
    let allowed = |c: &String| c.starts_with("cli/src/context.rs:");
    let outside: Vec<&String> = calls.iter().filter(|c| !allowed(c)).collect();
    assert!(
        outside.is_empty(),
        "privacy::authorize called outside the engine (answer through Engine::ask instead): {outside:?}"
    );
    assert!(
        calls.iter().filter(|c| allowed(c)).count() <= 1,
        "the CLI's one allowed call has company: {calls:?}"
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

#[test]
fn the_server_depends_on_the_engine_alone() {
    let ours = workspace_crates();
    assert!(
        ours.contains("engine") && ours.contains("privacy"),
        "{ours:?}"
    );
    let manifest = std::fs::read_to_string(root().join("crates/server/Cargo.toml")).unwrap();
    let deps = normal_dependencies(&manifest);
    assert!(deps.contains("engine"), "{deps:?}");
    let beside: Vec<&String> = deps
        .iter()
        .filter(|d| ours.contains(*d) && d.as_str() != "engine")
        .collect();
    assert!(
        beside.is_empty(),
        "the server reaches past the engine to {beside:?}: ask the engine instead"
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
}
