//! `fangyi bench api`: the HTTP API under load on loopback — a generated province served by
//! the real server in this process, many connections at once, each request authenticated,
//! authorised and audited as in production — reporting requests/s, p50/p99 and the server's
//! CPU time per request per scenario. The load generator runs on a runtime of its own, on
//! threads named [`LOAD_THREADS`], so its CPU time can be told apart from the server's: on a
//! shared machine requests/s move with the neighbours' work, CPU per request much less.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;

use engine::{Engine, EngineOptions};
use ops::NewUser;

use crate::province::{Province, START, machine, province, reveal};
use crate::trace_peers::SplitMix;
use crate::{BenchApiArgs, thousands};

/// One kind of request, with the paths (or bodies) it cycles through.
struct Scenario {
    name: &'static str,
    purpose: &'static str,
    /// GET paths, or POST bodies for `verify`.
    requests: Vec<String>,
    post: Option<&'static str>,
}

/// The name of the load generator's threads.
const LOAD_THREADS: &str = "fangyi-load";

struct Measured {
    requests: u64,
    errors: u64,
    seconds: f64,
    /// Sorted latencies in microseconds.
    latencies: Vec<u32>,
    /// CPU seconds the server spent on the scenario (all of the process but the load
    /// generator's threads), including work it finished after the last answer; `None` without
    /// `/proc`.
    server_cpu: Option<f64>,
}

/// CPU seconds of the whole process and of the load generator's threads.
fn cpu_now() -> Option<(f64, f64)> {
    Some((
        crate::cpu::process_seconds()?,
        crate::cpu::thread_seconds(LOAD_THREADS)?,
    ))
}

/// Waits until the process is nearly idle (under a tenth of a core over a quarter second, or
/// 30 s at most): work requests left behind (audit entries indexed by person in bulk) belongs
/// to the scenario that caused it, not to the next.
async fn settle() {
    let Some(mut last) = crate::cpu::process_seconds() else {
        return;
    };
    for _ in 0..120 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let Some(now) = crate::cpu::process_seconds() else {
            return;
        };
        if now - last < 0.025 {
            return;
        }
        last = now;
    }
}

/// Latitude and longitude, degrees.
type Point = (f64, f64);

/// Where the province's venues are (latitude, longitude): all of them, and those the cases
/// visited in their windows (where the searches that find something are asked).
fn venue_points(
    store: &store::Store,
    index: &trace::Index,
    as_of: i64,
) -> anyhow::Result<(Vec<Point>, Vec<Point>)> {
    let tracer = trace::Tracer::new(index, store.zone());
    let mut visited = std::collections::HashSet::new();
    for (case, info) in tracer.cases(as_of) {
        for e in index.events_of(case, info.window.from, info.window.to) {
            if e.via == trace::Via::Venue {
                visited.insert(e.id);
            }
        }
    }
    let (mut all, mut hot) = (Vec::new(), Vec::new());
    for file in store.tables(model::Kind::Venues) {
        for batch in file.scan(&["venue_id", "lat", "lon"])? {
            let batch = batch?;
            let (lat, lon) = (batch.floats("lat")?, batch.floats("lon")?);
            let ids = batch.texts("venue_id")?;
            for (i, point) in lat.iter().zip(lon.iter()).enumerate() {
                if let (Some(a), Some(b)) = point {
                    all.push((a, b));
                    if visited.contains(ids.value(i)) {
                        hot.push((a, b));
                    }
                }
            }
        }
    }
    Ok((all, hot))
}

