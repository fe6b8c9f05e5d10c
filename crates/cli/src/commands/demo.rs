//! `fangyi demo`: generate a synthetic city, ingest it, check the store against the generator's
//! own counts, and show a few answers a command centre asks for on day one.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use clap::Args;

use crate::cli::{GenArgs, GenFormat, ImportBaiduArgs, ImportCommand, ImportDxyArgs, ServeArgs};
use crate::commands::{
    Globals, code_cmd, demo_provinces, gen_cmd, import_cmd, ingest_cmd, plural, serve_cmd, signing,
    sql, thousands, trace_cmd,
};
use crate::exit::usage;

const MARKER: &str = ".fangyi-demo";
/// The demo's own master key, in its folder beside (never inside) its data dir.
const KEY: &str = "demo.key";

/// A larger outbreak than Wenzhou's real one (about 20 cases per million by March 2020), so
/// the demo has cases to show: Wuhan's force of infection ×3.3 and contacts twice as infectious.
const DEMO_RATES: &str = "wuhan_hazard=0.002,transmission=2";

/// The questions the demo answers, with the SQL that answers them.
const QUESTIONS: &[(&str, &str)] = &[
    (
        "Arrivals into Wenzhou from Hubei by day (distinct people, real-name tickets)",
        "SELECT service_date AS day, count(DISTINCT person_id) AS people, \
                count(DISTINCT person_id) FILTER (WHERE covers('420100', from_region)) AS from_wuhan \
         FROM travel WHERE covers('420000', from_region) AND covers('330300', to_region) \
         GROUP BY service_date ORDER BY day",
    ),
    (
        "Where people leaving Wuhan went (top destination counties)",
        "SELECT to_region AS county, region_name(to_region) AS name, count(DISTINCT person_id) AS people \
         FROM travel WHERE covers('420100', from_region) AND NOT covers('420000', to_region) \
         GROUP BY to_region ORDER BY people DESC, county LIMIT 5",
    ),
    (
        "Confirmed and asymptomatic cases by report date",
        "SELECT CAST(reported_time AS DATE) AS reported, \
                count(DISTINCT person_id) FILTER (WHERE diagnosis = 'confirmed') AS confirmed, \
                count(DISTINCT person_id) FILTER (WHERE diagnosis = 'asymptomatic') AS asymptomatic \
         FROM lab_results WHERE diagnosis IN ('confirmed', 'asymptomatic') GROUP BY 1 ORDER BY 1",
    ),
    (
        "Venue check-ins per day before and after the level-1 response of 2020-01-24",
        "SELECT v.kind AS venue_kind, \
                round(count(*) FILTER (WHERE c.time_in < TIMESTAMP '2020-01-24T00:00:00+08:00') \
                  / greatest(count(DISTINCT date_trunc('day', c.time_in)) FILTER (WHERE c.time_in < TIMESTAMP '2020-01-24T00:00:00+08:00'), 1)) AS per_day_before, \
                round(count(*) FILTER (WHERE c.time_in >= TIMESTAMP '2020-01-24T00:00:00+08:00') \
                  / greatest(count(DISTINCT date_trunc('day', c.time_in)) FILTER (WHERE c.time_in >= TIMESTAMP '2020-01-24T00:00:00+08:00'), 1)) AS per_day_after \
         FROM checkins c JOIN venues v ON c.venue_id = v.venue_id GROUP BY v.kind ORDER BY venue_kind",
    ),
    (
        "Enterprise power use (MWh per day): the Spring Festival dip",
        "SELECT date, round(sum(kwh) / 1000) AS mwh, count(*) AS meters FROM power GROUP BY date ORDER BY date",
    ),
];

