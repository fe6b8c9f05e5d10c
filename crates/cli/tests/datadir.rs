//! A wrong `--data` and a careless key file: reading commands refuse a folder that was never a
//! data dir (and leave it uncreated), a code for someone not in `persons` is never green, and
//! the master key is refused inside the data dir (before it is created there) or hard-linked,
//! and warned about when others may read it.

mod common;

use common::{CASE, CONTACT, EXPOSED_WUHAN, Env, Server, http};

/// Valid, but in nobody's `persons` row.
const STRANGER: &str = "420106199001010028";

/// Every command that reads the store, the operational database or issuer keys.
fn reading_commands(env: &Env) -> Vec<Vec<String>> {
    let rules = env.write("strict.toml", "");
    let out = env.path("codes.csv");
    [
        vec!["sql", "SELECT count(*) FROM persons"],
        vec!["stats"],
        vec!["trace", CASE, "--as-of", "2020-01-25"],
        vec!["trace", "--all", "--out", out.to_str().unwrap()],
        vec!["code", CONTACT, "--as-of", "2020-01-25"],
        vec!["code", "issue", CONTACT],
        vec!["codes", "--out", out.to_str().unwrap()],
        vec!["rules", "diff", rules.to_str().unwrap()],
        vec![
            "cotravel",
            "--mode",
            "rail",
            "--service",
            "G1",
            "--date",
            "2020-01-20",
        ],
        vec!["index"],
        EXPOSED_WUHAN.to_vec(),
        vec!["inflow", "--as-of", "2020-01-23"],
        vec!["alerts", "--as-of", "2020-01-23"],
        vec!["roads", "--as-of", "2020-01-23"],
        vec!["watch", "--as-of", "2020-01-23"],
        vec!["retention", "apply", "--older-than", "28d", "--yes"],
        vec!["serve", "--addr", "127.0.0.1:0"],
        vec!["users", "list"],
        vec!["audit", "verify"],
        vec!["keys", "list"],
        vec!["code", "revoke", CONTACT],
    ]
    .into_iter()
    .map(|v| v.into_iter().map(String::from).collect())
    .collect()
}

#[test]
fn reading_commands_refuse_a_data_dir_that_was_never_made() {
    let env = Env::new();
    let missing = env.path("fangyi-dat"); // a typo of the real one
    let empty = env.path("empty");
    std::fs::create_dir_all(&empty).unwrap();
    for dir in [&missing, &empty] {
        for args in reading_commands(&env) {
            let out = env
                .cmd()
                .arg("--data")
                .arg(dir)
                .args(&args)
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                out.status.code(),
                Some(2),
                "{args:?} in {}: {err}",
                dir.display()
            );
            assert!(err.contains(&dir.display().to_string()), "{args:?}: {err}");
            assert!(err.contains("ingest FILES"), "{args:?}: {err}");
            assert!(out.stdout.is_empty(), "{args:?} answered");
        }
    }
    assert!(!missing.exists(), "a reading command created the data dir");
    assert!(std::fs::read_dir(&empty).unwrap().next().is_none());
    assert!(!env.path("keys/master.key").exists(), "nor a key");

    // A deployment made by `users add` but with nothing ingested: the server may start (data
    // comes by upload), reading commands say there is no data yet.
    let deployment = env.path("deployment");
    env.cmd()
        .arg("--data")
        .arg(&deployment)
        .args(["users", "add", "admin", "--role", "admin"])
        .output()
        .unwrap();
    let out = env
        .cmd()
        .arg("--data")
        .arg(&deployment)
        .args(["code", CONTACT])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("holds no data yet"));
    env.ok(&["--data", deployment.to_str().unwrap(), "users", "list"]);

    // `init` makes an empty data dir that reading commands accept.
    let fresh = env.path("fresh");
    let said = env.ok(&["--data", fresh.to_str().unwrap(), "init"]);
    assert!(said.contains("created an empty data dir"), "{said}");
    let stats = env.ok(&["--data", fresh.to_str().unwrap(), "stats"]);
    assert!(stats.contains("persons"), "{stats}");
    let again = env.ok(&["--data", fresh.to_str().unwrap(), "init"]);
    assert!(again.contains("already"), "{again}");
}

