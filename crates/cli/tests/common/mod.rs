//! What the end-to-end tests share: a temporary environment (data dir, key file) that runs the
//! real `fangyi` binary, the small city most of them start from (a case and a contact), its
//! operational database, and golden files updated with `UPDATE_GOLDEN=1 cargo test`.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// A confirmed case (reported 2020-01-23) and their household member, who is red as a contact,
/// both in Lucheng (330302) community C1: [`Env::ingest_case_and_contact`].
pub const CASE: &str = "330302198005010112";
pub const CONTACT: &str = "330302199001020334";

/// `fangyi exposed` for Wuhan's returnees of 10–23 January 2020.
pub const EXPOSED_WUHAN: [&str; 7] = [
    "exposed",
    "--region",
    "420100",
    "--from",
    "2020-01-10",
    "--to",
    "2020-01-23",
];

pub struct Env {
    pub dir: tempfile::TempDir,
    key: Option<PathBuf>,
}

impl Env {
    /// A fresh folder with its own data dir and master key file.
    pub fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
            key: None,
        }
    }

    /// A fresh folder using the master key file `key` (shared between environments).
    pub fn with_key(key: &Path) -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
            key: Some(key.to_path_buf()),
        }
    }

    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_fangyi"));
        c.env(
            "FANGYI_KEY_FILE",
            self.key
                .clone()
                .unwrap_or_else(|| self.path("keys/master.key")),
        )
        .env_remove("FANGYI_MASTER_KEY")
        .env("FANGYI_DATA", self.path("data"));
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    /// Runs `fangyi args…`, which must succeed; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "fangyi {args:?} failed ({:?}):\n{}\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs `fangyi args…`, which must fail with `code`; returns stderr.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "fangyi {args:?}: stdout {} stderr {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stderr).unwrap()
    }

    /// Ingests [`CASE`] and [`CONTACT`]: their `persons` rows and the case's positive result.
    pub fn ingest_case_and_contact(&self) {
        self.write(
            "in/persons.csv",
            &format!(
                "person_id,name,phone,birth_date,sex,home_region,community_id,household_id,address\n\
                 {CASE},张三,13812345678,1980-05-01,M,330302,C1,H1,鹿城区一号\n\
                 {CONTACT},王五,13712345678,1990-01-02,M,330302,C1,H1,鹿城区一号\n"
            ),
        );
        self.write(
            "in/lab_results.csv",
            &format!(
                "person_id,sample_time,result,diagnosis,onset_date,reported_time\n\
                 {CASE},2020-01-22T09:00:00+08:00,positive,confirmed,2020-01-21,2020-01-23T10:00:00+08:00\n"
            ),
        );
        self.ok(&["ingest", self.path("in").to_str().unwrap()]);
    }

    /// Generates a province of `persons` residents over `days` (`fangyi gen`, its default seed,
    /// region and start) into `input/` and ingests it; returns what each printed.
    pub fn generate_and_ingest(&self, persons: u32, days: u32) -> (String, String) {
        let input = self.path("input");
        let input = input.to_str().unwrap();
        let (persons, days) = (persons.to_string(), days.to_string());
        let generated = self.ok(&[
            "gen",
            "--persons",
            &persons,
            "--days",
            &days,
            "--out",
            input,
        ]);
        (generated, self.ok(&["ingest", input]))
    }

    /// Sets the password of the account `name` (`fangyi users passwd`, from FANGYI_PASSWORD).
    pub fn passwd(&self, name: &str, password: &str) {
        let out = self
            .cmd()
            .args(["users", "passwd", name])
            .env("FANGYI_PASSWORD", password)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Runs `work` on the data dir's operational database, opened directly (as someone with
    /// access to it, not through a command, which would audit itself).
    pub fn ops_db<T>(&self, work: impl AsyncFnOnce(&ops::Ops) -> T) -> T {
        let path = ops::Ops::path(&self.path("data"));
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                let db = ops::Ops::open(&path).await.unwrap();
                let out = work(&db).await;
                db.close().await;
                out
            })
    }

    /// Writes `text` to `name` under the environment's folder.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }
}

/// Compares `actual` with the golden file `tests/golden/<name>`; with `UPDATE_GOLDEN=1` in the
/// environment, rewrites the file instead.
pub fn golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "{} is missing; run `UPDATE_GOLDEN=1 cargo test` to create it",
            path.display()
        )
    });
    assert!(
        expected == actual,
        "output differs from {} (run `UPDATE_GOLDEN=1 cargo test` if the change is intended)\n--- expected\n{expected}\n--- actual\n{actual}",
        path.display()
    );
}

/// Re-indents compact JSON, keeping the key order of the output (two spaces per level).
pub fn indent_json(compact: &str) -> String {
    let mut out = String::with_capacity(compact.len() * 2);
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.push_str(&"  ".repeat(depth));
    };
    for c in compact.trim().chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                depth += 1;
                out.push(c);
                newline(&mut out, depth);
            }
            '}' | ']' => {
                depth -= 1;
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c => out.push(c),
        }
    }
    out.push('\n');
    out
}

/// A plain HTTP/1.1 request; returns the status code and the body.
pub fn http(base: &str, method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let addr = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("Content-Length: 0\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let status: u16 = resp[9..12].parse().unwrap();
    let body = resp
        .split_once("\r\n\r\n")
        .map(|x| x.1)
        .unwrap_or("")
        .to_string();
    // Bodies may come chunked; the tests only look for substrings.
    (status, body)
}

pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Server {
    pub fn start(env: &Env) -> Server {
        let mut child = env
            .cmd()
            .args(["serve", "--addr", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(
            line.starts_with("http://127.0.0.1:"),
            "serve printed {line:?}"
        );
        Server {
            child,
            base: line.trim().to_string(),
        }
    }

    /// Ctrl-C: the server finishes what it is doing and exits 0.
    pub fn stop(self) -> String {
        let pid = self.child.id().to_string();
        let killed = Command::new("kill").args(["-INT", &pid]).status().unwrap();
        assert!(killed.success());
        let out = self.child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(
            out.status.success(),
            "serve exited {:?}: {stderr}",
            out.status
        );
        stderr
    }
}
