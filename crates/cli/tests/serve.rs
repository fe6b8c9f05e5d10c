//! The real `fangyi serve` binary: accounts made with `fangyi users`, requests over loopback
//! HTTP, `fangyi audit show/verify` on what the requests left, and Ctrl-C finishing cleanly.

mod common;

use common::{CASE, CONTACT, Env, Server, http};

/// A data dir with a confirmed case and their household member in Lucheng C1.
fn case_and_contact() -> Env {
    let env = Env::new();
    env.ingest_case_and_contact();
    env
}

#[test]
fn serve_users_and_audit_end_to_end() {
    let env = case_and_contact();

    // Accounts: the token is the last line of stdout.
    let token = env.ok(&[
        "users",
        "add",
        "li.wei",
        "--role",
        "epidemiologist",
        "--region",
        "330300",
    ]);
    let token = token.trim().lines().last().unwrap().to_string();
    assert!(token.starts_with("fyt_"), "{token}");
    env.fails(&["users", "add", "x", "--role", "root"], 2);
    env.fails(&["users", "add", "cw", "--role", "community_worker"], 2);
    let list = env.ok(&["users", "list"]);
    assert!(
        list.contains("li.wei  epidemiologist  region 330300"),
        "{list}"
    );
    assert!(!list.contains(&token), "tokens are never listed");

    let server = Server::start(&env);
    let auth = format!("Bearer {token}");
    let (status, body) = http(&server.base, "GET", "/healthz", &[]);
    assert_eq!(status, 200, "{body}");
    let (status, body) = http(
        &server.base,
        "GET",
        &format!("/api/v1/cases/{CASE}/contacts?as_of=2020-01-25"),
        &[("Authorization", &auth), ("X-Purpose", "outbreak_response")],
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(CONTACT), "{body}");
    let (status, body) = http(
        &server.base,
        "GET",
        &format!("/api/v1/persons/{CONTACT}/code?as_of=2020-01-25"),
        &[("Authorization", &auth), ("X-Purpose", "analysis")],
    );
    assert_eq!(status, 403, "{body}");

    // A revoked token is refused by the running server.
    let id = list
        .lines()
        .find_map(|l| l.trim().strip_prefix("token "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_string();
    env.ok(&["users", "revoke-token", &id]);
    let (status, _) = http(
        &server.base,
        "GET",
        &format!("/api/v1/persons/{CONTACT}/code"),
        &[("Authorization", &auth), ("X-Purpose", "health_code")],
    );
    assert_eq!(status, 401);
    let stderr = server.stop();
    assert!(stderr.contains("stopped"), "{stderr}");

    // Who looked at the contact's data, and why.
    let shown = env.ok(&["audit", "show", "--person", CONTACT, "--format", "text"]);
    assert!(
        shown.contains("li.wei (epidemiologist) for outbreak_response: trace"),
        "{shown}"
    );
    assert!(!shown.contains(CASE), "ids are masked in the log: {shown}");
    let all = env.ok(&["audit", "show", "--format", "json"]);
    let entries: serde_json::Value = serde_json::from_str(&all).unwrap();
    let outcomes: Vec<&str> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes.len(),
        3,
        "trace, the denied code, the first audit show: {all}"
    );
    assert!(
        outcomes[1].starts_with("denied: purpose analysis"),
        "{outcomes:?}"
    );
    let verified = env.ok(&["audit", "verify", "--format", "text"]);
    assert!(
        verified.starts_with("audit log intact: 4 entries"),
        "{verified}"
    );
}

#[test]
fn command_line_reads_are_audited_too() {
    let env = case_and_contact();
    env.ok(&["trace", CASE, "--as-of", "2020-01-25", "--format", "json"]);
    env.ok(&["code", CONTACT, "--as-of", "2020-01-25", "--format", "json"]);
    env.ok(&[
        "sql",
        &format!("SELECT count(*) FROM travel WHERE person_id = pseudonym('{CASE}')"),
    ]);
    // A purpose the policy does not allow for tracing is refused, and the refusal logged.
    let err = env.fails(&["--purpose", "analysis", "trace", CASE], 2);
    assert!(
        err.contains("purpose analysis is not allowed for trace"),
        "{err}"
    );
    let shown = env.ok(&["audit", "show", "--person", CONTACT, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&shown).unwrap();
    let actions: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, vec!["trace", "person_code"], "{shown}");
    assert!(
        v[0]["actor"].as_str().unwrap().starts_with("cli:"),
        "{shown}"
    );
    let all = env.ok(&["audit", "show", "--format", "json"]);
    assert!(!all.contains(CASE), "ids never in the log: {all}");
    assert!(all.contains("denied: purpose analysis"), "{all}");
    assert!(all.contains("\"action\":\"sql\""), "{all}");
    env.ok(&["audit", "verify"]);
}

#[test]
fn retention_deletes_old_partitions_and_logs_it() {
    let env = Env::new();
    let ride = |date: &str| {
        format!(
            "{CASE},rail,G1,{date},05,01A,A,420100,{date}T08:00:00+08:00,B,330300,{date}T12:00:00+08:00\n"
        )
    };
    env.write(
        "in/travel.csv",
        &format!(
            "person_id,mode,service_no,service_date,car,seat,from_station,from_region,depart_time,to_station,to_region,arrive_time\n{}{}{}",
            ride("2020-01-01"),
            ride("2020-01-20"),
            ride("2020-02-01")
        ),
    );
    env.ok(&["ingest", env.path("in").to_str().unwrap()]);
    let dry = env.ok(&[
        "retention",
        "apply",
        "--older-than",
        "28d",
        "--as-of",
        "2020-02-10",
        "--dry-run",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&dry).unwrap();
    assert_eq!(v["rows"], 1, "only 2020-01-01 is older than 28 days: {dry}");
    assert!(
        env.path("data/tables/travel/2020-01-01").exists(),
        "a dry run deletes nothing"
    );
    // Without a terminal to ask on, it shows what would go and needs --yes.
    let err = env.fails(
        &[
            "retention",
            "apply",
            "--older-than",
            "28d",
            "--as-of",
            "2020-02-10",
        ],
        2,
    );
    assert!(
        err.contains("travel") && err.contains("1 row in 1 file"),
        "{err}"
    );
    assert!(err.contains("--yes"), "{err}");
    assert!(env.path("data/tables/travel/2020-01-01").exists());
    env.ok(&[
        "retention",
        "apply",
        "--older-than",
        "28d",
        "--as-of",
        "2020-02-10",
        "--yes",
    ]);
    assert!(!env.path("data/tables/travel/2020-01-01").exists());
    let n = env.ok(&["sql", "--format", "csv", "SELECT count(*) AS n FROM travel"]);
    assert_eq!(n.lines().nth(1), Some("2"), "{n}");
    // Re-ingesting the same export does not bring the expired row back.
    env.ok(&["ingest", env.path("in").to_str().unwrap()]);
    let n = env.ok(&["sql", "--format", "csv", "SELECT count(*) AS n FROM travel"]);
    assert_eq!(n.lines().nth(1), Some("2"), "{n}");
    // The index was rebuilt without it: the old ride is gone from tracing's view too.
    env.ok(&["index"]);
    let log = env.ok(&["audit", "show", "--action", "retention", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&log).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2, "{log}");
    assert_eq!(v[1]["rows"], 1);
    env.fails(&["retention", "apply", "--older-than", "soon", "--yes"], 2);
    env.fails(
        &[
            "retention",
            "apply",
            "--older-than",
            "28d",
            "--keep",
            "persons=1d",
        ],
        2,
    );
}

#[test]
fn retention_as_of_today_against_old_data_refuses_to_delete_everything() {
    let env = Env::new();
    env.write(
        "in/travel.csv",
        &format!(
            "person_id,mode,service_no,service_date,car,seat,from_station,from_region,depart_time,to_station,to_region,arrive_time\n\
             {CASE},rail,G1,2020-01-20,05,01A,A,420100,2020-01-20T08:00:00+08:00,B,330300,2020-01-20T12:00:00+08:00\n"
        ),
    );
    env.ok(&["ingest", env.path("in").to_str().unwrap()]);
    // The default as-of is today, years after the data: every record would go.
    let err = env.fails(&["retention", "apply", "--older-than", "28d", "--yes"], 2);
    assert!(
        err.contains("newest record") && err.contains("2020-01-20"),
        "{err}"
    );
    assert!(err.contains("every personal record"), "{err}");
    assert!(err.contains("--allow-everything"), "{err}");
    let n = env.ok(&["sql", "--format", "csv", "SELECT count(*) AS n FROM travel"]);
    assert_eq!(n.lines().nth(1), Some("1"), "nothing deleted: {n}");
    // A dry run says so too, and deletes nothing.
    let dry = env.ok(&[
        "retention",
        "apply",
        "--older-than",
        "28d",
        "--dry-run",
        "--format",
        "text",
    ]);
    assert!(dry.contains("would be deleted"), "{dry}");
    // Told explicitly, it goes.
    env.ok(&[
        "retention",
        "apply",
        "--older-than",
        "28d",
        "--yes",
        "--allow-everything",
    ]);
    let n = env.ok(&["sql", "--format", "csv", "SELECT count(*) AS n FROM travel"]);
    assert_eq!(n.lines().nth(1), Some("0"), "{n}");
}

#[test]
fn commands_defaulting_to_today_say_when_the_data_is_older() {
    let env = case_and_contact();
    for args in [
        vec!["code", CONTACT],
        vec!["inflow", "--format", "json"],
        vec!["alerts", "--format", "json"],
        vec!["watch", "--format", "json"],
        vec!["roads", "--format", "json"],
        vec!["trace", CASE, "--format", "json"],
    ] {
        let out = env.run(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("answers for today")
                && err.contains("newest record")
                && err.contains("2020-01-23"),
            "{args:?}: {err}"
        );
    }
    // With --as-of, no word.
    let out = env.run(&["code", CONTACT, "--as-of", "2020-01-25"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).is_empty());
}
