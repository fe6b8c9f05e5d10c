//! `fangyi serve`, `fangyi users` and `fangyi audit`: the HTTP API, its accounts and tokens, and
//! the audit log's check and listing.

use std::io::{BufRead, IsTerminal};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use engine::accounts::{Accounts, NewUser};
use engine::{Engine, EngineOptions, Purpose, Role};

use crate::cli::TextFormat;
use crate::commands::Globals;
use crate::exit::usage;
use crate::operator::Operator;

/// Threads for requests' blocking work, at most. Tokio's default (512) let a wave of 200
/// residents at once grow the pool to ~200 threads on 2 cores: perf showed a sixth of the
/// server's time in futex wake-ups and switches and a tenth in page faults from each new
/// thread's allocator pages. Work beyond this waits its turn; SQL runs on threads of its own.
const BLOCKING_THREADS: usize = 32;

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(BLOCKING_THREADS)
        .build()?)
}

fn now() -> i64 {
    engine::Timestamp::now().secs()
}

async fn ops(g: &Globals) -> anyhow::Result<Accounts> {
    Ok(Accounts::open(g.data(), g.db.as_deref()).await?)
}

pub fn serve(g: &Globals, a: ServeArgs) -> anyhow::Result<()> {
    let addr: SocketAddr = a
        .addr
        .parse()
        .map_err(|e| usage(format!("--addr {}: {e} (HOST:PORT)", a.addr)))?;
    let rules = engine::datadir::RuleSet::load_or_builtin(a.rules.as_deref())
        .map_err(|e| usage(e.to_string()))?;
    let alert_rules = engine::alerts_api::AlertRules::load_or_builtin(a.alert_rules.as_deref())
        .map_err(|e| usage(e.to_string()))?;
    let keys = g.keys()?;
    let opts = server::ServeOptions {
        addr,
        max_upload: a.max_upload_mib << 20,
        timeout: Duration::from_secs(a.timeout.max(1)),
        public_rate: a.public_rate.max(0.01),
        spool: a.spool.clone(),
        public_metrics: a.public_metrics,
        outbox: match (&a.outbox, &a.sms_webhook) {
            (_, Some(_)) => None,
            (Some(dir), None) => Some(dir.clone()),
            (None, None) => Some(default_outbox(g.data())),
        },
        sms_webhook: a.sms_webhook.clone(),
        flush_every: Duration::from_secs(a.flush_every),
        resident_rate: a.resident_rate.max(0.01),
        ..server::ServeOptions::default()
    };
    let codes_to = match (&opts.sms_webhook, &opts.outbox) {
        (Some(url), _) => format!("the SMS webhook {url}"),
        (None, Some(dir)) => format!("the outbox {}", dir.display()),
        (None, None) => "nowhere".into(),
    };
    let hub = match (&a.trust_hub, &a.anchor) {
        (Some(url), Some(anchor)) => Some((
            server::hub_pull::HubUrl::parse(url).map_err(|e| usage(format!("--trust-hub {e}")))?,
            engine::issuer_api::hub::keyfile::read_public(anchor)
                .map_err(|e| usage(e.to_string()))?,
        )),
        _ => None,
    };
    let peers = a
        .peer
        .iter()
        .map(|p| match p.split_once('=') {
            Some((region, url)) if !region.is_empty() && url.starts_with("http://") => {
                Ok((region.to_string(), url.to_string()))
            }
            _ => Err(usage(format!("--peer {p}: REGION=http://HOST[:PORT]"))),
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    runtime()?.block_on(async move {
        // The trust list is pulled beside serving, never before it: a hub that is down must
        // not keep the deployment from starting.
        if let Some((url, anchor)) = hub {
            eprintln!(
                "  trust hub: {} every {} s (anchor kid {})",
                url.as_str(),
                a.pull_every.max(1),
                anchor.kid_b64()
            );
            tokio::spawn(server::hub_pull::pull_every(
                g.data().to_path_buf(),
                url,
                anchor,
                Duration::from_secs(a.pull_every.max(1)),
                a.trust_max_age,
            ));
        }
        let engine = Engine::open(
            EngineOptions {
                data: g.data().to_path_buf(),
                db_url: g.db.clone(),
                rules,
                alert_rules,
                sql: engine::SqlLimits {
                    memory_bytes: (a.sql_memory_mib.max(1) << 20) as usize,
                    ..engine::SqlLimits::default()
                },
                ..EngineOptions::new(g.data())
            },
            keys,
        )
        .await
        .context("opening the engine")?;
        eprintln!(
            "opening {} and bringing its indexes up to date…",
            g.data().display()
        );
        engine.warm().await.context("opening the store")?;
        if !peers.is_empty() {
            eprintln!("  peers: {} every {} s", peers.len(), a.peer_every.max(1));
            tokio::spawn(server::exchange::fetch_every(
                engine.clone(),
                peers,
                Duration::from_secs(a.peer_every.max(1)),
                a.peer_as_of.clone(),
            ));
        }
        let users = engine.ops().users().await?.len();
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| usage(format!("--addr {addr}: {e}")))?;
        let local = listener.local_addr()?;
        eprintln!(
            "fangyi serving {} on http://{local} (operational database {}; {users} account{})",
            g.data().display(),
            engine.ops().target(),
            if users == 1 { "" } else { "s" }
        );
        eprintln!("  API docs: http://{local}/api/docs   OpenAPI: http://{local}/api/openapi.json");
        eprintln!("  residents: http://{local}/me (one-time codes go to {codes_to})");
        if users == 0 {
            eprintln!("  no accounts yet: fangyi users add NAME --role ROLE [--region CODE]");
        }
        // Requests without `as_of` answer for today: against historical data, say so once.
        if let Ok(store) = crate::context::store(g.data(), engine.keys())
            && let Some((today, newest)) =
                crate::context::stale(&store, engine::Timestamp(now() * 1000))
        {
            eprintln!(
                "  warning: the newest record in {} is from {newest}, but requests without as_of answer for today ({today})",
                g.data().display()
            );
        }
        // Scripts read the address from the last line of stdout (port 0 picks a free one).
        println!("http://{local}");
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
            eprintln!("stopping: finishing the requests in flight…");
        };
        server::serve(engine, opts, listener, shutdown).await?;
        eprintln!("stopped");
        Ok(())
    })
}

