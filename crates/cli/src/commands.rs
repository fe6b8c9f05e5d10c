//! Dispatch of commands, and small helpers they share for printing.

pub(crate) mod alerts_cmd;
#[cfg(feature = "cluster")]
pub(crate) mod cluster_cmd;
pub(crate) mod code_cmd;
pub(crate) mod corrections_cmd;
pub(crate) mod demo;
pub(crate) mod demo_provinces;
pub(crate) mod exposed;
pub(crate) mod gen_cmd;
pub(crate) mod hub_cmd;
pub(crate) mod import_cmd;
pub(crate) mod inflow_cmd;
pub(crate) mod ingest_cmd;
pub(crate) mod kinds;
pub(crate) mod market_cmd;
pub(crate) mod peer_cmd;
pub(crate) mod resume;
pub(crate) mod roads_cmd;
pub(crate) mod serve_cmd;

/// `fangyi cluster …` in a binary built without cluster mode: whatever follows, one clear
/// error rather than clap's "unrecognized subcommand".
#[cfg(not(feature = "cluster"))]
#[derive(clap::Args, Debug)]
pub(crate) struct NoCluster {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    args: Vec<String>,
}
pub(crate) mod signing;
pub(crate) mod sql;
pub(crate) mod stats;
pub(crate) mod trace_cmd;

use std::path::{Path, PathBuf};

use clap::ValueEnum;
use engine::datadir::{KeyLocation, Keys};

use crate::cli::{Cli, CodeAction, Command, HubCommand, KeysCommand, RulesCommand, UsersCommand};
use crate::context::Needs;

/// Options every command may use.
pub struct Globals {
    pub data: PathBuf,
    pub key: KeyLocation,
    pub db: Option<String>,
    pub purpose: Option<String>,
    pub as_role: Option<String>,
}

impl Globals {
    /// Options for a data dir of synthetic data a command makes itself (the demo, a
    /// benchmark's): its own key file `key` beside it, never the operator's key.
    pub fn own(data: PathBuf, key: PathBuf) -> Globals {
        Globals {
            data,
            key: KeyLocation::Own(key),
            db: None,
            purpose: None,
            as_role: None,
        }
    }

    pub fn keys(&self) -> anyhow::Result<Keys> {
        crate::context::keys(&self.data, &self.key)
    }

    pub fn data(&self) -> &Path {
        &self.data
    }
}

