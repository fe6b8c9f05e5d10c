//! `fangyi hub …` (a trust hub: the anchor key, provinces' keys, publications, serving) and
//! `fangyi trust …` (a deployment pulling the hub's signed list). The hub's folder holds public
//! keys only; the anchor's secret key stays offline and is named only by `hub publish`.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use engine::issuer_api::{self, hub};
use server::hub_pull::{self, HubUrl};

use crate::commands::Globals;
use crate::exit::usage;

#[derive(Subcommand, Debug)]
pub enum HubCommand {
    /// Make the offline trust-anchor key: FILE (secret, mode 0600) and FILE.pub (for
    /// deployments' --anchor). Keep FILE off every server.
    AnchorKeygen(AnchorKeygenArgs),
    /// Enrol a province (or replace its keys) from its exported key file (`fangyi keys
    /// export`), received out of band and checked by its fingerprint.
    Add(HubAddArgs),
    /// Revoke a signer key: the next list names it revoked and deployments drop it.
    Revoke(HubRevokeArgs),
    /// Sign the combined list with the anchor key as the next version.
    Publish(HubPublishArgs),
    /// Show the provinces, their keys, the revoked keys and the version published.
    List(HubDirArgs),
    /// Serve the newest list (with change polling) and take provinces' signed submissions.
    Serve(HubServeArgs),
    /// From a province's data dir: send its keys to the hub, signed by its keys.
    Submit(HubSubmitArgs),
}

#[derive(Subcommand, Debug)]
pub enum TrustCommand {
    /// Pull the hub's signed list once; it replaces the trust list if the anchor signed it and
    /// it is newer than the one accepted.
    Pull(TrustPullArgs),
    /// Which hub list this data dir accepted last, and whether it is older than it should be.
    Status(TrustStatusArgs),
}

#[derive(Args, Debug)]
pub struct TrustStatusArgs {
    /// Warn when the accepted list was issued longer ago than this (a hub that publishes
    /// nothing new, or something keeping newer lists away): 7d, 36h, 90m, 30s.
    #[arg(long, default_value = "7d", value_parser = parse_span)]
    pub max_age: i64,
}

#[derive(Args, Debug)]
pub struct AnchorKeygenArgs {
    /// Where to write the secret key (never overwritten); the public key goes to FILE.pub.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Args, Debug)]
pub struct HubDirArgs {
    /// The hub's folder.
    #[arg(long, env = "FANGYI_HUB")]
    pub dir: PathBuf,
}

#[derive(Args, Debug)]
pub struct HubAddArgs {
    /// The province's key file (a JSON trust list of its own keys).
    pub file: PathBuf,
    #[command(flatten)]
    pub hub: HubDirArgs,
}

#[derive(Args, Debug)]
pub struct HubRevokeArgs {
    /// The key id (base64, as `fangyi hub list` shows it).
    pub kid: String,
    /// Why, kept with the revocation and published.
    #[arg(long, default_value = "revoked by the hub operator")]
    pub reason: String,
    #[command(flatten)]
    pub hub: HubDirArgs,
}

#[derive(Args, Debug)]
pub struct HubPublishArgs {
    /// The anchor's secret key file (`hub anchor-keygen`).
    #[arg(long)]
    pub anchor_key: PathBuf,
    /// How long the list stays valid (30d, 72h; at least 1h): deployments refuse it after.
    /// Publish again well before (deployments warn of a list older than 7 days by default).
    #[arg(long, default_value = "30d", value_parser = parse_span)]
    pub valid_for: i64,
    #[command(flatten)]
    pub hub: HubDirArgs,
}

#[derive(Args, Debug)]
pub struct HubServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8090")]
    pub addr: String,
    #[command(flatten)]
    pub hub: HubDirArgs,
}

#[derive(Args, Debug)]
pub struct HubSubmitArgs {
    /// The hub: http://HOST[:PORT].
    pub url: String,
}

#[derive(Args, Debug)]
pub struct TrustPullArgs {
    /// The hub: http://HOST[:PORT], or the list's full URL.
    pub url: String,
    /// The trust anchor's public key (base64) or a file holding it (FILE.pub).
    #[arg(long)]
    pub anchor: String,
}

fn failure(e: hub::ExchangeError) -> anyhow::Error {
    match e {
        hub::ExchangeError::Bad(_) | hub::ExchangeError::Conflict(_) => usage(e.to_string()),
        e => anyhow::Error::new(e),
    }
}

/// A hub folder that exists (every command but `add`, which makes one).
fn open_hub(a: &HubDirArgs) -> anyhow::Result<hub::Hub> {
    hub::Hub::open_existing(&a.dir).map_err(failure)
}

