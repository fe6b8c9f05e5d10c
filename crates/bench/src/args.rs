//! The arguments of `fangyi bench …`, one struct per benchmark, with examples in `--help`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

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
    /// The HTTP API under load on loopback: requests/s, p50/p99 latency and the server's CPU
    /// time per request for code lookups, traces and verifications, each audited as in
    /// production.
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
    /// Work resumption: the power index (contract §8.3) by prefecture × industry over a
    /// synthetic economy (300,000 enterprises × 120 days of readings), against DuckDB computing
    /// the same rows from the same Parquet files, in the same run; then the decisions (§8.1,
    /// 100,000 application rows) and the labour matching (§8.4, 100,000 seekers × 10,000 jobs)
    /// through the engine, against the bars.
    #[command(
        after_help = "Examples:\n  fangyi bench resume                                 all three parts in ./fangyi-bench-resume\n  fangyi bench resume --enterprises 30000 --days 60 --no-peers   a quick power index\n  fangyi bench resume --no-power --persons 20000 --applications 20000 --seekers 20000 --jobs 2000   quick decisions and matching"
    )]
    Resume(BenchResumeArgs),
    /// Market supervision (contract §9): the seven rules over every capture of a synthetic
    /// market (default 1,000,000 listing captures), against DuckDB computing the same flagged
    /// captures from the same Parquet files, in the same run, the answers compared.
    #[command(
        after_help = "Examples:\n  fangyi bench market                                 1,000,000 captures in ./fangyi-bench-market\n  fangyi bench market --captures 20000 --repeat 1    a quick run\n  fangyi bench market --no-peers\n\nBuild with --release: a debug build's times are no figures."
    )]
    Market(BenchMarketArgs),
    /// Residents in a wave against the real server (a `fangyi serve` process on loopback):
    /// sign-in through the outbox, self-reports with the server killed (SIGKILL) halfway and
    /// restarted, code lookups; then every acknowledged report is looked for in the store and
    /// the audit chain verified.
    #[command(
        after_help = "Examples:\n  fangyi bench residents                              2,000 residents, 200 at once, in ./fangyi-bench-residents\n  fangyi bench residents --residents 500 --seconds 10   a quick run\n  fangyi bench residents --no-kill                    the wave without the SIGKILL"
    )]
    Residents(BenchResidentsArgs),
    /// How each bulk step grows with the province: generated provinces of several sizes, each
    /// step (generate, ingest, index in a memory budget, trace --all on the index and as SQL,
    /// the code sweep, inflow; with --cluster also trace --all, codes and inflow on a loopback
    /// Ballista cluster) a child process timed with its peak RSS, and the growth exponent
    /// between sizes.
    #[command(
        after_help = "Examples:\n  fangyi bench scale                                  1 M, 5 M and 10 M residents × 30 days in ./fangyi-bench-scale\n  fangyi bench scale --sizes 100000,300000 --days 14   a quick run\n  fangyi bench scale --sizes 1000000 --cluster --json scale.json\n\nEvery size is generated afresh (its input removed after ingest unless --keep-input); a\nprovince of 10 M residents × 30 days needs tens of GB of disk and hours on 2 cores."
    )]
    Scale(BenchScaleArgs),
    /// Health attestations between two deployments (issue 19): a batch of arrivals asked of
    /// the home province served on loopback, answered, verified and stored, then folded into
    /// the arrival province's codes of everyone.
    #[command(
        after_help = "Examples:\n  fangyi bench attest                      10,000 arrivals in ./fangyi-bench-attest\n  fangyi bench attest --persons 1000       a quick run\n\nBuild with --release: a debug build's times are no figures."
    )]
    Attest(BenchAttestArgs),
}

#[derive(Args, Debug)]
pub struct BenchAttestArgs {
    /// Arrivals in the batch (each a resident of the home province).
    #[arg(long, default_value_t = 10_000)]
    pub persons: u64,
    /// Work folder: both provinces are built afresh there.
    #[arg(long, default_value = "./fangyi-bench-attest")]
    pub dir: PathBuf,
}

#[derive(Args, Debug)]
pub struct BenchScaleArgs {
    /// Residents per province, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1000000,5000000,10000000"
    )]
    pub sizes: Vec<u64>,
    /// Days simulated.
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// The trace index's memory budget (as `fangyi index --memory`; default 2GiB). The same
    /// argument as the global `--memory`, so its type must be the same.
    #[arg(long, value_name = "SIZE")]
    pub memory: Option<trace::MemoryBudget>,
    /// Also run trace --all, the full code sweep and inflow on a scheduler and two executors
    /// started on loopback (a binary built with `--features cluster`).
    #[arg(long)]
    pub cluster: bool,
    /// Keep each size's generated input (removed after ingest by default).
    #[arg(long)]
    pub keep_input: bool,
    /// Write the measurements as JSON here too.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Work folder (its own master key, bench.key); sizes measured before are generated again.
    #[arg(long, default_value = "./fangyi-bench-scale")]
    pub dir: PathBuf,
}