fn parse_role(s: &str) -> anyhow::Result<Role> {
    match Role::parse(s) {
        Some(Role::Public | Role::Resident | Role::Peer) | None => Err(usage(format!(
            "--role {s}: one of admin, epidemiologist, community_worker, analyst, checkpoint, enterprise"
        ))),
        Some(r) => Ok(r),
    }
}

fn add(g: &Globals, a: UsersAddArgs) -> anyhow::Result<()> {
    let role = parse_role(&a.role)?;
    let region = match &a.region {
        Some(r) => Some(
            engine::Region::parse(r.trim().as_bytes())
                .map_err(|e| usage(format!("--region {r}: {}", e.reason())))?
                .to_string(),
        ),
        None => None,
    };
    if a.community.is_some() && role != Role::CommunityWorker {
        return Err(usage("--community is for community workers"));
    }
    if role == Role::CommunityWorker && a.community.is_none() {
        return Err(usage(
            "a community worker serves one community: give --community ID (community_id in persons)",
        ));
    }
    // An enterprise account speaks for one enterprise, kept where a community worker's
    // community is (the one unit an account serves).
    let enterprise = match (&a.enterprise, role) {
        (Some(e), Role::Enterprise) => Some(
            engine::EnterpriseId::parse(e.trim().as_bytes())
                .map_err(|err| usage(format!("--enterprise {e}: {}", err.reason())))?
                .as_str()
                .to_string(),
        ),
        (None, Role::Enterprise) => {
            return Err(usage(
                "an enterprise account speaks for one enterprise: give --enterprise ID (its enterprise_id)",
            ));
        }
        (Some(_), _) => return Err(usage("--enterprise is for enterprise accounts")),
        (None, _) => None,
    };
    runtime()?.block_on(async {
        let ops = ops(g).await?;
        let user = ops
            .add(
                &NewUser {
                    name: &a.name,
                    role: role.as_str(),
                    region: region.as_deref(),
                    community: a.community.as_deref().or(enterprise.as_deref()),
                },
                now(),
            )
            .await
            .map_err(|e| usage(e.to_string()))?;
        let (token, info) = ops.create_token(&user.name, &a.label, now()).await?;
        eprintln!(
            "user {} ({}{}{}) created; token {} — shown once, keep it secret:",
            user.name,
            user.role,
            user.region
                .as_deref()
                .map_or(String::new(), |r| format!(", region {r}")),
            user.community.as_deref().map_or(String::new(), |c| {
                if role == Role::Enterprise {
                    format!(", enterprise {c}")
                } else {
                    format!(", community {c}")
                }
            }),
            info.id
        );
        println!("{token}");
        ops.close().await;
        Ok(())
    })
}

