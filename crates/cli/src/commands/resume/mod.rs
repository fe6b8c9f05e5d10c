//! `fangyi resume`: work resumption (contract §8), one file per action, each owning its
//! arguments and its `run`.

pub(crate) mod index;

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
}

pub fn run(g: &Globals, a: ResumeArgs) -> anyhow::Result<()> {
    match a.action {
        ResumeAction::Index(a) => index::run(g, a),
    }
}
