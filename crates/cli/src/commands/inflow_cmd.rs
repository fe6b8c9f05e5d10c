//! `fangyi inflow`: arrivals per region and day (contract §7) as a table, JSON or CSV, computed
//! by the engine's one inflow path.

use std::io::Write;

use clap::{Args, ValueEnum};
use engine::Purpose;
use engine::Region;
use engine::inflow_api::{self, InflowParams, InflowRow, InflowVia, InflowView};

use crate::cli::TableFormat;
use crate::commands::{Globals, csv_field, pad, print_or_broken_pipe, table_format, thousands};
use crate::context;
use crate::operator::Operator;

#[derive(Args, Debug)]
pub struct InflowArgs {
    /// The last day counted (YYYY-MM-DD, deployment zone; default today).
    #[arg(long)]
    pub as_of: Option<String>,
    /// The areas arrivals are counted into.
    #[arg(long, value_enum, default_value_t = InflowLevelArg::Prefecture)]
    pub level: InflowLevelArg,
    /// How many days, ending on --as-of.
    #[arg(long, default_value_t = 14)]
    pub days: u32,
    /// Only destinations this code covers (330300: Wenzhou and its counties).
    #[arg(long)]
    pub region: Option<String>,
    /// Add region names and the split by origin risk level (high, medium, low, none) to JSON
    /// and CSV; the default JSON is exactly the contract's shape.
    #[arg(long)]
    pub detail: bool,
    /// Output (default: a table on a terminal, JSON otherwise).
    #[arg(long, value_enum)]
    pub format: Option<TableFormat>,
    #[command(flatten)]
    pub via: ViaArgs,
}

/// How a bulk scan is computed: `--via` and `--cluster`, for `inflow` and `exposed`.
#[derive(Args, Debug)]
pub struct ViaArgs {
    /// Count with the inflow scan, or with one SQL statement over the stored tables on the
    /// embedded DataFusion (the same rows; the statement a cluster runs).
    #[arg(long, value_enum, default_value_t = Via::Scan)]
    pub via: Via,
    /// Run that SQL statement on the Ballista cluster whose scheduler is at HOST:PORT (see
    /// `fangyi cluster`; implies --via sql).
    #[arg(long, env = "FANGYI_CLUSTER", value_name = "HOST:PORT")]
    pub cluster: Option<String>,
}

/// `--via`: how the answer is computed.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    Scan,
    Sql,
}

impl ViaArgs {
    /// The cluster's address, if one was named (an empty value names none).
    pub fn cluster(&self) -> Option<String> {
        self.cluster.clone().filter(|c| !c.trim().is_empty())
    }

    /// The engine's choice: a cluster implies SQL.
    pub fn engine_via(&self) -> InflowVia {
        match self.via {
            _ if self.cluster().is_some() => InflowVia::Sql,
            Via::Scan => InflowVia::Scan,
            Via::Sql => InflowVia::Sql,
        }
    }

    /// The words the audited request gets (` --cluster HOST:PORT`, ` --via sql` or nothing).
    pub fn words(&self) -> String {
        match (self.cluster(), self.via) {
            (Some(c), _) => format!(" --cluster {c}"),
            (None, Via::Scan) => String::new(),
            (None, Via::Sql) => " --via sql".into(),
        }
    }

