//! `fangyi keys`, `code issue`, `code revoke` and `verify`: signed, offline-verifiable codes.
//!
//! Issuer private keys are derived from the master key per generation (`vault`), never stored;
//! the data dir holds the public side (`keys/issuer.json`, `keys/trust.json`) and the issued
//! and revoked codes (`ops.db`).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use engine::EngineError;
use engine::issuer_api::{self, OfflineTrust, Outcome, Presented};

use crate::cli::TextFormat;
use crate::commands::Globals;
use crate::commands::trace_cmd::parse_as_of;
use crate::exit::usage;
use crate::operator::Operator;

#[derive(Subcommand, Debug)]
pub enum CodeAction {
    /// Evaluate a person's code and sign it as an `FY1:` payload and a QR PNG.
    Issue(CodeIssueArgs),
    /// Make a person's issued codes (or one code) fail verification from now on.
    Revoke(CodeRevokeArgs),
}

#[derive(Args, Debug)]
pub struct CodeIssueArgs {
    /// The person's ID number.
    pub person: String,
    /// The end of this date (YYYY-MM-DD); default today.
    #[arg(long)]
    pub as_of: Option<String>,
    /// A rule set file instead of the built-in one.
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// Where to write the QR code as PNG (default: code-<id>.png in the current folder).
    #[arg(long)]
    pub png: Option<PathBuf>,
    /// Hours the signed code stays valid offline (at most 168); a color is one day's judgment.
    #[arg(long, default_value_t = 24)]
    pub ttl: u32,
    /// Output (default: the payload alone on stdout, details on stderr).
    #[arg(long, value_enum)]
    pub format: Option<TextFormat>,
}

#[derive(Args, Debug)]
pub struct CodeRevokeArgs {
    /// The person's ID number: revokes all of their codes that have not expired.
    #[arg(required_unless_present = "code", conflicts_with = "code")]
    pub person: Option<String>,
    /// Revoke one code by its id (`cti` in `verify --format json`, 32 hex digits).
    #[arg(long)]
    pub code: Option<String>,
    /// Why, kept with the revocation.
    #[arg(long, default_value = "revoked by operator")]
    pub reason: String,
}

fn text_format(f: Option<TextFormat>) -> TextFormat {
    f.unwrap_or(if std::io::stdout().is_terminal() {
        TextFormat::Text
    } else {
        TextFormat::Json
    })
}

/// A small runtime for the operational database.
fn block_on<F: Future>(f: F) -> anyhow::Result<F::Output> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(f))
}

/// An error of the issuer's keeping: what the operator asked wrongly (no issuer yet, a second
/// one, a file that is not a trust list) is bad usage, the rest a failure.
fn keeping(e: EngineError) -> anyhow::Error {
    match e {
        EngineError::BadRequest(_) | EngineError::Conflict(_) => usage(e.to_string()),
        e => anyhow::Error::new(e),
    }
}

pub fn keys(g: &Globals, k: KeysCommand) -> anyhow::Result<()> {
    match k {
        KeysCommand::Init(a) => keys_init(g, a),
        KeysCommand::Rotate => keys_rotate(g),
        KeysCommand::Export(a) => keys_export(g, a),
        KeysCommand::Import(a) => keys_import(g, a),
        KeysCommand::List(a) => keys_list(g, a),
        KeysCommand::ExportRevocations(a) => export_revocations(g, a),
    }
}

/// Creates this data dir's issuer for `region` with key generation 1; refuses a second one.
pub fn init_issuer(g: &Globals, region: &str) -> anyhow::Result<issuer_api::IssuerStarted> {
    let region = engine::Region::parse(region.trim().as_bytes())
        .map_err(|e| usage(format!("--region {region}: {}", e.reason())))?;
    let keys = g.keys()?;
    issuer_api::init_issuer(g.data(), &keys, region).map_err(keeping)
}

fn keys_init(g: &Globals, a: KeysInitArgs) -> anyhow::Result<()> {
    let started = init_issuer(g, &a.region)?;
    println!(
        "issuer {}: key generation 1, kid {} (Ed25519, derived from the master key; not stored)",
        a.region.trim(),
        started.kid
    );
    println!(
        "trust list: {} (publish it with `fangyi keys export`)",
        started.trust_list.display()
    );
    Ok(())
}