pub fn run(a: DemoArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    prepare(&a.dir)?;
    let input = a.dir.join("input");
    let data = a.dir.join("data");
    // Synthetic data under a key of its own: the operator's key (FANGYI_MASTER_KEY,
    // --key-file, ~/.config/fangyi/master.key) is neither read nor created.
    let key = a.dir.join(KEY);
    let demo = Globals::own(data.clone(), key.clone());
    demo.keys()?;

    println!(
        "fangyi demo: a synthetic Wenzhou (温州, 330300) of {} residents over {} days from 2020-01-14,\n\
         with an outbreak seeded from Wuhan, larger than the real one (--rates {DEMO_RATES})",
        thousands(a.persons),
        a.days
    );
    println!(
        "its own master key is {} (beside its data, not yours)",
        key.display()
    );
    println!("\n[1/10] generating input files into {}", input.display());
    let gen_args = GenArgs {
        persons: a.persons,
        days: a.days,
        seed: a.seed,
        out: Some(input.clone()),
        format: GenFormat::Csv,
        region: "330300".into(),
        start: "2020-01-14".into(),
        bad_rows: 0.0002,
        rates: Some(DEMO_RATES.into()),
        json: false,
        power_baseline_days: 92,
    };
    let config = gen_cmd::config(&gen_args)?;
    let generated = gen_cmd::generate(&config, &input)?;
    gen_cmd::print_summary(&generated, &input);

    println!("\n[2/10] ingesting into {}", data.display());
    let ingested = ingest_cmd::ingest(
        &demo,
        std::slice::from_ref(&input),
        &engine::datadir::IngestOptions::default(),
        engine::Zone::CST,
    )?;
    ingest_cmd::print_summary(&ingested);
    if let Some(dir) = &a.public_data {
        println!(
            "\n      loading the real public data from {}",
            dir.display()
        );
        import_cmd::run(
            &demo,
            ImportCommand::BaiduMigration(ImportBaiduArgs {
                dir: dir.join("baidu_migration"),
            }),
        )?;
        import_cmd::run(
            &demo,
            ImportCommand::DxyCases(ImportDxyArgs {
                path: dir.join("dxy_cases"),
                high_cumulative: 50,
                window_days: 14,
                no_risk_areas: false,
            }),
        )?;
    }

    println!("\n[3/10] checking the store against the generator's own counts");
    let mut all_match = true;
    for (kind, &rows) in &generated.rows {
        let bad = generated.bad_rows.get(kind).copied().unwrap_or(0);
        let got = ingested
            .by_kind
            .get(kind.name())
            .copied()
            .unwrap_or_default();
        let ok = got.rows_accepted == rows && got.rows_rejected == bad;
        all_match &= ok;
        println!(
            "  {} {:<14} generated {:>12} good + {:>6} bad, stored {:>12}, rejected {:>6}",
            if ok { "ok  " } else { "DIFF" },
            kind.name(),
            thousands(rows),
            thousands(bad),
            thousands(got.rows_accepted),
            thousands(got.rows_rejected)
        );
    }
    if !all_match {
        anyhow::bail!("the store does not match what was generated (see DIFF lines above)");
    }

    let last_day = config.start.add_days(config.days as i32 - 1);
    trace_step(&demo, &input, last_day)?;
    let example = codes_step(&demo, &a.dir, last_day)?;
    if let Some(id) = example {
        signed_code_step(&demo, &a.dir, &id, last_day)?;
    }
    let resident = example.and_then(|id| resident_phone(&input, &id).map(|phone| (id, phone)));

    for (title, q) in QUESTIONS {
        println!("\n{title}:");
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        sql::query_to(&demo, q, engine::sql::OutputFormat::Table, &mut out)
            .with_context(|| format!("demo query: {q}"))?;
    }
    let worker_place = alerts_step(&demo, last_day)?;
    let enterprise = resume_step(&demo, last_day)?;
    market_step(&demo)?;
    demo_provinces::step(
        &demo_provinces::Demo {
            a: &demo,
            dir: &a.dir,
            input: &input,
            codes: &a.dir.join("codes.csv"),
            day: last_day,
        },
        "10/10",
    );
    let accounts = demo_accounts(&demo, worker_place.as_ref(), enterprise.as_deref())?;
    let opts = format!("--data {} --key-file {}", data.display(), key.display());
    println!(
        "\ndone in {:.0} s. Try it yourself (the demo's data opens with the demo's key):\n  fangyi {opts} stats\n  fangyi {opts} inflow --as-of {last_day}\n  fangyi {opts} sql \"SELECT kind, count(*) FROM venues GROUP BY kind\"",
        started.elapsed().as_secs_f64(),
    );
    println!("\nDashboard accounts (made for this demo; passwords shown once):");
    for (name, what, password) in &accounts {
        println!("  {name:<14} {password}   {what}");
    }
    let outbox = a.dir.join("outbox");
    if let Some((id, phone)) = &resident {
        println!(
            "\nA resident's phone page: open http://{}/me?as_of={last_day} (the demo's last day; without\n\
             as_of a code is for today) and sign in as {id} with the phone {phone}; the one-time code\n\
             is written to {} (the demo's SMS gateway), one JSON file per code.",
            a.addr,
            outbox.display()
        );
    }
    if a.no_serve {
        println!(
            "\nServe the dashboard with: fangyi {opts} serve --addr {}",
            a.addr
        );
        return Ok(());
    }
    println!(
        "\nServing the dashboard (Ctrl-C stops); open the address below and sign in, the day is {last_day}:"
    );
    serve_cmd::serve(
        &demo,
        ServeArgs {
            addr: a.addr.clone(),
            max_upload_mib: 2048,
            timeout: 60,
            public_rate: 5.0,
            spool: None,
            rules: None,
            alert_rules: None,
            public_metrics: false,
            sql_memory_mib: 1024,
            outbox: Some(outbox),
            sms_webhook: None,
            flush_every: 30,
            resident_rate: 2.0,
            trust_hub: None,
            anchor: None,
            pull_every: 300,
            trust_max_age: 7 * 86_400,
            peer: Vec::new(),
            peer_every: 600,
            peer_as_of: None,
        },
    )
}

