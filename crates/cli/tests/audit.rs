//! `fangyi audit verify` against a log someone shortened with write access to the operational
//! database but not the master key: entries deleted from the end with the head moved back, and
//! the whole log emptied. The first is caught by the head's MAC, the second by the checkpoint
//! kept outside the database (`DIR/audit-checkpoint`); each check is itself audited.

mod common;

use common::Env;

/// Runs SQL on the data dir's operational database, as someone with write access to it.
fn tamper(env: &Env, statements: &[&str]) {
    env.ops_db(async |db| {
        for s in statements {
            ops::testing::execute(db, s).await;
        }
    });
}

fn verify(env: &Env) -> serde_json::Value {
    let out = env.run(&["audit", "verify", "--format", "json"]);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "audit verify printed no JSON: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn a_shortened_or_emptied_log_fails_verify() {
    let env = Env::new();
    env.ok(&["init"]);
    // Each read of the log is an entry; each check too (after it has checked).
    for _ in 0..4 {
        env.ok(&["audit", "show", "--format", "json"]);
    }
    let v = verify(&env);
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(v["entries"], 4, "{v}");
    assert!(
        v["checkpoint_seq"].as_i64().is_some_and(|c| c >= 3),
        "the checkpoint follows the head: {v}"
    );
    assert!(env.path("data/audit-checkpoint").exists());
    let log = env.ok(&[
        "audit",
        "show",
        "--action",
        "audit_read",
        "--format",
        "json",
    ]);
    assert!(
        log.contains("fangyi audit verify"),
        "the check is audited: {log}"
    );

    // Delete the newest entries and move the head back to match: the head's MAC fails.
    tamper(
        &env,
        &[
            "DELETE FROM audit_log WHERE seq > 2",
            "DELETE FROM audit_persons WHERE seq > 2",
            "UPDATE audit_head SET seq = 2, hash = (SELECT hash FROM audit_log WHERE seq = 2) WHERE id = 1",
        ],
    );
    let err = env.fails(&["audit", "verify", "--format", "text"], 1);
    assert!(err.contains("fails authentication"), "{err}");
    let v = verify(&env);
    assert_eq!(v["valid"], false, "{v}");

    // Empty the log and reset the head as if new: the checkpoint outside says otherwise.
    tamper(
        &env,
        &[
            "DELETE FROM audit_log",
            "DELETE FROM audit_persons",
            "UPDATE audit_head SET seq = 0, mac = NULL, \
             hash = '0000000000000000000000000000000000000000000000000000000000000000' WHERE id = 1",
        ],
    );
    let err = env.fails(&["audit", "verify", "--format", "text"], 1);
    assert!(
        err.contains("kept outside the database says it reached"),
        "{err}"
    );
}