    /// The operator, its engine running SQL on the cluster when one was named.
    pub fn operator(&self, g: &Globals) -> anyhow::Result<Operator> {
        let cluster = self.cluster();
        Operator::open_with(g, |o| {
            o.cluster = cluster;
            Ok(())
        })
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum InflowLevelArg {
    Province,
    Prefecture,
    County,
    /// County arrivals split by the community where each person stays.
    Community,
}

impl InflowLevelArg {
    pub fn as_str(self) -> &'static str {
        match self {
            InflowLevelArg::Province => "province",
            InflowLevelArg::Prefecture => "prefecture",
            InflowLevelArg::County => "county",
            InflowLevelArg::Community => "community",
        }
    }
}

pub fn run(g: &Globals, a: InflowArgs) -> anyhow::Result<()> {
    warn_default_as_of(g, a.as_of.as_deref())?;
    let params = InflowParams {
        as_of: a.as_of.clone(),
        level: Some(a.level.as_str().to_string()),
        days: Some(a.days),
        region: a.region.clone(),
    };
    let words = format!(
        "fangyi inflow{} --level {} --days {}{}{}",
        a.as_of
            .as_deref()
            .map_or(String::new(), |t| format!(" --as-of {}", t.trim())),
        a.level.as_str(),
        a.days,
        a.region
            .as_deref()
            .map_or(String::new(), |r| format!(" --region {r}")),
        a.via.words()
    );
    let op = a.via.operator(g)?;
    let caller = op.caller(Purpose::Analysis, &words);
    let (request, rows) = op.ask(op.engine().inflow_rows_via(
        &caller,
        &params,
        a.via.engine_via(),
    ))?;
    let format = table_format(a.format);
    print_or_broken_pipe(|w| match format {
        TableFormat::Json => {
            let views: Vec<InflowView> =
                rows.iter().map(|r| InflowView::new(r, a.detail)).collect();
            writeln!(w, "{}", serde_json::to_string(&views)?)?;
            Ok(())
        }
        TableFormat::Csv => write_csv(w, &rows, a.detail),
        TableFormat::Table => write_table(w, &rows, &request),
    })
}

/// Warns when no `--as-of` was given and the store's newest record is older than today.
pub fn warn_default_as_of(g: &Globals, as_of: Option<&str>) -> anyhow::Result<()> {
    if as_of.is_none() {
        let keys = g.keys()?;
        let store = context::store(g.data(), &keys)?;
        context::warn_default_as_of(&store, as_of);
    }
    Ok(())
}

/// `420100:120:0.291;…` — origin, persons, share.
fn origins_cell(r: &InflowRow) -> String {
    r.top_origins
        .iter()
        .map(|o| {
            format!(
                "{}:{}:{}",
                o.region,
                o.persons,
                share_text(r.share_millis(o.persons))
            )
        })
        .collect::<Vec<_>>()
        .join(";")
}

/// Thousandths as a decimal with no trailing zeros (`291` → `0.291`, `500` → `0.5`).
fn share_text(millis: u32) -> String {
    let s = format!("{}.{:03}", millis / 1000, millis % 1000);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn write_csv(w: &mut dyn Write, rows: &[InflowRow], detail: bool) -> anyhow::Result<()> {
    let mut header = String::from("region,");
    if detail {
        header.push_str("name,");
    }
    header.push_str(
        "community,date,arrivals,from_high_risk,rail,flight,coach,ship,road,registration,",
    );
    if detail {
        header.push_str("origin_high,origin_medium,origin_low,origin_none,");
    }
    header.push_str("top_origins");
    writeln!(w, "{header}")?;
    for r in rows {
        let mut line = format!("{},", r.region);
        if detail {
            line.push_str(&csv_field(r.region.place_name().unwrap_or("")));
            line.push(',');
        }
        line.push_str(&csv_field(r.community.as_deref().unwrap_or("")));
        line.push_str(&format!(",{},{},{}", r.date, r.arrivals, r.from_high_risk));
        for n in r.by_kind {
            line.push_str(&format!(",{n}"));
        }
        if detail {
            for n in r.by_origin_risk {
                line.push_str(&format!(",{n}"));
            }
        }
        line.push(',');
        line.push_str(&origins_cell(r));
        writeln!(w, "{line}")?;
    }
    Ok(())
}

fn label(r: Region) -> String {
    match r.place_name() {
        Some(n) => format!("{r} {n}"),
        None => r.to_string(),
    }
}

fn write_table(
    w: &mut dyn Write,
    rows: &[InflowRow],
    request: &inflow_api::InflowRequest,
) -> anyhow::Result<()> {
    let q = request.query;
    let total: u64 = rows.iter().map(|r| u64::from(r.arrivals)).sum();
    writeln!(
        w,
        "Arrivals per {} and day, {} to {} ({} day{}): {} person-days in {} row{}",
        q.level.as_str(),
        q.period.first(),
        q.period.last(),
        q.period.days(),
        if q.period.days() == 1 { "" } else { "s" },
        thousands(total),
        rows.len(),
        if rows.len() == 1 { "" } else { "s" },
    )?;
    if rows.is_empty() {
        return Ok(());
    }
    writeln!(
        w,
        "\n{}  {:<10}  {:>8}  {:>9}  {:>7}  {:>6}  {:>5}  {:>4}  {:>6}  {:>10}  top origins",
        pad("region", 24),
        "date",
        "arrivals",
        "high-risk",
        "rail",
        "flight",
        "coach",
        "ship",
        "road",
        "registered"
    )?;
    for r in rows {
        let mut place = label(r.region);
        if let Some(c) = &r.community {
            place.push_str(&format!(" / {c}"));
        }
        let [rail, flight, coach, ship, road, registration] = r.by_kind;
        let top: Vec<String> = r
            .top_origins
            .iter()
            .take(3)
            .map(|o| {
                format!(
                    "{} {:.1}%",
                    label(o.region),
                    f64::from(r.share_millis(o.persons)) / 10.0
                )
            })
            .collect();
        writeln!(
            w,
            "{}  {:<10}  {:>8}  {:>9}  {:>7}  {:>6}  {:>5}  {:>4}  {:>6}  {:>10}  {}",
            pad(&place, 24),
            r.date.to_string(),
            thousands(u64::from(r.arrivals)),
            thousands(u64::from(r.from_high_risk)),
            thousands(u64::from(rail)),
            thousands(u64::from(flight)),
            thousands(u64::from(coach)),
            thousands(u64::from(ship)),
            thousands(u64::from(road)),
            thousands(u64::from(registration)),
            top.join(", ")
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_print_without_trailing_zeros() {
        assert_eq!(share_text(291), "0.291");
        assert_eq!(share_text(500), "0.5");
        assert_eq!(share_text(1000), "1");
        assert_eq!(share_text(0), "0");
        assert_eq!(share_text(7), "0.007");
    }
}
