//! `fangyi bench residents`: the morning wave of residents against the real server, run as a
//! separate `fangyi serve` process on loopback — many residents signing in through the outbox,
//! then reporting their health at once (with the server killed with SIGKILL halfway and started
//! again), then fetching their codes — and afterwards the two things that must hold: every
//! report the server acknowledged is in the store, and the audit chain verifies.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use model::{Date, Kind, PersonId};

use crate::api::{connect, percentile};
use crate::args::BenchResidentsArgs;
use crate::province::{Province, Run, machine, province};
use crate::thousands;

/// The bench's residents: new persons in Hangzhou Xihu with phones of their own.
fn residents(n: u64) -> Vec<(PersonId, String)> {
    let birth = Date::from_ymd(1970, 1, 1).expect("a date");
    (0..n)
        .map(|i| {
            // Birth dates over 30 years, sequence numbers within a day: all distinct ids.
            let day = birth.add_days((i % 10_950) as i32);
            let seq = 900 + (i / 10_950) as u32;
            let id = PersonId::from_parts(330106, day, seq).expect("a valid id");
            (id, format!("170{:08}", i))
        })
        .collect()
}

/// A `fangyi serve` child process on a free loopback port.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(run: &Run, outbox: &Path, flush_every: u64) -> anyhow::Result<Server> {
        let exe = std::env::current_exe().context("finding the fangyi binary")?;
        // The server's log, for when something goes wrong: beside the outbox.
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(outbox.with_extension("serve.log"))
            .context("the server's log file")?;
        let mut child = Command::new(exe)
            .arg("--data")
            .arg(&run.data)
            .arg("--key-file")
            .arg(&run.key)
            .args(["serve", "--addr", "127.0.0.1:0", "--outbox"])
            .arg(outbox)
            .args(["--flush-every", &flush_every.to_string()])
            .args(["--resident-rate", "1000000"])
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .context("starting fangyi serve")?;
        let stdout = child.stdout.take().context("the server's stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let addr = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(a) = line.trim().strip_prefix("http://") {
                        break a.parse::<SocketAddr>()?;
                    }
                }
                _ => {
                    let status = child.wait()?;
                    anyhow::bail!("fangyi serve ended before it listened ({status})");
                }
            }
        };
        // Keep reading its stdout so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Ok(Server { child, addr })
    }

    /// SIGKILL: no flush, no goodbye.
    fn kill(mut self) -> anyhow::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    /// Ctrl-C's signal: finish the requests in flight, flush the inbox, stop.
    fn stop(mut self) -> anyhow::Result<()> {
        Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()?;
        let status = self.child.wait()?;
        anyhow::ensure!(status.success(), "fangyi serve stopped with {status}");
        Ok(())
    }
}

/// One client connection that follows the server to its current address.
struct Client {
    addr: Arc<RwLock<SocketAddr>>,
    conn: Option<(SocketAddr, SendRequest<Full<Bytes>>)>,
}

impl Client {
    fn new(addr: Arc<RwLock<SocketAddr>>) -> Client {
        Client { addr, conn: None }
    }

    /// Sends one request; the status and body, or `None` when the connection failed.
    async fn send(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<String>,
    ) -> Option<(u16, Bytes)> {
        let addr = *self.addr.read().expect("address lock");
        if self.conn.as_ref().is_some_and(|(a, _)| *a != addr) {
            self.conn = None;
        }
        if self.conn.is_none() {
            self.conn = Some((addr, connect(addr).await.ok()?));
        }
        let (_, sender) = self.conn.as_mut()?;
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", addr.to_string());
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let req = match body {
            Some(b) => req
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(b))),
            None => req.body(Full::new(Bytes::new())),
        }
        .ok()?;
        let answer = async {
            sender.ready().await.ok()?;
            let resp = sender.send_request(req).await.ok()?;
            let status = resp.status().as_u16();
            let body = resp.into_body().collect().await.ok()?.to_bytes();
            Some((status, body))
        }
        .await;
        if answer.is_none() {
            self.conn = None;
        }
        answer
    }
}

/// Reads the outbox as codes arrive: phone → latest code. Each message file is read once and
/// removed.
fn read_outbox(dir: &Path, codes: &Mutex<HashMap<String, String>>) -> anyhow::Result<usize> {
    let mut n = 0;
    for e in std::fs::read_dir(dir)?.flatten() {
        let p = e.path();
        if p.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let Ok(bytes) = std::fs::read(&p) else {
            continue;
        };
        let Ok(m) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
            continue;
        };
        if let (Some(to), Some(code)) = (m["to"].as_str(), m["code"].as_str()) {
            codes
                .lock()
                .expect("codes lock")
                .insert(to.to_string(), code.to_string());
            n += 1;
        }
        std::fs::remove_file(&p).ok();
    }
    Ok(n)
}

