//! `fangyi market`: market supervision of masks (contract §9) — the flagged listing captures,
//! the leads they make, and the rules file (show, diff). A thin shell over
//! `engine::market_api`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};
use engine::Date;
use engine::market_api::{Market, MarketRules, load_rules};

use crate::commands::{
    Globals, SummaryFormat, TableFormat, pad, print_or_broken_pipe, region_flag, table_format,
    thousands,
};
use crate::exit::usage;

#[derive(Args, Debug)]
pub struct MarketArgs {
    #[command(subcommand)]
    pub action: MarketAction,
}

#[derive(Subcommand, Debug)]
pub enum MarketAction {
    /// Flagged listing captures: one JSON object per capture, sorted by platform, listing and
    /// capture time, with the rules that fired and the evidence for each.
    #[command(
        after_help = "Examples:\n  fangyi market scan --format json                               every capture\n  fangyi market scan --from 2020-01-24 --to 2020-01-31 --format table\n  fangyi market scan --rules strict-market.toml --format json\n\nRules: unknown_seller, unregistered, standard_mismatch, no_standard, price_rise,\nprice_outlier, efficacy_claim (contract section 9; `fangyi market rules show`). Days are the\ncaptures' calendar days in the deployment zone; both ends are included."
    )]
    Scan(ScanArgs),
    /// Leads: flagged listings grouped per seller (or shop when there is no seller id), ranked
    /// by distinct rules, then sales, each routed to the county of the seller's region.
    #[command(
        after_help = "Examples:\n  fangyi market leads --format table\n  fangyi market leads --region 330300 --top 20 --format json"
    )]
    Leads(LeadsArgs),
    /// The market rules: print the built-in ones (or check a file), or count what a file would
    /// flag differently.
    #[command(subcommand)]
    Rules(MarketRulesCommand),
}

#[derive(Args, Debug)]
pub struct Period {
    /// The first day of capture (YYYY-MM-DD, deployment zone); default: the first there is.
    #[arg(long)]
    pub from: Option<String>,
    /// The last day of capture (YYYY-MM-DD, included); default: the last there is.
    #[arg(long)]
    pub to: Option<String>,
}

#[derive(Args, Debug)]
pub struct ScanArgs {
    #[command(flatten)]
    pub period: Period,
    /// A market rules file (default: the built-in rules).
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// `json` (one object a line) or `table`; default a table on a terminal, JSON otherwise.
    #[arg(long, value_enum)]
    pub format: Option<TableFormat>,
}

#[derive(Args, Debug)]
pub struct LeadsArgs {
    #[command(flatten)]
    pub period: Period,
    /// A market rules file (default: the built-in rules).
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// Only leads routed to a region this code covers (330300: Wenzhou's counties).
    #[arg(long)]
    pub region: Option<String>,
    /// At most this many leads (the highest ranked).
    #[arg(long)]
    pub top: Option<usize>,
    /// `json` (one array), `csv` or `table`; default a table on a terminal, JSON otherwise.
    #[arg(long, value_enum)]
    pub format: Option<TableFormat>,
}

#[derive(Subcommand, Debug)]
pub enum MarketRulesCommand {
    /// Print the built-in market rules as a file to edit, or check FILE and print it.
    #[command(
        after_help = "Examples:\n  fangyi market rules show > market.toml\n  fangyi market rules show --rules market.toml     check a file"
    )]
    Show(RulesShowArgs),
    /// How many captures each rule would flag under FILE compared with the current rules.
    #[command(
        after_help = "Examples:\n  fangyi market rules diff strict-market.toml\n  fangyi market rules diff strict-market.toml --against old.toml --from 2020-01-24 --format json"
    )]
    Diff(RulesDiffArgs),
}