fn date_time(secs: Option<i64>) -> String {
    secs.map_or_else(
        || "-".into(),
        |s| engine::Timestamp(s * 1000).to_rfc3339(engine::Zone::CST),
    )
}

pub fn users(g: &Globals, u: UsersCommand) -> anyhow::Result<()> {
    match u {
        UsersCommand::Add(a) => add(g, a),
        UsersCommand::List => runtime()?.block_on(async {
            let ops = ops(g).await?;
            let tokens = ops.tokens(None).await?;
            for u in ops.users().await? {
                println!(
                    "{}  {}{}{}{}{}",
                    u.name,
                    u.role,
                    u.region
                        .as_deref()
                        .map_or(String::new(), |r| format!("  region {r}")),
                    u.community.as_deref().map_or(String::new(), |c| {
                        if u.role == Role::Enterprise.as_str() {
                            format!("  enterprise {c}")
                        } else {
                            format!("  community {c}")
                        }
                    }),
                    if u.has_password {
                        "  (password set)"
                    } else {
                        ""
                    },
                    u.disabled.map_or(String::new(), |d| format!(
                        "  DISABLED {}",
                        date_time(Some(d))
                    ))
                );
                for t in tokens.iter().filter(|t| t.user == u.name) {
                    println!(
                        "    token {}  {:<24} created {}  {}",
                        t.id,
                        t.label,
                        date_time(Some(t.created)),
                        match (t.revoked, t.expires) {
                            (Some(r), _) => format!("revoked {}", date_time(Some(r))),
                            (None, Some(e)) if e <= now() => "expired".into(),
                            (None, Some(e)) => format!("expires {}", date_time(Some(e))),
                            (None, None) => "live".into(),
                        }
                    );
                }
            }
            ops.close().await;
            Ok(())
        }),
        UsersCommand::Token(a) => runtime()?.block_on(async {
            let ops = ops(g).await?;
            let (token, info) = ops
                .create_token(&a.name, &a.label, now())
                .await
                .map_err(|e| usage(e.to_string()))?;
            eprintln!("token {} for {} — shown once:", info.id, a.name);
            println!("{token}");
            ops.close().await;
            Ok(())
        }),
        UsersCommand::RevokeToken(a) => runtime()?.block_on(async {
            let ops = ops(g).await?;
            let done = ops.revoke_token(&a.token, now()).await?;
            ops.close().await;
            if done {
                println!("revoked; requests with it now get 401");
                Ok(())
            } else {
                Err(usage(format!("{}: no live token with that id", a.token)))
            }
        }),
        UsersCommand::Passwd(a) => {
            let password = match std::env::var("FANGYI_PASSWORD") {
                Ok(p) => p,
                Err(_) => {
                    if std::io::stdin().is_terminal() {
                        eprintln!(
                            "password for {} (at least 12 characters; the line is echoed):",
                            a.name
                        );
                    }
                    let mut line = String::new();
                    std::io::stdin().lock().read_line(&mut line)?;
                    line.trim_end_matches(['\r', '\n']).to_string()
                }
            };
            runtime()?.block_on(async {
                let ops = ops(g).await?;
                ops.set_password(&a.name, &password)
                    .await
                    .map_err(|e| usage(e.to_string()))?;
                ops.close().await;
                println!(
                    "password set for {} (Argon2id); POST /api/v1/login takes it",
                    a.name
                );
                Ok(())
            })
        }
        UsersCommand::Disable(a) => runtime()?.block_on(async {
            let ops = ops(g).await?;
            let done = ops.disable(&a.name, now()).await?;
            ops.close().await;
            if done {
                println!("{} disabled; their tokens are revoked", a.name);
                Ok(())
            } else {
                Err(usage(format!("{}: no active user of that name", a.name)))
            }
        }),
    }
}

