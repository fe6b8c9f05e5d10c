//! `fangyi resume`: work resumption (contract §8), one file per action, each owning its
//! arguments and its `run`.

pub(crate) mod decide;
pub(crate) mod forecast;
pub(crate) mod index;
pub(crate) mod matching;
pub(crate) mod plan;

use clap::{Args, Subcommand};

use crate::commands::Globals;

#[derive(Args, Debug)]
pub struct ResumeArgs {
    #[command(subcommand)]
    pub action: ResumeAction,
}

#[derive(Subcommand, Debug)]
pub enum ResumeAction {
    /// The power index of resumption (contract §8.3) per region, industry and day.
    #[command(
        after_help = "Examples:\n  fangyi resume index --from 2020-02-03 --to 2020-02-16\n  fangyi resume index --from 2020-02-10 --to 2020-02-10 --level county --by industry --format json\n  fangyi resume index --from 2020-02-03 --to 2020-02-09 --theta 0.5 --baseline 2019-11-01..2019-11-30\n\nAn enterprise's baseline is its mean kWh over the days with a reading in the baseline period\n(default October 1 to December 31 of the year before --from's); it has resumed on a day when\nits kWh that day is at least theta (default 0.3) times its baseline. index = 100 x (1/2 power\nshare + 1/2 firms share), rounded half up to 2 decimals."
    )]
    Index(index::IndexArgs),
    /// Forecasts of the power index (contract §8.3) with an interval and their backtest error.
    #[command(
        after_help = "Examples:\n  fangyi resume forecast --as-of 2020-02-14 --days 7\n  fangyi resume forecast --as-of 2020-02-14 --days 7 --by industry --format json\n  fangyi resume forecast --as-of 2020-02-14 --method festival     last year's moves, aligned on the Spring Festival\n\nEach series reads the index for --history days up to --as-of; its backtest forecasts from\nevery earlier day whose following days are known and reports MASE: the mean absolute error\nover that of \"same as the last day\" (below 1 beats it). The interval is the backtest's 10th\nto 90th percentile error at each horizon."
    )]
    Forecast(forecast::ForecastArgs),
    /// Per-employee return decisions on applications (contract §8.1).
    #[command(
        after_help = "Examples:\n  fangyi resume decide --format json\n  fangyi resume decide --application A330109-000091 --summary\n  fangyi resume decide --as-of 2020-02-17 --format csv\n\nEach row's code is taken as of the end of the day before its start date (or of --as-of's day\nwhen that is earlier). Verdicts: not_registered, not_employee, not_allowed (red by case),\noffice (green, or green by the start date), quarantine (office_date = the green date: the\nlatest end among all the rules that apply, of any colour)."
    )]
    Decide(decide::DecideArgs),
    /// The whitelist (contract §8.2): enterprises by tier and rank, with office_ready.
    #[command(
        after_help = "Examples:\n  fangyi resume plan --format json\n  fangyi resume plan --plan my-plan.toml --diff other-plan.toml\n  fangyi resume plan --show-builtin > my-plan.toml\n\nAn enterprise belongs to the first tier whose condition it meets; the list is ordered by\ntier, then local_worker_share and annual_output_cny (descending, absent = 0), then\nenterprise_id. office_ready: its employees whose decision (contract 8.1) for start date = the\ntier's resume date is office."
    )]
    Plan(plan::PlanArgs),
    /// Labour matching (contract §8.4): job openings filled with green, available seekers.
    #[command(
        after_help = "Examples:\n  fangyi resume match --date 2020-02-17 --format json\n  fangyi resume match --consent 330302199508080555 --enterprise 91330109MAWEMR2B5D\n  fangyi resume match --withdraw-consent 330302199508080555 --enterprise 91330109MAWEMR2B5D\n\nJobs go in their enterprise's whitelist rank (the built-in plan), then job_id; each opening\ntakes the best remaining seeker of the same skill in the job's prefecture, available that\nday, registered and green as of the end of the day before: same county first, then the\nearliest available_from, then person_id. An enterprise sees its seekers masked until each\nconsents (--consent, recorded and audited) and again once they withdraw it\n(--withdraw-consent)."
    )]
    Match(matching::MatchArgs),
}

pub fn run(g: &Globals, a: ResumeArgs) -> anyhow::Result<()> {
    match a.action {
        ResumeAction::Index(a) => index::run(g, a),
        ResumeAction::Forecast(a) => forecast::run(g, a),
        ResumeAction::Decide(a) => decide::run(g, a),
        ResumeAction::Plan(a) => plan::run(g, a),
        ResumeAction::Match(a) => matching::run(g, a),
    }
}