#[derive(Args, Debug)]
pub struct RulesShowArgs {
    /// A market rules file to check and print.
    #[arg(long)]
    pub rules: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct RulesDiffArgs {
    /// The proposed rules.
    pub file: PathBuf,
    /// The rules to compare with (default: the built-in ones).
    #[arg(long)]
    pub against: Option<PathBuf>,
    #[command(flatten)]
    pub period: Period,
    #[arg(long, value_enum, default_value = "text")]
    pub format: SummaryFormat,
}

pub fn run(g: &Globals, a: MarketArgs) -> anyhow::Result<()> {
    match a.action {
        MarketAction::Scan(a) => scan(g, a),
        MarketAction::Leads(a) => leads(g, a),
        MarketAction::Rules(MarketRulesCommand::Show(a)) => rules_show(a),
        MarketAction::Rules(MarketRulesCommand::Diff(a)) => rules_diff(g, a),
    }
}

/// Whether the command reads the store (all but `rules show`).
pub fn needs_store(a: &MarketArgs) -> bool {
    !matches!(a.action, MarketAction::Rules(MarketRulesCommand::Show(_)))
}

fn rules(path: Option<&Path>) -> anyhow::Result<MarketRules> {
    load_rules(path).map_err(|e| usage(e.to_string()))
}

fn day(flag: &str, s: Option<&str>) -> anyhow::Result<Option<Date>> {
    s.map(|s| {
        Date::parse(s.trim().as_bytes()).map_err(|e| usage(format!("{flag} {s}: {}", e.reason())))
    })
    .transpose()
}

fn period(p: &Period) -> anyhow::Result<(Option<Date>, Option<Date>)> {
    let (from, to) = (
        day("--from", p.from.as_deref())?,
        day("--to", p.to.as_deref())?,
    );
    if let (Some(a), Some(b)) = (from, to)
        && a > b
    {
        return Err(usage(format!("--from {a} is after --to {b}")));
    }
    Ok((from, to))
}

fn open(g: &Globals) -> anyhow::Result<Market> {
    let keys = g.keys()?;
    Market::open(g.data(), &keys).with_context(|| format!("opening {}", g.data().display()))
}

fn scan(g: &Globals, a: ScanArgs) -> anyhow::Result<()> {
    let rules = rules(a.rules.as_deref())?;
    let (from, to) = period(&a.period)?;
    let found = open(g)?.scan(&rules, from, to)?;
    let format = table_format(a.format);
    print_or_broken_pipe(|w| {
        match format {
            TableFormat::Json => {
                for f in &found.flagged {
                    serde_json::to_writer(&mut *w, f)?;
                    writeln!(w)?;
                }
            }
            TableFormat::Csv => {
                writeln!(
                    w,
                    "platform,listing_id,shop_id,captured_time,unit_price_cny,rules"
                )?;
                for f in &found.flagged {
                    let rules: Vec<&str> = f.rules.iter().map(|r| rule_id(*r)).collect();
                    writeln!(
                        w,
                        "{},{},{},{},{},{}",
                        super::csv_field(&f.platform),
                        super::csv_field(&f.listing_id),
                        super::csv_field(&f.shop_id),
                        f.captured_time,
                        f.unit_price_cny,
                        rules.join(";")
                    )?;
                }
            }
            TableFormat::Table => {
                writeln!(
                    w,
                    "{:<10} {:<16} {:<14} {:<25} {:>10}  rules",
                    "platform", "listing", "shop", "captured", "unit ¥"
                )?;
                for f in &found.flagged {
                    let rules: Vec<&str> = f.rules.iter().map(|r| rule_id(*r)).collect();
                    writeln!(
                        w,
                        "{} {} {} {:<25} {:>10}  {}",
                        pad(&f.platform, 10),
                        pad(&f.listing_id, 16),
                        pad(&f.shop_id, 14),
                        f.captured_time,
                        f.unit_price_cny,
                        rules.join(", ")
                    )?;
                }
                writeln!(
                    w,
                    "{} of {} captures flagged, {} leads (fangyi market leads)",
                    thousands(found.flagged.len() as u64),
                    thousands(found.captures),
                    thousands(found.leads.len() as u64)
                )?;
            }
        }
        Ok(())
    })
}

fn rule_id(r: engine::market_api::Rule) -> &'static str {
    r.as_str()
}

