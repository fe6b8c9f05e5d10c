//! `fangyi demo`'s two-province step (issue 19 item 4): a trust hub, a second deployment
//! (Chengdu) that registers some of Wenzhou's residents on arrival, Wenzhou's exchange endpoint
//! served in-process on a loopback port, Chengdu asking it about its arrivals, and a code
//! Wenzhou signed verified at Chengdu — through the calls `fangyi hub`, `trust pull`, `serve`,
//! `peer fetch`, `code` and `verify` make, never by running the binary.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use engine::issuer_api::{self, hub};
use server::hub_pull::{self, HubUrl};

use crate::commands::{Globals, code_cmd, ingest_cmd, signing, trace_cmd};
use crate::operator::Operator;

/// Province B: its region, its name, its folder (its data dir) and master key file, both in
/// the demo's folder (the key beside, never inside, the data dir).
const B_REGION: &str = "510100";
const B_DATA: &str = "chengdu";
const B_KEY: &str = "chengdu.key";
/// The step's folder in the demo's: the hub, the anchor key, B's data dir and its input;
/// emptied on each run.
const FOLDER: &str = "provinces";
/// The servers listen here; the OS picks the port.
const LOOPBACK: &str = "127.0.0.1:0";
/// How long B waits for A's answer before it counts as "home data unavailable".
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
/// How many green residents travel, beside the ones who are not green.
const GREEN_TRAVELLERS: usize = 8;
const NOT_GREEN_TRAVELLERS: usize = 2;

/// What the step needs of the demo: province A's options, the demo's folder and generated
/// input, the codes it wrote (to pick travellers of each color) and the day asked about.
pub struct Demo<'a> {
    pub a: &'a Globals,
    pub dir: &'a Path,
    pub input: &'a Path,
    pub codes: &'a Path,
    pub day: engine::Date,
}

/// Runs the step with its own output block. A failure (a port that cannot be bound, a folder
/// that cannot be written) is one line saying what failed; the demo goes on.
pub fn step(d: &Demo<'_>, number: &str) {
    println!(
        "\n[{number}] provinces together: a trust hub, Chengdu (成都, {B_REGION}) asking Wenzhou about its arrivals, a Wenzhou code verified in Chengdu"
    );
    let started = Instant::now();
    match together(d, LOOPBACK) {
        Ok(()) => println!(
            "  the two provinces' story in {:.1} s",
            started.elapsed().as_secs_f64()
        ),
        Err(e) => {
            println!("  FAIL provinces together stopped: {e:#} (the rest of the demo goes on)")
        }
    }
}

/// One resident of A who travels to B.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Traveller {
    id: String,
    /// Their county in A: where the registration says they came from.
    home: String,
    color: String,
    rules: String,
}

impl Traveller {
    fn is_case(&self) -> bool {
        self.rules.split(';').any(|r| r == "case")
    }
}