/// Nearby searches, as of the province's last day, of radii from 1 km to the largest allowed:
/// every other one around a random venue of the province (most of which no case came near),
/// the others around a venue a case visited (moved up to 2 km either way).
fn nearby_requests(
    all: &[(f64, f64)],
    hot: &[(f64, f64)],
    as_of: model::Date,
    n: usize,
) -> Vec<String> {
    let mut rng = SplitMix(17);
    let mut offset = || ((rng.next() % 20_001) as f64 / 10_000.0 - 1.0) * 0.02;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let spots = if i % 2 == 1 && !hot.is_empty() {
            hot
        } else {
            all
        };
        let (lat, lon) = spots[(mix(i as u64) % spots.len() as u64) as usize];
        let radius = [1_000, 3_000, 3_000, 10_000, 50_000][i % 5];
        let lat = (lat + offset()).clamp(-90.0, 90.0);
        let lon = (lon + offset()).clamp(-180.0, 180.0);
        out.push(format!(
            "/api/v1/public/nearby?lat={lat:.5}&lon={lon:.5}&radius_m={radius}&as_of={as_of}"
        ));
    }
    out
}

fn mix(i: u64) -> u64 {
    SplitMix(i.wrapping_mul(0x9E37_79B9_7F4A_7C15)).next()
}

pub(crate) fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

/// One keep-alive HTTP/1.1 connection to the server under test (Nagle off, as HTTP clients
/// set it).
pub(crate) async fn connect(addr: SocketAddr) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    Ok(sender)
}

/// Sends one request on `conn` (reconnecting first if the last one failed) and reads the whole
/// answer; whether it succeeded.
async fn request(
    conn: &mut Option<SendRequest<Full<Bytes>>>,
    addr: SocketAddr,
    req: hyper::Request<Full<Bytes>>,
) -> anyhow::Result<bool> {
    let sender = match conn {
        Some(s) => s,
        None => conn.insert(connect(addr).await?),
    };
    sender.ready().await?;
    let resp = sender.send_request(req).await?;
    let good = resp.status().is_success();
    resp.into_body().collect().await?;
    Ok(good)
}