/// Market supervision (contract §9): the generated online mask listings scanned under the
/// built-in rules, and the top leads per county. Asked as the operator, like `fangyi market
/// scan` (audited in the demo's log).
fn market_step(demo: &Globals) -> anyhow::Result<()> {
    println!(
        "\n[9/10] market supervision: online mask listings checked (contract §9), the top leads"
    );
    let op = crate::operator::Operator::open(demo)?;
    let caller = op.caller(
        engine::Purpose::MarketSupervision,
        "fangyi demo: market scan",
    );
    let found = op.ask(op.engine().market_scan(&caller, None, None, None))?;
    println!(
        "  {} of {} listing captures flagged; {} leads (sellers or shops), the first five:",
        thousands(found.flagged.len() as u64),
        thousands(found.captures),
        thousands(found.leads.len() as u64)
    );
    for l in found.leads.iter().take(5) {
        let rules: Vec<&str> = l.rules.iter().map(|r| r.as_str()).collect();
        let county = match (&l.county, &l.county_name) {
            (Some(c), Some(n)) => format!("{c} {n}"),
            (Some(c), None) => c.clone(),
            _ => "(no region)".to_string(),
        };
        println!(
            "  {:>2}. {} → {county}: {} listings, {} sold; {}",
            l.rank,
            l.id,
            l.listings,
            thousands(l.sales.max(0) as u64),
            rules.join(", ")
        );
    }
    println!("  (fangyi market scan --format json, fangyi market leads, fangyi market rules show)");
    Ok(())
}

/// The phone of one generated resident, from the demo's own input files (synthetic data it
/// wrote itself), so the demo can say how to sign in as them.
fn resident_phone(input: &Path, id: &engine::PersonId) -> Option<String> {
    let wanted = id.to_string();
    let files = std::fs::read_dir(input).ok()?;
    for f in files.flatten() {
        let name = f.file_name().to_string_lossy().into_owned();
        if !(name.starts_with("persons") && name.ends_with(".csv")) {
            continue;
        }
        let mut rdr = csv::Reader::from_path(f.path()).ok()?;
        let headers = rdr.headers().ok()?.clone();
        let (pid, phone) = (
            headers.iter().position(|h| h == "person_id")?,
            headers.iter().position(|h| h == "phone")?,
        );
        for rec in rdr.records().flatten() {
            if rec.get(pid) == Some(wanted.as_str()) {
                return rec.get(phone).filter(|p| !p.is_empty()).map(str::to_string);
            }
        }
    }
    None
}

