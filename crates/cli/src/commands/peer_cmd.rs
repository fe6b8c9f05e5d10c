//! `fangyi peer`: health attestations from a home province (issue 19 item 1). `peer fetch`
//! asks the deployment at `--from` (region `--region`) about everyone who arrived from that
//! region in the 14 days up to `--as-of`, in batches of up to 10,000, and records each answer
//! (verified against the trust list) or "home data unavailable" when it is down, slow or
//! refuses; codes computed afterwards fold the answers in. `fangyi serve --peer` does the same
//! periodically.

use std::time::Duration;

use clap::{Args, Subcommand};
use engine::Purpose;

use crate::commands::Globals;
use crate::operator::Operator;

#[derive(Subcommand, Debug)]
pub enum PeerCommand {
    /// Ask a home province about the persons who arrived from it; record its answers.
    Fetch(FetchArgs),
}

#[derive(Args, Debug)]
pub struct FetchArgs {
    /// The home province's deployment, http://HOST[:PORT].
    #[arg(long)]
    pub from: String,
    /// Its region code (its issuer's region; arrivals from anywhere inside it are asked about).
    #[arg(long)]
    pub region: String,
    /// The day asked about (YYYY-MM-DD); default today.
    #[arg(long)]
    pub as_of: Option<String>,
    /// arrival_registration or health_code.
    #[arg(long, default_value = "arrival_registration")]
    pub purpose: String,
    /// Seconds to wait for each answer before the province counts as slow.
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
}

pub fn run(g: &Globals, c: PeerCommand) -> anyhow::Result<()> {
    let PeerCommand::Fetch(a) = c;
    let op = Operator::open(g)?;
    let engine = op.engine();
    let request = format!("fangyi peer fetch --from {} --region {}", a.from, a.region);
    let caller = op.caller(Purpose::ArrivalRegistration, &request);
    let got = op.ask(server::exchange::fetch(
        engine,
        &caller,
        &a.from,
        &a.region,
        &a.purpose,
        a.as_of.as_deref(),
        Duration::from_secs(a.timeout.max(1)),
    ))?;
    let mut unavailable = 0;
    for r in &got {
        println!("{}", serde_json::to_string(r)?);
        unavailable += r.unavailable;
    }
    if got.is_empty() {
        eprintln!("nobody arrived from {} in the days asked about", a.region);
    }
    if unavailable > 0 {
        eprintln!(
            "home data unavailable for {unavailable} persons (recorded; their codes say so); run again to retry"
        );
    }
    Ok(())
}
