//! The access matrix at the command line, like the API's (`crates/server/tests/api.rs`): every
//! command that reads personal data, run as the real binary under each role (`--as-role`) and
//! each purpose (`--purpose`), is answered exactly when the policy allows that role the purpose
//! for the command's action, is refused (exit 2) otherwise, and writes exactly one audit entry
//! either way — with the role, purpose and action, and for an answer about people, whom it
//! showed.

mod common;

use common::{CASE, CONTACT, EXPOSED_WUHAN, Env};
use engine::{Action, Purpose, Role};
use ops::{AuditFilter, AuditRecord};

/// A data dir with a confirmed case and their household member in Lucheng C1, and an issuer
/// key for signed codes.
fn case_and_contact() -> Env {
    let env = Env::new();
    env.ingest_case_and_contact();
    env.ok(&["keys", "init", "--region", "330300"]);
    env
}

/// Every entry of the data dir's audit log, read from the database (reading it through
/// `fangyi audit show` would add an entry of its own).
fn audit_log(env: &Env) -> Vec<AuditRecord> {
    env.ops_db(async |db| {
        let filter = AuditFilter {
            limit: Some(1_000_000),
            ..AuditFilter::default()
        };
        db.audit_records(&filter).await.unwrap()
    })
}

/// A command that reads personal data (or the log), the action the policy knows it by, and
/// whether an answer shows persons.
struct Read {
    args: Vec<String>,
    action: Action,
    shows_persons: bool,
}

fn reads(env: &Env) -> Vec<Read> {
    let out = |name: &str| env.path(name).to_str().unwrap().to_string();
    let read = |args: &[&str], action, shows_persons| Read {
        args: args.iter().map(|s| s.to_string()).collect(),
        action,
        shows_persons,
    };
    let json = ["--format", "json"];
    vec![
        read(
            &[&["trace", CASE, "--as-of", "2020-01-25"], &json[..]].concat(),
            Action::Trace,
            true,
        ),
        read(
            &[&["code", CONTACT, "--as-of", "2020-01-25"], &json[..]].concat(),
            Action::PersonCode,
            true,
        ),
        read(
            &[
                "code",
                "issue",
                CONTACT,
                "--as-of",
                "2020-01-25",
                "--format",
                "json",
                "--png",
                &out("code.png"),
            ],
            Action::IssueCode,
            true,
        ),
        read(&["code", "revoke", CONTACT], Action::RevokeCode, true),
        read(
            &["codes", "--as-of", "2020-01-25", "--out", &out("codes.csv")],
            Action::CommunityCodes,
            true,
        ),
        read(
            &[&EXPOSED_WUHAN[..], &json[..]].concat(),
            Action::Returnees,
            false,
        ),
        read(
            &[&EXPOSED_WUHAN[..], &["--summary"], &json[..]].concat(),
            Action::ReturneesSummary,
            false,
        ),
        read(
            &[&["watch", "--as-of", "2020-01-25"], &json[..]].concat(),
            Action::Returnees,
            false,
        ),
        read(
            &[&["watch", "--as-of", "2020-01-25", "--summary"], &json[..]].concat(),
            Action::ReturneesSummary,
            false,
        ),
        read(
            &[&["inflow", "--as-of", "2020-01-25"], &json[..]].concat(),
            Action::Inflow,
            false,
        ),
        read(
            &[&["roads", "--as-of", "2020-01-25"], &json[..]].concat(),
            Action::Inflow,
            false,
        ),
        read(
            &[&["alerts", "--as-of", "2020-01-25"], &json[..]].concat(),
            Action::Alerts,
            false,
        ),
        read(
            &[
                "sql",
                "--format",
                "csv",
                "SELECT count(*) AS n FROM persons",
            ],
            Action::Sql,
            false,
        ),
        read(
            &["corrections", "list", "--format", "json"],
            Action::ReadCorrections,
            false,
        ),
        read(
            &["audit", "show", "--format", "json"],
            Action::AuditRead,
            false,
        ),
        read(
            &["audit", "verify", "--format", "json"],
            Action::AuditRead,
            false,
        ),
        read(
            &[
                "resume",
                "index",
                "--from",
                "2020-01-20",
                "--to",
                "2020-01-25",
                "--format",
                "json",
            ],
            Action::ResumeIndex,
            false,
        ),
        read(
            &[
                "resume",
                "forecast",
                "--as-of",
                "2020-01-25",
                "--format",
                "json",
            ],
            Action::ResumeIndex,
            false,
        ),
        read(
            &[
                "resume",
                "decide",
                "--as-of",
                "2020-01-25",
                "--format",
                "json",
            ],
            Action::ResumeDecide,
            false,
        ),
        read(
            &[
                "resume",
                "plan",
                "--as-of",
                "2020-01-25",
                "--format",
                "json",
            ],
            Action::ResumePlan,
            false,
        ),
        read(
            &[
                "resume",
                "match",
                "--date",
                "2020-01-25",
                "--format",
                "json",
            ],
            Action::ResumeMatch,
            false,
        ),
        read(
            &[
                "resume",
                "match",
                "--consent",
                CONTACT,
                "--enterprise",
                ENTERPRISE,
                "--format",
                "json",
            ],
            Action::ResumeConsent,
            true,
        ),
        // Market supervision: the leads (none in this city), no person.
        read(
            &[&["market", "leads"], &json[..]].concat(),
            Action::Market,
            false,
        ),
    ]
}