/// A span of time, `7d`, `36h`, `90m` or `30s`, in seconds (at most ten years).
pub(crate) fn parse_span(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let bad = || format!("{s:?}: a span such as 7d, 36h, 90m or 30s");
    let unit = match s.chars().last().ok_or_else(bad)? {
        'd' => 86_400,
        'h' => 3600,
        'm' => 60,
        's' => 1,
        _ => return Err(bad()),
    };
    let digits = &s[..s.len() - 1];
    if digits.is_empty() || digits.len() > 9 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: i64 = digits.parse().map_err(|_| bad())?;
    let secs = n * unit;
    if secs == 0 || secs > 3650 * 86_400 {
        return Err(format!("{s:?}: from 1s to 3650d"));
    }
    Ok(secs)
}

/// Unix seconds as RFC 3339.
fn codesign_time(t: i64) -> String {
    engine::Timestamp(t.saturating_mul(1000)).to_rfc3339(engine::Zone::UTC)
}

fn now() -> i64 {
    engine::Timestamp::now().secs()
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

pub fn hub(g: &Globals, c: HubCommand) -> anyhow::Result<()> {
    match c {
        HubCommand::AnchorKeygen(a) => {
            let public = hub::keyfile::generate(&a.out).map_err(failure)?;
            eprintln!(
                "trust anchor key (kid {}) written to {}: keep it offline; it is needed only to publish",
                public.kid_b64(),
                a.out.display()
            );
            eprintln!(
                "its public key, for every deployment's --anchor, is in {}:",
                hub::keyfile::public_path(&a.out).display()
            );
            println!("{}", public.to_b64());
            Ok(())
        }
        HubCommand::Add(a) => {
            let hub = hub::Hub::open(&a.hub.dir).map_err(failure)?;
            let entries = codesign_entries(&a.file)?;
            let p = hub.enrol(&entries, now()).map_err(failure)?;
            println!(
                "province {}: {} key{} recorded ({}); they are trusted from the next `fangyi hub publish`",
                p.region,
                p.entries.len(),
                if p.entries.len() == 1 { "" } else { "s" },
                p.entries
                    .iter()
                    .filter_map(|e| e.kid_b64())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            Ok(())
        }
        HubCommand::Revoke(a) => {
            let hub = open_hub(&a.hub)?;
            let fresh = hub.revoke(&a.kid, &a.reason, now()).map_err(failure)?;
            println!(
                "key {} {}; deployments drop it after the next `fangyi hub publish` and their next pull",
                a.kid,
                if fresh {
                    "revoked"
                } else {
                    "was already revoked"
                }
            );
            Ok(())
        }
        HubCommand::Publish(a) => {
            let hub = open_hub(&a.hub)?;
            let (key, warning) = hub::keyfile::read_secret(&a.anchor_key).map_err(failure)?;
            if let Some(w) = warning {
                eprintln!("warning: {w}");
            }
            let p = hub
                .publish_valid_for(&key, now(), a.valid_for)
                .map_err(failure)?;
            println!(
                "published version {}: {} keys, {} revoked, valid until {} ({})",
                p.version,
                p.keys,
                p.revoked,
                codesign_time(p.expires_at),
                p.path.display()
            );
            Ok(())
        }
        HubCommand::List(a) => {
            let hub = open_hub(&a)?;
            let version = hub.latest_version().map_err(failure)?;
            match (version, hub.anchor().map_err(failure)?) {
                (Some(v), Some(anchor)) => {
                    let until = hub
                        .latest_list()
                        .map_err(failure)?
                        .and_then(|l| l.expires_at)
                        .map(|e| format!(", valid until {e}"))
                        .unwrap_or_default();
                    println!("published version {v}{until}, anchor {}", anchor.to_b64())
                }
                _ => println!("nothing published yet"),
            }
            println!(
                "{:<8} {:<14} {:<22} {:<11}",
                "region", "kid", "not_after", "via"
            );
            for p in hub.provinces().map_err(failure)? {
                for e in &p.entries {
                    println!(
                        "{:<8} {:<14} {:<22} {:<11}",
                        p.region,
                        e.kid_b64().unwrap_or_default(),
                        e.not_after.as_deref().unwrap_or("-"),
                        p.via
                    );
                }
            }
            for r in hub.revoked().map_err(failure)? {
                println!(
                    "revoked  {:<14} {} ({})",
                    r.kid,
                    r.revoked_at,
                    r.reason.as_deref().unwrap_or("")
                );
            }
            Ok(())
        }
        HubCommand::Serve(a) => {
            let addr: SocketAddr = a
                .addr
                .parse()
                .map_err(|e| usage(format!("--addr {}: {e} (HOST:PORT)", a.addr)))?;
            // A hub may start serving before its first province is added.
            let hub = hub::Hub::open(&a.hub.dir).map_err(failure)?;
            runtime()?.block_on(async move {
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|e| usage(format!("--addr {addr}: {e}")))?;
                let local = listener.local_addr()?;
                eprintln!(
                    "fangyi trust hub {} on http://{local} (list: http://{local}{})",
                    hub.dir().display(),
                    server::hub::LIST_PATH
                );
                // Scripts read the address from the last line of stdout.
                println!("http://{local}");
                let shutdown = async {
                    let _ = tokio::signal::ctrl_c().await;
                };
                server::hub::serve(hub, listener, shutdown).await?;
                eprintln!("stopped");
                Ok(())
            })
        }
        HubCommand::Submit(a) => {
            let keys = g.keys()?;
            let (region, body) =
                issuer_api::hub_submission(g.data(), &keys).map_err(|e| match e {
                    engine::EngineError::Conflict(_) | engine::EngineError::BadRequest(_) => {
                        usage(e.to_string())
                    }
                    e => anyhow::Error::new(e),
                })?;
            let answer = runtime()?
                .block_on(hub_pull::submit(&a.url, body))
                .map_err(anyhow::Error::msg)?;
            println!(
                "region {region}: the hub recorded keys {}; they are trusted everywhere after its next publication",
                answer["keys"]
                    .as_array()
                    .map(|k| k
                        .iter()
                        .filter_map(|v| v.as_str())
                        .collect::<Vec<_>>()
                        .join(", "))
                    .unwrap_or_default()
            );
            Ok(())
        }
    }
}

/// A province's key file, read as a trust list (a bad request when it is not one).
fn codesign_entries(path: &std::path::Path) -> anyhow::Result<Vec<issuer_api::TrustEntry>> {
    issuer_api::read_trust_file(path).map_err(|e| usage(e.to_string()))
}

pub fn trust(g: &Globals, c: TrustCommand) -> anyhow::Result<()> {
    match c {
        TrustCommand::Pull(a) => {
            let url = HubUrl::parse(&a.url).map_err(usage)?;
            let anchor = hub::keyfile::read_public(&a.anchor).map_err(failure)?;
            let outcome = runtime()?
                .block_on(hub_pull::pull(g.data(), &url, &anchor))
                .map_err(anyhow::Error::msg)
                .context("the trust list is unchanged")?;
            match outcome {
                hub::PullOutcome::Updated {
                    version,
                    keys,
                    revoked,
                    dropped,
                } => println!(
                    "trust list replaced with the hub's version {version}: {keys} keys, {revoked} revoked{}",
                    if dropped > 0 {
                        format!(" ({dropped} dropped from this data dir's list)")
                    } else {
                        String::new()
                    }
                ),
                hub::PullOutcome::Unchanged { version } => {
                    println!("the hub's list is unchanged (version {version})")
                }
            }
            // An unchanged list may be a frozen one.
            if let Some((_, w)) =
                hub_pull::age_warning(g.data(), now(), hub::deploy::DEFAULT_MAX_AGE_SECS)
            {
                eprintln!("warning: {w}");
            }
            Ok(())
        }
        TrustCommand::Status(s) => {
            match issuer_api::hub_accepted(g.data()).map_err(anyhow::Error::new)? {
                None => println!("no hub list accepted yet (fangyi trust pull URL --anchor PUB)"),
                Some(a) => {
                    let age = hub::deploy::list_age(&a, now(), s.max_age);
                    let state = match age {
                        hub::deploy::ListAge::Fresh { .. } => "fresh",
                        hub::deploy::ListAge::Stale { .. } => "STALE",
                        hub::deploy::ListAge::Expired { .. } => "EXPIRED",
                    };
                    println!(
                        "hub list version {} from {} (issued {}, {}accepted {}): {} keys, {} revoked; anchor kid {}; {state}",
                        a.version,
                        a.source,
                        a.issued_at,
                        a.expires_at
                            .as_deref()
                            .map(|e| format!("expires {e}, "))
                            .unwrap_or_default(),
                        a.accepted_at,
                        a.keys,
                        a.revoked,
                        a.anchor
                    );
                    if let Some(w) = age.warning(&a) {
                        eprintln!("warning: {w}");
                    }
                }
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_span;

    #[test]
    fn spans_need_a_unit_and_stay_in_range() {
        assert_eq!(parse_span("7d"), Ok(7 * 86_400));
        assert_eq!(parse_span("36h"), Ok(36 * 3600));
        assert_eq!(parse_span("90m"), Ok(5400));
        assert_eq!(parse_span(" 30s "), Ok(30));
        for bad in [
            "",
            "7",
            "d",
            "-1d",
            "1.5d",
            "7w",
            "0s",
            "3651d",
            "9999999999d",
            "1d2h",
            "٣d",
        ] {
            assert!(parse_span(bad).is_err(), "{bad:?}");
        }
    }
}
