//! `fangyi sql --cluster` on a real Ballista cluster: a scheduler and two executors, each a
//! process of the `fangyi` binary on loopback, over a generated province. Every query's rows
//! on the cluster are the embedded engine's (compared as sorted lines: an order-free digest),
//! scans, group-bys, joins and fangyi's functions alike, `pseudonym()` of a column computed on
//! the executors with the key they were given; `trace --all`, `codes --full`, `inflow` and
//! `exposed` on the cluster answer what the embedded engine does; an executor killed while a
//! query runs makes it fail or answer right, never wrong. Every process started is killed at
//! the end, a failed assertion included.

#![cfg(feature = "cluster")]

mod common;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{CASE, CONTACT, Env};

/// Processes killed (and reaped) when dropped, with their logs for a failure's message.
struct Nodes {
    children: Vec<(String, Child, PathBuf)>,
}

impl Nodes {
    fn start(&mut self, env: &Env, name: &str, args: &[&str]) {
        let log = env.path(&format!("{name}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let child = env
            .cmd()
            .args(args)
            .env("FANGYI_LOG", "warn")
            .stdout(Stdio::from(file.try_clone().unwrap()))
            .stderr(Stdio::from(file))
            .spawn()
            .unwrap();
        self.children.push((name.to_string(), child, log));
    }

    /// Kills the node called `name` at once (SIGKILL).
    fn kill(&mut self, name: &str) {
        for (n, c, _) in &mut self.children {
            if n == name {
                c.kill().ok();
                c.wait().ok();
            }
        }
    }

    /// Every node's log, for a failure's message.
    fn logs(&self) -> String {
        let mut out = String::new();
        for (name, _, log) in &self.children {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(30).collect();
            out.push_str(&format!("--- {name} (last lines)\n"));
            for l in tail.into_iter().rev() {
                out.push_str(l);
                out.push('\n');
            }
        }
        out
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        for (_, c, _) in &mut self.children {
            c.kill().ok();
            c.wait().ok();
        }
    }
}

/// A port nothing listens on now (the OS's choice; freed before it is used).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16, nodes: &Nodes) {
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "nothing listens on {port} after 60 s\n{}",
            nodes.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The rows of a CSV answer as an order-free digest: the header, then the rows sorted.
fn digest(csv: &str) -> (String, Vec<String>) {
    let mut lines = csv.lines();
    let header = lines.next().unwrap_or_default().to_string();
    let mut rows: Vec<String> = lines.map(str::to_string).collect();
    rows.sort_unstable();
    (header, rows)
}

fn sql(env: &Env, cluster: Option<&str>, query: &str) -> std::process::Output {
    let mut args = vec!["sql", "--format", "csv"];
    if let Some(c) = cluster {
        args.extend(["--cluster", c]);
    }
    args.push(query);
    env.run(&args)
}

/// The file `args` (a command writing `--out`, with `extra` flags) writes as `name`.
fn written(env: &Env, args: &[&str], extra: &[&str], name: &str) -> String {
    let out = env.path(name);
    let mut all = args.to_vec();
    all.extend_from_slice(extra);
    all.extend(["--out", out.to_str().unwrap()]);
    env.ok(&all);
    std::fs::read_to_string(&out).unwrap()
}

/// A scheduler and two executors (both given the master key) on free loopback ports.
fn cluster(env: &Env) -> (Nodes, String) {
    let mut nodes = Nodes {
        children: Vec::new(),
    };
    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    nodes.start(
        env,
        "scheduler",
        // A job left stalled after an executor's death is failed after 20 s of nothing.
        &[
            "cluster",
            "scheduler",
            "--stall-limit",
            "20",
            "--bind",
            &address,
        ],
    );
    wait_for_port(port, &nodes);
    for name in ["executor-1", "executor-2"] {
        start_executor(env, &mut nodes, &address, name);
    }
    (nodes, address)
}

/// Starts an executor called `name` (given the master key) of the scheduler at `address`.
fn start_executor(env: &Env, nodes: &mut Nodes, address: &str, name: &str) {
    let (flight, grpc) = (free_port(), free_port());
    let bind = format!("127.0.0.1:{flight}");
    let grpc = grpc.to_string();
    let work = env.path(name);
    std::fs::create_dir_all(&work).unwrap();
    nodes.start(
        env,
        name,
        // A pool for all the executor's tasks (the global --memory), well under the
        // machine's: Ballista's default is 70 % of the host per executor.
        &[
            "--memory",
            "1GiB",
            "cluster",
            "executor",
            "--scheduler",
            address,
            "--bind",
            &bind,
            "--grpc-port",
            &grpc,
            "--concurrency",
            "2",
            "--work-dir",
            work.to_str().unwrap(),
            "--keys",
        ],
    );
    wait_for_port(flight, nodes);
}

const QUERIES: [&str; 8] = [
    // A scan of every column.
    "SELECT * FROM persons",
    "SELECT * FROM travel WHERE mode = 'rail'",
    // Group-bys.
    "SELECT mode, count(*) AS n, min(depart_time) AS first FROM travel GROUP BY mode",
    "SELECT service_date, count(DISTINCT person_id) AS people FROM travel GROUP BY 1",
    // A join, with fangyi's region functions.
    "SELECT region_name(prefecture(p.home_region)) AS city, t.mode, count(*) AS n \
     FROM travel t JOIN persons p ON t.person_id = p.person_id \
     WHERE covers('330000', p.home_region) GROUP BY 1, 2",
    // A self-join (a shuffle on both sides), and a bounded function and `||` on the nodes.
    "SELECT a.person_id, count(*) AS met, lpad(CAST(count(*) AS VARCHAR), 6, '0') || '!' AS s \
     FROM travel a JOIN travel b ON a.service_no = b.service_no \
     AND a.service_date = b.service_date AND a.person_id <> b.person_id GROUP BY 1",
    // pseudonym() of a column: computed on the executors, with the key they were given.
    "SELECT x, pseudonym(x) AS p FROM (VALUES ('330302198005010112'), ('330302199001020334')) \
     AS v(x)",
    // A kind nothing was stored of: its columns, no rows.
    "SELECT * FROM migration",
];

#[test]
fn the_cluster_answers_what_the_embedded_engine_answers() {
    let env = Env::new();
    env.generate_and_ingest(4000, 6);
    let (mut nodes, address) = cluster(&env);
    for q in QUERIES {
        let embedded = sql(&env, None, q);
        assert!(
            embedded.status.success(),
            "embedded {q}: {}",
            String::from_utf8_lossy(&embedded.stderr)
        );
        let on_cluster = sql(&env, Some(&address), q);
        assert!(
            on_cluster.status.success(),
            "on the cluster {q}: {}\n{}",
            String::from_utf8_lossy(&on_cluster.stderr),
            nodes.logs()
        );
        let (a, b) = (
            digest(&String::from_utf8(embedded.stdout).unwrap()),
            digest(&String::from_utf8(on_cluster.stdout).unwrap()),
        );
        assert!(!a.0.is_empty(), "{q}: no header");
        assert_eq!(a.0, b.0, "{q}: columns differ");
        assert_eq!(a.1.len(), b.1.len(), "{q}: row counts differ");
        assert!(a.1 == b.1, "{q}: rows differ");
        if !q.contains("migration") {
            assert!(!a.1.is_empty(), "{q}: no rows to compare");
        }
    }

    // The audit log says which statements ran on the cluster.
    let shown = env.ok(&["audit", "show", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&shown).unwrap();
    let on_cluster = v
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "sql")
        .filter(|e| e["query"].as_str().unwrap_or("").contains("--cluster"))
        .count();
    assert_eq!(on_cluster, QUERIES.len(), "{shown}");

    // A role whose SQL sees views (built in this process) is told to run without the cluster,
    // and the refusal is audited like any failed statement.
    let out = env
        .cmd()
        .args([
            "--as-role",
            "analyst",
            "sql",
            "--cluster",
            &address,
            "SELECT count(*) FROM persons",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("leave out --cluster"), "{err}");

    // Contact tracing of every case as distributed joins: the index's file, byte for byte.
    env.ingest_case_and_contact();
    let trace_all = ["trace", "--all", "--as-of", "2020-02-01", "--depth", "2"];
    let traced = |extra: &[&str], name: &str| written(&env, &trace_all, extra, name);
    let by_index = traced(&[], "index.csv");
    let by_cluster = traced(&["--cluster", &address], "cluster.csv");
    assert!(by_index.lines().count() > 1, "no contacts to compare");
    assert_eq!(by_index, by_cluster, "trace --all on the cluster");

    // The code sweep with every case's contacts traced on the cluster: the local sweep's file.
    let sweep = ["codes", "--as-of", "2020-01-25", "--full"];
    let swept = |extra: &[&str], name: &str| written(&env, &sweep, extra, name);
    let local_codes = swept(&[], "codes-local.csv");
    assert!(
        local_codes.contains(",yellow,") || local_codes.contains(",red,"),
        "no code but green to compare"
    );
    assert_eq!(
        local_codes,
        swept(&["--cluster", &address], "codes-cluster.csv"),
        "codes --cluster\n{}",
        nodes.logs()
    );

    // Inflow (contract §7) and the exposed list as SQL on the cluster: the embedded scan's
    // JSON exactly (rows come sorted), as is `--via sql` in process; audited with the cluster.
    let asked = |args: &[&str], extra: &[&str]| {
        let mut all = args.to_vec();
        all.extend_from_slice(extra);
        env.ok(&all)
    };
    let cluster_flags = ["--cluster", address.as_str()];
    // A self-reported visit, so the exposed list unnests visited regions on the nodes too.
    let reports = env.path("reports");
    std::fs::create_dir_all(&reports).unwrap();
    std::fs::write(
        reports.join("self_reports.csv"),
        "person_id,time,temperature_c,symptoms,visited_regions,note\n\
         330102194507140006,2020-01-15T10:00:00+08:00,36.5,,420106;110101,\n",
    )
    .unwrap();
    env.ok(&["ingest", reports.to_str().unwrap()]);
    for level in ["prefecture", "county"] {
        let args = [
            "inflow",
            "--as-of",
            "2020-01-19",
            "--days",
            "6",
            "--level",
            level,
            "--format",
            "json",
            "--detail",
        ];
        let scan = asked(&args, &[]);
        assert!(scan.len() > 100, "{level}: no inflow to compare: {scan}");
        assert_eq!(
            scan,
            asked(&args, &["--via", "sql"]),
            "inflow --via sql, {level}"
        );
        assert_eq!(
            scan,
            asked(&args, &cluster_flags),
            "inflow --cluster, {level}"
        );
    }
    for summary in [false, true] {
        let mut args = vec![
            "exposed",
            "--region",
            "420000",
            "--from",
            "2020-01-14",
            "--to",
            "2020-01-19",
            "--format",
            "json",
        ];
        if summary {
            args.push("--summary");
        }
        let scan = asked(&args, &[]);
        assert!(scan.len() > 10, "no one exposed to compare: {scan}");
        if !summary {
            assert!(scan.contains("self_report"), "{scan}");
        }
        assert_eq!(scan, asked(&args, &cluster_flags), "exposed --cluster");
    }
    let shown = env.ok(&["audit", "show", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&shown).unwrap();
    let asked_there = |action: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == action)
            .filter(|e| e["query"].as_str().unwrap_or("").contains("--cluster"))
            .count()
    };
    assert_eq!(asked_there("inflow"), 2, "{shown}");
    assert!(
        asked_there("returnees") + asked_there("returnees_summary") == 2,
        "{shown}"
    );

    // The bound on values one expression makes holds on the executors too.
    let out = sql(
        &env,
        Some(&address),
        "SELECT length(repeat(mode, 100000000)) AS l FROM travel",
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("a value may take"), "{err}");

    // An executor killed while a query runs: the query fails or answers right, never wrong,
    // and never waits for ever. With the fixed plan Ballista runs the lost tasks again; with
    // its adaptive planner it can lose track of the job, which the scheduler then fails once
    // nothing of it has run for its --stall-limit.
    let heavy = "SELECT a.person_id % 7 AS k, count(*) AS n FROM checkins a JOIN checkins b \
                 ON date_trunc('day', a.time_in) = date_trunc('day', b.time_in) GROUP BY 1";
    let expected = sql(&env, None, heavy);
    assert!(expected.status.success());
    let expected = digest(&String::from_utf8(expected.stdout).unwrap());
    // A third executor first, so one is left after both kills.
    start_executor(&env, &mut nodes, &address, "executor-3");
    for (victim, adaptive) in [("executor-2", false), ("executor-1", true)] {
        kill_mid_query(
            &env, &mut nodes, &address, heavy, &expected, victim, adaptive,
        );
    }
}

/// Runs `query` on the cluster (with Ballista's adaptive planner when `adaptive`), kills the
/// executor `victim` once it runs, and checks that the query ends within 240 s, answering
/// `expected` or failing with an error.
fn kill_mid_query(
    env: &Env,
    nodes: &mut Nodes,
    address: &str,
    query: &str,
    expected: &(String, Vec<String>),
    victim: &str,
    adaptive: bool,
) {
    let work = env.path(victim);
    let earlier = jobs_in(&work);
    let mut child = env
        .cmd()
        .args(["sql", "--format", "csv", "--cluster", address, query])
        .env("FANGYI_CLUSTER_ADAPTIVE", if adaptive { "1" } else { "0" })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    // About 200 million joined rows: seconds on the cluster. The victim dies once it holds
    // shuffle output (what Ballista must then run again), or after 20 s.
    while stages_written(&work, &earlier) == 0
        && started.elapsed() < Duration::from_secs(20)
        && child.try_wait().unwrap().is_none()
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    let mid_job = child.try_wait().unwrap().is_none();
    nodes.kill(victim);
    eprintln!(
        "{victim} killed after {:?}, mid-job: {mid_job}",
        started.elapsed()
    );
    let waited = wait_with_timeout(child, Duration::from_secs(240));
    eprintln!(
        "the query (adaptive: {adaptive}) ended {:?} after it started",
        started.elapsed()
    );
    let Some(out) = waited else {
        panic!(
            "the query did not end within 240 s of an executor's death\n{}",
            nodes.logs()
        );
    };
    eprintln!(
        "after the kill: {}",
        if out.status.success() {
            "answered".to_string()
        } else {
            format!("failed: {}", String::from_utf8_lossy(&out.stderr).trim())
        }
    );
    if out.status.success() {
        let got = digest(&String::from_utf8(out.stdout).unwrap());
        assert_eq!(got.0, expected.0);
        assert!(
            got.1 == expected.1,
            "an answer after the kill, and a wrong one"
        );
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.trim().is_empty(), "failed without saying why");
        // A job the scheduler's watchdog failed says why, not only that it was cancelled.
        assert!(!err.contains("failed: Cancelled"), "{err}");
    }
}

/// The jobs whose shuffle files are in the executor's `work` folder.
fn jobs_in(work: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(work)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect()
}

/// How many stages of jobs other than `earlier` have written shuffle files in the
/// executor's `work` folder (`JOB/STAGE/PARTITION/data-TASK.arrow`).
fn stages_written(work: &Path, earlier: &[PathBuf]) -> usize {
    jobs_in(work)
        .iter()
        .filter(|job| !earlier.contains(job))
        .flat_map(|job| std::fs::read_dir(job).into_iter().flatten().flatten())
        .filter(|stage| walk_has_file(&stage.path()))
        .count()
}

fn walk_has_file(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| {
            let p = e.path();
            if p.is_dir() { walk_has_file(&p) } else { true }
        })
}

