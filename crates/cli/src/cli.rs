//! Command-line arguments: the global options and the list of commands, with examples in
//! `--help`. Each command file owns its arguments (`commands/trace_cmd.rs`, …), re-exported
//! here for the list; the benchmarks' are the `bench` crate's.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

pub(crate) use crate::commands::alerts_cmd::AlertsArgs;
#[cfg(feature = "cluster")]
pub(crate) use crate::commands::cluster_cmd::ClusterCommand;
pub(crate) use crate::commands::code_cmd::{CodeArgs, CodesArgs, RulesCommand};
pub(crate) use crate::commands::corrections_cmd::CorrectionsCommand;
pub(crate) use crate::commands::demo::DemoArgs;
pub(crate) use crate::commands::exposed::ExposedArgs;
pub(crate) use crate::commands::gen_cmd::{GenArgs, GenFormat};
pub(crate) use crate::commands::hub_cmd::{HubCommand, TrustCommand};
pub(crate) use crate::commands::import_cmd::{ImportBaiduArgs, ImportCommand, ImportDxyArgs};
pub(crate) use crate::commands::inflow_cmd::InflowArgs;
pub(crate) use crate::commands::ingest_cmd::{IngestArgs, InitArgs};
pub(crate) use crate::commands::kinds::KindsArgs;
pub(crate) use crate::commands::market_cmd::MarketArgs;
pub(crate) use crate::commands::resume::ResumeArgs;
pub(crate) use crate::commands::roads_cmd::{RoadsArgs, WatchArgs};
pub(crate) use crate::commands::serve_cmd::{
    AuditCommand, RetentionCommand, ServeArgs, UsersCommand,
};
pub(crate) use crate::commands::signing::{CodeAction, KeysCommand, VerifyArgs};
pub(crate) use crate::commands::sql::SqlArgs;
pub(crate) use crate::commands::stats::StatsArgs;
pub(crate) use crate::commands::trace_cmd::{CotravelArgs, IndexArgs, TraceArgs};
pub(crate) use crate::commands::{SummaryFormat, TableFormat, TextFormat};
pub(crate) use bench::BenchCommand;