/// The last day's alerts, counted per rule; returns the community with the most open alerts
/// (county, community), for the demo's community worker.
fn alerts_step(demo: &Globals, day: engine::Date) -> anyhow::Result<Option<(String, String)>> {
    println!(
        "\n[7/10] community alerts for {day} (high-risk arrivals, arrival jumps, case trails, unregistered returnees)"
    );
    // Asked as the operator, like `fangyi alerts` and the dashboard (audited in the demo's log).
    let op = crate::operator::Operator::open(demo)?;
    let caller = op.caller(
        engine::Purpose::CommunityService,
        &format!("fangyi demo: alerts --as-of {day}"),
    );
    let params = engine::alerts_api::AlertParams {
        as_of: Some(day.to_string()),
        status: None,
        region: None,
        community: None,
    };
    let found = op.ask(op.engine().alerts(&caller, &params))?;
    let mut per_rule: BTreeMap<&str, usize> = BTreeMap::new();
    let mut per_place: BTreeMap<(String, String), usize> = BTreeMap::new();
    for x in &found {
        *per_rule.entry(x.rule).or_default() += 1;
        if let Some(c) = &x.community {
            *per_place.entry((x.region.clone(), c.clone())).or_default() += 1;
        }
    }
    println!("  {}", plural(found.len() as u64, "alert", "alerts"));
    for (rule, n) in &per_rule {
        println!("    {rule:<22} {}", thousands(*n as u64));
    }
    if let Some(x) = found.first() {
        println!(
            "  the first: [{}] {} / {}",
            x.severity,
            x.region,
            x.community.as_deref().unwrap_or("no community")
        );
        println!("    {}", x.detail);
        println!("    → {}: {}", x.task, x.task_detail);
    }
    Ok(per_place
        .into_iter()
        .max_by_key(|(place, n)| (*n, std::cmp::Reverse(place.clone())))
        .map(|(place, _)| place))
}

/// Work resumption: the largest application decided employee by employee (contract §8.1), the
/// city's power index in the week to its start date (§8.3, as far as the generated days reach)
/// and the job openings filled on that date (§8.4), asked as the operator. Returns the largest
/// application's enterprise, for the demo's enterprise account.
fn resume_step(demo: &Globals, last_day: engine::Date) -> anyhow::Result<Option<String>> {
    println!(
        "\n[8/10] work resumption: the largest return-to-work application, the power index, and job matching"
    );
    let op = crate::operator::Operator::open(demo)?;
    let caller = op.caller(
        engine::Purpose::WorkResumption,
        "fangyi demo: resume decide --summary",
    );
    let params = engine::resume_decide::DecideParams::default();
    let decided = op.ask(op.engine().resume_decide(&caller, &params))?;
    let Some(s) = decided.summary.iter().max_by_key(|s| s.rows) else {
        println!("  no applications");
        return Ok(None);
    };
    let enterprise = Some(s.enterprise_id.clone());
    println!(
        "  {} ({}): applied {} → office {}, quarantine {}, not allowed {}, not an employee {}, not registered {}",
        s.application_id,
        s.enterprise_id,
        thousands(s.rows),
        thousands(s.office),
        thousands(s.quarantine),
        thousands(s.not_allowed),
        thousands(s.not_employee),
        thousands(s.not_registered)
    );
    // An `office` row's office date is the application's start date.
    let Some(start) = decided
        .rows
        .iter()
        .find(|r| r.application_id == s.application_id && r.verdict == "office")
        .and_then(|r| r.office_date.clone())
    else {
        return Ok(enterprise);
    };
    index_week(&op, &start, last_day)?;
    let caller = op.caller(
        engine::Purpose::WorkResumption,
        &format!("fangyi demo: resume match --date {start}"),
    );
    let params = engine::resume_match::MatchParams {
        date: start.clone(),
    };
    let jobs = op.ask(op.engine().resume_match(&caller, &params))?;
    let openings: u64 = jobs.iter().map(|j| u64::from(j.openings)).sum();
    let filled: u64 = jobs.iter().map(|j| j.filled as u64).sum();
    println!(
        "  jobs on {start}: {} openings, {} filled with green, available seekers of the same skill and prefecture",
        thousands(openings),
        thousands(filled)
    );
    if let Some(j) = jobs.iter().find(|j| j.filled > 0) {
        // The operator's view shows the seekers' ids in full; the demo prints them masked.
        let seekers: Vec<String> = j
            .seekers
            .iter()
            .map(|p| {
                p.parse::<engine::PersonId>()
                    .map_or_else(|_| p.clone(), engine::mask_person_id)
            })
            .collect();
        println!(
            "    e.g. job {} of {}: {} of {} filled by {}",
            j.job_id,
            j.enterprise_id,
            j.filled,
            j.openings,
            seekers.join(", ")
        );
    }
    Ok(enterprise)
}

