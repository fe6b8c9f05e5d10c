//! `fangyi market`: market supervision of masks (contract §9) — the flagged listing captures,
//! the leads they make with their workflow (stored in the operational database), prices over
//! time (the daily median unit price and share flagged), and the rules file (show, diff). A thin shell over `engine::market_api`: every question but `rules show`
//! goes to the engine as the operator's account (`--as-role`, `--purpose`, usually
//! `market_supervision`), authorised and audited.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use engine::market_api::{LeadParams, MarketRules, PriceParams, StoredLeadView, load_rules};
use engine::{Date, Purpose};

use crate::commands::{
    Globals, SummaryFormat, TableFormat, pad, print_or_broken_pipe, region_flag, table_format,
    thousands,
};
use crate::exit::usage;
use crate::operator::Operator;

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
    /// by distinct rules, then sales, each routed to the county of the seller's region; stored
    /// with where each stands (new, assigned, verified, closed, dismissed), or moved on.
    #[command(
        after_help = "Examples:\n  fangyi market leads --format table\n  fangyi market leads --region 330300 --top 20 --format json\n  fangyi market leads --state new\n  fangyi market leads --status 7 assigned --note \"to the Lucheng team\"\n  fangyi market leads --status 9 dismissed --note \"listing removed before the emergency\"\n\nEvery capture is scanned and what it finds stored first: a seller's open lead gets the new\nfigures, never a second lead. A lead moves new -> assigned -> verified -> closed, or is\ndismissed while open (the note is the reason, required); notes are stored sealed."
    )]
    Leads(LeadsArgs),
    /// Prices over time: per capture day, prefecture and product, the median unit price, the
    /// listings and the share of them flagged, so a jump shows.
    #[command(
        after_help = "Examples:\n  fangyi market prices --format table\n  fangyi market prices --product surgical --region 330300 --from 2020-01-14 --format csv\n  fangyi market prices --format json\n\nA listing's unit price is price_cny / units; the median is over the day's captures (one per\nplatform, listing and instant) of sellers in the prefecture, as the price_outlier rule takes\nit, shown in micro-yuan (rounded half up) and yuan. A capture without seller_region is in no\nprefecture. Days are the deployment zone's; a day without captures has no row."
    )]
    Prices(PricesArgs),
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
    /// A market rules file (default: the built-in rules).
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// Only leads in this state: new, assigned, verified, closed or dismissed.
    #[arg(long)]
    pub state: Option<String>,
    /// Move lead ID to STATUS (assigned, verified, closed, dismissed) instead of listing.
    #[arg(long, num_args = 2, value_names = ["ID", "STATUS"], conflicts_with_all = ["state", "region", "top", "rules"])]
    pub status: Option<Vec<String>>,
    /// With --status: what was done, or why it is dismissed (one line, stored sealed).
    #[arg(long, requires = "status")]
    pub note: Option<String>,
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