fn keys_rotate(g: &Globals) -> anyhow::Result<()> {
    let keys = g.keys()?;
    let r = issuer_api::rotate_issuer(g.data(), &keys).map_err(keeping)?;
    println!(
        "issuer {}: key generation {}, kid {} signs from now on",
        r.region, r.generation, r.kid
    );
    println!(
        "kid {} retired; still trusted until {} so the codes it signed verify until they expire",
        r.retired_kid, r.retired_trusted_until
    );
    println!("publish the new trust list with `fangyi keys export`");
    Ok(())
}

fn write_or_print(out: Option<&Path>, text: &str) -> anyhow::Result<()> {
    match out {
        Some(p) => issuer_api::write_atomic(p, text.as_bytes())
            .map_err(|e| usage(format!("writing {}: {e}", p.display()))),
        None => {
            std::io::stdout().write_all(text.as_bytes())?;
            Ok(())
        }
    }
}

fn keys_export(g: &Globals, a: KeysExportArgs) -> anyhow::Result<()> {
    let (text, n) = issuer_api::export_trust(g.data(), a.all).map_err(keeping)?;
    write_or_print(a.out.as_deref(), &text)?;
    if let Some(p) = &a.out {
        eprintln!("wrote {n} keys to {}", p.display());
    }
    Ok(())
}

fn keys_import(g: &Globals, a: KeysImportArgs) -> anyhow::Result<()> {
    let r = issuer_api::import_trust(g.data(), &a.file).map_err(keeping)?;
    println!(
        "imported {}: {} new keys, {} updated, {} already trusted; the trust list has {} keys",
        a.file.display(),
        r.added,
        r.updated,
        r.incoming - r.added - r.updated,
        r.total
    );
    Ok(())
}

fn keys_list(g: &Globals, a: KeysListArgs) -> anyhow::Result<()> {
    let trusted = issuer_api::trusted_keys(g.data()).map_err(keeping)?;
    let (issuer, rows) = (trusted.signer, trusted.keys);
    match text_format(a.format) {
        TextFormat::Json => println!("{}", serde_json::Value::Array(rows)),
        TextFormat::Text => {
            if let Some((region, generation)) = &issuer {
                println!("issuer {region} — key generation {generation} signs");
            }
            println!(
                "{:<14} {:<9} {:<8} {:<26} {:<22}",
                "kid", "key", "region", "status", "not_after"
            );
            for r in &rows {
                let s = |k: &str| r[k].as_str().unwrap_or("").to_string();
                println!(
                    "{:<14} {:<9} {:<8} {:<26} {:<22}",
                    s("kid"),
                    s("key"),
                    s("region"),
                    s("status"),
                    s("not_after")
                );
            }
            if rows.is_empty() {
                println!("(no trusted keys: `fangyi keys init` or `fangyi keys import FILE`)");
            }
        }
    }
    Ok(())
}

fn export_revocations(g: &Globals, a: KeysExportArgs) -> anyhow::Result<()> {
    let (text, n) =
        block_on(issuer_api::export_revocations(g.data(), g.db.as_deref()))?.map_err(keeping)?;
    write_or_print(a.out.as_deref(), &text)?;
    if let Some(p) = &a.out {
        eprintln!("wrote {n} revoked codes to {}", p.display());
    }
    Ok(())
}

/// A code just signed and recorded, as the engine answers `POST /persons/{id}/code/issue`.
pub struct Issued {
    pub payload: String,
    pub kid: String,
    pub claims: IssuedClaims,
    /// The claims as the API shows them.
    pub claims_json: serde_json::Value,
}

/// The claims of a code just signed, as their JSON names them.
#[derive(serde::Deserialize)]
pub struct IssuedClaims {
    pub iss: String,
    pub exp: String,
    pub cti: String,
    pub color: String,
    pub valid_until: Option<String>,
    pub as_of: String,
}

/// Asks the engine to evaluate a person's code (under `rules`, default the built-in set), sign
/// it with the current key generation and record it (for revocation); `ttl` in hours. The
/// policy is checked before anything is signed, and the issue is audited.
pub fn issue_code(
    g: &Globals,
    person: &str,
    as_of: Option<&str>,
    rules: Option<&Path>,
    ttl: u32,
) -> anyhow::Result<Issued> {
    let set = engine::datadir::RuleSet::load_or_builtin(rules).map_err(|e| usage(e.to_string()))?;
    let op = Operator::open_with(g, |o| {
        o.rules = set;
        Ok(())
    })?;
    let mut request = format!("fangyi code issue {}", person.trim());
    if let Some(t) = as_of {
        request.push_str(&format!(" --as-of {}", t.trim()));
    }
    let caller = op.caller(engine::Purpose::HealthCode, &request);
    let v = op.ask_about(
        person,
        op.engine().issue_code(&caller, person, as_of, Some(ttl)),
    )?;
    let claims = anyhow::Context::context(
        serde_json::from_value(v.claims.clone()),
        "the signed code's claims",
    )?;
    Ok(Issued {
        payload: v.payload,
        kid: v.kid,
        claims,
        claims_json: v.claims,
    })
}