/// The city's power index of resumption (contract §8.3) for the seven days to `start`, or to
/// the last generated day when the data ends before it.
fn index_week(
    op: &crate::operator::Operator,
    start: &str,
    last_day: engine::Date,
) -> anyhow::Result<()> {
    let start = engine::Date::parse(start.as_bytes())
        .map_err(|e| anyhow::anyhow!("start date {start}: {}", e.reason()))?;
    let to = start.min(last_day);
    let from = to.add_days(-6);
    let caller = op.caller(
        engine::Purpose::Analysis,
        &format!("fangyi demo: resume index --from {from} --to {to} --region 330300"),
    );
    let params = engine::resume_power::ResumeIndexParams {
        from: from.to_string(),
        to: Some(to.to_string()),
        level: Some("prefecture".into()),
        region: Some("330300".into()),
        ..Default::default()
    };
    let rows = op.ask(op.engine().resume_index(&caller, &params))?;
    println!(
        "  power index of resumption, Wenzhou, {from} to {to}{}:",
        if to < start {
            format!(" (the generated days end before the start date {start}; more --days reach it)")
        } else {
            " (the week to the start date)".to_string()
        }
    );
    for r in &rows {
        println!(
            "    {}  index {:>6.2}  {} of {} enterprises resumed, {:.1} % of baseline power",
            r.date,
            r.index,
            thousands(r.resumed),
            thousands(r.indexed),
            100.0 * r.power_share
        );
    }
    Ok(())
}

/// A password of 16 letters and digits from the operating system's random numbers.
fn random_password() -> anyhow::Result<String> {
    const CHARS: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no random numbers: {e}"))?;
    Ok(bytes
        .iter()
        .map(|b| CHARS[usize::from(*b) % CHARS.len()] as char)
        .collect())
}

/// Accounts for the dashboard: an admin, an analyst, a community worker for the community
/// with the most alerts and the enterprise of the largest application. Returns (name, what,
/// password).
fn demo_accounts(
    demo: &Globals,
    worker_place: Option<&(String, String)>,
    enterprise: Option<&str>,
) -> anyhow::Result<Vec<(String, String, String)>> {
    // (name, role, region, community, what it is for)
    type Wanted<'a> = (&'a str, &'a str, Option<&'a str>, Option<&'a str>, String);
    let mut wanted: Vec<Wanted<'_>> = vec![
        (
            "admin",
            "admin",
            None,
            None,
            "admin: everything, identities in clear".into(),
        ),
        (
            "analyst",
            "analyst",
            None,
            None,
            "analyst: counts and pseudonymised SQL only".into(),
        ),
    ];
    if let Some((county, community)) = worker_place {
        wanted.push((
            "worker",
            "community_worker",
            Some(county.as_str()),
            Some(community.as_str()),
            format!("community worker of {county} / {community}"),
        ));
    }
    // An enterprise account keeps its enterprise where a community worker's community is.
    if let Some(e) = enterprise {
        wanted.push((
            "enterprise",
            "enterprise",
            None,
            Some(e),
            format!("enterprise {e}: its own applications and jobs"),
        ));
    }
    crate::commands::runtime()?.block_on(async {
        let ops = engine::accounts::Accounts::open(demo.data(), None).await?;
        let now = engine::Timestamp::now().secs();
        let mut out = Vec::new();
        for (name, role, region, community, what) in wanted {
            ops.add(
                &engine::accounts::NewUser {
                    name,
                    role,
                    region,
                    community,
                },
                now,
            )
            .await?;
            let password = random_password()?;
            ops.set_password(name, &password).await?;
            out.push((name.to_string(), what, password));
        }
        ops.close().await;
        Ok::<_, anyhow::Error>(out)
    })
}

/// Everyone's health code as of the last day, the counts per color, and one example of each;
/// returns the most severe example, for the signed code.
fn codes_step(
    demo: &Globals,
    dir: &Path,
    last_day: engine::Date,
) -> anyhow::Result<Option<engine::PersonId>> {
    println!("\n[5/10] health codes for the whole population (contract §4, built-in rules)");
    let out = dir.join("codes.csv");
    let set = engine::datadir::RuleSet::builtin();
    let r = code_cmd::write_codes(demo, &set, Some(&last_day.to_string()), &out, true, None)?;
    print!("  ");
    code_cmd::print_counts(&r, &out);
    println!(
        "  {} people a rule could touch examined, in {:.2} s in all",
        thousands(r.examined),
        r.seconds
    );
    // The operator's view shows ids in full, so each example reads back as an id.
    let examples: Vec<engine::PersonId> = r
        .examples
        .iter()
        .rev()
        .flatten()
        .filter_map(|id| id.parse().ok())
        .collect();
    for id in &examples {
        code_cmd::show_code(demo, id, &last_day.to_string())?;
    }
    Ok(examples.first().copied())
}