fn together(d: &Demo<'_>, bind: &str) -> anyhow::Result<()> {
    let root = d.dir.join(FOLDER);
    clear(&root)?;
    let offline = root.join("offline");
    std::fs::create_dir_all(&offline).with_context(|| offline.display().to_string())?;
    let anchor_key = offline.join("anchor.key");
    let hub_dir = root.join("hub");
    let b_data = root.join(B_DATA);
    let b = Globals::own(b_data.clone(), d.dir.join(B_KEY));
    let a = d.a;

    // B's arrivals: some of A's residents, the not-green ones first.
    let travellers = travellers(d.input, d.codes)?;
    if travellers.is_empty() {
        anyhow::bail!(
            "no resident of Wenzhou to send to Chengdu in {}",
            d.input.display()
        );
    }
    let arrived = d.day.add_days(-2);
    let regs = root.join("input").join("registrations.csv");
    write_registrations(&regs, &travellers, &arrived.to_string())?;
    let ingested = ingest_cmd::ingest(
        &b,
        std::slice::from_ref(&regs),
        &engine::datadir::IngestOptions::default(),
        engine::Zone::CST,
    )
    .context("ingesting Chengdu's registrations")?;
    {
        let keys = b.keys()?;
        let store = crate::context::store(b.data(), &keys)?;
        trace_cmd::ensure_index(&store)?;
    }
    println!(
        "  Chengdu's data dir {} (its own key {}): {} registrations of Wenzhou residents who arrived on {arrived}",
        b_data.display(),
        d.dir.join(B_KEY).display(),
        ingested.rows_accepted
    );

    // Issuers: A's from the signed-code step (made here if that step had nobody to sign for).
    if issuer_api::trusted_keys(a.data())?.signer.is_none() {
        signing::init_issuer(a, "330300")?;
    }
    signing::init_issuer(&b, B_REGION)?;

    // The hub: an anchor key kept apart, both provinces enrolled from their exported key
    // files, one publication.
    let anchor = hub::keyfile::generate(&anchor_key)?;
    let hub_folder = hub::Hub::open(&hub_dir)?;
    let now = engine::Timestamp::now().secs();
    for (g, name) in [(a, "wenzhou-keys.json"), (&b, "chengdu-keys.json")] {
        let (text, _) = issuer_api::export_trust(g.data(), false)?;
        let file = root.join(name);
        issuer_api::write_atomic(&file, text.as_bytes()).map_err(anyhow::Error::msg)?;
        hub_folder.enrol(&issuer_api::read_trust_file(&file)?, now)?;
    }
    let (secret, _) = hub::keyfile::read_secret(&anchor_key)?;
    let published = hub_folder.publish(&secret, now)?;
    println!(
        "  trust hub {}: anchor kid {} (its secret key in {}), Wenzhou and Chengdu enrolled from their key files,\n  version {} published ({} keys)",
        hub_dir.display(),
        anchor.kid_b64(),
        offline.display(),
        published.version,
        published.keys
    );

    let mut servers = Servers::new()?;
    let hub_base = servers.hub(hub_folder, bind)?;
    let url = HubUrl::parse(&hub_base).map_err(anyhow::Error::msg)?;
    for (g, who) in [(&b, "Chengdu"), (a, "Wenzhou")] {
        let outcome = servers
            .rt
            .block_on(hub_pull::pull(g.data(), &url, &anchor))
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("{who} pulling the hub's list"))?;
        let hub::PullOutcome::Updated { version, keys, .. } = outcome else {
            anyhow::bail!("{who} found the hub's list unchanged");
        };
        println!(
            "  {who} pulled it from {hub_base} and checked the anchor's signature: version {version}, {keys} keys"
        );
    }

    let a_base = servers.exchange(a, bind, root.join("spool"))?;
    println!(
        "  Wenzhou serves POST /exchange/v1/attestations on {a_base} (in this process, for this step)"
    );

    // B asks A about everyone who arrived from A, as `fangyi peer fetch` does.
    let op = Operator::open(&b)?;
    let caller = op.caller(
        engine::Purpose::ArrivalRegistration,
        &format!(
            "fangyi demo: peer fetch --from {a_base} --region 330300 --as-of {}",
            d.day
        ),
    );
    let day = d.day.to_string();
    let got = op.ask(server::exchange::fetch(
        op.engine(),
        &caller,
        &a_base,
        "330300",
        "arrival_registration",
        Some(&day),
        ANSWER_TIMEOUT,
    ))?;
    drop(op);
    let sum = |f: fn(&engine::attest_api::PeerReceived) -> usize| got.iter().map(f).sum::<usize>();
    println!(
        "  Chengdu asked Wenzhou about {} arrivals: {} attested, {} not green",
        sum(|r| r.persons),
        sum(|r| r.attested),
        sum(|r| r.not_green)
    );
    if let Some(e) = got.iter().find_map(|r| r.error.as_deref()) {
        println!(
            "  FAIL home data unavailable for {}: {e}",
            sum(|r| r.unavailable)
        );
    }

    // B's code for the one who is not green at home: A's word, A named.
    let shown = travellers
        .iter()
        .find(|t| t.color != "green")
        .unwrap_or(&travellers[0]);
    let code = code_cmd::person_code(&b, &shown.id, Some(&day), None)?;
    println!(
        "  Chengdu's code for {} ({} in Wenzhou: {}): {}{} (as of the end of {})",
        code.person_id,
        shown.color,
        if shown.is_case() {
            "a case".to_string()
        } else if shown.rules.is_empty() {
            "no rule applies".to_string()
        } else {
            shown.rules.clone()
        },
        code.color.to_uppercase(),
        code.valid_until
            .as_deref()
            .map(|u| format!(" until {u}"))
            .unwrap_or_default(),
        code.as_of
    );
    for r in &code.reasons {
        println!("    {:<7} {:<18} {}", r.color, r.rule, r.detail);
    }

    // A traveller's code signed in A, checked at B against the hub's list alone.
    let green = travellers
        .iter()
        .find(|t| t.color == "green")
        .unwrap_or(&travellers[0]);
    let issued = signing::issue_code(a, &green.id, Some(&day), None, 24)?;
    let (outcome, _) = servers.rt.block_on(issuer_api::verify_offline(
        b.data(),
        issuer_api::Presented::Payload(&issued.payload),
        issuer_api::OfflineTrust {
            trust: None,
            revoked: None,
            db: None,
        },
        engine::Timestamp::now().secs(),
    ))?;
    let masked = green
        .id
        .parse::<engine::PersonId>()
        .map_or_else(|_| green.id.clone(), engine::mask_person_id);
    println!(
        "  {} Wenzhou's signed {} code of {masked} (kid {}) verified in Chengdu against the hub's list: {}",
        if outcome.valid() { "ok  " } else { "FAIL" },
        issued.claims.color,
        issued.kid,
        outcome.reason()
    );
    servers.stop();
    println!(
        "  (fangyi --data {} --key-file {} code {} --as-of {day}; README \"Provinces together\")",
        b_data.display(),
        d.dir.join(B_KEY).display(),
        code.person_id
    );
    Ok(())
}