/// Writes the payload's QR code as a PNG (atomically).
pub fn write_png(path: &Path, payload: &str) -> anyhow::Result<()> {
    let png = engine::qr_png(payload).map_err(anyhow::Error::msg)?;
    issuer_api::write_atomic(path, &png)
        .map_err(|e| usage(format!("writing {}: {e}", path.display())))
}

pub fn issue(g: &Globals, a: CodeIssueArgs) -> anyhow::Result<()> {
    let Issued {
        payload,
        kid,
        claims,
        claims_json,
    } = issue_code(g, &a.person, a.as_of.as_deref(), a.rules.as_deref(), a.ttl)?;
    let png_path = a
        .png
        .clone()
        .unwrap_or_else(|| format!("code-{}.png", &claims.cti[..8]).into());
    write_png(&png_path, &payload)?;

    match a.format.unwrap_or(TextFormat::Text) {
        TextFormat::Json => println!(
            "{}",
            serde_json::json!({
                "payload": payload,
                "png": png_path.display().to_string(),
                "kid": kid,
                "claims": claims_json,
            })
        ),
        TextFormat::Text => {
            eprintln!(
                "issued a {} code as of {}{}: signed by {} key {}, expires {}; QR: {}",
                claims.color,
                claims.as_of,
                claims
                    .valid_until
                    .as_deref()
                    .map_or(String::new(), |d| format!(" (color valid until {d})")),
                claims.iss,
                kid,
                claims.exp,
                png_path.display()
            );
            println!("{payload}");
        }
    }
    Ok(())
}

pub fn revoke(g: &Globals, a: CodeRevokeArgs) -> anyhow::Result<()> {
    if let Some(code) = &a.code {
        let (cti, fresh) = block_on(issuer_api::revoke_code_id(
            g.data(),
            g.db.as_deref(),
            code,
            &a.reason,
        ))?
        .map_err(|e| match e {
            EngineError::BadRequest(m) => usage(format!("--code {code}: {m}")),
            e => anyhow::Error::new(e),
        })?;
        println!(
            "code {cti} {}",
            if fresh {
                "revoked"
            } else {
                "was already revoked"
            }
        );
    } else {
        let person = a.person.as_deref().unwrap_or_default();
        let op = Operator::open(g)?;
        let request = format!("fangyi code revoke {}", person.trim());
        let caller = op.caller(engine::Purpose::HealthCode, &request);
        let codes = op
            .ask_about(person, op.engine().revoke_codes(&caller, person, &a.reason))?
            .revoked;
        if codes.is_empty() {
            println!("no live codes to revoke for this person");
        } else {
            println!(
                "revoked {} code{} (ids {}); a code issued from now on is valid again",
                codes.len(),
                if codes.len() == 1 { "" } else { "s" },
                codes.join(", ")
            );
        }
    }
    eprintln!(
        "this data dir's verify sees it now; for offline verifiers: `fangyi keys export-revocations --out FILE`"
    );
    Ok(())
}

pub fn verify(g: &Globals, a: VerifyArgs) -> anyhow::Result<()> {
    let at = parse_as_of(a.at.as_deref(), engine::Zone::CST)
        .map_err(|e| usage(format!("{e}").replace("--as-of", "--at")))?
        .div_euclid(1000);
    let image;
    let code = match (&a.payload, &a.image) {
        (Some(p), _) => Presented::Payload(p),
        (None, Some(img)) => {
            image = issuer_api::read_image(img).map_err(keeping)?;
            Presented::Png(&image)
        }
        (None, None) => return Err(usage("give a payload or --image PNG")),
    };
    let from = OfflineTrust {
        trust: a.trust.as_deref(),
        revoked: a.revoked.as_deref(),
        db: g.db.as_deref(),
    };
    let (outcome, no_trust) =
        block_on(issuer_api::verify_offline(g.data(), code, from, at))?.map_err(keeping)?;
    if no_trust {
        eprintln!(
            "warning: {} has no trust list; every signer is unknown (give --trust FILE)",
            g.data().display()
        );
    }
    match text_format(a.format) {
        TextFormat::Json => println!("{}", outcome.to_json_string()),
        TextFormat::Text => print_outcome(&outcome),
    }
    if outcome.valid() {
        Ok(())
    } else {
        Err(anyhow::anyhow!("not valid: {}", outcome.reason()))
    }
}