/// An issuer key for the city, one person's code signed as a QR (printed and written as PNG),
/// and the PNG read back and verified offline against the city's trust list.
fn signed_code_step(
    demo: &Globals,
    dir: &Path,
    id: &engine::PersonId,
    last_day: engine::Date,
) -> anyhow::Result<()> {
    println!(
        "\n[6/10] a signed, offline-verifiable health code (FY1: Ed25519 COSE_Sign1, Base45, QR)"
    );
    let issuer = signing::init_issuer(demo, "330300")?;
    println!(
        "  issuer 330300 (Wenzhou): Ed25519 key generation 1, kid {}, derived from the master key;\n  its public key is the trust list {}",
        issuer.kid,
        issuer.trust_list.display()
    );
    let issued = signing::issue_code(demo, &id.to_string(), Some(&last_day.to_string()), None, 24)?;
    let png = dir.join("code.png");
    signing::write_png(&png, &issued.payload)?;
    println!(
        "  {} code of {} as of {}, signed by kid {}; {} characters:\n  {}",
        issued.claims.color.as_str(),
        engine::mask_person_id(*id),
        issued.claims.as_of,
        issued.kid,
        issued.payload.len(),
        issued.payload
    );
    let qr = engine::issuer_api::qr_terminal(&issued.payload).map_err(anyhow::Error::msg)?;
    for line in qr.lines() {
        println!("  {line}");
    }
    // Offline, against the city's trust list and its revocations (none).
    let image = std::fs::read(&png)?;
    let from = engine::issuer_api::OfflineTrust {
        trust: None,
        revoked: None,
        db: None,
    };
    let (outcome, _) = crate::commands::runtime()?.block_on(engine::issuer_api::verify_offline(
        demo.data(),
        engine::issuer_api::Presented::Png(&image),
        from,
        engine::Timestamp::now().secs(),
    ))?;
    println!(
        "  {} read back from {} and verified offline against the trust list: {}",
        if outcome.valid() { "ok  " } else { "FAIL" },
        png.display(),
        outcome.reason()
    );
    if !outcome.valid() {
        anyhow::bail!(
            "the demo's own signed code did not verify: {}",
            outcome.reason()
        );
    }
    Ok(())
}