#[derive(Parser, Debug)]
#[command(
    name = "fangyi",
    version,
    about = "防疫 fangyi: epidemic command-centre data platform — ingest real-name records, query, trace and score them, privately.",
    after_help = "Examples:\n  fangyi demo                                   generate a city, ingest it, show answers\n  fangyi gen --persons 200000 --days 21 --out input/\n  fangyi --data ./fangyi-data ingest input/\n  fangyi sql \"SELECT mode, count(*) FROM travel GROUP BY mode\"\n  fangyi stats\n\nThe master key comes from FANGYI_MASTER_KEY (64 hex digits), --key-file, or\n~/.config/fangyi/master.key (created on first use). It never lives in the data dir."
)]
pub struct Cli {
    /// The data directory.
    #[arg(
        long,
        global = true,
        env = "FANGYI_DATA",
        default_value = "./fangyi-data"
    )]
    pub data: PathBuf,

    /// File holding the master key (64 hex digits); must be outside the data dir.
    #[arg(long, global = true, env = "FANGYI_KEY_FILE")]
    pub key_file: Option<PathBuf>,

    /// The operational database (users, tokens, audit log, issued codes): `postgres://…` or
    /// `sqlite://…`; default DIR/ops.db.
    #[arg(long, global = true, env = "FANGYI_DB")]
    pub db: Option<String>,

    /// Why you read personal data, checked by the policy and recorded in the audit log with
    /// every command that reads it (default: the usual purpose of each command).
    #[arg(long, global = true, env = "FANGYI_PURPOSE")]
    pub purpose: Option<String>,

    /// Read as this role instead of the key holder's (admin): the engine's policy, masking and
    /// audit apply as to an account of that role with no region (epidemiologist, analyst, …).
    #[arg(long, global = true, env = "FANGYI_AS_ROLE")]
    pub as_role: Option<String>,

    /// Memory the trace index build may use (2GiB, 512MiB, 1.5GB): past it, it sorts in runs
    /// on disk and merges them. The bulk SQL of `trace --all --via sql` and `inflow`/`exposed
    /// --via sql` keeps to it too, spilling to the OS temp dir. Default: a quarter of the
    /// machine's memory, at least 256MiB.
    #[arg(long, global = true, env = "FANGYI_MEMORY", value_name = "SIZE")]
    pub memory: Option<engine::datadir::MemoryBudget>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Generate a synthetic city, ingest it and show what the platform answers.
    #[command(
        after_help = "Examples:\n  fangyi demo\n  fangyi demo --persons 50000 --days 14 --dir /tmp/demo"
    )]
    Demo(DemoArgs),
    /// Generate a deterministic synthetic province in the contract's input formats.
    #[command(
        after_help = "Examples:\n  fangyi gen --persons 200000 --days 21 --out input/\n  fangyi gen --persons 1000000 --days 30 --seed 7 --format parquet --out big/\n  fangyi gen --persons 20000 --days 21 --bad-rows 0.001 --region 330300 --out small/\n  fangyi gen --rates wuhan_hazard=0.002,transmission=2 --out input/   a larger outbreak\n  fangyi gen --rates help                                             every rate, its range and default"
    )]
    Gen(GenArgs),
    /// Create an empty data dir (ingest and import create one too); reading commands refuse a
    /// folder that is not one.
    #[command(
        after_help = "Examples:\n  fangyi --data /srv/fangyi-data init\n  fangyi --data /srv/fangyi-data init --zone +07:00"
    )]
    Init(InitArgs),
    /// Validate files and add their good rows to the data dir; bad rows go to a rejects file.
    #[command(
        after_help = "Examples:\n  fangyi ingest input/                     every file in a folder, kinds from file names\n  fangyi ingest travel-2020-01-23.csv persons.jsonl\n  fangyi ingest --kind travel tickets.csv\n  fangyi ingest --format json input/       last line: {\"files\":…,\"rows_accepted\":…,\"rows_rejected\":…,\"rejects\":…}"
    )]
    Ingest(IngestArgs),
    /// Run read-only SQL; every kind is a table of its name, person ids are pseudonyms.
    #[command(
        after_help = "Examples:\n  fangyi sql \"SELECT mode, count(*) AS n FROM travel GROUP BY mode\"\n  fangyi sql --format csv \"SELECT * FROM lab_results WHERE diagnosis = 'confirmed'\"\n  fangyi sql \"SELECT * FROM travel WHERE person_id = pseudonym('420106199001010028')\"\n  fangyi sql \"SELECT region_name(prefecture(to_region)) AS city, count(*) FROM travel WHERE covers('420100', from_region) GROUP BY 1\"\n\nFunctions: pseudonym(id), covers(region, region), prefecture(region), region_name(region),\narrives(to, from, level) (contract §7: is a record from `from` into `to` an arrival at the level)."
    )]
    Sql(SqlArgs),
    /// Run a node of a Ballista cluster for `fangyi sql --cluster`: the scheduler or an
    /// executor, with fangyi's SQL functions.
    #[cfg(feature = "cluster")]
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Run a node of a Ballista cluster (not in this build: it was built without the
    /// `cluster` feature).
    #[cfg(not(feature = "cluster"))]
    Cluster(crate::commands::NoCluster),
    /// Close contacts of a case (or of every case) with evidence and quarantine end.
    #[command(
        after_help = "Examples:\n  fangyi trace 420106199001010028                       a table on a terminal, JSON otherwise\n  fangyi trace 420106199001010028 --as-of 2020-01-25 --depth 2 --format json\n  fangyi trace --all --as-of 2020-02-01 --out contacts.csv   every case (or .parquet)\n\nAnswered from the trace index beside the store, updated first if the store has new files."
    )]
    Trace(TraceArgs),
    /// Public co-travel self-check: was a case on this train (car) or flight (near this seat)?
    #[command(
        after_help = "Examples:\n  fangyi cotravel --mode rail --service G1234 --date 2020-01-21 --car 5\n  fangyi cotravel --mode flight --service CA1234 --date 2020-01-21 --seat 12C\n\nSays how many cases were aboard, never who."
    )]
    Cotravel(CotravelArgs),
    /// Build or update the trace index (ingest and trace keep it up to date themselves).
    #[command(after_help = "Examples:\n  fangyi index\n  fangyi index --rebuild")]
    Index(IndexArgs),
    /// Everyone who arrived from a region in a period, grouped by where they stay now.
    #[command(
        after_help = "Examples:\n  fangyi exposed --region 420100 --from 2020-01-10 --to 2020-01-23             who came back from Wuhan\n  fangyi exposed --region 420000 --from 2020-01-10 --to 2020-01-23 --summary   counts per county and community\n  fangyi exposed --region 420100 --from 2020-01-10 --to 2020-01-23 --format csv > wuhan.csv\n\nAn arrival is a ticket arriving, a checkpoint pass, a returnee registration or a self-report\nvisit from a region the code covers (420100 covers 420106), dated in the deployment zone.\nThe stay is the latest registration naming a stay region, else the home in persons."
    )]
    Exposed(ExposedArgs),
    /// Arrivals per region and day (contract §7): by kind, top origins, from high-risk areas.
    #[command(
        after_help = "Examples:\n  fangyi inflow --as-of 2020-01-23                              14 days per prefecture\n  fangyi inflow --as-of 2020-01-23 --level county --days 7 --format json\n  fangyi inflow --as-of 2020-01-23 --level community --region 330302 --detail\n  fangyi inflow --as-of 2020-01-23 --format csv > inflow.csv\n\nAn arrival into a region is a ticket arriving there, a checkpoint pass there or a returnee\nregistration staying there, from a region it does not cover (by road: or from nowhere named),\ndated in the deployment zone. Each row counts distinct persons."
    )]
    Inflow(InflowArgs),
    /// Work resumption (contract §8): how far enterprises have resumed, by their power use.
    Resume(ResumeArgs),
    /// Market supervision of masks (contract §9): flagged listings, leads, the rules file.
    Market(MarketArgs),
    /// The day's community alerts with severity, task and status (high-risk arrivals, arrival
    /// jumps, case trails, unregistered returnees).
    #[command(
        after_help = "Examples:\n  fangyi alerts --as-of 2020-01-23\n  fangyi alerts --as-of 2020-01-23 --region 330302 --community C1 --format json\n  fangyi alerts --rules strict-alerts.toml --as-of 2020-01-23\n  fangyi alerts --show-rules                 the built-in thresholds, as a file to edit\n\nStatuses (open, acknowledged, done) are kept in the operational database; community workers\nchange them through the API or the dashboard."
    )]
    Alerts(AlertsArgs),
    /// Expressway checkpoints per county and day: vehicles, occupants, origins, destinations,
    /// declared purposes.
    #[command(
        after_help = "Examples:\n  fangyi roads --as-of 2020-01-23 --days 7\n  fangyi roads --as-of 2020-01-23 --region 330300 --format json"
    )]
    Roads(RoadsArgs),
    /// Returnees from high-risk areas within their 14 days, per community (and who, until when).
    #[command(
        after_help = "Examples:\n  fangyi watch --as-of 2020-01-23 --summary          counts per community\n  fangyi watch --as-of 2020-01-23 --region 330302 --community C1\n\nAn arrival from a high-risk area (contract §4: ticket, checkpoint, registration or\nself-report, the area valid that day) puts a person under watch for 14 days from its day."
    )]
    Watch(WatchArgs),
    /// Load public datasets: Baidu migration shares, DXY city case counts (and risk areas
    /// derived from them).
    #[command(subcommand)]
    Import(ImportCommand),
    /// A person's health code: color, every reason and valid-until (or issue/revoke a signed one).
    #[command(
        args_conflicts_with_subcommands = true,
        after_help = "Examples:\n  fangyi code 420106199001010028                          as of now\n  fangyi code 420106199001010028 --as-of 2020-02-01 --format json\n  fangyi code --rules strict.toml 420106199001010028      under another rule set\n  fangyi code issue 420106199001010028 --png code.png     a signed, offline-verifiable QR\n  fangyi code revoke 420106199001010028"
    )]
    Code(CodeArgs),
    /// Health codes for everyone in `persons`, written to a file with counts per color.
    #[command(
        after_help = "Examples:\n  fangyi codes --as-of 2020-02-01 --out codes.csv\n  fangyi codes --out codes.parquet --rules strict.toml\n\nIncremental: a second run for the same day and rules recomputes only the people that\nfiles ingested since touch (and their contacts), and says how many."
    )]
    Codes(CodesArgs),
    /// The health-code rule set: print the built-in one, check a file, or count who would change.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Corrections of health codes: the queue with the evidence behind each disputed rule,
    /// accept (an override of the rule until a date) or reject, file one at a service desk.
    #[command(
        subcommand,
        after_help = "Examples:\n  fangyi corrections list --status open\n  fangyi corrections show 3\n  fangyi corrections accept 3 --until 2020-02-10 --reason \"not aboard: ticket refunded\"\n  fangyi corrections reject 4 --reason \"the car matches the ticket\"\n  fangyi corrections file 420106199001010028 --rule close_contact --reason \"…\""
    )]
    Corrections(CorrectionsCommand),
    /// Issuer keys for signed codes and the trust list: init, rotate, export, import, list.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Verify a signed code (FY1:) or an EU DCC (HC1:) offline: signature, key usage, expiry,
    /// revocation.
    #[command(
        after_help = "Examples:\n  fangyi verify 'FY1:…'                                   against this data dir's trust list\n  fangyi verify --image code.png --format json\n  fangyi verify 'HC1:…' --trust dcc-trust.json --at 2021-06-01T00:00:00Z\n  fangyi verify 'FY1:…' --trust province-a.json --revoked revoked.json\n\nExit 0 when valid, 1 when not (the reason on stderr), 2 for bad usage."
    )]
    Verify(VerifyArgs),
    /// A trust hub for provinces that trust each other: the offline anchor key, provinces'
    /// signer keys, signed publications and serving them.
    #[command(
        subcommand,
        after_help = "Examples:\n  fangyi hub anchor-keygen --out /media/offline/anchor.key\n  fangyi hub add province-a.json --dir hub/\n  fangyi hub publish --dir hub/ --anchor-key /media/offline/anchor.key\n  fangyi hub serve --dir hub/ --addr 0.0.0.0:8090\n  fangyi hub revoke Ab3dEf8hIjk= --dir hub/ --reason \"key compromised\"\n  fangyi --data ./province-a hub submit http://hub.internal:8090"
    )]
    Hub(HubCommand),
    /// This data dir's trust list from a hub: pull it (anchor signature and version checked).
    #[command(
        subcommand,
        after_help = "Examples:\n  fangyi trust pull http://hub.internal:8090 --anchor anchor.key.pub\n  fangyi trust status\n\n`fangyi serve --trust-hub URL --anchor PUB` pulls it every --pull-every seconds."
    )]
    Trust(TrustCommand),
    /// Health attestations from home provinces: ask about the persons who arrived from one.
    #[command(
        subcommand,
        after_help = "Examples:\n  fangyi peer fetch --from http://province-a:8080 --region 330300\n  fangyi peer fetch --from http://127.0.0.1:8081 --region 330300 --as-of 2020-02-05\n\n`fangyi serve --peer REGION=URL` asks every --peer-every seconds."
    )]
    Peer(crate::commands::peer_cmd::PeerCommand),
    /// Serve the HTTP API (OpenAPI at /api/openapi.json, docs at /api/docs).
    #[command(
        after_help = "Examples:\n  fangyi serve                                  http://127.0.0.1:8080\n  fangyi serve --addr 0.0.0.0:8443 --db postgres://fangyi@db/fangyi\n\nCreate accounts first: fangyi users add NAME --role ROLE [--region CODE].\nCtrl-C stops accepting requests and finishes the ones in flight."
    )]
    Serve(ServeArgs),
    /// Accounts and API tokens of the operational database.
    #[command(subcommand)]
    Users(UsersCommand),
    /// The audit log: check its hash chain, or show who accessed what.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Delete personal records past their retention period (and logs it).
    #[command(subcommand)]
    Retention(RetentionCommand),
    /// Rows, files, bytes and date range per kind.
    Stats(StatsArgs),
    /// The input kinds and their columns (required ones marked *).
    Kinds(KindsArgs),
    /// Measure throughput.
    #[command(subcommand)]
    Bench(BenchCommand),
}