/// Empties the step's folder from an earlier run (the demo's folder is known to be one).
fn clear(root: &Path) -> anyhow::Result<()> {
    if root.symlink_metadata().is_ok() {
        std::fs::remove_dir_all(root).with_context(|| format!("clearing {}", root.display()))?;
    }
    std::fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))
}

/// A's residents who travel: up to [`NOT_GREEN_TRAVELLERS`] who are not green as of the demo's
/// day (cases first) and [`GREEN_TRAVELLERS`] green ones, from the generated persons and the
/// codes the demo wrote.
fn travellers(input: &Path, codes: &Path) -> anyhow::Result<Vec<Traveller>> {
    let mut colors: HashMap<String, (String, String)> = HashMap::new();
    let mut rdr = csv::Reader::from_path(codes).with_context(|| codes.display().to_string())?;
    for rec in rdr.records() {
        let rec = rec.with_context(|| codes.display().to_string())?;
        if let (Some(id), Some(color), Some(rules)) = (rec.get(0), rec.get(1), rec.get(2)) {
            colors.insert(id.to_string(), (color.to_string(), rules.to_string()));
        }
    }
    let mut residents = Vec::new();
    for file in persons_files(input)? {
        let mut rdr = csv::Reader::from_path(&file).with_context(|| file.display().to_string())?;
        let headers = rdr.headers()?.clone();
        let col = |name: &str| {
            headers
                .iter()
                .position(|h| h == name)
                .with_context(|| format!("{}: no column {name}", file.display()))
        };
        let (pid, home) = (col("person_id")?, col("home_region")?);
        // A rejected row (the generator plants a few) has no code: skipped.
        for rec in rdr.records().flatten() {
            let (Some(id), Some(region)) = (rec.get(pid), rec.get(home)) else {
                continue;
            };
            let Some((color, rules)) = colors.get(id) else {
                continue;
            };
            residents.push(Traveller {
                id: id.to_string(),
                home: region.to_string(),
                color: color.clone(),
                rules: rules.clone(),
            });
        }
    }
    Ok(pick(residents))
}

/// The travellers among `residents`: cases, then others not green, then green ones.
fn pick(mut residents: Vec<Traveller>) -> Vec<Traveller> {
    // Wenzhou's own counties only: B asks A about arrivals from inside A's region.
    residents.retain(|t| t.home.starts_with("3303") && t.home.len() == 6);
    let mut not_green: Vec<Traveller> = residents
        .iter()
        .filter(|t| t.color != "green")
        .cloned()
        .collect();
    not_green.sort_by_key(|t| (!t.is_case(), t.color != "red"));
    not_green.truncate(NOT_GREEN_TRAVELLERS);
    not_green.extend(
        residents
            .into_iter()
            .filter(|t| t.color == "green")
            .take(GREEN_TRAVELLERS),
    );
    not_green
}

/// The generated persons files (`persons.csv`, or one per part).
fn persons_files(input: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(input)
        .with_context(|| input.display().to_string())?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("persons") && n.ends_with(".csv"))
        })
        .collect();
    out.sort();
    Ok(out)
}

/// B's registrations file: each traveller arrived on `day` from their county in A and stays in
/// Chengdu's Jinjiang district.
fn write_registrations(path: &Path, travellers: &[Traveller], day: &str) -> anyhow::Result<()> {
    let mut text = String::from("person_id,arrival_date,from_region,stay_region\n");
    for t in travellers {
        text.push_str(&format!("{},{day},{},510104\n", t.id, t.home));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| dir.display().to_string())?;
    }
    std::fs::write(path, text).with_context(|| path.display().to_string())
}