/// Indexes the store for tracing, traces every case as of the last day, shows a few, and
/// measures recall against the generator's ground truth: of the people a reported case really
/// infected, how many its trace names as close contacts. Asked of the engine as the operator,
/// like `fangyi trace` (one audit entry in the demo's log).
fn trace_step(demo: &Globals, input: &Path, last_day: engine::Date) -> anyhow::Result<()> {
    println!("\n[4/10] tracing every case's close contacts (contract §3)");
    let keys = demo.keys()?;
    let store = crate::context::store(demo.data(), &keys)?;
    let started = Instant::now();
    trace_cmd::update_index(&store, true)?;
    let indexed = started.elapsed().as_secs_f64();
    let events = store.index_summary()?.events;
    let op = crate::operator::Operator::open(demo)?;
    let caller = op.caller(
        engine::Purpose::OutbreakResponse,
        &format!("fangyi demo: trace every case --as-of {last_day}"),
    );
    let started = Instant::now();
    let traces = op.ask(
        op.engine()
            .trace_every_case(&caller, Some(&last_day.to_string())),
    )?;
    let traced = started.elapsed().as_secs_f64();
    let contacts: usize = traces.iter().map(|t| t.contacts.len()).sum();
    println!(
        "  index of {} built in {:.1} s; {} as of {} traced in {:.0} ms: {}",
        plural(events, "event", "events"),
        indexed,
        plural(traces.len() as u64, "case", "cases"),
        last_day,
        traced * 1000.0,
        plural(contacts as u64, "close contact", "close contacts")
    );
    let mut shown: Vec<&engine::TraceOut> = traces.iter().collect();
    shown.sort_by_key(|t| std::cmp::Reverse(t.contacts.len()));
    for out in shown.iter().take(3) {
        let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
        for c in &out.contacts {
            for e in &c.evidence {
                *kinds.entry(e.kind).or_default() += 1;
            }
        }
        println!(
            "\n  case {} (reported {}, infectious from {}): {}; evidence {}",
            out.case.person_id,
            out.case.report_time,
            out.case.window.from,
            plural(out.contacts.len() as u64, "contact", "contacts"),
            kinds
                .iter()
                .map(|(k, n)| format!("{k} ×{n}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        for c in out.contacts.iter().take(4) {
            println!(
                "    {}  quarantine until {}  {}{}",
                c.person_id,
                c.quarantine_until,
                c.evidence
                    .first()
                    .map(trace_cmd::evidence_text)
                    .unwrap_or_default(),
                if c.is_case { "  (a case too)" } else { "" }
            );
        }
    }

    // Recall against the ground truth.
    // The operator's view shows ids in full, as the generator's truth names them.
    let by_case: BTreeMap<String, BTreeSet<String>> = traces
        .iter()
        .map(|t| {
            (
                t.case.person_id.clone(),
                t.contacts.iter().map(|c| c.person_id.clone()).collect(),
            )
        })
        .collect();
    let truth = input.join("truth").join("infections.csv");
    let mut rdr = csv::Reader::from_path(&truth).with_context(|| truth.display().to_string())?;
    let mut by_via: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for rec in rdr.records() {
        let rec = rec.with_context(|| truth.display().to_string())?;
        let (person, infector, via) = (&rec[0], &rec[2], &rec[3]);
        let Some(found) = by_case.get(infector) else {
            continue; // infected by someone never reported, or imported
        };
        let e = by_via.entry(via.to_string()).or_default();
        e.0 += 1;
        e.1 += u64::from(found.contains(person));
    }
    let (all, hit) = by_via
        .values()
        .fold((0, 0), |(a, h), (x, y)| (a + x, h + y));
    println!(
        "\n  recall against the generator's truth: {hit} of {all} people infected by a reported case are among its traced contacts ({:.0}%)",
        if all > 0 {
            100.0 * hit as f64 / all as f64
        } else {
            100.0
        }
    );
    for (via, (n, h)) in &by_via {
        println!("    {via:<10} {h} of {n}");
    }
    if hit < all {
        println!(
            "  (missed ones were infected outside the contract's window — more than two days before onset —\n   or through contacts no record shows; see crates/synth/README.md)"
        );
    }
    Ok(())
}

/// Empties a previous demo folder; refuses to touch a folder that is not one.
fn prepare(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        let is_demo = dir.join(MARKER).exists();
        let empty = std::fs::read_dir(dir)?.next().is_none();
        if !is_demo && !empty {
            return Err(usage(format!(
                "{} exists and is not a fangyi demo folder; pick another --dir",
                dir.display()
            )));
        }
        for sub in ["input", "data"] {
            let p = dir.join(sub);
            if p.exists() {
                std::fs::remove_dir_all(&p).with_context(|| format!("clearing {}", p.display()))?;
            }
        }
    }
    std::fs::create_dir_all(dir)?;
    std::fs::write(
        dir.join(MARKER),
        "made by `fangyi demo`; the demo clears input/, data/ and provinces/ here on each run and \
         keeps its master keys demo.key and chengdu.key\n",
    )?;
    Ok(())
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Folder for the generated input, the demo's data dir and its own master key (input/,
    /// data/ and demo.key inside, and provinces/ and chengdu.key for its two-province step;
    /// your own key is neither read nor created).
    #[arg(long, default_value = "./fangyi-demo")]
    pub dir: PathBuf,
    #[arg(long, default_value_t = 200_000)]
    pub persons: u64,
    #[arg(long, default_value_t = 21)]
    pub days: u32,
    #[arg(long, default_value_t = 2020)]
    pub seed: u64,
    /// Also load the real public data (Baidu migration, DXY cases) from this folder, which
    /// holds baidu_migration/ and dxy_cases/ (e.g. ../shared/data).
    #[arg(long)]
    pub public_data: Option<PathBuf>,
    /// Where the dashboard is served at the end.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: String,
    /// Stop after the report instead of serving the dashboard (for scripts).
    #[arg(long)]
    pub no_serve: bool,
}
