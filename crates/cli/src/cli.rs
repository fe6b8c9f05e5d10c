//! Command-line arguments: the global options and the list of commands, with examples in
//! `--help`. Each command file owns its arguments (`commands/trace_cmd.rs`, …), re-exported
//! here for the list; the benchmarks' are still below until they move to their own crate.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub(crate) use crate::commands::alerts_cmd::AlertsArgs;
pub(crate) use crate::commands::code_cmd::{CodeArgs, CodesArgs, RulesCommand};
pub(crate) use crate::commands::demo::DemoArgs;
pub(crate) use crate::commands::exposed::ExposedArgs;
pub(crate) use crate::commands::gen_cmd::{GenArgs, GenFormat};
pub(crate) use crate::commands::import_cmd::{ImportBaiduArgs, ImportCommand, ImportDxyArgs};
pub(crate) use crate::commands::inflow_cmd::InflowArgs;
pub(crate) use crate::commands::ingest_cmd::{IngestArgs, InitArgs};
pub(crate) use crate::commands::kinds::KindsArgs;
pub(crate) use crate::commands::roads_cmd::{RoadsArgs, WatchArgs};
pub(crate) use crate::commands::serve_cmd::{
    AuditCommand, RetentionCommand, ServeArgs, UsersCommand,
};
pub(crate) use crate::commands::signing::{CodeAction, KeysCommand, VerifyArgs};
pub(crate) use crate::commands::sql::SqlArgs;
pub(crate) use crate::commands::stats::StatsArgs;
pub(crate) use crate::commands::trace_cmd::{CotravelArgs, IndexArgs, TraceArgs};
pub(crate) use crate::commands::{SummaryFormat, TableFormat, TextFormat};

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
    /// Issuer keys for signed codes and the trust list: init, rotate, export, import, list.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Verify a signed code (FY1:) or an EU DCC (HC1:) offline: signature, key usage, expiry,
    /// revocation.
    #[command(
        after_help = "Examples:\n  fangyi verify 'FY1:…'                                   against this data dir's trust list\n  fangyi verify --image code.png --format json\n  fangyi verify 'HC1:…' --trust dcc-trust.json --at 2021-06-01T00:00:00Z\n  fangyi verify 'FY1:…' --trust province-a.json --revoked revoked.json\n\nExit 0 when valid, 1 when not (the reason on stderr), 2 for bad usage."
    )]
    Verify(VerifyArgs),
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

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Ingest throughput on generated `travel` CSV: rows/s in total and per core.
    #[command(
        after_help = "Examples:\n  fangyi bench ingest --rows 4000000\n  fangyi bench ingest --rows 4000000 --dates 30 --peers"
    )]
    Ingest(BenchIngestArgs),
    /// Contact tracing on a generated province of 100 M+ records: single-case latency and
    /// all-cases time, side by side with DuckDB and Polars on the same Parquet files.
    #[command(
        after_help = "Examples:\n  fangyi bench trace                                  generate (or reuse) ./fangyi-bench-trace\n  fangyi bench trace --persons 200000 --days 14 --no-peers    a quick run\n  fangyi bench trace --peer-cases 1000"
    )]
    Trace(BenchTraceArgs),
    /// Whole-population health codes on a generated province (default 10 million residents):
    /// the full recompute, timed.
    #[command(
        after_help = "Examples:\n  fangyi bench codes                                   generate (or reuse) ./fangyi-bench-codes\n  fangyi bench codes --persons 1000000 --days 7        a quicker run"
    )]
    Codes(BenchCodesArgs),
    /// Signed-code verification throughput: FY1 codes per second on one core and on all, and
    /// the EU DCC test vectors if a folder is given.
    #[command(
        after_help = "Examples:\n  fangyi bench verify\n  fangyi bench verify --codes 200000 --dcc ../shared/data/dcc_testdata"
    )]
    Verify(BenchVerifyArgs),
    /// The HTTP API under load on loopback: requests/s and p50/p99 latency for code lookups,
    /// traces and verifications, each audited as in production.
    #[command(
        after_help = "Examples:\n  fangyi bench api                                    a 200,000-resident province in ./fangyi-bench-api\n  fangyi bench api --seconds 20 --concurrency 32\n  fangyi bench api --dir ./fangyi-bench-trace --persons 2100000 --days 30   reuse the tracing bench's province"
    )]
    Api(BenchApiArgs),
    /// Daily inflow (contract §7) of a generated province, against DuckDB computing the same
    /// rows from the same Parquet files, in the same run.
    #[command(
        after_help = "Examples:\n  fangyi bench inflow                                 1,000,000 residents × 21 days in ./fangyi-bench-inflow\n  fangyi bench inflow --persons 10000000 --days 7 --window 7\n  fangyi bench inflow --dir ./fangyi-bench-trace --persons 2100000 --days 30   reuse the tracing bench's province"
    )]
    Inflow(BenchInflowArgs),
}