/// The step's servers (the hub, A's exchange endpoint) on a runtime of their own; each stops
/// when told, and all of them when this is dropped.
struct Servers {
    rt: tokio::runtime::Runtime,
    running: Vec<(
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<std::io::Result<()>>,
    )>,
}

impl Servers {
    fn new() -> anyhow::Result<Servers> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        Ok(Servers {
            rt,
            running: Vec::new(),
        })
    }

    fn listen(&self, bind: &str, what: &str) -> anyhow::Result<tokio::net::TcpListener> {
        self.rt
            .block_on(tokio::net::TcpListener::bind(bind))
            .with_context(|| format!("binding {bind} for {what}"))
    }

    /// Serves `folder` as `fangyi hub serve` does; returns its base URL.
    fn hub(&mut self, folder: hub::Hub, bind: &str) -> anyhow::Result<String> {
        let listener = self.listen(bind, "the trust hub")?;
        let base = format!("http://{}", listener.local_addr()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = self.rt.spawn(server::hub::serve(folder, listener, async {
            let _ = stopped.await;
        }));
        self.running.push((stop, task));
        Ok(base)
    }

    /// Serves A's data dir as `fangyi serve` does (the same engine options, the same server
    /// code), uploads spooled inside the demo's folder; returns its base URL.
    fn exchange(&mut self, a: &Globals, bind: &str, spool: PathBuf) -> anyhow::Result<String> {
        let keys = a.keys()?;
        let listener = self.listen(bind, "Wenzhou's exchange endpoint")?;
        let local = listener.local_addr()?;
        let opts = server::ServeOptions {
            addr: local,
            spool: Some(spool),
            ..server::ServeOptions::default()
        };
        let engine = self.rt.block_on(async {
            let engine = engine::Engine::open(engine::EngineOptions::new(a.data()), keys)
                .await
                .context("opening Wenzhou's engine")?;
            engine.warm().await.context("opening Wenzhou's store")?;
            Ok::<_, anyhow::Error>(engine)
        })?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = self.rt.spawn(server::serve(engine, opts, listener, async {
            let _ = stopped.await;
        }));
        self.running.push((stop, task));
        Ok(format!("http://{local}"))
    }

    /// Stops every server and waits (briefly) for the requests in flight.
    fn stop(mut self) {
        for (stop, task) in std::mem::take(&mut self.running) {
            let _ = stop.send(());
            let _ = self
                .rt
                .block_on(async { tokio::time::timeout(Duration::from_secs(5), task).await });
        }
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        // An error part-way: stop whatever still runs (the runtime's end cancels the rest).
        for (stop, _) in self.running.drain(..) {
            let _ = stop.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(id: &str, home: &str, color: &str, rules: &str) -> Traveller {
        Traveller {
            id: id.into(),
            home: home.into(),
            color: color.into(),
            rules: rules.into(),
        }
    }

    #[test]
    fn cases_travel_first_then_others_not_green_then_green_ones_from_wenzhou_only() {
        let mut residents = vec![
            t("1", "330302", "yellow", "fever"),
            t("2", "330302", "red", "high_risk_arrival"),
            t("3", "330303", "red", "case"),
            t("4", "420100", "red", "case"),
        ];
        for i in 0..20 {
            residents.push(t(&format!("g{i}"), "330304", "green", ""));
        }
        residents.push(t("x", "3303", "green", ""));
        let got = pick(residents);
        let ids: Vec<&str> = got.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids[..2], ["3", "2"]);
        assert_eq!(got.len(), NOT_GREEN_TRAVELLERS + GREEN_TRAVELLERS);
        assert!(got[2..].iter().all(|t| t.color == "green"));
        assert!(!ids.contains(&"4") && !ids.contains(&"x"));
        assert!(pick(Vec::new()).is_empty());
    }

    #[test]
    fn a_port_that_cannot_be_bound_is_an_error_naming_it() {
        let mut servers = Servers::new().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let folder = hub::Hub::open(&dir.path().join("hub")).unwrap();
        // TEST-NET-1: no interface of this machine has it.
        let err = servers.hub(folder, "192.0.2.1:0").unwrap_err();
        let text = format!("{err:#}");
        assert!(
            text.contains("binding 192.0.2.1:0 for the trust hub"),
            "{text}"
        );
        servers.stop();
    }
}
