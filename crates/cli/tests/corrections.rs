//! Corrections end to end at the command line, on the case-and-contact city: the contact
//! disputes being a close contact at a community service desk, an epidemiologist sees the
//! household behind the rule and accepts until a date, after which `fangyi code` and `codes`
//! show the contact green with an `override` reason and `rules show` lists the rule; the case's
//! own dispute is rejected. Every step is one audit entry.

mod common;

use common::{CASE, CONTACT, Env};
use ops::AuditFilter;

fn entries(env: &Env, action: &str) -> Vec<ops::AuditRecord> {
    env.ops_db(async |db| {
        let filter = AuditFilter {
            action: Some(action.into()),
            ..AuditFilter::default()
        };
        db.audit_records(&filter).await.unwrap()
    })
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn a_contact_disputes_an_epidemiologist_accepts_and_the_code_turns_green() {
    let env = Env::new();
    env.ingest_case_and_contact();
    let day = "2020-02-01";
    let red = json(&env.ok(&["code", CONTACT, "--as-of", day, "--format", "json"]));
    assert_eq!(red["color"], "red", "{red}");

    // At the service desk of the contact's community.
    let desk = [
        "--as-role",
        "community_worker",
        "--purpose",
        "community_service",
        "corrections",
        "file",
    ];
    let filed = json(
        &env.ok(&[
            &desk[..],
            &[
                CONTACT,
                "--rule",
                "close_contact",
                "--reason",
                "moved out of H1 in December",
                "--as-of",
                day,
                "--format",
                "json",
            ],
        ]
        .concat()),
    );
    assert_eq!(
        (filed["id"].as_i64(), filed["status"].as_str()),
        (Some(1), Some("open"))
    );
    // A rule that does not apply is refused, naming the one that does; the same again is a
    // conflict.
    let err = env.fails(
        &[
            &desk[..],
            &[CONTACT, "--rule", "fever", "--reason", "x", "--as-of", day],
        ]
        .concat(),
        2,
    );
    assert!(err.contains("close_contact"), "{err}");
    let err = env.fails(
        &[
            &desk[..],
            &[
                CONTACT,
                "--rule",
                "close_contact",
                "--reason",
                "x",
                "--as-of",
                day,
            ],
        ]
        .concat(),
        2,
    );
    assert!(err.contains("open already"), "{err}");

    // The epidemiologist's queue shows the household behind the rule.
    let epi = ["--as-role", "epidemiologist"];
    let queue = json(
        &env.ok(&[
            &epi[..],
            &[
                "corrections",
                "list",
                "--status",
                "open",
                "--format",
                "json",
            ],
        ]
        .concat()),
    );
    let q = &queue[0];
    assert_eq!(q["rule"], "close_contact", "{queue}");
    assert_eq!(q["person"]["person_id"], CONTACT, "{queue}");
    assert_eq!(q["evidence"]["applies"], true, "{queue}");
    assert_eq!(
        q["evidence"]["contacts"][0]["shared"][0]["kind"], "household",
        "{queue}"
    );
    assert_eq!(
        q["evidence"]["contacts"][0]["shared"][0]["household_id"], "H1",
        "{queue}"
    );
    let shown = env.ok(&[&epi[..], &["corrections", "show", "1", "--format", "text"]].concat());
    assert!(shown.contains("household"), "{shown}");

    let accepted = json(
        &env.ok(&[
            &epi[..],
            &[
                "corrections",
                "accept",
                "1",
                "--until",
                "2020-02-10",
                "--reason",
                "moved out, confirmed by the landlord",
                "--format",
                "json",
            ],
        ]
        .concat()),
    );
    assert_eq!(accepted["status"], "accepted", "{accepted}");
    assert_eq!(accepted["until"], "2020-02-10", "{accepted}");
    let err = env.fails(
        &[
            &epi[..],
            &["corrections", "reject", "1", "--reason", "too late"],
        ]
        .concat(),
        2,
    );
    assert!(err.contains("accepted already"), "{err}");

    // Green with the override named, through its end date; red again after it.
    let green = json(&env.ok(&["code", CONTACT, "--as-of", day, "--format", "json"]));
    assert_eq!(green["color"], "green", "{green}");
    assert_eq!(green["reasons"][0]["rule"], "override", "{green}");
    let detail = green["reasons"][0]["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("close_contact set aside until 2020-02-10: moved out"),
        "{detail}"
    );
    let text = env.ok(&["code", CONTACT, "--as-of", day, "--format", "text"]);
    assert!(text.contains("override"), "{text}");
    let codes = env.path("codes.csv");
    env.ok(&["codes", "--as-of", day, "--out", codes.to_str().unwrap()]);
    let written = std::fs::read_to_string(&codes).unwrap();
    assert!(
        written.contains(&format!("{CONTACT},green,override,")),
        "{written}"
    );
    assert!(written.contains(&format!("{CASE},red,case,")), "{written}");
    let rules = env.ok(&["rules", "show"]);
    assert!(rules.contains("\n# override"), "{rules}");

    // The case disputes being one: rejected, and still red.
    let filed = json(&env.ok(&[
        "corrections",
        "file",
        CASE,
        "--rule",
        "case",
        "--reason",
        "I feel fine",
        "--as-of",
        day,
        "--format",
        "json",
    ]));
    let id = filed["id"].as_i64().unwrap().to_string();
    let rejected = json(
        &env.ok(&[
            &epi[..],
            &[
                "corrections",
                "reject",
                &id,
                "--reason",
                "the positive result stands",
                "--format",
                "json",
            ],
        ]
        .concat()),
    );
    assert_eq!(rejected["status"], "rejected", "{rejected}");
    assert_eq!(rejected["outcome"], "the positive result stands");
    let case = json(&env.ok(&["code", CASE, "--as-of", day, "--format", "json"]));
    assert_eq!(case["color"], "red", "{case}");
    let all = json(&env.ok(&["corrections", "list", "--format", "json"]));
    assert_eq!(all.as_array().unwrap().len(), 2, "{all}");

    // Every step one entry: four filings (two refused), the list and show of the queue and
    // the last list, two accepts (one refused) and the rejection.
    assert_eq!(entries(&env, "file_correction").len(), 4);
    assert_eq!(entries(&env, "read_corrections").len(), 3);
    let decisions = entries(&env, "decide_correction");
    assert_eq!(decisions.len(), 3);
    assert!(
        decisions[0]
            .entry
            .outcome
            .starts_with("ok: correction 1 accepted")
    );
    assert!(decisions[1].entry.outcome.starts_with("error: conflict"));
    // No entry holds the free text of a reason.
    for action in ["file_correction", "decide_correction"] {
        for e in entries(&env, action) {
            assert!(!e.entry.query.contains("moved out"), "{e:?}");
            assert!(!e.entry.outcome.contains("landlord"), "{e:?}");
        }
    }
}
