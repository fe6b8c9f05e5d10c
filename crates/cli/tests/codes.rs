//! End-to-end tests of `fangyi code`, `codes` and `rules` on a small hand-made city where every
//! rule of contract §4 has a person who meets it and one who just misses it (day boundaries in
//! +08:00, risk-area validity and cover, a fever cleared by a negative test); the answers are
//! golden files.

mod common;

use common::{Env, golden};
use model::{Date, PersonId};

/// Person `n` of the test city.
fn id(n: u32) -> String {
    PersonId::from_parts(330302, Date::from_ymd(1985, 3, 1 + n).unwrap(), 200 + n)
        .unwrap()
        .to_string()
}

const PEOPLE: usize = 12;

/// Who is who, as of the end of 2020-02-01:
/// 0 case (confirmed, reported 01-25); 1 in 0's household → close contact until 02-08;
/// 2 rail from 420106 (Wuhan covers it, high from 01-18) arriving 01-19 00:10 +08:00 → red
/// until 02-02; 3 the same arriving 01-18 23:50 +08:00 → green (A + 14 = 02-01);
/// 4 registration from 420500 on 01-27, medium under 420000 until 01-30 → yellow until 02-03;
/// 5 checkpoint from 420500 on 01-24 → green (A + 7 = 01-31); 6 fever 37.3 on 01-20 → yellow
/// until 02-03; 7 fever 38.0 then a negative sampled after it → green; 8 37.2 → green;
/// 9 recovered, reported 01-20 → yellow until 02-03; 10 a self-report visiting 420100 on
/// 01-30 with 37.5 → red (arrival) until 02-13, fever listed too; 11 nothing → green.
fn city(env: &Env) {
    let p: [String; PEOPLE] = std::array::from_fn(|n| id(n as u32));
    env.write(
        "in/persons.csv",
        &format!(
            "person_id,name,home_region,household_id\n{}",
            p.iter()
                .enumerate()
                .map(|(n, id)| {
                    let h = if n < 2 {
                        "H1".to_string()
                    } else {
                        format!("H{n}")
                    };
                    format!("{id},某{n},330302,{h}\n")
                })
                .collect::<String>()
        ),
    );
    let t = "person_id,mode,service_no,service_date,car,seat,from_station,from_region,depart_time,to_station,to_region,arrive_time";
    env.write(
        "in/travel.csv",
        &format!(
            "{t}\n\
             {},rail,G100,2020-01-18,3,,汉口,420106,2020-01-18T19:00:00+08:00,温州南,330300,2020-01-19T00:10:00+08:00\n\
             {},rail,G102,2020-01-18,3,,汉口,420106,2020-01-18T18:00:00+08:00,温州南,330300,2020-01-18T23:50:00+08:00\n",
            p[2], p[3]
        ),
    );
    env.write(
        "in/registrations.csv",
        &format!(
            "person_id,arrival_date,from_region,stay_region\n{},2020-01-27,420500,330302\n",
            p[4]
        ),
    );
    env.write(
        "in/checkpoint.csv",
        &format!(
            "pass_id,plate,person_id,checkpoint_id,region,time,origin_region\n\
             X1,浙C1,{},K1,330302,2020-01-24T09:00:00+08:00,420500\n",
            p[5]
        ),
    );
    env.write(
        "in/self_reports.csv",
        &format!(
            "person_id,time,temperature_c,visited_regions\n\
             {},2020-01-20T10:00:00+08:00,37.3,\n\
             {},2020-01-22T10:00:00+08:00,38.0,\n\
             {},2020-01-22T10:00:00+08:00,37.2,\n\
             {},2020-01-30T10:00:00+08:00,37.5,330100;420100\n",
            p[6], p[7], p[8], p[10]
        ),
    );
    env.write(
        "in/lab_results.csv",
        &format!(
            "person_id,sample_time,result,diagnosis,onset_date,reported_time\n\
             {},2020-01-24T08:00:00+08:00,positive,confirmed,2020-01-23,2020-01-25T10:00:00+08:00\n\
             {},2020-01-23T08:00:00+08:00,negative,,,2020-01-24T08:00:00+08:00\n\
             {},2020-01-05T08:00:00+08:00,positive,confirmed,,2020-01-06T08:00:00+08:00\n\
             {},2020-01-19T08:00:00+08:00,negative,recovered,,2020-01-20T08:00:00+08:00\n",
            p[0], p[7], p[9], p[9]
        ),
    );
    env.write(
        "in/risk_areas.csv",
        "region,level,valid_from,valid_to\n\
         420100,high,2020-01-18,\n\
         420000,medium,2020-01-20,2020-01-30\n",
    );
    let input = env.path("in");
    env.ok(&["ingest", input.to_str().unwrap()]);
}