/// An enterprise's id, for consents.
const ENTERPRISE: &str = "91330302MA0000001N";

#[test]
fn every_command_line_read_is_decided_by_the_policy_and_audited_once() {
    let env = case_and_contact();
    let mut seen = audit_log(&env).len();
    let mut answered = 0;
    let mut refused = 0;
    let mut wrong = Vec::new();
    for read in reads(&env) {
        for &role in Role::ALL {
            for &purpose in Purpose::ALL {
                let allowed = engine::purposes(role, read.action).contains(&purpose);
                let mut args = vec![
                    "--as-role".to_string(),
                    role.as_str().to_string(),
                    "--purpose".to_string(),
                    purpose.as_str().to_string(),
                ];
                args.extend(read.args.iter().cloned());
                let words: Vec<&str> = args.iter().map(String::as_str).collect();
                let out = env.run(&words);
                let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
                let code = out.status.code();
                let what = format!("{role} for {purpose}: fangyi {}", read.args.join(" "));
                // `--as-role enterprise` names no enterprise: allowed by the table, it is
                // refused by its scope (nothing of any enterprise's), audited as a denial.
                // `--as-role resident` names no person: refused the same way, but for what
                // anyone may do.
                let no_person = allowed
                    && role == Role::Resident
                    && engine::purposes(Role::Public, read.action).is_empty();
                let no_enterprise = allowed && role == Role::Enterprise || no_person;
                match (allowed, code) {
                    (true, Some(2))
                        if no_enterprise
                            && (stderr.contains("names no enterprise")
                                || stderr.contains("names no person")) =>
                    {
                        refused += 1;
                    }
                    (true, Some(0)) if !no_enterprise => answered += 1,
                    (false, Some(2))
                        if stderr.contains("not allowed") || stderr.contains("does not allow") =>
                    {
                        refused += 1;
                        if !out.stdout.is_empty() {
                            wrong.push(format!("{what}: refused but printed an answer"));
                        }
                    }
                    _ => wrong.push(format!(
                        "{what}: allowed {allowed}, exit {code:?}: {}",
                        stderr.trim()
                    )),
                }
                let log = audit_log(&env);
                let new = &log[seen..];
                seen = log.len();
                if new.len() != 1 {
                    wrong.push(format!("{what}: {} audit entries", new.len()));
                    continue;
                }
                let e = &new[0].entry;
                let ok = e.actor.starts_with("cli:")
                    && e.role == role.as_str()
                    && e.purpose == purpose.as_str()
                    && e.action == read.action.as_str()
                    && if no_enterprise {
                        e.outcome.starts_with("denied: ") && e.persons.is_empty()
                    } else if allowed {
                        e.outcome.starts_with("ok")
                    } else {
                        e.outcome.starts_with("denied: ") && e.persons.is_empty()
                    };
                if !ok {
                    wrong.push(format!("{what}: entry {e:?}"));
                }
                if allowed && !no_enterprise && read.shows_persons && e.persons.is_empty() {
                    wrong.push(format!("{what}: the entry names no one it showed: {e:?}"));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "access matrix:\n{}", wrong.join("\n"));
    assert!(
        answered > 20 && refused > 100,
        "{answered} answered, {refused} refused"
    );
    // No ID number in the log, whoever asked.
    let log = audit_log(&env);
    assert!(
        log.iter().all(|r| !format!("{:?}", r.entry).contains(CASE)
            && !format!("{:?}", r.entry).contains(CONTACT)),
        "ids in the audit log"
    );
}

#[test]
fn a_role_below_the_operators_sees_what_that_role_sees() {
    let env = case_and_contact();
    // An epidemiologist traces with full identities; a community worker may ask for a code but
    // sees the case behind it masked, and may not trace at all.
    let traced = env.ok(&[
        "--as-role",
        "epidemiologist",
        "trace",
        CASE,
        "--as-of",
        "2020-01-25",
        "--format",
        "json",
    ]);
    assert!(traced.contains(CONTACT), "{traced}");
    let code = env.ok(&[
        "--as-role",
        "community_worker",
        "--purpose",
        "health_code",
        "code",
        CONTACT,
        "--as-of",
        "2020-01-25",
        "--format",
        "json",
    ]);
    assert!(code.contains("\"color\":\"red\""), "{code}");
    assert!(
        !code.contains(CASE),
        "the case is masked in a reason: {code}"
    );
    let err = env.fails(&["--as-role", "community_worker", "trace", CASE], 2);
    assert!(err.contains("does not allow trace"), "{err}");
    // An analyst's SQL sees the de-identified tables: no pseudonym() to look a person up.
    let err = env.fails(
        &[
            "--as-role",
            "analyst",
            "sql",
            &format!("SELECT count(*) FROM persons WHERE person_id = pseudonym('{CASE}')"),
        ],
        2,
    );
    assert!(err.contains("pseudonym"), "{err}");
    env.fails(&["--as-role", "root", "trace", CASE], 2);
}
