//! End-to-end test of `fangyi import` with the real binary on the real datasets in
//! `../shared/data` (read in place): the tables land, importing again adds nothing, derived
//! risk areas drive the health codes, and a broken file is a clear error.

mod common;

use std::path::{Path, PathBuf};

use common::Env;

fn shared(folder: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(folder)
}

fn count(env: &Env, sql: &str) -> String {
    let out = env.ok(&["sql", "--format", "csv", sql]);
    out.lines().nth(1).unwrap_or("").to_string()
}

#[test]
fn public_datasets_load_once_and_derive_risk_areas() {
    let env = Env::new();
    let baidu = shared("baidu_migration");
    let out = env.ok(&["import", "baidu-migration", baidu.to_str().unwrap()]);
    assert!(
        out.contains("98,498 shares from 2020-01-01 to 2020-03-31"),
        "{out}"
    );
    assert_eq!(count(&env, "SELECT count(*) FROM migration"), "98498");
    let again = env.ok(&["import", "baidu-migration", baidu.to_str().unwrap()]);
    assert!(again.contains("already loaded, nothing added"), "{again}");
    assert_eq!(count(&env, "SELECT count(*) FROM migration"), "98498");

    let dxy = shared("dxy_cases");
    let out = env.ok(&["import", "dxy-cases", dxy.to_str().unwrap()]);
    assert!(out.contains("20,848 daily counts"), "{out}");
    assert_eq!(
        count(
            &env,
            "SELECT confirmed FROM city_cases WHERE region = '420100' AND date = DATE '2020-02-01'"
        ),
        "3215"
    );
    assert_eq!(
        count(
            &env,
            "SELECT level FROM risk_areas WHERE region = '420100' AND valid_from = DATE '2020-01-24'"
        ),
        "high"
    );
    // A returnee from Wuhan on 1 February is red under the derived areas.
    let id = model::PersonId::from_parts(330302, model::Date::from_ymd(1990, 1, 1).unwrap(), 11)
        .unwrap()
        .to_string();
    env.write(
        "in/registrations.csv",
        &format!(
            "person_id,arrival_date,from_region,stay_region,stay_community,stay_address,phone\n{id},2020-02-01,420102,330302,C1,,\n"
        ),
    );
    env.ok(&["ingest", env.path("in").to_str().unwrap()]);
    let code = env.ok(&["code", &id, "--as-of", "2020-02-03", "--format", "json"]);
    assert!(code.contains("\"color\":\"red\""), "{code}");
    assert!(code.contains("high_risk_arrival"), "{code}");
}

#[test]
fn a_broken_file_names_its_line_and_column() {
    let env = Env::new();
    let dir = env.path("dxy");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("dxy_city_daily.csv"),
        "date,province_name,province_code,city_name,city_code,confirmed,suspected,cured,dead\n\
         2020-01-24,北京市,110000,朝阳,110105,5,0,0,0\n\
         2020-01-25,北京市,110000,朝阳,11010X,6,0,0,0\n",
    )
    .unwrap();
    let err = env.fails(&["import", "dxy-cases", dir.to_str().unwrap()], 2);
    assert!(
        err.contains("dxy_city_daily.csv line 3, column city_code"),
        "{err}"
    );
    let err = env.fails(&["import", "baidu-migration", dir.to_str().unwrap()], 2);
    assert!(err.contains("outflow_wuhan_hubei.csv"), "{err}");
}

#[test]
fn importing_again_with_other_thresholds_replaces_the_derived_risk_areas() {
    let env = Env::new();
    let dir = env.path("dxy");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("dxy_city_daily.csv"),
        "date,province_name,province_code,city_name,city_code,confirmed,suspected,cured,dead\n\
         2020-01-24,湖北省,420000,武汉,420100,60,0,0,0\n\
         2020-01-25,湖北省,420000,武汉,420100,70,0,0,0\n",
    )
    .unwrap();
    let dxy = dir.to_str().unwrap();
    let levels = |env: &Env| {
        env.ok(&[
            "sql",
            "--format",
            "csv",
            "SELECT level, count(*) AS n FROM risk_areas WHERE region = '420100' GROUP BY level ORDER BY level",
        ])
    };
    env.ok(&["import", "dxy-cases", dxy]);
    assert_eq!(levels(&env), "level,n\nhigh,1\n");
    // 70 cases are below 100: medium, and only medium — the first set is gone.
    let out = env.ok(&["import", "dxy-cases", dxy, "--high-cumulative", "100"]);
    assert!(
        out.contains("earlier risk_areas-dxy.csv import replaced"),
        "{out}"
    );
    assert_eq!(levels(&env), "level,n\nmedium,1\n");
    // Back to the first thresholds: the first set again, once.
    env.ok(&["import", "dxy-cases", dxy]);
    assert_eq!(levels(&env), "level,n\nhigh,1\n");
    // The counts were the same each time: loaded once.
    let n = env.ok(&[
        "sql",
        "--format",
        "csv",
        "SELECT count(*) AS n FROM city_cases",
    ]);
    assert_eq!(n, "n\n2\n");
    // A published area ingested from another file is left alone.
    env.write(
        "in/risk_areas.csv",
        "region,level,valid_from,valid_to\n420100,high,2020-01-20,\n",
    );
    env.ok(&["ingest", env.path("in").to_str().unwrap()]);
    env.ok(&["import", "dxy-cases", dxy, "--high-cumulative", "100"]);
    assert_eq!(levels(&env), "level,n\nhigh,1\nmedium,1\n");
}