#[test]
fn every_rule_meets_its_edges() {
    let env = Env::new();
    city(&env);
    let mut out = String::new();
    for n in 0..PEOPLE {
        let json = env.ok(&[
            "code",
            &id(n as u32),
            "--as-of",
            "2020-02-01",
            "--format",
            "json",
        ]);
        out.push_str(&format!("{n:>2} {json}"));
    }
    golden("codes-each.txt", &out);

    // One day later Wuhan's two-week window for person 2 has ended.
    let next = env.ok(&["code", &id(2), "--as-of", "2020-02-02", "--format", "json"]);
    assert!(next.contains(r#""color":"green""#), "{next}");

    // The whole population gives the same answers.
    let csv = env.path("codes.csv");
    let summary = env.ok(&[
        "codes",
        "--as-of",
        "2020-02-01",
        "--out",
        csv.to_str().unwrap(),
    ]);
    assert!(
        summary.contains("12 persons as of the end of 2020-02-01: 5 green, 3 yellow, 4 red"),
        "{summary}"
    );
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let header = lines.remove(0);
    lines.sort_by_key(|l| (0..PEOPLE).position(|n| l.starts_with(&id(n as u32))));
    golden("codes.csv", &format!("{header}\n{}\n", lines.join("\n")));

    // Parquet holds the same rows. The run builds on the last one's codes, so it stays on the
    // local index and needs no cluster, even one that does not answer; it says so.
    let pq = env.path("codes.parquet");
    let out = env.run(&[
        "codes",
        "--as-of",
        "2020-02-01",
        "--cluster",
        "127.0.0.1:1",
        "--out",
        pq.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("--cluster not used"), "{err}");
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        std::fs::File::open(&pq).unwrap(),
    )
    .unwrap()
    .build()
    .unwrap();
    let (mut rows, mut red) = (0, 0);
    for batch in reader {
        let batch = batch.unwrap();
        rows += batch.num_rows();
        let colors = batch.column_by_name("color").unwrap();
        let colors = arrow::array::AsArray::as_string::<i32>(colors.as_ref());
        red += colors.iter().filter(|c| *c == Some("red")).count();
    }
    assert_eq!((rows, red), (PEOPLE, 4));
}

#[test]
fn rules_are_data() {
    let env = Env::new();
    city(&env);
    let shown = env.ok(&["rules", "show"]);
    // The rule set as shipped, then the built-in `override` and `peer_attestation` rules said
    // as TOML comments.
    assert!(shown.starts_with(rules::DEFAULT_RULES), "{shown}");
    assert_eq!(
        shown[rules::DEFAULT_RULES.len()..],
        format!(
            "\n# {}\n# {}\n",
            rules::OVERRIDE_DESCRIPTION,
            rules::PEER_ATTESTATION_DESCRIPTION
        )
    );

    // A stricter proposal: medium-risk arrivals for 14 days, and second-degree contacts.
    let strict = shown.replace(
        "level = \"medium\"\ndays = 7",
        "level = \"medium\"\ndays = 14",
    ) + "\n[[rule]]\nid = \"contact_of_contact\"\ncolor = \"yellow\"\nkind = \"contact\"\ndegree = 2\ndays = 7\n";
    let file = env.write("strict.toml", &strict);
    let diff = env.ok(&[
        "rules",
        "diff",
        file.to_str().unwrap(),
        "--as-of",
        "2020-02-01",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(diff.trim()).unwrap();
    assert_eq!(v["changed"], 1, "{diff}");
    assert_eq!(v["moves"]["green_to_yellow"], 1, "{diff}");
    let five = env.ok(&[
        "code",
        &id(5),
        "--as-of",
        "2020-02-01",
        "--rules",
        file.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(five.contains("medium_risk_arrival"), "{five}");

    // A malformed rules file names its line, and is bad usage.
    let bad = env.write(
        "bad.toml",
        "[[rule]]\nid = \"x\"\ncolor = \"red\"\nkind = \"arrival\"\nlevel = \"severe\"\ndays = 3\n",
    );
    let err = env.fails(&["rules", "show", "--rules", bad.to_str().unwrap()], 2);
    assert!(
        err.contains("bad.toml, line 1: rule `x`: level `severe` is not high, medium or low"),
        "{err}"
    );
    let err = env.fails(&["code", &id(0), "--rules", bad.to_str().unwrap()], 2);
    assert!(err.contains("line 1"), "{err}");
}

#[test]
fn a_second_run_recomputes_only_what_new_files_touch() {
    let env = Env::new();
    city(&env);
    let out = env.path("codes.csv");
    let out = out.to_str().unwrap();
    let args = [
        "codes",
        "--as-of",
        "2020-02-01",
        "--out",
        out,
        "--format",
        "json",
    ];
    let first: serde_json::Value = serde_json::from_str(env.ok(&args).trim()).unwrap();
    assert_eq!(first["incremental"], false);

    // Nothing new: nothing recomputed, the same file.
    let before = std::fs::read_to_string(out).unwrap();
    let again: serde_json::Value = serde_json::from_str(env.ok(&args).trim()).unwrap();
    assert_eq!(
        (again["incremental"].clone(), again["recomputed"].clone()),
        (true.into(), 0.into())
    );
    assert_eq!(std::fs::read_to_string(out).unwrap(), before);

    // Person 11 becomes a case sharing a household-less venue with 8; 6 gets a negative test.
    env.write(
        "more/lab_results-2.csv",
        &format!(
            "person_id,sample_time,result,diagnosis,onset_date,reported_time\n\
             {},2020-01-30T08:00:00+08:00,positive,confirmed,2020-01-29,2020-01-31T08:00:00+08:00\n\
             {},2020-01-25T08:00:00+08:00,negative,,,2020-01-26T08:00:00+08:00\n",
            id(11),
            id(6)
        ),
    );
    env.write(
        "more/checkins.csv",
        &format!(
            "person_id,venue_id,time_in,time_out\n\
             {},V9,2020-01-29T12:00:00+08:00,2020-01-29T13:00:00+08:00\n\
             {},V9,2020-01-29T12:10:00+08:00,2020-01-29T12:50:00+08:00\n",
            id(11),
            id(8)
        ),
    );
    env.ok(&["ingest", env.path("more").to_str().unwrap()]);
    let inc: serde_json::Value = serde_json::from_str(env.ok(&args).trim()).unwrap();
    assert_eq!(inc["incremental"], true, "{inc}");
    assert_eq!(inc["new_sources"], 2, "{inc}");
    // 11 and 6 are named; 8 is named too, and is 11's contact.
    assert_eq!(inc["recomputed"], 3, "{inc}");
    let incremental = std::fs::read_to_string(out).unwrap();
    let full: serde_json::Value = serde_json::from_str(
        env.ok(&[
            "codes",
            "--as-of",
            "2020-02-01",
            "--out",
            out,
            "--full",
            "--format",
            "json",
        ])
        .trim(),
    )
    .unwrap();
    assert_eq!(full["incremental"], false);
    assert_eq!(std::fs::read_to_string(out).unwrap(), incremental);
    for (n, want) in [
        (11, "red,case,"),
        (8, "red,close_contact,2020-02-12"),
        (6, "green,,"),
    ] {
        assert!(
            incremental.contains(&format!("{},{want}", id(n))),
            "person {n}: {incremental}"
        );
    }
}