fn text(f: Option<TextFormat>) -> bool {
    match f {
        Some(TextFormat::Text) => true,
        Some(TextFormat::Json) => false,
        None => std::io::stdout().is_terminal(),
    }
}

fn verify(g: &Globals, a: AuditVerifyArgs) -> anyhow::Result<()> {
    let op = Operator::open(g)?;
    let caller = op.caller(Purpose::Oversight, "fangyi audit verify");
    let check = op.ask(op.engine().audit_check(&caller))?;
    if text(a.format) {
        match &check.problem {
            None => println!(
                "audit log intact: {} entries, head {} {}{}",
                check.entries,
                check.head_seq,
                check.head_hash,
                check.checkpoint_seq.map_or(String::new(), |c| format!(
                    " (the checkpoint outside the database vouches for entry {c})"
                ))
            ),
            Some(p) => println!("audit log NOT intact: {p}"),
        }
    } else {
        println!("{}", serde_json::to_string(&check)?);
    }
    if check.valid {
        Ok(())
    } else {
        Err(anyhow::anyhow!(
            "the audit log was tampered with: {}",
            check.problem.unwrap_or_default()
        ))
    }
}

fn show(g: &Globals, a: AuditShowArgs) -> anyhow::Result<()> {
    let q = engine::audit_api::AuditQuery {
        person: a.person.clone(),
        actor: a.actor.clone(),
        action: a.action.clone(),
        after: a.after,
        limit: Some(a.limit),
    };
    let request = format!(
        "fangyi audit show{}{}{}",
        a.person.as_deref().map_or(String::new(), |p| format!(
            " --person {}",
            engine::mask_id(p)
        )),
        a.actor
            .as_deref()
            .map_or(String::new(), |x| format!(" --actor {x}")),
        a.action
            .as_deref()
            .map_or(String::new(), |x| format!(" --action {x}"))
    );
    let op = Operator::open(g)?;
    let caller = op.caller(Purpose::Oversight, &request);
    let entries = op.ask(op.engine().audit_entries(&caller, &q))?;
    if text(a.format) {
        if entries.is_empty() {
            println!("no entries");
        }
        for e in &entries {
            println!(
                "{:>6}  {}  {} ({}) for {}: {} — {}; {} person{}, {} row{}: {}",
                e.seq,
                e.at,
                e.actor,
                e.role,
                e.purpose,
                e.action,
                e.query,
                e.persons,
                if e.persons == 1 { "" } else { "s" },
                e.rows,
                if e.rows == 1 { "" } else { "s" },
                e.outcome
            );
        }
    } else {
        println!("{}", serde_json::to_string(&entries)?);
    }
    Ok(())
}

pub fn audit(g: &Globals, a: AuditCommand) -> anyhow::Result<()> {
    match a {
        AuditCommand::Verify(v) => verify(g, v),
        AuditCommand::Show(s) => show(g, s),
    }
}