#[test]
fn the_server_refuses_a_wrong_data_dir_and_starts_on_a_real_one() {
    let env = Env::new();
    env.ingest_case_and_contact();
    let out = env
        .cmd()
        .args(["--data", env.path("data-typo").to_str().unwrap()])
        .args(["serve", "--addr", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("data-typo does not exist"));
    assert!(!env.path("data-typo").exists());

    // On the real one, a code for someone not in `persons` is not green either.
    let token = env.ok(&["users", "add", "admin", "--role", "admin"]);
    let auth = format!("Bearer {}", token.trim().lines().last().unwrap());
    let server = Server::start(&env);
    let get = |person: &str| {
        http(
            &server.base,
            "GET",
            &format!("/api/v1/persons/{person}/code?as_of=2020-01-25"),
            &[("Authorization", &auth), ("X-Purpose", "health_code")],
        )
    };
    let (status, body) = get(CONTACT);
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("\"red\"") && !body.contains("registered"),
        "{body}"
    );
    let (status, body) = get(STRANGER);
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("not registered"), "{body}");
    server.stop();
}

#[test]
fn a_code_for_someone_not_in_persons_is_never_green() {
    let env = Env::new();
    env.ingest_case_and_contact();
    let json = |args: &[&str]| -> serde_json::Value {
        serde_json::from_str(&env.ok(&[args, &["--format", "json"]].concat())).unwrap()
    };
    let contact = json(&["code", CONTACT, "--as-of", "2020-01-25"]);
    assert_eq!(contact["color"], "red");
    assert!(contact.get("registered").is_none(), "{contact}");

    // Records alone say nothing about a stranger: refused, naming the notion.
    let err = env.fails(&["code", STRANGER, "--as-of", "2020-01-25"], 2);
    assert!(
        err.contains("not registered") && err.contains("not_registered"),
        "{err}"
    );
    assert!(err.contains(STRANGER), "{err}");

    // A stranger whom a record makes red is shown red, and flagged.
    env.write(
        "more/registrations.csv",
        &format!(
            "person_id,arrival_date,from_region,stay_region\n{STRANGER},2020-01-24,420100,330302\n"
        ),
    );
    env.write(
        "more/risk_areas.csv",
        "region,level,valid_from,valid_to\n420100,high,2020-01-20,\n",
    );
    env.ok(&["ingest", env.path("more").to_str().unwrap()]);
    let stranger = json(&["code", STRANGER, "--as-of", "2020-01-25"]);
    assert_eq!(stranger["color"], "red", "{stranger}");
    assert_eq!(stranger["registered"], false, "{stranger}");
    let text = env.ok(&[
        "code",
        STRANGER,
        "--as-of",
        "2020-01-25",
        "--format",
        "text",
    ]);
    assert!(text.contains("not registered"), "{text}");

    // No signed code for someone not registered, whatever their color.
    env.ok(&["keys", "init", "--region", "330300"]);
    let png = env.path("c.png");
    let err = env.fails(
        &[
            "code",
            "issue",
            STRANGER,
            "--as-of",
            "2020-01-25",
            "--png",
            png.to_str().unwrap(),
        ],
        2,
    );
    assert!(err.contains("not registered"), "{err}");
    env.ok(&[
        "code",
        "issue",
        CONTACT,
        "--as-of",
        "2020-01-25",
        "--png",
        png.to_str().unwrap(),
    ]);
}

#[cfg(unix)]
#[test]
fn key_files_inside_the_data_dir_linked_or_open_to_others_are_caught() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    env.write("p.csv", &format!("person_id,home_region\n{CASE},330302\n"));
    let p = env.path("p.csv");
    let ingest = ["ingest", "--kind", "persons", p.to_str().unwrap()];

    // Inside the data dir (which does not exist yet): refused before anything is created.
    let inside = env.path("data/master.key");
    let out = env
        .cmd()
        .env("FANGYI_KEY_FILE", &inside)
        .args(ingest)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("inside the data dir"));
    assert!(!inside.exists() && !env.path("data").exists());
    // Through `..` or a symbolic link to the data dir, the same.
    env.ok(&ingest);
    let sneaky = env.path("keys/../data/sub/master.key");
    let out = env
        .cmd()
        .env("FANGYI_KEY_FILE", &sneaky)
        .arg("stats")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!env.path("data/sub").exists());
    std::os::unix::fs::symlink(env.path("data"), env.path("link")).unwrap();
    let out = env
        .cmd()
        .env("FANGYI_KEY_FILE", env.path("link/master.key"))
        .arg("stats")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!env.path("data/master.key").exists());

    // A hard link: the key has a second name, which could be inside a data dir.
    let key = env.path("keys/master.key");
    std::fs::hard_link(&key, env.path("data/copy")).unwrap();
    let err = env.fails(&["stats"], 2);
    assert!(err.contains("hard links"), "{err}");
    std::fs::remove_file(env.path("data/copy")).unwrap();

    // Readable by others: used, with a warning saying how to fix it.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = env.run(&["stats"]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("every user") && err.contains("chmod 600"),
        "{err}"
    );
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = env.run(&["stats"]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("warning"));
}