/// What `command` needs of the data dir. Every command is named, so a new one has to say.
fn needs(command: &Command, db: Option<&str>) -> Needs {
    // Accounts and the audit log live in the database `--db` names, if one is named.
    let ops = if db.is_some() {
        Needs::Nothing
    } else {
        Needs::Deployment
    };
    match command {
        Command::Demo(_)
        | Command::Gen(_)
        | Command::Kinds(_)
        | Command::Rules(RulesCommand::Show(_))
        | Command::Verify(_)
        | Command::Hub(HubCommand::AnchorKeygen(_))
        | Command::Hub(HubCommand::Add(_))
        | Command::Hub(HubCommand::Revoke(_))
        | Command::Hub(HubCommand::Publish(_))
        | Command::Hub(HubCommand::List(_))
        | Command::Hub(HubCommand::Serve(_))
        | Command::Bench(_) => Needs::Nothing,
        Command::Cluster(_) => Needs::Nothing,
        Command::Init(_)
        | Command::Ingest(_)
        | Command::Import(_)
        | Command::Users(UsersCommand::Add(_))
        | Command::Keys(KeysCommand::Init(_)) => Needs::Creates,
        Command::Alerts(a) if a.show_rules => Needs::Nothing,
        Command::Market(a) if !market_cmd::needs_store(a) => Needs::Nothing,
        Command::Sql(_)
        | Command::Trace(_)
        | Command::Cotravel(_)
        | Command::Index(_)
        | Command::Exposed(_)
        | Command::Inflow(_)
        | Command::Resume(_)
        | Command::Market(_)
        | Command::Alerts(_)
        | Command::Roads(_)
        | Command::Watch(_)
        | Command::Codes(_)
        | Command::Corrections(_)
        | Command::Peer(_)
        | Command::Rules(RulesCommand::Diff(_))
        | Command::Retention(_)
        | Command::Stats(_) => Needs::Store,
        Command::Code(a) => match a.action {
            None | Some(CodeAction::Issue(_)) => Needs::Store,
            Some(CodeAction::Revoke(_)) => ops,
        },
        Command::Serve(_)
        | Command::Keys(_)
        | Command::Hub(HubCommand::Submit(_))
        | Command::Trust(_) => Needs::Deployment,
        Command::Users(_) | Command::Audit(_) => ops,
    }
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    crate::context::require(&cli.data, needs(&cli.command, cli.db.as_deref()))?;
    trace_cmd::set_memory(cli.memory);
    let g = Globals {
        data: cli.data,
        key: KeyLocation::Operator(cli.key_file),
        db: cli.db,
        purpose: cli.purpose,
        as_role: cli.as_role,
    };
    match cli.command {
        Command::Init(a) => ingest_cmd::init(&g, a),
        Command::Demo(a) => demo::run(a),
        Command::Gen(a) => gen_cmd::run(a),
        Command::Ingest(a) => ingest_cmd::run(&g, a),
        Command::Sql(a) => sql::run(&g, a),
        #[cfg(feature = "cluster")]
        Command::Cluster(c) => cluster_cmd::run(&g, c),
        #[cfg(not(feature = "cluster"))]
        Command::Cluster(_) => anyhow::bail!(engine::sql::WITHOUT_CLUSTER),
        Command::Trace(a) => trace_cmd::run(&g, a),
        Command::Cotravel(a) => trace_cmd::cotravel(&g, a),
        Command::Index(a) => trace_cmd::index(&g, a),
        Command::Exposed(a) => exposed::run(&g, a),
        Command::Inflow(a) => inflow_cmd::run(&g, a),
        Command::Resume(a) => resume::run(&g, a),
        Command::Market(a) => market_cmd::run(&g, a),
        Command::Alerts(a) => alerts_cmd::run(&g, a),
        Command::Roads(a) => roads_cmd::roads(&g, a),
        Command::Watch(a) => roads_cmd::watch(&g, a),
        Command::Import(c) => import_cmd::run(&g, c),
        Command::Code(mut a) => match a.action.take() {
            None => code_cmd::run(&g, a),
            Some(CodeAction::Issue(i)) => signing::issue(&g, i),
            Some(CodeAction::Revoke(r)) => signing::revoke(&g, r),
        },
        Command::Codes(a) => code_cmd::codes(&g, a),
        Command::Corrections(c) => corrections_cmd::run(&g, c),
        Command::Rules(RulesCommand::Show(a)) => code_cmd::rules_show(a),
        Command::Rules(RulesCommand::Diff(a)) => code_cmd::rules_diff(&g, a),
        Command::Keys(k) => signing::keys(&g, k),
        Command::Verify(a) => signing::verify(&g, a),
        Command::Hub(c) => hub_cmd::hub(&g, c),
        Command::Trust(c) => hub_cmd::trust(&g, c),
        Command::Peer(c) => peer_cmd::run(&g, c),
        Command::Serve(a) => serve_cmd::serve(&g, a),
        Command::Users(u) => serve_cmd::users(&g, u),
        Command::Audit(a) => serve_cmd::audit(&g, a),
        Command::Retention(crate::cli::RetentionCommand::Apply(a)) => serve_cmd::retention(&g, a),
        Command::Stats(a) => stats::run(&g, a),
        Command::Kinds(a) => kinds::run(a),
        // Benchmarks work on data of their own, under keys of their own.
        Command::Bench(b) => bench::run(b).map_err(|e| match e.downcast::<bench::Usage>() {
            Ok(bench::Usage(m)) => crate::exit::usage(m),
            Err(e) => e,
        }),
    }
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A count with its noun in the right number: `1 file`, `2 files`, `12,345 rows`.
pub fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

/// Bytes in a human unit.
pub fn human_bytes(n: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

/// The output format asked for; without one, a table on a terminal and JSON otherwise.
pub fn table_format(f: Option<TableFormat>) -> TableFormat {
    use std::io::IsTerminal;
    f.unwrap_or(if std::io::stdout().is_terminal() {
        TableFormat::Table
    } else {
        TableFormat::Json
    })
}

/// An optional region flag (`--region 330300`), parsed; a bad code is bad usage naming it.
pub fn region_flag(flag: &str, s: Option<&str>) -> anyhow::Result<Option<engine::Region>> {
    s.map(|r| {
        r.parse::<engine::Region>()
            .map_err(|e| crate::exit::usage(format!("{flag} {r}: {}", e.reason())))
    })
    .transpose()
}

/// A multi-threaded runtime for DataFusion.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// Columns `s` takes on a terminal: East Asian wide characters (region names) take two.
pub fn display_width(s: &str) -> usize {
    s.chars()
        .map(|c| match c {
            '\u{1100}'..='\u{115F}'
            | '\u{2E80}'..='\u{A4CF}'
            | '\u{AC00}'..='\u{D7A3}'
            | '\u{F900}'..='\u{FAFF}'
            | '\u{FE30}'..='\u{FE4F}'
            | '\u{FF00}'..='\u{FF60}'
            | '\u{FFE0}'..='\u{FFE6}' => 2,
            _ => 1,
        })
        .sum()
}

/// `s` padded with spaces to `width` terminal columns.
pub fn pad(s: &str, width: usize) -> String {
    format!("{s}{}", " ".repeat(width.saturating_sub(display_width(s))))
}

/// A CSV field, quoted when it has to be (RFC 4180).
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Writes to standard output through `write`; a reader that stops early (`| head`) is not a
/// failure.
pub fn print_or_broken_pipe(
    write: impl FnOnce(&mut dyn std::io::Write) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut w = std::io::BufWriter::new(stdout.lock());
    let written = write(&mut w).and_then(|()| Ok(std::io::Write::flush(&mut w)?));
    match written {
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            Ok(())
        }
        other => other,
    }
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum SummaryFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum TableFormat {
    Table,
    Csv,
    Json,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum TextFormat {
    Text,
    Json,
}

#[cfg(test)]
mod tests {
    #[test]
    fn numbers_print_readably() {
        assert_eq!(super::thousands(0), "0");
        assert_eq!(super::thousands(999), "999");
        assert_eq!(super::thousands(1000), "1,000");
        assert_eq!(super::thousands(17_234_122), "17,234,122");
        assert_eq!(super::human_bytes(512), "512 B");
        assert_eq!(super::human_bytes(3 << 20), "3.0 MiB");
        assert_eq!(super::plural(1, "file", "files"), "1 file");
        assert_eq!(super::plural(0, "file", "files"), "0 files");
        assert_eq!(super::plural(1234, "row", "rows"), "1,234 rows");
    }

    #[test]
    fn wide_names_are_padded_by_their_display_width() {
        assert_eq!(super::display_width("330302 鹿城区"), 13);
        assert_eq!(super::pad("330302 鹿城区", 15), "330302 鹿城区  ");
        assert_eq!(super::pad("C1", 1), "C1");
    }

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(super::csv_field("C12"), "C12");
        assert_eq!(super::csv_field("A,B"), "\"A,B\"");
        assert_eq!(super::csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