pub fn retention(g: &Globals, a: RetentionArgs) -> anyhow::Result<()> {
    let bad = |e: engine::EngineError| usage(e.to_string());
    let days = engine::retention::parse_days(&a.older_than).map_err(bad)?;
    let policy = engine::retention::RetentionPolicy::new(days, &a.keep).map_err(bad)?;
    let as_of = match &a.as_of {
        Some(s) => Some(
            engine::Date::parse(s.trim().as_bytes())
                .map_err(|e| usage(format!("--as-of {s}: {}", e.reason())))?,
        ),
        None => None,
    };
    let request = format!(
        "fangyi retention apply --older-than {}{}{}{}{}",
        a.older_than,
        if a.keep.is_empty() {
            String::new()
        } else {
            format!(" --keep {}", a.keep)
        },
        a.as_of
            .as_deref()
            .map_or(String::new(), |d| format!(" --as-of {d}")),
        if a.dry_run { " --dry-run" } else { "" },
        if a.allow_everything {
            " --allow-everything"
        } else {
            ""
        }
    );
    let text = text(a.format);
    let keys = g.keys()?;
    let store = crate::context::store(g.data(), &keys)?;
    crate::context::warn_default_as_of(&store, a.as_of.as_deref());
    if !a.dry_run {
        // What would go, shown before anything goes (read from the manifest: no personal data).
        let as_of = as_of.unwrap_or_else(|| engine::Timestamp(now() * 1000).date(store.zone()));
        let plan = store.retention_plan(&policy, as_of);
        if plan.rows == 0 {
            if text {
                print_retention(&plan);
            } else {
                println!("{}", serde_json::to_string(&plan)?);
            }
            return Ok(());
        }
        eprint!("{}", retention_text(&plan));
        if plan.everything() && !a.allow_everything {
            let newest = store.newest_date().map_or(String::new(), |d| {
                format!(" (the newest record is from {d})")
            });
            return Err(usage(format!(
                "as of {as_of}{newest}, this deletes every personal record in {}: nothing dated later would be left. If the day counted back from is wrong, pass --as-of; if every record really is to go, add --allow-everything",
                g.data().display()
            )));
        }
        if !a.yes {
            confirm_deletion(&plan)?;
        }
    }
    let op = Operator::open(g)?;
    let caller = op.caller(Purpose::DataManagement, &request);
    let report =
        op.ask(
            op.engine()
                .apply_retention(&caller, policy, as_of, a.dry_run, a.allow_everything),
        )?;
    if text {
        print_retention(&report);
    } else {
        println!("{}", serde_json::to_string(&report)?);
    }
    Ok(())
}

/// What a retention run deletes (or would), per kind.
fn retention_text(r: &engine::retention::RetentionReport) -> String {
    let plural = crate::commands::plural;
    let verb = if r.dry_run { "would go" } else { "deleted" };
    let mut out = format!(
        "retention as of {}{}:\n",
        r.as_of,
        if r.dry_run {
            " (nothing deleted yet)"
        } else {
            ""
        }
    );
    // Kinds the store has no rows of say nothing.
    for k in r.kinds.iter().filter(|k| k.rows + k.left > 0) {
        out.push_str(&format!(
            "  {:<14} kept {:>4} days: {} in {} dated before {} {verb}, {} left\n",
            k.kind,
            k.days,
            plural(k.rows, "row", "rows"),
            plural(k.files, "file", "files"),
            k.before,
            crate::commands::thousands(k.left)
        ));
    }
    out.push_str(&format!(
        "{} {}, {} left\n",
        plural(r.rows, "row", "rows"),
        if r.dry_run {
            "would be deleted"
        } else {
            "deleted"
        },
        plural(r.left, "personal dated row", "personal dated rows")
    ));
    out
}

fn print_retention(r: &engine::retention::RetentionReport) {
    print!("{}", retention_text(r));
    if !r.dry_run && r.rows > 0 {
        println!("the audit log records it");
    }
}

