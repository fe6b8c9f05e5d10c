//! `fangyi resume decide`, `plan` and `match` end to end on a small hand-made city: the
//! contract's JSON (§8.1, §8.2, §8.4) as golden files (`UPDATE_GOLDEN=1 cargo test` rewrites
//! them), summaries, a plan file's errors as usage errors, and `--diff`.

mod common;

use common::{CASE, CONTACT, Env, golden, indent_json};

/// Back from Wuhan (high risk) on 2020-01-21: red until 2020-02-04.
const RETURNEE: &str = "330302199508080555";
/// Healthy, in Lucheng: green.
const WELL: &str = "330302198503030669";
/// Not in `persons`.
const STRANGER: &str = "330304197007070774";
/// A critical enterprise in Lucheng, a large one and a small one.
const CRITICAL: &str = "91330302MA0000001N";
const LARGE: &str = "91330302MA0000002R";
const SMALL: &str = "91330304MA0000004W";

fn city() -> Env {
    let env = Env::new();
    env.ingest_case_and_contact();
    env.write(
        "more/persons-more.csv",
        &format!(
            "person_id,name,phone,birth_date,sex,home_region,community_id,household_id,address\n\
             {RETURNEE},钱七,13512345678,1995-08-08,F,330302,C1,H4,鹿城区三号\n\
             {WELL},孙八,13412345678,1985-03-03,F,330302,C2,H5,鹿城区四号\n"
        ),
    );
    env.write(
        "more/registrations.csv",
        &format!(
            "person_id,arrival_date,from_region,stay_region,stay_community,stay_address,phone\n\
             {RETURNEE},2020-01-21,420100,330302,C1,鹿城区三号,13512345678\n"
        ),
    );
    env.write(
        "more/risk_areas.csv",
        "region,level,valid_from,valid_to\n420100,high,2020-01-01,\n",
    );
    env.write(
        "more/enterprises.csv",
        &format!(
            "enterprise_id,name,industry,region,employees,local_worker_share,annual_output_cny,critical\n\
             {CRITICAL},鹿城水务,utilities,330302,4,0.5,1000000,true\n\
             {LARGE},鹿城机械,manufacturing,330302,2,0.8,30000000,false\n\
             {SMALL},龙湾小店,retail,330304,1,0.9,,false\n"
        ),
    );
    env.write(
        "more/employment.csv",
        &format!(
            "enterprise_id,person_id\n{CRITICAL},{CASE}\n{CRITICAL},{CONTACT}\n{CRITICAL},{RETURNEE}\n\
             {CRITICAL},{WELL}\n{LARGE},{WELL}\n{LARGE},{RETURNEE}\n"
        ),
    );
    env.write(
        "more/applications.csv",
        &format!(
            "application_id,enterprise_id,person_id,start_date,submitted_time\n\
             A-1,{CRITICAL},{RETURNEE},2020-02-03,2020-01-30T09:00:00+08:00\n\
             A-1,{CRITICAL},{CASE},2020-02-03,2020-01-30T09:00:00+08:00\n\
             A-1,{CRITICAL},{CONTACT},2020-02-03,2020-01-30T09:00:00+08:00\n\
             A-1,{CRITICAL},{WELL},2020-02-03,2020-01-30T09:00:00+08:00\n\
             A-1,{CRITICAL},{STRANGER},2020-02-03,2020-01-30T09:00:00+08:00\n\
             B-7,{LARGE},{RETURNEE},2020-02-10,\n\
             B-7,{LARGE},{CASE},2020-02-10,2020-02-08T09:00:00+08:00\n"
        ),
    );
    env.write(
        "more/jobs.csv",
        &format!(
            "job_id,enterprise_id,skill,openings,region\nJ-2,{SMALL},welder,2,330304\nJ-1,{LARGE},welder,2,330302\n"
        ),
    );
    env.write(
        "more/job_seekers.csv",
        &format!(
            "person_id,skill,region,available_from\n{WELL},welder,330304,2020-02-01\n\
             {RETURNEE},welder,330302,\n{CONTACT},welder,330302,2020-02-01\n{STRANGER},welder,330302,\n"
        ),
    );
    env.ok(&["ingest", env.path("more").to_str().unwrap()]);
    env
}