#[derive(Args, Debug)]
pub struct PricesArgs {
    #[command(flatten)]
    pub period: Period,
    /// Only this product: medical_protective, surgical, medical, respirator or daily.
    #[arg(long)]
    pub product: Option<String>,
    /// Only the prefectures this code covers (330000: Zhejiang's; a county: its prefecture).
    #[arg(long)]
    pub region: Option<String>,
    /// A market rules file for the share flagged (default: the built-in rules).
    #[arg(long)]
    pub rules: Option<PathBuf>,
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
        MarketAction::Prices(a) => prices(g, a),
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

/// The command line as the audit log records it.
fn words(parts: &[(&str, Option<String>)]) -> String {
    let mut w = String::from("fangyi market");
    for (flag, value) in parts {
        match value {
            Some(v) if flag.is_empty() => w += &format!(" {v}"),
            Some(v) => w += &format!(" {flag} {}", v.trim()),
            None => {}
        }
    }
    w
}

fn scan(g: &Globals, a: ScanArgs) -> anyhow::Result<()> {
    let rules = rules(a.rules.as_deref())?;
    let (from, to) = period(&a.period)?;
    let op = Operator::open(g)?;
    let request = words(&[
        ("", Some("scan".into())),
        ("--from", from.map(|d| d.to_string())),
        ("--to", to.map(|d| d.to_string())),
        ("--rules", Some(rules.origin.clone())),
    ]);
    let caller = op.caller(Purpose::MarketSupervision, &request);
    let found = op.ask(op.engine().market_scan(&caller, Some(rules), from, to))?;
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

fn prices(g: &Globals, a: PricesArgs) -> anyhow::Result<()> {
    let rules = rules(a.rules.as_deref())?;
    let (from, to) = period(&a.period)?;
    region_flag("--region", a.region.as_deref())?;
    let params = PriceParams {
        from: from.map(|d| d.to_string()),
        to: to.map(|d| d.to_string()),
        product: a.product.clone(),
        region: a.region.clone(),
    };
    let op = Operator::open(g)?;
    let request = words(&[
        ("", Some("prices".into())),
        ("--from", params.from.clone()),
        ("--to", params.to.clone()),
        ("--product", a.product.clone()),
        ("--region", a.region.clone()),
        ("--rules", Some(rules.origin.clone())),
    ]);
    let caller = op.caller(Purpose::MarketSupervision, &request);
    let days = op.ask(op.engine().market_prices(&caller, Some(rules), &params))?;
    let format = table_format(a.format);
    print_or_broken_pipe(|w| {
        match format {
            TableFormat::Json => writeln!(w, "{}", serde_json::to_string(&days)?)?,
            TableFormat::Csv => {
                writeln!(
                    w,
                    "date,prefecture,product,median_unit_price_micro,median_unit_price_cny,captures,listings,flagged,flagged_share"
                )?;
                for d in &days {
                    writeln!(
                        w,
                        "{},{},{},{},{},{},{},{},{}",
                        d.date,
                        d.prefecture,
                        d.product,
                        d.median_unit_price_micro,
                        d.median_unit_price_cny,
                        d.captures,
                        d.listings,
                        d.flagged,
                        d.flagged_share
                    )?;
                }
            }
            TableFormat::Table => {
                writeln!(
                    w,
                    "{:<10}  {:<18} {:<18} {:>12} {:>9} {:>8}  flagged",
                    "date", "prefecture", "product", "median ¥", "captures", "listings"
                )?;
                for d in &days {
                    let pref = match d.prefecture_name {
                        Some(n) => format!("{} {n}", d.prefecture),
                        None => d.prefecture.clone(),
                    };
                    writeln!(
                        w,
                        "{:<10}  {} {} {:>12} {:>9} {:>8}  {} ({:.1} %)",
                        d.date,
                        pad(&pref, 18),
                        pad(d.product, 18),
                        format!("{:.6}", d.median_unit_price_cny),
                        thousands(d.captures),
                        thousands(d.listings),
                        thousands(d.flagged),
                        d.flagged_share * 100.0
                    )?;
                }
            }
        }
        Ok(())
    })
}

fn rule_id(r: engine::market_api::Rule) -> &'static str {
    r.as_str()
}

fn leads(g: &Globals, a: LeadsArgs) -> anyhow::Result<()> {
    if let Some(v) = &a.status {
        return move_lead(g, &v[0], &v[1], a.note.as_deref().unwrap_or(""));
    }
    let rules = rules(a.rules.as_deref())?;
    region_flag("--region", a.region.as_deref())?;
    let params = LeadParams {
        status: a.state.clone(),
        region: a.region.clone(),
        top: a.top,
    };
    let op = Operator::open(g)?;
    let request = words(&[
        ("", Some("leads".into())),
        ("--rules", Some(rules.origin.clone())),
        ("--state", a.state.clone()),
        ("--region", a.region.clone()),
        ("--top", a.top.map(|t| t.to_string())),
    ]);
    let caller = op.caller(Purpose::MarketSupervision, &request);
    let leads = op.ask(op.engine().market_leads(&caller, Some(rules), &params))?;
    let format = table_format(a.format);
    print_or_broken_pipe(|w| {
        match format {
            TableFormat::Json => writeln!(w, "{}", serde_json::to_string(&leads)?)?,
            TableFormat::Csv => {
                writeln!(
                    w,
                    "rank,id,subject,county,rules,listings,captures,sales,first_seen,last_seen,status,updated_by"
                )?;
                for l in &leads {
                    writeln!(
                        w,
                        "{},{},{},{},{},{},{},{},{},{},{},{}",
                        l.rank,
                        l.id,
                        super::csv_field(&l.subject),
                        l.county.as_deref().unwrap_or(""),
                        l.rules.join(";"),
                        l.listings,
                        l.captures,
                        l.sales,
                        l.first_seen,
                        l.last_seen,
                        l.status,
                        super::csv_field(l.updated_by.as_deref().unwrap_or(""))
                    )?;
                }
            }
            TableFormat::Table => write_table(w, &leads)?,
        }
        Ok(())
    })
}

fn write_table(w: &mut dyn Write, leads: &[StoredLeadView]) -> anyhow::Result<()> {
    writeln!(
        w,
        "{:>4} {:>5}  {:<40} {:<20} {:<9} {:>8} {:>10}  rules",
        "rank", "id", "lead", "county", "status", "listings", "sales"
    )?;
    for l in leads {
        let county = match (&l.county, l.county_name) {
            (Some(c), Some(n)) => format!("{c} {n}"),
            (Some(c), None) => c.clone(),
            _ => "(no region)".to_string(),
        };
        writeln!(
            w,
            "{:>4} {:>5}  {} {} {} {:>8} {:>10}  {}",
            l.rank,
            l.id,
            pad(&l.subject, 40),
            pad(&county, 20),
            pad(l.status, 9),
            l.listings,
            thousands(l.sales.max(0) as u64),
            l.rules.join(", ")
        )?;
        if let Some(n) = &l.note {
            writeln!(w, "{:>12}note: {n}", "")?;
        }
    }
    Ok(())
}

/// `--status ID STATUS [--note TEXT]`: one lead moved on.
fn move_lead(g: &Globals, id: &str, status: &str, note: &str) -> anyhow::Result<()> {
    let op = Operator::open(g)?;
    // The note is left out of the audit entry: it may name people, and is stored sealed.
    let request = format!(
        "fangyi market leads --status {} {}",
        engine::quoted(id, 20),
        engine::quoted(status, 20)
    );
    let caller = op.caller(Purpose::MarketSupervision, &request);
    let moved = op.ask_about(
        &format!("lead {}", id.trim()),
        op.engine().set_lead_status(&caller, id, status, note),
    )?;
    println!("lead {}: {} -> {}", moved.id, moved.from, moved.to);
    Ok(())
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
    let (current_origin, proposed_origin) = (current.origin.clone(), proposed.origin.clone());
    let op = Operator::open(g)?;
    let request = words(&[
        ("", Some("rules diff".into())),
        ("", Some(proposed_origin.clone())),
        ("--against", Some(current_origin.clone())),
        ("--from", from.map(|d| d.to_string())),
        ("--to", to.map(|d| d.to_string())),
    ]);
    let caller = op.caller(Purpose::MarketSupervision, &request);
    let d = op.ask(
        op.engine()
            .market_diff(&caller, current, proposed, from, to),
    )?;
    if a.format == SummaryFormat::Json {
        println!(
            "{}",
            serde_json::json!({
                "current": current_origin,
                "proposed": proposed_origin,
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
        current_origin,
        thousands(d.flagged_proposed),
        proposed_origin,
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