/// Asks on the terminal before deleting; without one (a script, cron), `--yes` must say so.
fn confirm_deletion(plan: &engine::retention::RetentionReport) -> anyhow::Result<()> {
    let rows = crate::commands::plural(plan.rows, "row", "rows");
    if !std::io::stdin().is_terminal() {
        return Err(usage(format!(
            "retention deletes {rows} and asks first; add --yes to delete without asking (scripts, cron), or --dry-run to only count"
        )));
    }
    eprint!("delete these {rows} for good? [y/N] ");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    if matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        Ok(())
    } else {
        Err(usage("nothing deleted"))
    }
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: String,
    /// The largest upload accepted, in MiB.
    #[arg(long, default_value_t = 2048)]
    pub max_upload_mib: u64,
    /// Seconds any request may take (uploads: ten times as long).
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
    /// Public self-checks per second per client address.
    #[arg(long, default_value_t = 5.0)]
    pub public_rate: f64,
    /// Where uploads are spooled before ingest (default: a private folder in the temp dir).
    #[arg(long)]
    pub spool: Option<PathBuf>,
    /// Serve /metrics without a token (for a scraper on a private network); by default it
    /// needs an admin's token.
    #[arg(long)]
    pub public_metrics: bool,
    /// A rule set file instead of the built-in health-code rules.
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// An alert rules file instead of the built-in thresholds (`fangyi alerts --show-rules`).
    #[arg(long)]
    pub alert_rules: Option<PathBuf>,
    /// MiB of memory all running SQL queries together may hold; a query past it fails.
    #[arg(long, env = "FANGYI_SQL_MEMORY_MIB", default_value_t = 1024)]
    pub sql_memory_mib: u64,
    /// Where residents' one-time codes are written, one JSON file each (default: the folder
    /// `<data dir>-outbox` beside the data dir, never inside it).
    #[arg(long)]
    pub outbox: Option<PathBuf>,
    /// Send residents' one-time codes to an SMS gateway instead: each POSTed as JSON to this
    /// http:// URL.
    #[arg(long, conflicts_with = "outbox")]
    pub sms_webhook: Option<String>,
    /// Seconds between moves of residents' reports from the inbox into the store.
    #[arg(long, default_value_t = 30)]
    pub flush_every: u64,
    /// Residents' code requests and sign-ins per second per client address.
    #[arg(long, default_value_t = 2.0)]
    pub resident_rate: f64,
    /// A trust hub to pull the signed trust list from (http://HOST[:PORT]): at start and every
    /// --pull-every seconds; a hub that is down leaves the last list in place.
    #[arg(long, requires = "anchor")]
    pub trust_hub: Option<String>,
    /// The trust anchor's public key (base64) or a file holding it, for --trust-hub.
    #[arg(long, requires = "trust_hub")]
    pub anchor: Option<String>,
    /// Seconds between pulls from --trust-hub.
    #[arg(long, default_value_t = 300)]
    pub pull_every: u64,
    /// Warn (log, stderr) when the list accepted from --trust-hub was issued longer ago than
    /// this (7d, 36h): a hub publishing nothing new, or a freeze.
    #[arg(long, default_value = "7d", value_parser = crate::commands::hub_cmd::parse_span)]
    pub trust_max_age: i64,
    /// A home province to ask about the persons who arrived from it, REGION=http://HOST[:PORT]
    /// (repeatable): every --peer-every seconds, sooner after a failure.
    #[arg(long)]
    pub peer: Vec<String>,
    /// Seconds between rounds of --peer.
    #[arg(long, default_value_t = 600)]
    pub peer_every: u64,
    /// The day --peer asks about (YYYY-MM-DD); default each round's today (a past day replays
    /// a generated province, as the demo does).
    #[arg(long, requires = "peer")]
    pub peer_as_of: Option<String>,
}

/// The outbox beside a data dir: `DIR-outbox` (one-time codes are personal: never inside it).
fn default_outbox(data: &std::path::Path) -> PathBuf {
    let mut name = data
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "fangyi-data".into());
    name.push("-outbox");
    data.with_file_name(name)
}

#[derive(Subcommand, Debug)]
pub enum UsersCommand {
    /// Create an account; its first API token is the last line of stdout.
    #[command(
        after_help = "Examples:\n  fangyi users add li.wei --role epidemiologist --region 330300\n  fangyi users add wang.fang --role community_worker --region 330302 --community C330302001\n  fangyi users add gate-7 --role checkpoint\n  fangyi users add acme-hr --role enterprise --enterprise 91330109MAWEMR2B5D\n\nRoles: admin, epidemiologist, community_worker, analyst, checkpoint, enterprise."
    )]
    Add(UsersAddArgs),
    /// List accounts and their tokens (never the tokens' text).
    List,
    /// A new API token for an account (last line of stdout).
    Token(UsersTokenArgs),
    /// Revoke a token by its id (from `users list`) or its text.
    RevokeToken(UsersRevokeArgs),
    /// Set an account's password for POST /api/v1/login (read from FANGYI_PASSWORD or stdin).
    Passwd(UsersNameArgs),
    /// Disable an account and revoke its tokens.
    Disable(UsersNameArgs),
}