#[derive(Args, Debug)]
pub struct BenchResidentsArgs {
    /// Residents of the generated province around the bench's own (its cases and records).
    #[arg(long, default_value_t = 50_000)]
    pub persons: u64,
    /// Days of the generated province.
    #[arg(long, default_value_t = 14)]
    pub days: u32,
    /// Residents who sign in and report (registered by the bench with phones of their own).
    #[arg(long, default_value_t = 2_000)]
    pub residents: u64,
    /// Residents reporting at once.
    #[arg(long, default_value_t = 200)]
    pub concurrency: usize,
    /// Self-reports offered per second, spread over the residents reporting at once (latency
    /// counted from when each was due); 0: each resident sends as soon as answered.
    #[arg(long, default_value_t = 2000.0)]
    pub rate: f64,
    /// Residents fetching their codes at once.
    #[arg(long, default_value_t = 200)]
    pub code_concurrency: usize,
    /// Code lookups offered per second by those residents, for the latency bar (0: as fast as
    /// answered). The saturation throughput is measured after, as fast as answered.
    #[arg(long, default_value_t = 4000.0)]
    pub code_rate: f64,
    /// Seconds of the report wave (the code phase takes half as long).
    #[arg(long, default_value_t = 20.0)]
    pub seconds: f64,
    /// The server's flush interval, seconds (`serve --flush-every`).
    #[arg(long, default_value_t = 5)]
    pub flush_every: u64,
    /// Do not kill the server mid-wave.
    #[arg(long)]
    pub no_kill: bool,
    /// Work folder (its own master key, bench.key, beside the data).
    #[arg(long, default_value = "./fangyi-bench-residents")]
    pub dir: PathBuf,
}

#[derive(Args, Debug)]
pub struct BenchResumeArgs {
    /// Enterprises of the synthetic economy.
    #[arg(long, default_value_t = 300_000)]
    pub enterprises: u64,
    /// Days of readings from December 1, 2019 (December is the baseline; the index runs from
    /// January 1).
    #[arg(long, default_value_t = 120)]
    pub days: u32,
    /// Work folder (its own master key, bench.key, beside the data); an economy written there
    /// before with the same size is reused.
    #[arg(long, default_value = "./fangyi-bench-resume")]
    pub dir: PathBuf,
    /// Runs of each engine; the best is reported.
    #[arg(long, default_value_t = 3)]
    pub repeat: u32,
    /// Skip DuckDB.
    #[arg(long)]
    pub no_peers: bool,
    /// Skip the power index.
    #[arg(long)]
    pub no_power: bool,
    /// Skip the decisions (contract §8.1).
    #[arg(long)]
    pub no_decide: bool,
    /// Skip the labour matching (contract §8.4).
    #[arg(long)]
    pub no_match: bool,
    /// Residents of the province generated for the decisions and the matching (in DIR/work).
    #[arg(long, default_value_t = 100_000)]
    pub persons: u64,
    /// Application rows decided (the generator's, topped up from its employment).
    #[arg(long, default_value_t = 100_000)]
    pub applications: u64,
    /// Job seekers matched (drawn from the residents).
    #[arg(long, default_value_t = 100_000)]
    pub seekers: u64,
    /// Jobs filled (of the generated enterprises, 1–8 openings each).
    #[arg(long, default_value_t = 10_000)]
    pub jobs: u64,
}

#[derive(Args, Debug)]
pub struct BenchMarketArgs {
    /// Listing captures written and scanned (one in two hundred a later re-capture of the
    /// one before, at the same instant).
    #[arg(long, default_value_t = 1_000_000)]
    pub captures: u64,
    /// Work folder (its own master key, bench.key, beside the data); a market written there
    /// before with the same size is reused.
    #[arg(long, default_value = "./fangyi-bench-market")]
    pub dir: PathBuf,
    /// Runs of each engine; the best is reported.
    #[arg(long, default_value_t = 3)]
    pub repeat: u32,
    /// Skip DuckDB.
    #[arg(long)]
    pub no_peers: bool,
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
    /// The index build's memory budget (2GiB, 512MiB): it is built (again, when the province
    /// is reused with --rebuild-index) by a child `fangyi index --memory SIZE`, whose time and
    /// peak RSS are printed. Default: the machine's (a quarter of its memory).
    #[arg(long, value_name = "SIZE")]
    pub memory: Option<trace::MemoryBudget>,
    /// Rebuild the index even if the reused province has a current one (to measure the build).
    #[arg(long)]
    pub rebuild_index: bool,
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
