//! `fangyi resume plan`: the whitelist (contract §8.2) under a plan file or the built-in plan,
//! or with `--diff` which enterprises a second plan moves and why; from the engine's one path.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use engine::Purpose;
use engine::resume_plan::{PlanParams, PlanRowView};

use crate::cli::TableFormat;
use crate::commands::{Globals, print_or_broken_pipe, table_format, thousands};
use crate::exit::usage;
use crate::operator::Operator;

#[derive(Args, Debug)]
pub struct PlanArgs {
    /// The plan (TOML: [[tier]] with name, resume_date, when); default the built-in plan.
    #[arg(long)]
    pub plan: Option<PathBuf>,
    /// Another plan: list the enterprises it places elsewhere, from where to where and why.
    #[arg(long)]
    pub diff: Option<PathBuf>,
    /// Records after this instant are not used for office_ready (a date means the end of that
    /// day; default now).
    #[arg(long)]
    pub as_of: Option<String>,
    /// Print the built-in plan, as a file to edit, and stop.
    #[arg(long)]
    pub show_builtin: bool,
    /// Output (default: a table on a terminal, JSON otherwise).
    #[arg(long, value_enum)]
    pub format: Option<TableFormat>,
}

fn read(path: &Path) -> anyhow::Result<(String, String)> {
    engine::resume_plan::plan_file(path).map_err(|e| usage(e.to_string()))
}

pub fn run(g: &Globals, a: PlanArgs) -> anyhow::Result<()> {
    if a.show_builtin {
        print!("{}", engine::resume_plan::BUILT_IN_PLAN);
        return Ok(());
    }
    let params = PlanParams {
        plan: a.plan.as_deref().map(read).transpose()?,
        as_of: a.as_of.clone(),
    };
    let other = a.diff.as_deref().map(read).transpose()?;
    let mut words = "fangyi resume plan".to_string();
    if let Some(p) = &a.plan {
        words.push_str(&format!(" --plan {}", p.display()));
    }
    if let Some(p) = &a.diff {
        words.push_str(&format!(" --diff {}", p.display()));
    }
    if let Some(x) = &a.as_of {
        words.push_str(&format!(" --as-of {}", x.trim()));
    }
    let op = Operator::open(g)?;
    let caller = op.caller(Purpose::WorkResumption, &words);
    let format = table_format(a.format);
    if let Some(other) = other {
        let moves = op.ask(op.engine().resume_plan_diff(&caller, &params, other))?;
        return print_or_broken_pipe(|w| match format {
            TableFormat::Table => {
                writeln!(
                    w,
                    "Enterprises placed elsewhere: {}",
                    thousands(moves.len() as u64)
                )?;
                for m in &moves {
                    let at = |p: &Option<engine::resume_plan::Position>| {
                        p.as_ref().map_or("nowhere".to_string(), |p| {
                            format!("tier {} rank {} from {}", p.tier, p.rank, p.resume_date)
                        })
                    };
                    writeln!(
                        w,
                        "{}: {} → {} ({})",
                        m.enterprise_id,
                        at(&m.from),
                        at(&m.to),
                        m.because
                    )?;
                }
                Ok(())
            }
            _ => {
                writeln!(w, "{}", serde_json::to_string(&moves)?)?;
                Ok(())
            }
        });
    }
    let rows = op.ask(op.engine().resume_plan(&caller, &params))?;
    print_or_broken_pipe(|w| match format {
        TableFormat::Json => {
            writeln!(w, "{}", serde_json::to_string(&rows)?)?;
            Ok(())
        }
        TableFormat::Csv => write_csv(w, &rows),
        TableFormat::Table => write_table(w, &rows),
    })
}

fn opt<T: std::fmt::Display>(x: Option<T>) -> String {
    x.map_or(String::new(), |x| x.to_string())
}

fn write_csv(w: &mut dyn Write, rows: &[PlanRowView]) -> anyhow::Result<()> {
    writeln!(
        w,
        "enterprise_id,name,tier,rank,resume_date,employees,local_worker_share,annual_output_cny,office_ready"
    )?;
    for r in rows {
        writeln!(
            w,
            "{},{},{},{},{},{},{},{},{}",
            r.enterprise_id,
            crate::commands::csv_field(&r.name),
            r.tier,
            r.rank,
            r.resume_date,
            opt(r.employees),
            opt(r.local_worker_share),
            opt(r.annual_output_cny),
            r.office_ready
        )?;
    }
    Ok(())
}

fn write_table(w: &mut dyn Write, rows: &[PlanRowView]) -> anyhow::Result<()> {
    writeln!(w, "Whitelist: {} enterprises", thousands(rows.len() as u64))?;
    if rows.is_empty() {
        return Ok(());
    }
    writeln!(
        w,
        "\n{:>6}  {:>4}  {:<10}  {:<18}  {:>9}  {:>6}  {:>12}  name",
        "rank", "tier", "resume", "enterprise", "employees", "local", "office_ready"
    )?;
    for r in rows {
        writeln!(
            w,
            "{:>6}  {:>4}  {:<10}  {:<18}  {:>9}  {:>6}  {:>12}  {}",
            r.rank,
            r.tier,
            r.resume_date,
            r.enterprise_id,
            r.employees
                .map_or("-".into(), |e| thousands(e.max(0) as u64)),
            r.local_worker_share
                .map_or("-".into(), |s| format!("{s:.2}")),
            thousands(r.office_ready),
            r.name
        )?;
    }
    Ok(())
}
