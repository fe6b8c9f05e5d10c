//! Work resumption's answers about enterprises and their people end to end (contract §8.1,
//! §8.2, §8.4): an application's decisions as the command centre and as the enterprise see
//! them, an enterprise's uploads held to its own applications, the whitelist by region,
//! matched seekers masked until they consent — each access in the audit log.

mod common;

use common::{City, ENT, OTHER_ENT};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Uploads as `who` for work resumption (the enterprise's purpose).
async fn upload_as(c: &City, who: &str, kind: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let resp = c
        .client
        .post(format!("{}/api/v1/ingest/{kind}", c.base))
        .bearer_auth(c.token(who))
        .header("X-Purpose", "work_resumption")
        .header("Content-Type", "text/csv")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

const APP: &str = "/api/v1/resume/applications/APP1?as_of=2020-02-02";

fn by_person(v: &Value) -> Vec<(String, String, Value, Value)> {
    v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["person_id"].as_str().unwrap().to_string(),
                r["verdict"].as_str().unwrap().to_string(),
                r["office_date"].clone(),
                r["reasons"].clone(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_as_the_command_centre_and_as_its_enterprise() {
    let c = City::start().await;
    let p = &c.people;
    let (s, v) = c.get(Some("admin"), Some("work_resumption"), APP).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v["summary"],
        json!([{"application_id": "APP1", "enterprise_id": ENT, "rows": 4,
            "not_registered": 0, "not_employee": 1, "not_allowed": 1, "office": 1,
            "quarantine": 1}])
    );
    let mut want = vec![
        // Confirmed: red by case, whatever else applies.
        (
            p.case.to_string(),
            "not_allowed".to_string(),
            Value::Null,
            json!(["case", "high_risk_arrival"]),
        ),
        // Not on ENT's payroll, though on its application.
        (
            p.household.to_string(),
            "not_employee".into(),
            Value::Null,
            json!([]),
        ),
        // Rode with the case and came from Wuhan on 01-20: red until 02-03, the start day.
        (
            p.rail.to_string(),
            "office".into(),
            json!("2020-02-03"),
            json!([]),
        ),
        // Came from Wuhan on 01-21: until 02-04, a day after the start.
        (
            p.returnee.to_string(),
            "quarantine".into(),
            json!("2020-02-04"),
            json!(["high_risk_arrival"]),
        ),
    ];
    want.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(by_person(&v), want);

    // The enterprise: the same verdicts and dates, the ids it submitted, never a reason.
    let (s, e) = c.get(Some("ent"), Some("work_resumption"), APP).await;
    assert_eq!(s, StatusCode::OK, "{e}");
    assert_eq!(e["summary"], v["summary"]);
    let ent_rows: Vec<_> = want
        .iter()
        .map(|(id, verdict, date, _)| (id.clone(), verdict.clone(), date.clone(), json!([])))
        .collect();
    assert_eq!(by_person(&e), ent_rows);

    // Before the application was submitted there is none.
    let (s, _) = c
        .get(
            Some("admin"),
            Some("work_resumption"),
            "/api/v1/resume/applications/APP1?as_of=2020-01-23",
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Another enterprise's application looks like none at all to the enterprise.
    let (status, body) = c
        .upload(
            "admin",
            "applications",
            format!("application_id,enterprise_id,person_id,start_date\nAPP2,{OTHER_ENT},{},2020-02-03\n", p.rail)
                .into_bytes(),
            "text/csv",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (s, _) = c
        .get(
            Some("ent"),
            Some("work_resumption"),
            "/api/v1/resume/applications/APP2",
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = c
        .get(
            Some("admin"),
            Some("work_resumption"),
            "/api/v1/resume/applications/APP2",
        )
        .await;
    assert_eq!(s, StatusCode::OK);

    // Each read is audited, naming the persons shown (masked in the log).
    let (s, log) = c
        .get(
            Some("admin"),
            Some("oversight"),
            &format!("/api/v1/audit?person={}", p.returnee),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{log}");
    let actors: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["action"] == "resume_decide")
        .map(|x| x["actor"].as_str().unwrap())
        .collect();
    assert!(
        actors.contains(&"admin") && actors.contains(&"ent"),
        "{log}"
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enterprise_uploads_its_own_applications_only() {
    let c = City::start().await;
    let p = &c.people;
    let body = format!(
        "application_id,enterprise_id,person_id,start_date\n\
         APP3,{ENT},{},2020-02-10\nAPP3,{OTHER_ENT},{},2020-02-10\n",
        p.rail, p.case
    );
    let (s, v) = upload_as(&c, "ent", "applications", body.into_bytes()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["rows_accepted"].clone(), v["rows_rejected"].clone()),
        (json!(1), json!(1))
    );
    assert!(
        v.to_string()
            .contains("is not the uploading account's enterprise"),
        "{v}"
    );
    let travel =
        "person_id,mode,service_no,service_date,from_region,depart_time,to_region,arrive_time\n";
    let (s, _) = upload_as(&c, "ent", "travel", travel.as_bytes().to_vec()).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matched_seekers_are_masked_until_they_consent() {
    let c = City::start().await;
    let p = &c.people;
    let day = json!({"date": "2020-02-05"});
    let (s, v) = c
        .post(
            Some("admin"),
            Some("work_resumption"),
            "/api/v1/resume/match",
            day.clone(),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v,
        json!([{"job_id": "J1", "enterprise_id": ENT, "openings": 1, "filled": 1,
            "seekers": [p.returnee.to_string()]}])
    );
    // Not green yet on 02-03 (back from Wuhan on 01-21, until 02-04): nobody to match.
    let (_, early) = c
        .post(
            Some("admin"),
            Some("work_resumption"),
            "/api/v1/resume/match",
            json!({"date": "2020-02-03"}),
        )
        .await;
    assert_eq!(early[0]["filled"], 0, "{early}");

    let masked = privacy::mask_person_id(p.returnee);
    // The enterprise cannot record a consent; the command centre does, once; and the same for
    // withdrawing it, after which the enterprise sees the seeker masked again.
    let consent = json!({"person_id": p.returnee.to_string(), "enterprise_id": ENT});
    let post = |account: &'static str, path: &'static str| {
        c.post(
            Some(account),
            Some("work_resumption"),
            path,
            consent.clone(),
        )
    };
    let seekers = || async {
        let (_, v) = c
            .post(
                Some("ent"),
                Some("work_resumption"),
                "/api/v1/resume/match",
                day.clone(),
            )
            .await;
        v[0]["seekers"].clone()
    };
    assert_eq!(seekers().await, json!([masked]));
    for (path, field) in [
        ("/api/v1/resume/consents", "recorded"),
        ("/api/v1/resume/consents/withdraw", "withdrawn"),
    ] {
        assert_eq!(post("ent", path).await.0, StatusCode::FORBIDDEN, "{path}");
        let (s, r) = post("admin", path).await;
        assert_eq!((s, r[field].clone()), (StatusCode::OK, json!(true)), "{r}");
        let (_, r) = post("admin", path).await;
        assert_eq!(r[field], false, "{path}: {r}");
        let seen = if field == "recorded" {
            json!([p.returnee.to_string()])
        } else {
            json!([masked])
        };
        assert_eq!(seekers().await, seen, "{path}");
    }

    let (_, log) = c
        .get(
            Some("admin"),
            Some("oversight"),
            &format!("/api/v1/audit?person={}", p.returnee),
        )
        .await;
    let actions: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"resume_consent") && actions.contains(&"resume_match"),
        "{log}"
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whitelist_by_region_and_never_to_an_enterprise() {
    let c = City::start().await;
    // ENT: not critical, 30 M CNY of output: tier 2 from 02-10, when the rail rider and the
    // returnee are green again and the case is not.
    let (s, v) = c
        .get(
            Some("admin"),
            Some("work_resumption"),
            "/api/v1/resume/plan",
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v,
        json!([{"enterprise_id": ENT, "name": "鹿城机械", "tier": 2,
            "tier_name": "above designated size", "rank": 1, "resume_date": "2020-02-10",
            "employees": 3, "local_worker_share": 0.9, "annual_output_cny": 30000000.0,
            "office_ready": 2}])
    );
    // The analyst sees the same counts; Hubei's epidemiologist no enterprise of Wenzhou.
    let (s, a) = c
        .get(Some("analyst"), Some("analysis"), "/api/v1/resume/plan")
        .await;
    assert_eq!((s, a), (StatusCode::OK, v));
    let (s, h) = c
        .get(
            Some("epi_hubei"),
            Some("work_resumption"),
            "/api/v1/resume/plan",
        )
        .await;
    assert_eq!((s, h), (StatusCode::OK, json!([])));
    // An enterprise is not shown the others' ranks.
    let (s, _) = c
        .get(Some("ent"), Some("work_resumption"), "/api/v1/resume/plan")
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enterprise_account_is_named_by_its_enterprise_not_as_a_community() {
    let c = City::start().await;
    let me = |who: &'static str| {
        let c = &c;
        async move {
            let resp = c
                .client
                .get(format!("{}/api/v1/me", c.base))
                .bearer_auth(c.token(who))
                .send()
                .await
                .unwrap();
            resp.json::<Value>().await.unwrap()
        }
    };
    let ent = me("ent").await;
    assert_eq!(ent["role"], "enterprise", "{ent}");
    assert_eq!(ent["enterprise"], ENT, "{ent}");
    assert_eq!(ent["community"], Value::Null, "{ent}");
    let cw = me("cw").await;
    assert_eq!(
        (cw["community"].clone(), cw["enterprise"].clone()),
        (json!("C1"), Value::Null),
        "{cw}"
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn naming_a_stranger_tells_an_enterprise_nothing_of_their_registration() {
    let c = City::start().await;
    let p = &c.people;
    // Nobody in `persons` has this id; the household member is registered. Neither works for
    // ENT: to ENT both are `not_employee`, to the command centre the first is `not_registered`.
    let stranger =
        model::PersonId::from_parts(330302, model::Date::from_ymd(1970, 1, 1).expect("date"), 66)
            .expect("id");
    let body = format!(
        "application_id,enterprise_id,person_id,start_date\n\
         PROBE,{ENT},{stranger},2020-02-10\nPROBE,{ENT},{},2020-02-10\n",
        p.household
    );
    let (s, v) = upload_as(&c, "ent", "applications", body.into_bytes()).await;
    assert_eq!(
        (s, v["rows_accepted"].clone()),
        (StatusCode::OK, json!(2)),
        "{v}"
    );
    let url = "/api/v1/resume/applications/PROBE";
    let verdicts = |v: &Value| {
        let mut got: Vec<(String, String)> = by_person(v)
            .into_iter()
            .map(|(id, verdict, _, _)| (id, verdict))
            .collect();
        got.sort();
        got
    };
    let mut want = vec![
        (stranger.to_string(), "not_employee".to_string()),
        (p.household.to_string(), "not_employee".to_string()),
    ];
    want.sort();
    let (s, e) = c.get(Some("ent"), Some("work_resumption"), url).await;
    assert_eq!(s, StatusCode::OK, "{e}");
    assert_eq!(verdicts(&e), want);
    assert_eq!(
        (
            e["summary"][0]["not_registered"].clone(),
            e["summary"][0]["not_employee"].clone()
        ),
        (json!(0), json!(2)),
        "{e}"
    );
    let (s, a) = c.get(Some("admin"), Some("work_resumption"), url).await;
    assert_eq!(s, StatusCode::OK, "{a}");
    assert_eq!(
        (
            a["summary"][0]["not_registered"].clone(),
            a["summary"][0]["not_employee"].clone()
        ),
        (json!(1), json!(1)),
        "{a}"
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_sending_someone_elses_file_does_not_confirm_it_was_stored() {
    let c = City::start().await;
    let p = &c.people;
    // The command centre stored OTHER_ENT's one-row application; ENT guesses it byte for byte.
    let theirs = format!(
        "application_id,enterprise_id,person_id,start_date\nA9,{OTHER_ENT},{},2020-02-10\n",
        p.far
    );
    let (s, v) = c
        .upload(
            "admin",
            "applications",
            theirs.clone().into_bytes(),
            "text/csv",
        )
        .await;
    assert_eq!(
        (s, v["duplicate"].clone()),
        (StatusCode::OK, json!(false)),
        "{v}"
    );
    let (s, v) = upload_as(&c, "ent", "applications", theirs.into_bytes()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["duplicate"].clone(), v["rows_rejected"].clone()),
        (json!(false), json!(1)),
        "{v}"
    );
    // Its own file, sent twice, is a duplicate the second time.
    let mine = format!(
        "application_id,enterprise_id,person_id,start_date\nA10,{ENT},{},2020-02-10\n",
        p.rail
    );
    let (_, v) = upload_as(&c, "ent", "applications", mine.clone().into_bytes()).await;
    assert_eq!(
        (v["duplicate"].clone(), v["rows_accepted"].clone()),
        (json!(false), json!(1)),
        "{v}"
    );
    let (_, v) = upload_as(&c, "ent", "applications", mine.into_bytes()).await;
    assert_eq!(v["duplicate"], json!(true), "{v}");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_dates_at_the_ends_of_the_calendar_are_decided() {
    let c = City::start().await;
    let p = &c.people;
    let body = format!(
        "application_id,enterprise_id,person_id,start_date\n\
         ENDS,{ENT},{},0000-01-01\nENDS,{ENT},{},9999-12-31\n",
        p.rail, p.returnee
    );
    let (s, v) = upload_as(&c, "ent", "applications", body.into_bytes()).await;
    assert_eq!(
        (s, v["rows_accepted"].clone()),
        (StatusCode::OK, json!(2)),
        "{v}"
    );
    let (s, v) = c
        .get(
            Some("admin"),
            Some("work_resumption"),
            "/api/v1/resume/applications/ENDS",
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["summary"][0]["rows"], json!(2), "{v}");
    c.stop().await;
}