fn micros(t: Instant) -> u32 {
    t.elapsed().as_micros().min(u128::from(u32::MAX)) as u32
}

/// Signs every resident in (code requested, read from the outbox, exchanged for a token).
async fn sign_in(
    addr: Arc<RwLock<SocketAddr>>,
    people: &[(PersonId, String)],
    outbox: PathBuf,
    concurrency: usize,
) -> anyhow::Result<Vec<Option<String>>> {
    let codes = Arc::new(Mutex::new(HashMap::new()));
    let watching = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let watcher = {
        let (codes, watching, outbox) = (codes.clone(), watching.clone(), outbox.clone());
        tokio::task::spawn_blocking(move || {
            while watching.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = read_outbox(&outbox, &codes);
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let people = Arc::new(people.to_vec());
    let mut tasks = Vec::new();
    for w in 0..concurrency {
        let (addr, people, codes) = (addr.clone(), people.clone(), codes.clone());
        tasks.push(tokio::spawn(async move {
            let mut client = Client::new(addr);
            let mut out = Vec::new();
            for i in (w..people.len()).step_by(concurrency) {
                let (id, phone) = &people[i];
                let body = serde_json::json!({"person_id": id.to_string(), "phone": phone});
                // A code goes to one person at most once a minute: a resident signed in by a run
                // that ended moments ago gets none now, so ask again once the minute is over.
                let mut code = None;
                for attempt in 0..2 {
                    if attempt == 1 {
                        tokio::time::sleep(Duration::from_secs(61)).await;
                    }
                    let sent = client
                        .send("POST", "/api/v1/resident/otp", None, Some(body.to_string()))
                        .await;
                    if sent.map(|s| s.0) != Some(202) {
                        break;
                    }
                    let started = Instant::now();
                    while started.elapsed() < Duration::from_secs(if attempt == 0 { 5 } else { 30 })
                    {
                        if let Some(c) = codes.lock().expect("codes lock").remove(phone) {
                            code = Some(c);
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    if code.is_some() {
                        break;
                    }
                }
                let Some(code) = code else {
                    out.push((i, None));
                    continue;
                };
                let body = serde_json::json!({"person_id": id.to_string(), "code": code});
                let token = match client
                    .send(
                        "POST",
                        "/api/v1/resident/session",
                        None,
                        Some(body.to_string()),
                    )
                    .await
                {
                    Some((200, b)) => serde_json::from_slice::<serde_json::Value>(&b)
                        .ok()
                        .and_then(|v| v["token"].as_str().map(str::to_string)),
                    _ => None,
                };
                out.push((i, token));
            }
            out
        }));
    }
    let mut tokens = vec![None; people.len()];
    for t in tasks {
        for (i, token) in t.await? {
            tokens[i] = token;
        }
    }
    watching.store(false, std::sync::atomic::Ordering::Relaxed);
    watcher.await?;
    Ok(tokens)
}

/// What one load phase measured.
struct Phase {
    ok: u64,
    failed: u64,
    seconds: f64,
    latencies: Vec<u32>,
    /// The latencies of requests due and answered outside the kill-and-restart window: how
    /// the server does when it is up (all of them when nothing was killed).
    steady: Vec<u32>,
    /// Acknowledged reports per resident (reports phase).
    acked: Vec<u32>,
    /// Latencies by the second (since the phase started) each request was due in.
    by_second: Vec<Vec<u32>>,
}

/// The second whose p99 was worst, with that p99 (ms), of [`Phase::p99_by_second`]'s series:
/// a stall shows as one bad second among good ones, a server too slow for the rate as all of
/// them.
fn worst_second(p99s: &[Option<f64>]) -> Option<(usize, f64)> {
    p99s.iter()
        .enumerate()
        .filter_map(|(i, p)| Some((i, (*p)?)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

impl Phase {
    /// Each second's p99 (ms), `None` for a second nothing was due in.
    fn p99_by_second(&self) -> Vec<Option<f64>> {
        self.by_second
            .iter()
            .map(|l| {
                let mut l = l.clone();
                l.sort_unstable();
                (!l.is_empty()).then(|| percentile(&l, 0.99))
            })
            .collect()
    }
}

/// `concurrency` workers, each over its own share of the residents, sending `request` until
/// `seconds` have passed; `midway` runs once halfway (the kill) and says whether it disrupted
/// the server (requests overlapping it are then left out of [`Phase::steady`]).
/// With `rate` > 0 each worker sends on a schedule (rate / concurrency a second) and a request's
/// latency counts from when it was due, so a slow answer also delays what should have followed
/// it; with 0 each worker sends as soon as its last answer came.
async fn wave<F>(
    addr: Arc<RwLock<SocketAddr>>,
    tokens: Arc<Vec<String>>,
    concurrency: usize,
    seconds: f64,
    rate: f64,
    report: bool,
    midway: F,
) -> anyhow::Result<Phase>
where
    F: FnOnce() -> anyhow::Result<bool> + Send + 'static,
{
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::new();
    for w in 0..concurrency {
        let (addr, tokens) = (addr.clone(), tokens.clone());
        tasks.push(tokio::spawn(async move {
            let mut client = Client::new(addr);
            let mut lat = Vec::new();
            let mut acked = Vec::new();
            let (mut ok, mut failed) = (0u64, 0u64);
            let mine: Vec<usize> = (w..tokens.len()).step_by(concurrency).collect();
            let interval = (rate > 0.0).then(|| Duration::from_secs_f64(concurrency as f64 / rate));
            // Workers start spread over one interval, not all at once.
            let first = interval.map(|d| started + d.mul_f64(w as f64 / concurrency as f64));
            let mut k = 0usize;
            while Instant::now() < deadline && !mine.is_empty() {
                let i = mine[k % mine.len()];
                let t = match (first, interval) {
                    (Some(f), Some(d)) => {
                        let due = f + d * k as u32;
                        if due >= deadline {
                            break;
                        }
                        tokio::time::sleep_until(due.into()).await;
                        due
                    }
                    _ => Instant::now(),
                };
                k += 1;
                let answer = if report {
                    let temp = 36.0 + (k % 12) as f64 / 10.0;
                    let body = format!("{{\"temperature_c\":{temp:.1},\"symptoms\":\"none\"}}");
                    client
                        .send(
                            "POST",
                            "/api/v1/resident/self-reports",
                            Some(&tokens[i]),
                            Some(body),
                        )
                        .await
                } else {
                    client
                        .send("GET", "/api/v1/resident/code", Some(&tokens[i]), None)
                        .await
                };
                let good = matches!(answer, Some((200 | 201, _)));
                if good {
                    ok += 1;
                    lat.push((t - started, micros(t)));
                    if report {
                        acked.push(i);
                    }
                } else {
                    failed += 1;
                    // The server is gone (killed, restarting): wait a little, not in a spin.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            (ok, failed, lat, acked)
        }));
    }
    let half = Duration::from_secs_f64(seconds / 2.0);
    tokio::time::sleep(half).await;
    let window_from = started.elapsed();
    let disrupted = tokio::task::spawn_blocking(midway).await??;
    let window_to = started.elapsed();
    let mut phase = Phase {
        ok: 0,
        failed: 0,
        seconds: 0.0,
        latencies: Vec::new(),
        steady: Vec::new(),
        acked: vec![0; tokens.len()],
        by_second: Vec::new(),
    };
    for t in tasks {
        let (ok, failed, lat, acked) = t.await?;
        phase.ok += ok;
        phase.failed += failed;
        for (due, latency) in lat {
            phase.latencies.push(latency);
            let second = due.as_secs() as usize;
            if phase.by_second.len() <= second {
                phase.by_second.resize(second + 1, Vec::new());
            }
            phase.by_second[second].push(latency);
            let answered = due + Duration::from_micros(u64::from(latency));
            if !disrupted || answered < window_from || due > window_to {
                phase.steady.push(latency);
            }
        }
        for i in acked {
            phase.acked[i] += 1;
        }
    }
    phase.seconds = started.elapsed().as_secs_f64();
    phase.latencies.sort_unstable();
    phase.steady.sort_unstable();
    Ok(phase)
}

/// Self-reports stored per person (store pseudonym).
fn stored_reports(run: &Run, keys: &vault::Keys) -> anyhow::Result<HashMap<i64, u32>> {
    let store = run.store(keys)?;
    let mut counts = HashMap::new();
    for file in store.tables(Kind::SelfReports) {
        for batch in file.scan(&["person_id"])? {
            let batch = batch?;
            let ids = batch.ints("person_id")?;
            for i in 0..batch.rows() {
                *counts.entry(ids.value(i)).or_insert(0) += 1;
            }
        }
    }
    Ok(counts)
}

pub fn run(a: BenchResidentsArgs) -> anyhow::Result<()> {
    println!("fangyi bench residents on {}", machine());
    let run = province(&Province {
        persons: a.persons,
        days: a.days,
        dir: &a.dir,
    })?;
    let keys = run.keys()?;
    // Codes are signed, as a deployment's are.
    run.ensure_issuer("330000")?;
    let people = residents(a.residents);
    // The bench's residents, registered with phones (the same file each time: ingested once).
    let file = a.dir.join("bench-residents").join("persons.csv");
    std::fs::create_dir_all(file.parent().expect("a folder"))?;
    let mut csv = String::from("person_id,name,phone,home_region\n");
    for (id, phone) in &people {
        csv.push_str(&format!("{id},居民,{phone},330106\n"));
    }
    std::fs::write(&file, csv)?;
    run.ingest(std::slice::from_ref(&file), &ingest::Options::default())?;
    let outbox = a.dir.join("outbox");
    if outbox.exists() {
        std::fs::remove_dir_all(&outbox)?;
    }
    let before = stored_reports(&run, &keys)?;

    let rt = crate::runtime()?;
    let server = Server::start(&run, &outbox, a.flush_every)?;
    let addr = Arc::new(RwLock::new(server.addr));
    println!(
        "server: fangyi serve (pid {}) on http://{}, reports flushed every {} s",
        server.child.id(),
        server.addr,
        a.flush_every
    );

    // 1. Sign-in: a code each through the outbox, then a session.
    let started = Instant::now();
    let tokens = rt.block_on(sign_in(
        addr.clone(),
        &people,
        outbox.clone(),
        a.concurrency,
    ))?;
    let signed = tokens.iter().flatten().count();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "sign-in: {} of {} residents in {secs:.1} s ({:.0}/s): code requested, read from the outbox, exchanged",
        thousands(signed as u64),
        thousands(people.len() as u64),
        signed as f64 / secs
    );
    anyhow::ensure!(signed == people.len(), "some residents could not sign in");
    let tokens: Arc<Vec<String>> = Arc::new(tokens.into_iter().flatten().collect());

    // 2. The morning wave of self-reports, the server killed with SIGKILL halfway.
    let restarted = Arc::new(Mutex::new(None::<Server>));
    let kill = {
        let (run, outbox, addr, restarted) =
            (run.clone(), outbox.clone(), addr.clone(), restarted.clone());
        let flush = a.flush_every;
        let no_kill = a.no_kill;
        move || -> anyhow::Result<bool> {
            if no_kill {
                *restarted.lock().expect("server lock") = Some(server);
                return Ok(false);
            }
            let t = Instant::now();
            server.kill()?;
            let again = Server::start(&run, &outbox, flush)?;
            *addr.write().expect("address lock") = again.addr;
            println!(
                "  killed the server (SIGKILL) mid-wave; started again on http://{} in {:.1} s",
                again.addr,
                t.elapsed().as_secs_f64()
            );
            *restarted.lock().expect("server lock") = Some(again);
            Ok(true)
        }
    };
    let paced = |r: f64| {
        if r > 0.0 {
            format!("offered {r:.0}/s")
        } else {
            "as fast as answered".to_string()
        }
    };
    let reports = rt.block_on(wave(
        addr.clone(),
        tokens.clone(),
        a.concurrency,
        a.seconds,
        a.rate,
        true,
        kill,
    ))?;
    let rate = reports.ok as f64 / reports.seconds;
    // The bar is the server's while it is up: the restart's seconds are reported beside it.
    let report_p99 = percentile(&reports.steady, 0.99);
    println!(
        "self-reports ({}, {} residents at once): {} acknowledged in {:.1} s = {rate:.0}/s (with the kill and restart in it), p50 {:.1} ms, p99 {:.1} ms; outside the restart ({} answers): p50 {:.1} ms, p99 {report_p99:.1} ms; {} refused or cut off by the kill",
        paced(a.rate),
        a.concurrency,
        thousands(reports.ok),
        reports.seconds,
        percentile(&reports.latencies, 0.5),
        percentile(&reports.latencies, 0.99),
        thousands(reports.steady.len() as u64),
        percentile(&reports.steady, 0.5),
        thousands(reports.failed)
    );

    // 3. Codes, at `code_concurrency` residents at once: offered at a rate (the latency bar: a
    //    resident's page asks when opened, not in a loop), then as fast as answered (the
    //    server's throughput; latency there is queueing, concurrency / throughput).
    let mut code_p99 = f64::NAN;
    let mut rates = vec![a.code_rate];
    if a.code_rate > 0.0 {
        rates.push(0.0);
    }
    let server_pid = restarted
        .lock()
        .expect("server lock")
        .as_ref()
        .map(|s| s.child.id());
    let server_cpu = || server_pid.and_then(crate::cpu::pid_seconds);
    for (n, r) in rates.into_iter().enumerate() {
        let cpu_before = server_cpu();
        let codes = rt.block_on(wave(
            addr.clone(),
            tokens.clone(),
            a.code_concurrency,
            a.seconds / 2.0,
            r,
            false,
            || Ok(false),
        ))?;
        let p99 = percentile(&codes.latencies, 0.99);
        if n == 0 {
            code_p99 = p99;
        }
        // The server's own CPU per answer: what other work on the machine barely moves.
        let cpu = match (cpu_before, server_cpu()) {
            (Some(a), Some(b)) if codes.ok > 0 => {
                format!(
                    ", server CPU {:.0} µs an answer",
                    (b - a) * 1e6 / codes.ok as f64
                )
            }
            _ => String::new(),
        };
        let p99s = codes.p99_by_second();
        let worst = match worst_second(&p99s) {
            Some((s, p)) if p99s.len() > 1 => {
                format!(", worst second {s}–{} s p99 {p:.1} ms", s + 1)
            }
            _ => String::new(),
        };
        println!(
            "GET /resident/code ({}, {} residents at once): {:.0}/s, p50 {:.1} ms, p99 {p99:.1} ms ({} failed{cpu}{worst})",
            paced(r),
            a.code_concurrency,
            codes.ok as f64 / codes.seconds,
            percentile(&codes.latencies, 0.5),
            thousands(codes.failed)
        );
        // Where the tail comes from: a stall is one bad second, a slow server all of them.
        let series: Vec<String> = p99s
            .iter()
            .map(|p| p.map_or("-".into(), |p| format!("{p:.0}")))
            .collect();
        println!("  p99 by second, ms: {}", series.join(" "));
    }

    // 4. Stopped cleanly (the inbox flushed), then checked from the outside.
    let server = restarted.lock().expect("server lock").take();
    if let Some(s) = server {
        s.stop()?;
    }
    let after = stored_reports(&run, &keys)?;
    let mut missing = 0u64;
    for (i, (id, _)) in people.iter().enumerate() {
        let p = keys.pseudonyms.pseudonym(*id);
        let stored = after.get(&p).copied().unwrap_or(0) - before.get(&p).copied().unwrap_or(0);
        missing += u64::from(reports.acked[i].saturating_sub(stored));
    }
    println!(
        "durability: {} acknowledged reports, {} missing from the store after the SIGKILL and restart",
        thousands(reports.ok),
        thousands(missing)
    );
    let audit = rt.block_on(async {
        let engine =
            engine::Engine::open(engine::EngineOptions::new(&run.data), keys.clone()).await?;
        let admin = engine::Caller::new(
            engine::Account::local(),
            engine::Purpose::Oversight,
            "fangyi bench residents: audit verify",
        );
        let check = engine.audit_check(&admin).await?;
        Ok::<_, anyhow::Error>(check)
    })?;
    println!(
        "audit chain: {} entries, {}",
        thousands(audit.entries as u64),
        if audit.valid {
            "verified".to_string()
        } else {
            format!("BROKEN: {}", audit.problem.unwrap_or_default())
        }
    );
    println!(
        "bars: 2,000 self-reports/s with p99 < 100 ms (outside the restart): {}; code p99 < 20 ms at 200 residents ({}): {}; nothing acknowledged lost: {}",
        // Offered at least 2,000/s and (but for what the kill cut off) all acknowledged.
        if a.rate >= 2000.0 && rate >= 0.97 * a.rate && report_p99 < 100.0 {
            "met"
        } else {
            "NOT met"
        },
        paced(a.code_rate),
        if a.code_concurrency >= 200 && code_p99 < 20.0 {
            "met"
        } else {
            "NOT met"
        },
        if missing == 0 { "met" } else { "NOT met" },
    );
    anyhow::ensure!(missing == 0, "acknowledged reports were lost");
    anyhow::ensure!(audit.valid, "the audit chain does not verify");
    Ok(())
}
