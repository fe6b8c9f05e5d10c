//! The API's OpenAPI document through standard tools, against the real `fangyi serve`:
//! `scripts/openapi/check.py` validates the served `/api/openapi.json` with
//! openapi-spec-validator, generates a Python client from it with openapi-python-client
//! (warnings are failures), and with that client alone signs in with a password, looks up a
//! health code and uploads a file.
//!
//! The tools come from PyPI into a virtual environment under the target dir
//! (`scripts/openapi/setup.sh`). Without Python or the package index the test says so and
//! passes, unless `FANGYI_REQUIRE_OPENAPI_TOOLS` is set (as `.ci/run` does).

mod common;

use std::path::Path;
use std::process::Command;

use common::{CONTACT, Env, Server};

const PASSWORD: &str = "openapi-test-password";

#[test]
fn the_openapi_document_is_valid_and_a_generated_client_works() {
    let required = std::env::var_os("FANGYI_REQUIRE_OPENAPI_TOOLS").is_some();
    let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/openapi");
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("openapi-venv");
    let setup = Command::new("bash")
        .arg(scripts.join("setup.sh"))
        .arg(&venv)
        .output();
    match setup {
        Ok(out) if out.status.success() => {}
        other => {
            let why = match &other {
                Ok(out) => String::from_utf8_lossy(&out.stderr).trim().to_string(),
                Err(e) => e.to_string(),
            };
            assert!(
                !required,
                "FANGYI_REQUIRE_OPENAPI_TOOLS is set but the tools could not be installed: {why}"
            );
            eprintln!("skipped: the OpenAPI tools could not be installed here ({why})");
            return;
        }
    }

    let env = Env::new();
    env.ingest_case_and_contact();
    env.ok(&["users", "add", "chen.admin", "--role", "admin"]);
    env.passwd("chen.admin", PASSWORD);
    let upload = env.write(
        "upload/venues.csv",
        "venue_id,name,kind,region,community_id,lat,lon\nV9,Market,market,330302,C1,28.0,120.6\n",
    );

    let server = Server::start(&env);
    let check = Command::new(venv.join("bin/python"))
        .arg(scripts.join("check.py"))
        .args(["--doc", &format!("{}/api/openapi.json", server.base)])
        .args(["--base", &server.base])
        .args(["--work", env.path("openapi").to_str().unwrap()])
        .args(["--user", "chen.admin", "--password", PASSWORD])
        .args(["--person", CONTACT])
        .args(["--upload-kind", "venues"])
        .args(["--upload", upload.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = server.stop();
    assert!(
        check.status.success(),
        "check.py failed:\n{}\n{}\nserver:\n{stderr}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let got: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    assert_eq!(got["login_role"], "admin", "{got}");
    assert_eq!(got["token_prefix"], "fyt_", "{got}");
    // The case's household member is a close contact in quarantine: red, and the admin sees
    // the id in full.
    assert_eq!(got["code"]["person_id"], CONTACT, "{got}");
    assert_eq!(got["code"]["color"], "red", "{got}");
    assert_eq!(got["code"]["reasons"][0]["rule"], "close_contact", "{got}");
    assert_eq!(got["upload"]["rows_accepted"], 1, "{got}");
    assert_eq!(got["upload"]["duplicate"], false, "{got}");
    // What the generated client did is in the audit log like any client's requests.
    let log = env.ok(&["audit", "show", "--format", "json"]);
    for action in ["\"person_code\"", "\"ingest\""] {
        assert!(log.contains(action), "{action} not audited: {log}");
    }
    env.ok(&["audit", "verify"]);
}
