//! A small hand-made city served by the real server on a loopback port: the data loaded through
//! the upload endpoint, accounts of every role, and a client that speaks to it over HTTP.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;

use engine::{Engine, EngineOptions};
use fangyi_server as server;
use model::{Date, PersonId};
use ops::NewUser;
use reqwest::StatusCode;
use serde_json::Value;

/// The people of the city, by what the tests use them for.
pub struct People {
    /// A confirmed case living in Lucheng (330302), community C1, household H1.
    pub case: PersonId,
    /// The case's household member (C1).
    pub household: PersonId,
    /// Rode the case's train car; lives in Lucheng, community C2.
    pub rail: PersonId,
    /// Rode the same car; lives in Wuhan (420106): outside Wenzhou.
    pub far: PersonId,
    /// Came back from Wuhan, registered, stays in C1.
    pub returnee: PersonId,
}

pub struct City {
    pub dir: tempfile::TempDir,
    pub base: String,
    pub client: reqwest::Client,
    pub engine: Engine,
    pub keys: vault::Keys,
    pub tokens: HashMap<&'static str, String>,
    pub people: People,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    /// The PostgreSQL test database, when FANGYI_TEST_POSTGRES names a server.
    _db: Option<ops::testing::TestDb>,
}

fn id(region: u32, y: i32, m: u32, d: u32, seq: u32) -> PersonId {
    let birth = Date::from_ymd(y, m, d).expect("date");
    PersonId::from_parts(region, birth, seq).expect("id")
}

pub fn people() -> People {
    People {
        case: id(330302, 1980, 5, 1, 11),
        household: id(330302, 1982, 7, 9, 22),
        rail: id(330302, 1990, 1, 2, 33),
        far: id(420106, 1975, 3, 4, 44),
        returnee: id(330302, 1995, 8, 8, 55),
    }
}

/// The files of the city, by kind.
pub fn files(p: &People) -> Vec<(&'static str, String)> {
    let persons = format!(
        "person_id,name,phone,birth_date,sex,home_region,community_id,household_id,address\n\
         {},张三,13812345678,1980-05-01,M,330302,C1,H1,温州市鹿城区一号\n\
         {},李四,13912345678,1982-07-09,F,330302,C1,H1,温州市鹿城区一号\n\
         {},王五,13712345678,1990-01-02,M,330302,C2,H2,温州市鹿城区二号\n\
         {},赵六,13612345678,1975-03-04,M,420106,,H3,武汉市青山区\n\
         {},钱七,13512345678,1995-08-08,F,330302,C1,H4,温州市鹿城区三号\n",
        p.case, p.household, p.rail, p.far, p.returnee
    );
    let travel = format!(
        "person_id,mode,service_no,service_date,car,seat,from_station,from_region,depart_time,to_station,to_region,arrive_time\n\
         {},rail,G1234,2020-01-20,05,05A,武汉,420100,2020-01-20T08:00:00+08:00,温州南,330300,2020-01-20T14:00:00+08:00\n\
         {},rail,G1234,2020-01-20,05,07C,武汉,420100,2020-01-20T08:00:00+08:00,温州南,330300,2020-01-20T14:00:00+08:00\n\
         {},rail,G1234,2020-01-20,05,09F,武汉,420100,2020-01-20T08:00:00+08:00,温州南,330300,2020-01-20T14:00:00+08:00\n\
         {},rail,G5678,2020-01-21,02,01A,武汉,420100,2020-01-21T09:00:00+08:00,温州南,330300,2020-01-21T15:00:00+08:00\n",
        p.case, p.rail, p.far, p.returnee
    );
    let labs = format!(
        "person_id,sample_time,result,diagnosis,onset_date,reported_time\n\
         {},2020-01-22T09:00:00+08:00,positive,confirmed,2020-01-21,2020-01-23T10:00:00+08:00\n",
        p.case
    );
    let registrations = format!(
        "person_id,arrival_date,from_region,stay_region,stay_community,stay_address,phone\n\
         {},2020-01-21,420100,330302,C1,温州市鹿城区三号,13512345678\n",
        p.returnee
    );
    let risk = "region,level,valid_from,valid_to\n420100,high,2020-01-01,\n".to_string();
    // The enterprise ENT (Lucheng) employs the case, the rail rider and the returnee, and asks
    // for them and the household member (not its employee) to return on 2020-02-03; it has
    // one opening for a welder, which the returnee seeks.
    let enterprises = format!(
        "enterprise_id,name,industry,region,employees,local_worker_share,annual_output_cny,critical\n\
         {ENT},鹿城机械,manufacturing,330302,3,0.9,30000000,false\n"
    );
    let employment = format!(
        "enterprise_id,person_id\n{ENT},{}\n{ENT},{}\n{ENT},{}\n",
        p.case, p.rail, p.returnee
    );
    let applications = format!(
        "application_id,enterprise_id,person_id,start_date,submitted_time\n\
         APP1,{ENT},{},2020-02-03,2020-01-24T09:00:00+08:00\n\
         APP1,{ENT},{},2020-02-03,2020-01-24T09:00:00+08:00\n\
         APP1,{ENT},{},2020-02-03,2020-01-24T09:00:00+08:00\n\
         APP1,{ENT},{},2020-02-03,2020-01-24T09:00:00+08:00\n",
        p.case, p.rail, p.returnee, p.household
    );
    let jobs = format!("job_id,enterprise_id,skill,openings,region\nJ1,{ENT},welder,1,330302\n");
    let seekers = format!(
        "person_id,skill,region,available_from\n{},welder,330302,2020-02-01\n",
        p.returnee
    );
    vec![
        ("persons", persons),
        ("travel", travel),
        ("lab_results", labs),
        ("registrations", registrations),
        ("risk_areas", risk),
        ("enterprises", enterprises),
        ("employment", employment),
        ("applications", applications),
        ("jobs", jobs),
        ("job_seekers", seekers),
    ]
}