#[derive(Args, Debug)]
pub struct UsersAddArgs {
    pub name: String,
    /// admin, epidemiologist, community_worker, analyst, checkpoint or enterprise.
    #[arg(long)]
    pub role: String,
    /// Limit what the account sees to people living in this region (covers rule).
    #[arg(long)]
    pub region: Option<String>,
    /// A community worker's community (`community_id` in persons).
    #[arg(long)]
    pub community: Option<String>,
    /// The enterprise an enterprise account speaks for (its `enterprise_id`): it sees its own
    /// applications' decisions and its own openings' matches only.
    #[arg(long)]
    pub enterprise: Option<String>,
    /// A label for the first token.
    #[arg(long, default_value = "created with the account")]
    pub label: String,
}

#[derive(Args, Debug)]
pub struct UsersTokenArgs {
    pub name: String,
    #[arg(long, default_value = "api")]
    pub label: String,
}

#[derive(Args, Debug)]
pub struct UsersRevokeArgs {
    /// The token's id (12 hex digits) or its text.
    pub token: String,
}

#[derive(Args, Debug)]
pub struct UsersNameArgs {
    pub name: String,
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Check every entry's hash and link and the head: exit 1 if anything was edited, deleted
    /// or reordered.
    Verify(AuditVerifyArgs),
    /// Who accessed what: entries, oldest first (this read is audited too).
    #[command(
        after_help = "Examples:\n  fangyi audit show --person 420106199001010028     who looked at this person's data, and why\n  fangyi audit show --actor li.wei --limit 50\n  fangyi audit show --action trace --format json"
    )]
    Show(AuditShowArgs),
}

#[derive(Args, Debug)]
pub struct AuditVerifyArgs {
    /// Output (default: text on a terminal, JSON otherwise).
    #[arg(long, value_enum)]
    pub format: Option<TextFormat>,
}

#[derive(Args, Debug)]
pub struct AuditShowArgs {
    /// Entries that showed this person (their ID number).
    #[arg(long)]
    pub person: Option<String>,
    #[arg(long)]
    pub actor: Option<String>,
    #[arg(long)]
    pub action: Option<String>,
    /// Entries after this sequence number.
    #[arg(long)]
    pub after: Option<i64>,
    #[arg(long, default_value_t = 100)]
    pub limit: i64,
    #[arg(long, value_enum)]
    pub format: Option<TextFormat>,
}

#[derive(Subcommand, Debug)]
pub enum RetentionCommand {
    /// Delete every dated personal record older than its period, as of a day.
    #[command(
        after_help = "Examples:\n  fangyi retention apply --older-than 28d --dry-run              count only\n  fangyi retention apply --older-than 28d                        shows what goes, asks\n  fangyi retention apply --older-than 28d --keep lab_results=180d,registrations=56d --yes   from cron\n  fangyi retention apply --older-than 28d --as-of 2020-02-10 --yes\n\nRefuses to delete every personal record unless --allow-everything (an --as-of far past\nthe data does that). Applies to travel, station_scans, checkpoint, checkins, self_reports, registrations and\nlab_results: whole date partitions (and their sealed vault files) go; the trace index and\nsaved codes are rebuilt. Reference kinds (persons, venues, …) are kept."
    )]
    Apply(RetentionArgs),
}

#[derive(Args, Debug)]
pub struct RetentionArgs {
    /// The period for every kind: 28d, 4w, or a number of days.
    #[arg(long)]
    pub older_than: String,
    /// Other periods for some kinds: kind=period,… (e.g. lab_results=180d).
    #[arg(long, default_value = "")]
    pub keep: String,
    /// The day to count back from (YYYY-MM-DD); default today.
    #[arg(long)]
    pub as_of: Option<String>,
    /// Count what would go, delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Delete without asking (scripts, cron); without it, the command shows what goes and asks
    /// on a terminal, and refuses elsewhere.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Go ahead even when every personal dated record in the store would go (refused
    /// otherwise: usually an --as-of far past the data, like today against 2020 records).
    #[arg(long)]
    pub allow_everything: bool,
    #[arg(long, value_enum)]
    pub format: Option<TextFormat>,
}