fn leads(g: &Globals, a: LeadsArgs) -> anyhow::Result<()> {
    let rules = rules(a.rules.as_deref())?;
    let (from, to) = period(&a.period)?;
    let within = region_flag("--region", a.region.as_deref())?;
    let found = open(g)?.scan(&rules, from, to)?;
    let leads: Vec<_> = found
        .leads
        .into_iter()
        .filter(|l| {
            within.is_none_or(|w| {
                l.county
                    .as_deref()
                    .and_then(|c| c.parse::<engine::Region>().ok())
                    .is_some_and(|c| w.covers(c))
            })
        })
        .take(a.top.unwrap_or(usize::MAX))
        .collect();
    let format = table_format(a.format);
    print_or_broken_pipe(|w| {
        match format {
            TableFormat::Json => writeln!(w, "{}", serde_json::to_string(&leads)?)?,
            TableFormat::Csv => {
                writeln!(
                    w,
                    "rank,id,county,rules,listings,captures,sales,first_seen,last_seen"
                )?;
                for l in &leads {
                    let rules: Vec<&str> = l.rules.iter().map(|r| rule_id(*r)).collect();
                    writeln!(
                        w,
                        "{},{},{},{},{},{},{},{},{}",
                        l.rank,
                        super::csv_field(&l.id),
                        l.county.as_deref().unwrap_or(""),
                        rules.join(";"),
                        l.listings,
                        l.captures,
                        l.sales,
                        l.first_seen,
                        l.last_seen
                    )?;
                }
            }
            TableFormat::Table => {
                writeln!(
                    w,
                    "{:>4}  {:<40} {:<20} {:>8} {:>10}  rules",
                    "rank", "lead", "county", "listings", "sales"
                )?;
                for l in &leads {
                    let county = match (&l.county, &l.county_name) {
                        (Some(c), Some(n)) => format!("{c} {n}"),
                        (Some(c), None) => c.clone(),
                        _ => "(no region)".to_string(),
                    };
                    let rules: Vec<&str> = l.rules.iter().map(|r| rule_id(*r)).collect();
                    writeln!(
                        w,
                        "{:>4}  {} {} {:>8} {:>10}  {}",
                        l.rank,
                        pad(&l.id, 40),
                        pad(&county, 20),
                        l.listings,
                        thousands(l.sales.max(0) as u64),
                        rules.join(", ")
                    )?;
                }
            }
        }
        Ok(())
    })
}

fn rules_show(a: RulesShowArgs) -> anyhow::Result<()> {
    let r = rules(a.rules.as_deref())?;
    print!("{}", r.text);
    if a.rules.is_some() {
        eprintln!(
            "{}: valid (tolerance {} %, k {}, {} claim words)",
            r.origin,
            r.tolerance_percent(),
            r.k(),
            r.words.len()
        );
    }
    Ok(())
}

fn rules_diff(g: &Globals, a: RulesDiffArgs) -> anyhow::Result<()> {
    let proposed = rules(Some(&a.file))?;
    let current = rules(a.against.as_deref())?;
    let (from, to) = period(&a.period)?;
    let d = open(g)?.diff(&current, &proposed, from, to)?;
    if a.format == SummaryFormat::Json {
        println!(
            "{}",
            serde_json::json!({
                "current": current.origin,
                "proposed": proposed.origin,
                "captures": d.captures,
                "flagged": {"current": d.flagged_current, "proposed": d.flagged_proposed},
                "leads": {"current": d.leads_current, "proposed": d.leads_proposed},
                "rules": d.rules,
            })
        );
        return Ok(());
    }
    println!(
        "of {} captures, {} are flagged under {} and {} under {} ({} and {} leads):",
        thousands(d.captures),
        thousands(d.flagged_current),
        current.origin,
        thousands(d.flagged_proposed),
        proposed.origin,
        thousands(d.leads_current),
        thousands(d.leads_proposed),
    );
    println!(
        "{:<18} {:>10} {:>10} {:>8} {:>8}",
        "rule", "current", "proposed", "added", "removed"
    );
    for (rule, m) in &d.rules {
        println!(
            "{:<18} {:>10} {:>10} {:>8} {:>8}",
            rule,
            thousands(m.current),
            thousands(m.proposed),
            thousands(m.added),
            thousands(m.removed)
        );
    }
    Ok(())
}