/// Waits for `child` at most `limit`; kills it and returns `None` past that.
fn wait_with_timeout(mut child: Child, limit: Duration) -> Option<std::process::Output> {
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return Some(child.wait_with_output().unwrap());
        }
        if start.elapsed() > limit {
            child.kill().ok();
            child.wait().ok();
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn no_scheduler_is_said_plainly() {
    let env = Env::new();
    env.generate_and_ingest(50, 1);
    let port = free_port();
    let err = env.fails(
        &[
            "sql",
            "--cluster",
            &format!("127.0.0.1:{port}"),
            "SELECT count(*) FROM persons",
        ],
        1,
    );
    assert!(err.contains("no cluster scheduler"), "{err}");
    let err = env.fails(
        &[
            "sql",
            "--cluster",
            "nonsense",
            "SELECT count(*) FROM persons",
        ],
        2,
    );
    assert!(err.contains("HOST:PORT"), "{err}");
    // Nodes refuse what cannot work before they start.
    let out = Command::new(env!("CARGO_BIN_EXE_fangyi"))
        .args(["cluster", "executor", "--scheduler", "nowhere"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

/// Stores missing kinds: first a ride and two check-ins alone (no persons, no lab results, so
/// no cases), then with persons and a case's lab result (still no checkpoint passes,
/// registrations or self-reports). On the cluster a kind without files is an empty relation,
/// which Ballista 55 sends to the scheduler without its columns: `trace --all` answered no
/// contacts at all (a union left with one branch, a filter applied to the wrong columns), on
/// a store without lab results it was refused ("No field named __unnest_placeholder(…)", the
/// venue branch's unnest over the cases' empty relation), and a user's statement reading such
/// a kind inside a larger plan answered wrongly. Each answers what the embedded engine does.
#[test]
fn bulk_answers_on_a_store_missing_kinds() {
    let env = Env::new();
    env.write(
        "ride/travel.csv",
        &format!(
            "person_id,mode,service_no,service_date,car,seat,from_station,from_region,depart_time,to_station,to_region,arrive_time\n\
             {CONTACT},rail,G1234,2020-01-20,05,05A,武汉,420100,2020-01-20T08:00:00+08:00,温州南,330300,2020-01-20T14:00:00+08:00\n"
        ),
    );
    env.write(
        "ride/checkins.csv",
        &format!(
            "person_id,venue_id,time_in,time_out\n\
             {CONTACT},V1,2020-01-20T18:00:00+08:00,2020-01-20T19:00:00+08:00\n\
             {CASE},V1,2020-01-20T18:30:00+08:00,\n"
        ),
    );
    env.ok(&["ingest", env.path("ride").to_str().unwrap()]);
    let (nodes, address) = cluster(&env);
    let same_everywhere = |phase: &str| {
        // A statement of the user's reading kinds of no files inside a larger plan.
        let union = "SELECT x.person_id, o.person_id AS other FROM (SELECT person_id, \
                     household_id FROM persons) x JOIN (SELECT person_id, household_id FROM \
                     persons UNION ALL SELECT c.person_id, c.pass_id FROM checkpoint c) o \
                     ON o.household_id = x.household_id WHERE o.person_id <> x.person_id";
        for statement in [union, "SELECT * FROM checkpoint"] {
            let here = sql(&env, None, statement);
            let there = sql(&env, Some(&address), statement);
            for out in [&here, &there] {
                assert!(
                    out.status.success(),
                    "{phase}: {statement}: {}\n{}",
                    String::from_utf8_lossy(&out.stderr),
                    nodes.logs()
                );
            }
            assert_eq!(
                digest(&String::from_utf8_lossy(&here.stdout)),
                digest(&String::from_utf8_lossy(&there.stdout)),
                "{phase}: {statement}"
            );
        }
        let trace_all = ["trace", "--all", "--as-of", "2020-02-01", "--depth", "2"];
        let traced = |extra: &[&str], name: &str| written(&env, &trace_all, extra, name);
        let by_index = traced(&[], "index.csv");
        assert_eq!(
            by_index,
            traced(&["--via", "sql"], "sql.csv"),
            "{phase}: --via sql"
        );
        assert_eq!(
            by_index,
            traced(&["--cluster", &address], "cluster.csv"),
            "{phase}: --cluster\n{}",
            nodes.logs()
        );
        let inflow = [
            "inflow",
            "--as-of",
            "2020-01-21",
            "--days",
            "3",
            "--format",
            "json",
            "--detail",
        ];
        let exposed = [
            "exposed",
            "--region",
            "420000",
            "--from",
            "2020-01-19",
            "--to",
            "2020-01-21",
            "--format",
            "json",
        ];
        for args in [&inflow[..], &exposed[..]] {
            let scan = env.ok(args);
            assert!(scan.contains("420100"), "{phase}: {args:?}: {scan}");
            let mut on_cluster = args.to_vec();
            on_cluster.extend(["--cluster", &address]);
            assert_eq!(scan, env.ok(&on_cluster), "{phase}: {args:?} --cluster");
        }
        by_index
    };
    let no_cases = same_everywhere("no lab results");
    assert_eq!(no_cases.lines().count(), 1, "{no_cases}");
    env.ingest_case_and_contact();
    let traced = same_everywhere("with a case");
    assert!(traced.contains("household;venue"), "{traced}");
}

/// CPU time (user and system, in clock ticks) process `pid` has used so far.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces), from the third: utime is the 14th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12)
}

/// The executors' CPU ticks over `window`.
fn executors_busy(nodes: &Nodes, window: Duration) -> u64 {
    let pids: Vec<u32> = nodes
        .children
        .iter()
        .filter(|(n, _, _)| n.starts_with("executor"))
        .map(|(_, c, _)| c.id())
        .collect();
    let before: u64 = pids.iter().map(|&p| cpu_ticks(p)).sum();
    std::thread::sleep(window);
    pids.iter().map(|&p| cpu_ticks(p)).sum::<u64>() - before
}

#[test]
fn ctrl_c_cancels_the_job_on_the_cluster() {
    let env = Env::new();
    env.generate_and_ingest(4000, 6);
    let (nodes, address) = cluster(&env);
    // Three check-in tables joined by day: billions of rows, minutes of work on the executors.
    let heavy = "SELECT a.person_id % 7 AS k, count(*) AS n FROM checkins a JOIN checkins b \
                 ON date_trunc('day', a.time_in) = date_trunc('day', b.time_in) JOIN checkins c \
                 ON date_trunc('day', b.time_in) = date_trunc('day', c.time_in) GROUP BY 1";
    let child = env
        .cmd()
        .args(["sql", "--format", "csv", "--cluster", &address, heavy])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    // The job is running once the executors work.
    let start = Instant::now();
    while executors_busy(&nodes, Duration::from_millis(500)) < 30 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the executors never started the job\n{}",
            nodes.logs()
        );
    }
    // Ctrl-C, as a terminal sends it.
    let sent = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let interrupted = Instant::now();
    let out = wait_with_timeout(child, Duration::from_secs(20))
        .unwrap_or_else(|| panic!("fangyi still runs 20 s after Ctrl-C\n{}", nodes.logs()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        interrupted.elapsed() < Duration::from_secs(10),
        "{:?} to exit",
        interrupted.elapsed()
    );
    assert!(
        stderr.contains("interrupted: cancelled cluster job"),
        "{stderr}"
    );
    // The executors go idle: the job is gone from them, not left running.
    let start = Instant::now();
    loop {
        let ticks = executors_busy(&nodes, Duration::from_secs(1));
        if ticks < 20 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "the executors still work 15 s after the job was cancelled ({ticks} ticks a second)\n{}",
            nodes.logs()
        );
    }
}