#[test]
fn decisions_plans_and_matches_as_the_contract_shows_them() {
    let env = city();
    let rows = env.ok(&[
        "resume",
        "decide",
        "--as-of",
        "2020-02-20",
        "--format",
        "json",
    ]);
    golden("resume-decide.json", &indent_json(&rows));
    let v: serde_json::Value = serde_json::from_str(&rows).unwrap();
    let verdict = |app: &str, id: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|r| r["application_id"] == app && r["person_id"] == id)
            .map(|r| {
                (
                    r["verdict"].as_str().unwrap().to_string(),
                    r["office_date"].clone(),
                )
            })
            .unwrap()
    };
    assert_eq!(verdict("A-1", CASE).0, "not_allowed");
    assert_eq!(verdict("A-1", STRANGER).0, "not_registered");
    assert_eq!(verdict("A-1", WELL), ("office".into(), "2020-02-03".into()));
    assert_eq!(
        verdict("A-1", RETURNEE),
        ("quarantine".into(), "2020-02-04".into())
    );
    // By 02-10 the returnee is green; the case is no employee of the large enterprise.
    assert_eq!(
        verdict("B-7", RETURNEE),
        ("office".into(), "2020-02-10".into())
    );
    assert_eq!(verdict("B-7", CASE).0, "not_employee");

    let summary = env.ok(&[
        "resume",
        "decide",
        "--as-of",
        "2020-02-20",
        "--summary",
        "--format",
        "json",
    ]);
    golden("resume-decide-summary.json", &indent_json(&summary));
    // One application; rows submitted after --as-of are left out.
    let one = env.ok(&[
        "resume",
        "decide",
        "--application",
        "b-7",
        "--as-of",
        "2020-02-07",
        "--format",
        "json",
    ]);
    let one: serde_json::Value = serde_json::from_str(&one).unwrap();
    assert_eq!(one.as_array().unwrap().len(), 1, "{one}");
    let err = env.fails(&["resume", "decide", "--application", "C-9"], 2);
    assert!(err.contains("no application"), "{err}");

    let plan = env.ok(&[
        "resume",
        "plan",
        "--as-of",
        "2020-02-20",
        "--format",
        "json",
    ]);
    golden("resume-plan.json", &indent_json(&plan));
    let matches = env.ok(&[
        "resume",
        "match",
        "--date",
        "2020-02-05",
        "--format",
        "json",
    ]);
    golden("resume-match.json", &indent_json(&matches));
}

#[test]
fn a_plan_file_is_checked_and_diffed() {
    let env = city();
    let bad = env.write(
        "bad.toml",
        "[[tier]]\nresume_date = \"2020-02-03\"\nwhen = \"headcount >= 3\"\n",
    );
    let err = env.fails(&["resume", "plan", "--plan", bad.to_str().unwrap()], 2);
    assert!(
        err.contains("bad.toml:3: when: unknown column \"headcount\""),
        "{err}"
    );
    let other = env.write(
        "other.toml",
        "[[tier]]\nname = \"large\"\nresume_date = \"2020-02-05\"\nwhen = \"annual_output_cny >= 20000000\"\n\
         [[tier]]\nresume_date = \"2020-02-17\"\nwhen = \"all\"\n",
    );
    let diff = env.ok(&[
        "resume",
        "plan",
        "--diff",
        other.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&diff).unwrap();
    let first = &v[0];
    assert_eq!(first["enterprise_id"], LARGE, "{v}");
    assert_eq!(first["to"]["rank"], 1, "{v}");
    assert_eq!(
        first["because"], "meets large first: annual_output_cny >= 20000000",
        "{v}"
    );
    let builtin = env.ok(&["resume", "plan", "--show-builtin"]);
    assert!(builtin.contains("when = \"critical = true\""), "{builtin}");
}

#[test]
fn a_plan_path_at_a_device_folder_or_huge_file_is_refused_unread() {
    let env = city();
    let huge = env.write("huge.toml", &"#".repeat(2 << 20));
    let err = env.fails(&["resume", "plan", "--plan", huge.to_str().unwrap()], 2);
    assert!(err.contains("huge.toml: larger than 1 MiB"), "{err}");
    let folder = huge.parent().unwrap().to_str().unwrap().to_string();
    let err = env.fails(&["resume", "plan", "--diff", &folder], 2);
    assert!(err.contains("not a regular file"), "{err}");
    #[cfg(unix)]
    {
        let err = env.fails(&["resume", "plan", "--plan", "/dev/zero"], 2);
        assert!(err.contains("/dev/zero: not a regular file"), "{err}");
    }
}

#[test]
fn a_plan_at_the_ends_of_the_calendar_is_answered() {
    let env = city();
    let plan = env.write(
        "ends.toml",
        "[[tier]]\nresume_date = \"0000-01-01\"\nwhen = \"critical = true\"\n\
         [[tier]]\nresume_date = \"9999-12-31\"\nwhen = \"all\"\n",
    );
    let out = env.ok(&[
        "resume",
        "plan",
        "--plan",
        plan.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(!v.as_array().unwrap().is_empty(), "{v}");
}

#[test]
fn an_enterprise_account_names_its_enterprise() {
    let env = city();
    let err = env.fails(&["users", "add", "acme", "--role", "enterprise"], 2);
    assert!(err.contains("give --enterprise ID"), "{err}");
    let err = env.fails(
        &[
            "users",
            "add",
            "acme",
            "--role",
            "enterprise",
            "--enterprise",
            "91330302MA0000001X",
        ],
        2,
    );
    assert!(err.contains("check character"), "{err}");
    let err = env.fails(
        &[
            "users",
            "add",
            "li",
            "--role",
            "epidemiologist",
            "--enterprise",
            CRITICAL,
        ],
        2,
    );
    assert!(
        err.contains("--enterprise is for enterprise accounts"),
        "{err}"
    );
    let token = env.ok(&[
        "users",
        "add",
        "acme",
        "--role",
        "enterprise",
        "--enterprise",
        CRITICAL,
    ]);
    assert!(token.trim().starts_with("fyt_"), "{token}");
    let list = env.ok(&["users", "list"]);
    assert!(list.contains(&format!("enterprise {CRITICAL}")), "{list}");
}