#[derive(Args, Debug)]
pub struct BenchApiArgs {
    /// Residents of the generated province.
    #[arg(long, default_value_t = 200_000)]
    pub persons: u64,
    /// Days simulated.
    #[arg(long, default_value_t = 21)]
    pub days: u32,
    /// Work folder (its own master key, bench.key, beside the data); a province generated there
    /// before with the same size is reused.
    #[arg(long, default_value = "./fangyi-bench-api")]
    pub dir: PathBuf,
    /// Seconds of load per scenario.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Connections sending requests at once.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
}

#[derive(Args, Debug)]
pub struct BenchVerifyArgs {
    /// Distinct FY1 codes to issue (with a temporary key) and verify.
    #[arg(long, default_value_t = 100_000)]
    pub codes: usize,
    /// Runs of each configuration; the best is reported.
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
    /// A folder of EU DCC test vectors (with vectors_index.csv) to time as well.
    #[arg(long)]
    pub dcc: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct BenchCodesArgs {
    /// Residents of the generated province.
    #[arg(long, default_value_t = 10_000_000)]
    pub persons: u64,
    /// Days simulated.
    #[arg(long, default_value_t = 7)]
    pub days: u32,
    /// Work folder (its own master key, bench.key, beside the data); a province generated there
    /// before with the same size is reused.
    #[arg(long, default_value = "./fangyi-bench-codes")]
    pub dir: PathBuf,
    /// Runs of the recompute; the best and the median are reported.
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
}

#[derive(Args, Debug)]
pub struct BenchTraceArgs {
    /// Residents of the generated province.
    #[arg(long, default_value_t = 2_100_000)]
    pub persons: u64,
    /// Days simulated.
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// Work folder (its own master key, bench.key, beside the data); a province generated there
    /// before with the same size is reused.
    #[arg(long, default_value = "./fangyi-bench-trace")]
    pub dir: PathBuf,
    /// Random cases timed one at a time (fangyi).
    #[arg(long, default_value_t = 1000)]
    pub cases: usize,
    /// Of those, how many the peers answer one at a time (each scans the tables, so slowly).
    #[arg(long, default_value_t = 100)]
    pub peer_cases: usize,
    /// Skip DuckDB and Polars.
    #[arg(long)]
    pub no_peers: bool,
}

#[derive(Args, Debug)]
pub struct BenchInflowArgs {
    /// Residents of the generated province.
    #[arg(long, default_value_t = 1_000_000)]
    pub persons: u64,
    /// Days simulated.
    #[arg(long, default_value_t = 21)]
    pub days: u32,
    /// The days counted, ending on the last simulated day.
    #[arg(long, default_value_t = 14)]
    pub window: u32,
    /// Work folder (its own master key, bench.key, beside the data); a province generated there
    /// before with the same size is reused.
    #[arg(long, default_value = "./fangyi-bench-inflow")]
    pub dir: PathBuf,
    /// Runs of each engine; the best is reported.
    #[arg(long, default_value_t = 3)]
    pub repeat: u32,
    /// Skip DuckDB.
    #[arg(long)]
    pub no_peers: bool,
}

#[derive(Args, Debug)]
pub struct BenchIngestArgs {
    /// Rows of travel CSV to generate and ingest.
    #[arg(long, default_value_t = 4_000_000)]
    pub rows: u64,
    /// Service dates the rows spread over (1 = a daily export; 30 = a month in one file,
    /// stored as 30 partitions).
    #[arg(long, default_value_t = 1)]
    pub dates: u64,
    /// Work folder, with its own master key bench.key (default: a temporary one, removed
    /// afterwards).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Runs of each configuration; the best is reported (this machine's timings vary).
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
    /// Also time DuckDB reading the same CSV into Parquet, if python3 can import duckdb.
    #[arg(long)]
    pub peers: bool,
}