/// The city's one enterprise, which the `ent` account speaks for.
pub const ENT: &str = "91330302MA0000001N";
/// Another enterprise.
pub const OTHER_ENT: &str = "91330302MA0000002R";

/// The accounts created, by the name the tests use.
pub const ACCOUNTS: &[(&str, &str, Option<&str>, Option<&str>)] = &[
    ("admin", "admin", None, None),
    ("epi", "epidemiologist", Some("330300"), None),
    ("epi_hubei", "epidemiologist", Some("420000"), None),
    ("cw", "community_worker", Some("330302"), Some("C1")),
    ("cw2", "community_worker", Some("330302"), Some("C2")),
    ("analyst", "analyst", None, None),
    ("gate", "checkpoint", None, None),
    // An enterprise account keeps its enterprise where a community worker's community is.
    ("ent", "enterprise", None, Some(ENT)),
    // Market supervisors of Wenzhou and of Hubei (contract §9).
    ("market", "market_supervisor", Some("330300"), None),
    ("market_hb", "market_supervisor", Some("420000"), None),
];

pub fn test_keys() -> vault::Keys {
    vault::Keys::derive(&vault::MasterKey::from_bytes([42; 32]))
}

impl City {
    /// Starts a server over an empty data dir (and `db_url`, default SQLite in the data dir),
    /// creates the accounts, and uploads the city's files as the admin.
    pub async fn start_with(db_url: Option<String>, db: Option<ops::testing::TestDb>) -> City {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let keys = test_keys();
        let engine = Engine::open(
            EngineOptions {
                data: data.clone(),
                db_url,
                rules: rules::RuleSet::builtin(),
                alert_rules: alerts::AlertRules::builtin(),
                ..EngineOptions::new(&data)
            },
            keys.clone(),
        )
        .await
        .unwrap();
        let mut tokens = HashMap::new();
        for (name, role, region, community) in ACCOUNTS {
            engine
                .ops()
                .add_user(
                    &NewUser {
                        name,
                        role,
                        region: *region,
                        community: *community,
                    },
                    1,
                )
                .await
                .unwrap();
            let (t, _) = engine
                .ops()
                .create_token(name, "test", 1, None)
                .await
                .unwrap();
            tokens.insert(*name, t);
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let opts = server::ServeOptions {
            addr,
            spool: Some(dir.path().join("spool")),
            public_rate: 1000.0,
            public_burst: 1000,
            login_rate: 1000.0,
            login_burst: 1000,
            resident_rate: 1000.0,
            resident_burst: 1000,
            outbox: Some(dir.path().join("outbox")),
            // The tests flush residents' reports themselves (`Engine::flush_inbox`).
            flush_every: std::time::Duration::from_secs(3600),
            ..Default::default()
        };
        let server = tokio::spawn(server::serve(engine.clone(), opts, listener, async {
            let _ = stopped.await;
        }));
        let city = City {
            dir,
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
            engine,
            keys,
            tokens,
            people: people(),
            stop: Some(stop),
            server: Some(server),
            _db: db,
        };
        for (kind, body) in files(&city.people) {
            let (status, v) = city
                .upload("admin", kind, body.into_bytes(), "text/csv")
                .await;
            assert_eq!(status, StatusCode::OK, "{kind}: {v}");
            assert_eq!(v["rows_rejected"], 0, "{kind}: {v}");
        }
        city
    }

    /// The city on SQLite, or on a fresh PostgreSQL database when FANGYI_TEST_POSTGRES is set.
    pub async fn start() -> City {
        match ops::testing::postgres_url() {
            Some(url) => {
                let db = ops::testing::postgres(&url).await;
                City::start_with(Some(db.url.clone()), Some(db)).await
            }
            None => City::start_with(None, None).await,
        }
    }

    /// Stops accepting, finishes requests in flight, and waits for the server to end.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(h) = self.server.take() {
            h.await.unwrap().unwrap();
        }
    }

    pub fn token(&self, who: &str) -> &str {
        &self.tokens[who]
    }

    /// GET `path` (under the base URL) as `who` (None: no token) for `purpose`.
    pub async fn get(
        &self,
        who: Option<&str>,
        purpose: Option<&str>,
        path: &str,
    ) -> (StatusCode, Value) {
        let r = self.client.get(format!("{}{path}", self.base));
        self.send(r, who, purpose).await
    }

    /// POST a JSON body.
    pub async fn post(
        &self,
        who: Option<&str>,
        purpose: Option<&str>,
        path: &str,
        body: Value,
    ) -> (StatusCode, Value) {
        let r = self.client.post(format!("{}{path}", self.base)).json(&body);
        self.send(r, who, purpose).await
    }

    /// Sends a request as `who` (None: no token) for `purpose`; the body as JSON when it is.
    async fn send(
        &self,
        mut r: reqwest::RequestBuilder,
        who: Option<&str>,
        purpose: Option<&str>,
    ) -> (StatusCode, Value) {
        if let Some(w) = who {
            r = r.bearer_auth(self.token(w));
        }
        if let Some(p) = purpose {
            r = r.header("X-Purpose", p);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Uploads a file of `kind`.
    pub async fn upload(
        &self,
        who: &str,
        kind: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> (StatusCode, Value) {
        let resp = self
            .client
            .post(format!("{}/api/v1/ingest/{kind}", self.base))
            .bearer_auth(self.token(who))
            .header("X-Purpose", "data_management")
            .header("Content-Type", content_type)
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
}