async fn load(
    client: &tokio::runtime::Handle,
    addr: SocketAddr,
    token: &str,
    s: &Scenario,
    seconds: u64,
    concurrency: usize,
) -> anyhow::Result<Measured> {
    let requests = Arc::new(s.requests.clone());
    let cpu_before = cpu_now();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let requests = requests.clone();
        let (bearer, purpose, post) = (format!("Bearer {token}"), s.purpose, s.post);
        let host = addr.to_string();
        tasks.push(client.spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            let mut i = worker;
            // Each worker keeps its own connection, as a pool of `concurrency` would.
            let mut conn = None;
            while Instant::now() < deadline {
                let r = &requests[i % requests.len()];
                i += concurrency;
                let t = Instant::now();
                let req = hyper::Request::builder()
                    .header("host", &host)
                    .header("authorization", &bearer)
                    .header("x-purpose", purpose);
                let req = match post {
                    Some(path) => req
                        .method("POST")
                        .uri(path)
                        .header("content-type", "application/json")
                        .body(Full::new(Bytes::from(r.clone()))),
                    None => req.uri(r.as_str()).body(Full::new(Bytes::new())),
                };
                let sent = match req {
                    Ok(req) => request(&mut conn, addr, req).await,
                    Err(e) => Err(e.into()),
                };
                let ok = sent.unwrap_or_else(|_| {
                    conn = None; // a broken connection: the next request opens another
                    false
                });
                lat.push(t.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                errors += u64::from(!ok);
            }
            (lat, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await?;
        latencies.extend(l);
        errors += e;
    }
    let seconds = started.elapsed().as_secs_f64();
    settle().await;
    let server_cpu = cpu_before
        .zip(cpu_now())
        .map(|((p0, l0), (p1, l1))| ((p1 - p0) - (l1 - l0)).max(0.0));
    latencies.sort_unstable();
    Ok(Measured {
        requests: latencies.len() as u64,
        errors,
        seconds,
        latencies,
        server_cpu,
    })
}

pub fn run(a: BenchApiArgs) -> anyhow::Result<()> {
    let run = province(&Province {
        persons: a.persons,
        days: a.days,
        dir: &a.dir,
    })?;
    let data = run.data.clone();
    let keys = run.keys()?;
    let start: model::Date = START.parse()?;
    let as_of = start.add_days(a.days as i32 - 1);
    // A fresh operational database for the bench's accounts and audit entries, and no
    // checkpoint of an earlier run's log: one vouching for more entries than the new log holds
    // would (rightly) report it cut back.
    let db = a.dir.join("bench-ops.db");
    for suffix in ["", "-wal", "-shm", "-credentials"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let _ = std::fs::remove_file(data.join("audit-checkpoint"));
    let db_url = format!("sqlite://{}?mode=rwc", db.display());
    run.ensure_issuer("330000")?;

    println!("machine: {}", machine());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    // The load generator's own runtime: one thread (plenty for loopback HTTP/1.1 clients),
    // named so its CPU time is not counted as the server's.
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name(LOAD_THREADS)
        .enable_all()
        .build()?;
    let client = client_rt.handle().clone();
    rt.block_on(async move {
        let engine = Engine::open(
            EngineOptions {
                data: data.clone(),
                db_url: Some(db_url),
                ..EngineOptions::new(&data)
            },
            keys.clone(),
        )
        .await?;
        engine.warm().await?;
        let now = model::Timestamp::now().secs();
        engine
            .ops()
            .add_user(
                &NewUser {
                    name: "bench",
                    role: "epidemiologist",
                    region: None,
                    community: None,
                },
                now,
            )
            .await?;
        let (token, _) = engine.ops().create_token("bench", "bench", now, None).await?;

        // Who to ask about: residents spread over the population, and the cases.
        let store = run.store(&keys)?;
        let everyone = rules::persons(&store)?;
        let step = (everyone.len() / 2000).max(1);
        let reveal = |p: i64| reveal(&keys, p);
        let residents: Vec<String> = everyone.iter().step_by(step).map(|&p| reveal(p)).collect();
        let cases: Vec<String> = {
            let index = trace::Index::open(&store)?;
            let tracer = trace::Tracer::new(&index, store.zone());
            tracer
                .cases(as_of.end_of_day(store.zone()).millis())
                .iter()
                .take(500)
                .map(|(p, _)| reveal(*p))
                .collect()
        };

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let opts = server::ServeOptions {
            public_rate: 1e9,
            public_burst: 1_000_000,
            ..Default::default()
        };
        let server = tokio::spawn(server::serve(engine.clone(), opts, listener, async {
            let _ = stopped.await;
        }));

        let mut scenarios = vec![
            Scenario {
                name: "health code (GET /persons/{id}/code)",
                purpose: "health_code",
                requests: residents
                    .iter()
                    .map(|id| format!("/api/v1/persons/{id}/code?as_of={as_of}"))
                    .collect(),
                post: None,
            },
            Scenario {
                name: "public co-travel check (no token)",
                purpose: "self_check",
                requests: vec![format!(
                    "/api/v1/cotravel?mode=rail&service=G7133&date={as_of}&car=3"
                )],
                post: None,
            },
        ];
        let (all, hot) = {
            let index = trace::Index::open(&store)?;
            venue_points(&store, &index, as_of.end_of_day(store.zone()).millis())?
        };
        if !all.is_empty() {
            let requests = nearby_requests(&all, &hot, as_of, 2_000);
            // The first search gathers every case's trail points (once per snapshot): timed
            // here, outside the load; then what a sample of the searches answers.
            let caller = engine::Caller::new(
                engine::Account::public(),
                privacy::Purpose::SelfCheck,
                "bench api: nearby searches before the load",
            );
            let ask = |path: &str| {
                let q: std::collections::HashMap<&str, &str> = path
                    .split_once('?')
                    .map_or("", |(_, q)| q)
                    .split('&')
                    .filter_map(|kv| kv.split_once('='))
                    .collect();
                let text = |k: &str| q.get(k).map(|v| v.to_string());
                engine::nearby::NearbyParams {
                    lat: text("lat"),
                    lon: text("lon"),
                    radius_m: text("radius_m"),
                    as_of: text("as_of"),
                }
            };
            let t = Instant::now();
            engine.nearby(&caller, ask(&requests[0])).await?;
            let gathered = t.elapsed().as_secs_f64();
            let (mut points, mut most, mut truncated) = (0, 0, 0);
            for r in requests.iter().take(200) {
                let a = engine.nearby(&caller, ask(r)).await?;
                points += a.points.len();
                most = most.max(a.points.len());
                truncated += usize::from(a.truncated);
            }
            println!(
                "nearby: the first search gathered the cases' trail points in {gathered:.2} s; {} of {} venues visited by cases; 200 of the searches answer {:.1} points on average, at most {most}, {truncated} cut at 500",
                thousands(hot.len() as u64),
                thousands(all.len() as u64),
                points as f64 / 200.0
            );
            scenarios.push(Scenario {
                name: "public nearby search (GET /public/nearby)",
                purpose: "self_check",
                requests,
                post: None,
            });
        }
        if !cases.is_empty() {
            scenarios.insert(
                1,
                Scenario {
                    name: "trace a case (GET /cases/{id}/contacts)",
                    purpose: "outbreak_response",
                    requests: cases
                        .iter()
                        .map(|id| format!("/api/v1/cases/{id}/contacts?as_of={as_of}"))
                        .collect(),
                    post: None,
                },
            );
        }
        {
            // Codes signed by the province's issuer (created for it the first time).
            let mut payloads = Vec::new();
            let caller = engine::Caller::new(
                engine::Account::local(),
                privacy::Purpose::HealthCode,
                "bench api: issue",
            );
            for id in residents.iter().take(200) {
                let issued = engine.issue_code(&caller, id, Some(&as_of.to_string()), None).await?;
                payloads.push(serde_json::json!({ "payload": issued.payload }).to_string());
            }
            scenarios.push(Scenario {
                name: "verify a signed code (POST /codes/verify)",
                purpose: "verification",
                requests: payloads,
                post: Some("/api/v1/codes/verify"),
            });
        }

        println!(
            "{} residents, {} cases as of {as_of}; {} connections, {} s per scenario, every request authenticated and audited",
            thousands(everyone.len() as u64),
            thousands(cases.len() as u64),
            a.concurrency,
            a.seconds
        );
        println!(
            "CPU ms/req: the server's CPU time per request (the process's less the load generator's threads'), work it finished after the last answer included"
        );
        println!(
            "{:<46} {:>10} {:>9} {:>9} {:>9} {:>11} {:>7}",
            "scenario", "requests", "req/s", "p50 ms", "p99 ms", "CPU ms/req", "errors"
        );
        for s in &scenarios {
            let m = load(&client, addr, &token, s, a.seconds, a.concurrency).await?;
            let cpu = m.server_cpu.map_or_else(
                || "-".to_string(),
                |c| format!("{:.3}", c * 1000.0 / m.requests.max(1) as f64),
            );
            println!(
                "{:<46} {:>10} {:>9.0} {:>9.2} {:>9.2} {:>11} {:>7}",
                s.name,
                thousands(m.requests),
                m.requests as f64 / m.seconds,
                percentile(&m.latencies, 0.50),
                percentile(&m.latencies, 0.99),
                cpu,
                m.errors
            );
        }
        let audited = engine.ops().audit_head().await?.0;
        let check = engine
            .audit_check(&engine::Caller::new(
                engine::Account::local(),
                privacy::Purpose::Oversight,
                "bench api: audit verify",
            ))
            .await?;
        println!(
            "audit log: {} entries, chain {}",
            thousands(audited as u64),
            if check.valid { "intact" } else { "BROKEN" }
        );
        let _ = stop.send(());
        server.await??;
        anyhow::Ok(())
    })
}