fn print_outcome(o: &Outcome) {
    let j = o.to_json();
    let mark = |v: &serde_json::Value| match v.as_bool() {
        Some(true) => "ok",
        Some(false) => "FAILED",
        None => "-",
    };
    let kind = j["kind"].as_str().unwrap_or("unknown");
    println!(
        "{} ({kind}): {}",
        if o.valid() { "VALID" } else { "NOT VALID" },
        o.reason()
    );
    println!(
        "  decode {}  signature {}  expiry {}  key usage {}",
        mark(&j["checks"]["decode"]),
        mark(&j["checks"]["signature"]),
        mark(&j["checks"]["expiry"]),
        mark(&j["checks"]["key_usage"])
    );
    let c = &j["claims"];
    match kind {
        "fangyi" if c.get("color").is_some() => println!(
            "  color {} as of {}, valid until {}; issued by {} at {}, expires {}",
            c["color"].as_str().unwrap_or("?"),
            c["as_of"].as_str().unwrap_or("?"),
            c["valid_until"].as_str().unwrap_or("(no end date)"),
            c["iss"].as_str().unwrap_or("?"),
            c["iat"].as_str().unwrap_or("?"),
            c["exp"].as_str().unwrap_or("?")
        ),
        "dcc" if c.get("dcc").is_some() => println!(
            "  {} certificate issued by {} at {}, expires {}",
            c["type"].as_str().unwrap_or("unknown"),
            c["iss"].as_str().unwrap_or("?"),
            c["iat"].as_str().unwrap_or("?"),
            c["exp"].as_str().unwrap_or("?")
        ),
        _ => {}
    }
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Create this data dir's issuer: Ed25519 key generation 1 for a region, and its trust list.
    #[command(after_help = "Examples:\n  fangyi keys init --region 330300")]
    Init(KeysInitArgs),
    /// Make a new key generation the signer; the old key stays trusted until its codes expire.
    Rotate,
    /// Print or write this issuer's trust list (kid, public key, region, not_after per key).
    #[command(
        after_help = "Examples:\n  fangyi keys export --out zhejiang-trust.json\n  fangyi keys export --all        also the keys imported from other provinces"
    )]
    Export(KeysExportArgs),
    /// Trust another province's exported list, so its codes verify here.
    #[command(after_help = "Examples:\n  fangyi keys import hubei-trust.json")]
    Import(KeysImportArgs),
    /// The keys this data dir trusts: its own generations and imported ones.
    List(KeysListArgs),
    /// Write the revoked, not yet expired code ids for offline verifiers (`verify --revoked`).
    #[command(after_help = "Examples:\n  fangyi keys export-revocations --out revoked.json")]
    ExportRevocations(KeysExportArgs),
}

#[derive(Args, Debug)]
pub struct KeysInitArgs {
    /// The 6-digit region code this issuer signs for (the codes' `iss`).
    #[arg(long)]
    pub region: String,
}

#[derive(Args, Debug)]
pub struct KeysExportArgs {
    /// The file to write (default: stdout).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Include keys imported from elsewhere (default: this issuer's own keys only).
    #[arg(long)]
    pub all: bool,
}

#[derive(Args, Debug)]
pub struct KeysImportArgs {
    /// A trust list file (a JSON array of {"kid", "certificate" | "public_key", …}).
    pub file: PathBuf,
}

#[derive(Args, Debug)]
pub struct KeysListArgs {
    /// Output (default: a table on a terminal, JSON otherwise).
    #[arg(long, value_enum)]
    pub format: Option<TextFormat>,
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The payload: `FY1:…` or `HC1:…`.
    #[arg(required_unless_present = "image", conflicts_with = "image")]
    pub payload: Option<String>,
    /// Read the payload from a QR code in a PNG image instead.
    #[arg(long)]
    pub image: Option<PathBuf>,
    /// Trust list file (JSON array of signer entries); default: the data dir's.
    #[arg(long)]
    pub trust: Option<PathBuf>,
    /// Revoked code ids (from `keys export-revocations`); default: the data dir's ops.db if any.
    #[arg(long)]
    pub revoked: Option<PathBuf>,
    /// Check expiry at this time (RFC 3339) or the end of this date instead of now.
    #[arg(long)]
    pub at: Option<String>,
    /// Output (default: text on a terminal, JSON otherwise).
    #[arg(long, value_enum)]
    pub format: Option<TextFormat>,
}
