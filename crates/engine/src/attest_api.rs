//! Health attestations between deployments (issue 19 item 1), both sides, through
//! [`Engine::ask`] like every question about people.
//!
//! - The home province (A) answers a signed request (`exchange::attest`) from another
//!   deployment: checked against its hub-anchored trust list, a request id taken once, at most
//!   [`MAX_REQUESTS_PER_MINUTE`] per asking region, asked as the account `peer:<region>` (role
//!   `peer`, which may take this action and no other) for the request's purpose, the codes
//!   computed as `person_code` computes them (this deployment's own records and overrides: an
//!   attestation received from elsewhere is not passed on), and answered with only color, rule
//!   groups and `valid_until`, signed by the current issuer key. The audit entry names who
//!   asked, about whom (pseudonyms) and why.
//! - The arrival province (B) asks about the persons it holds an arrival or registration for
//!   from A's region ([`Engine::peer_requests`]: batches of at most `MAX_BATCH`, each audited
//!   as a disclosure to A), then records each answer ([`Engine::peer_receive`]): checked
//!   against its trust list and stored by pseudonym, or, when A did not answer, "home data
//!   unavailable" for those persons that day. The stored attestations are kept here
//!   ([`PeerCache`]) and folded into every code computed ([`crate::ask::Ctx::code_engine`]).
//!
//! No HTTP here: the server carries the bytes (`server::exchange`).

use std::sync::Arc;
use std::time::Duration;

use exchange::ExchangeError;
use exchange::attest::{self, Attested};
use model::{Color, Date, Region, Timestamp};
use privacy::{Action, Purpose, Role, Scope};
use rules::evaluate::Detail;
use rules::{Condition, PeerAttestation, PeerAttestations, PeerUnavailable, RuleSet};

use crate::ask::{Answer, Asking, Async, Blocking, Ctx};
use crate::{Account, Caller, Engine, EngineError};

/// How many requests one region may make per minute (each up to `MAX_BATCH` persons).
pub const MAX_REQUESTS_PER_MINUTE: i64 = 20;

/// The largest request body accepted (10,000 ID numbers and the envelope fit well within).
pub const MAX_REQUEST_BYTES: usize = 1 << 20;

/// How many days back an arrival or registration makes a person one B asks about.
pub const ARRIVAL_DAYS: i32 = 14;

/// How long the kept attestations are trusted before the database is asked whether another
/// process (a `fangyi peer fetch` beside a server) recorded new ones.
pub(crate) const PEERS_TTL: Duration = Duration::from_secs(2);

/// The attestations received, kept between requests, checked against the stamp of the
/// table they are in.
pub(crate) type PeerCache = crate::checked::Checked<(i64, i64, i64, i64), PeerAttestations>;

/// One request B sends to a home province: the signed bytes, and whom it asks about (store
/// pseudonyms, in the request's order).
#[derive(Clone, Debug)]
pub struct PeerBatch {
    /// The home province's region code.
    pub home: String,
    pub request: Vec<u8>,
    pub request_id: String,
    persons: Vec<i64>,
}

impl PeerBatch {
    pub fn len(&self) -> usize {
        self.persons.len()
    }

    pub fn is_empty(&self) -> bool {
        self.persons.is_empty()
    }
}

/// What B recorded of one answer.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PeerReceived {
    pub home: String,
    pub request_id: String,
    pub persons: usize,
    /// Persons with a color from the home province (green included).
    pub attested: usize,
    /// Of those, yellow or red.
    pub not_green: usize,
    /// Persons the home province does not know.
    pub not_known: usize,
    /// Persons marked "home data unavailable" (the province did not answer, or its answer was
    /// refused).
    pub unavailable: usize,
    /// Why, when they were.
    pub error: Option<String>,
}

fn exchange_error(e: ExchangeError) -> EngineError {
    match e {
        ExchangeError::Bad(m) => EngineError::BadRequest(m),
        ExchangeError::Refused(m) => EngineError::Unauthenticated(m),
        ExchangeError::Conflict(m) => EngineError::Conflict(m),
        other => EngineError::Internal(other.to_string()),
    }
}

/// The rule group of a rule of `rules` (its condition's kind), for an attestation.
fn group_of(rules: &RuleSet, rule: &str) -> Option<&'static str> {
    let r = rules.rules.iter().find(|r| r.id == rule)?;
    Some(match r.when {
        Condition::Case { .. } => "case",
        Condition::Contact { .. } => "contact",
        Condition::Arrival { .. } => "arrival",
        Condition::Fever { .. } => "fever",
        Condition::Recovered { .. } => "recovered",
    })
}

/// A rule group as it may be stored: a short lowercase word.
fn plausible_group(g: &str) -> bool {
    !g.is_empty() && g.len() <= 32 && g.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
}

impl Engine {
    /// The deployment's trust list (`keys/trust.json`, hub entries included).
    fn trust_list(&self) -> Result<codesign::TrustList, EngineError> {
        let entries = codesign::issuer::read_trust(self.data()).map_err(EngineError::internal)?;
        codesign::TrustList::from_entries(&entries).map_err(EngineError::internal)
    }

    /// The attestations received, kept, and reloaded when another process may have recorded
    /// more (checked every two seconds at most) or after one recorded here.
    pub(crate) async fn peer_attestations(&self) -> Result<Arc<PeerAttestations>, EngineError> {
        let ops = self.ops();
        self.inner
            .peers
            .get(
                async || Ok(ops.attestations_stamp().await?),
                async || self.load_peer_attestations().await,
            )
            .await
    }

    async fn load_peer_attestations(&self) -> Result<PeerAttestations, EngineError> {
        let malformed = |what: &str| EngineError::Internal(format!("a stored {what} is malformed"));
        let mut attested = Vec::new();
        for a in self.ops().attestations().await? {
            attested.push(PeerAttestation {
                person: a.person,
                color: Color::parse(&a.color).ok_or_else(|| malformed("attestation color"))?,
                until: a
                    .until
                    .parse::<Date>()
                    .map_err(|_| malformed("attestation end"))?,
                province: a.province,
                groups: a.groups,
            });
        }
        let mut unavailable = Vec::new();
        for u in self.ops().unavailable().await? {
            unavailable.push(PeerUnavailable {
                person: u.person,
                on: u
                    .on
                    .parse::<Date>()
                    .map_err(|_| malformed("unavailable day"))?,
                province: u.province,
            });
        }
        Ok(PeerAttestations::new(attested, unavailable))
    }

    /// A: answers another deployment's signed request (`POST /exchange/v1/attestations`) with
    /// the signed answer's bytes. A request not signed by a trusted key of the region it names
    /// is refused before anything is asked (unauthenticated); a replay is a conflict; past the
    /// rate, throttled.
    pub async fn answer_attestation(&self, body: &[u8]) -> Result<Vec<u8>, EngineError> {
        if body.len() > MAX_REQUEST_BYTES {
            return Err(EngineError::BadRequest(format!(
                "a request of {} bytes; at most {MAX_REQUEST_BYTES}",
                body.len()
            )));
        }
        let now = Timestamp::now().secs();
        let signer = self.signer()?;
        let own = signer.issuer.region.clone();
        let trust = self.trust_list()?;
        let req = attest::open_request(body, &trust, &own, now).map_err(exchange_error)?;
        let purpose = Purpose::parse(&req.purpose)
            .ok_or_else(|| EngineError::BadRequest(format!("purpose {}", req.purpose)))?;
        let asked_day = match &req.as_of {
            Some(d) => Some(
                d.parse::<Date>()
                    .map_err(|_| EngineError::BadRequest("as_of is not a date".into()))?,
            ),
            None => None,
        };
        let as_of_text = req.as_of.clone().unwrap_or_else(|| "today".into());
        let caller = Caller::new(
            Account {
                name: format!("peer:{}", req.from),
                role: Role::Peer,
                scope: Scope::default(),
            },
            purpose,
            format!(
                "POST /exchange/v1/attestations request {} from {} ({} persons, as of {as_of_text})",
                req.request_id,
                req.from,
                req.persons.len()
            ),
        );
        let body = body.to_vec();
        let work = Async(move |asking: Asking| async move {
            let now_ms = now * 1000;
            let seen = asking
                .engine()
                .ops()
                .peer_request_seen(
                    &req.request_id,
                    &req.from,
                    req.persons.len() as i64,
                    now_ms,
                    now_ms - 60_000,
                )
                .await?;
            match seen {
                ops::PeerRequestSeen::Replay => {
                    return Err(EngineError::Conflict(format!(
                        "request {} was answered before: a replay",
                        req.request_id
                    )));
                }
                ops::PeerRequestSeen::New { recent } if recent > MAX_REQUESTS_PER_MINUTE => {
                    return Err(EngineError::Throttled(
                        format!(
                            "region {} asked {recent} times within a minute; at most {MAX_REQUESTS_PER_MINUTE}",
                            req.from
                        ),
                        60,
                    ));
                }
                ops::PeerRequestSeen::New { .. } => {}
            }
            asking
                .blocking(move |ctx: &Ctx<'_>| {
                    let today = Timestamp::now().date(ctx.zone());
                    let as_of = asked_day.unwrap_or(today);
                    if as_of > today {
                        return Err(EngineError::BadRequest(format!(
                            "as_of {as_of} is after today here ({today})"
                        )));
                    }
                    let items = attest_all(ctx, &req.persons, as_of);
                    let known = items.iter().flatten().count();
                    let bytes = attest::answer(&own, &body, items, &signer.key, now);
                    Ok(Answer::new(bytes, known as i64).outcome(format!(
                        "ok: {known} of {} persons known, answered to {}",
                        req.persons.len(),
                        req.from
                    )))
                })
                .await
        });
        self.ask(&caller, Action::Attest, work).await
    }

    /// B: the signed requests to home province `home` about everyone with an arrival or
    /// registration from its region in the [`ARRIVAL_DAYS`] up to `as_of` (default today),
    /// at most `MAX_BATCH` persons each. Audited: their ID numbers leave for `home`.
    pub async fn peer_requests(
        &self,
        caller: &Caller,
        home: &str,
        purpose: &str,
        as_of: Option<&str>,
    ) -> Result<Vec<PeerBatch>, EngineError> {
        let region: Region = home
            .trim()
            .parse()
            .map_err(|_| EngineError::BadRequest(format!("{home:?} is not a region code")))?;
        if !attest::PURPOSES.contains(&purpose) {
            return Err(EngineError::BadRequest(format!(
                "purpose {purpose:?} is not one of {}",
                attest::PURPOSES.join(", ")
            )));
        }
        let signer = self.signer()?;
        let own = signer.issuer.region.clone();
        let home = home.trim().to_string();
        if home == own {
            return Err(EngineError::BadRequest(format!(
                "{home} is this deployment's own region"
            )));
        }
        let (purpose, as_of) = (purpose.to_string(), as_of.map(str::to_string));
        let work = Blocking(move |ctx: &Ctx<'_>| {
            let day = crate::parse_as_of_date(as_of.as_deref(), ctx.zone())?;
            let mut persons = Vec::new();
            ctx.snap
                .index
                .arrivals_between(day.add_days(-ARRIVAL_DAYS), day, &mut |a| {
                    if Region::new(a.origin).is_some_and(|o| region.covers(o)) {
                        persons.push(a.person);
                    }
                });
            persons.sort_unstable();
            persons.dedup();
            ctx.shown.note_all(persons.iter().copied());
            let now = Timestamp::now().secs();
            let day_text = day.to_string();
            let mut batches = Vec::new();
            for chunk in persons.chunks(attest::MAX_BATCH) {
                let ids: Vec<String> = chunk
                    .iter()
                    .map(|&p| {
                        ctx.keys
                            .pseudonyms
                            .reveal(p)
                            .map(|id| id.to_string())
                            .ok_or_else(|| EngineError::Internal(format!("pseudonym {p}")))
                    })
                    .collect::<Result<_, _>>()?;
                let request = attest::request_as_of(
                    &own,
                    &home,
                    &purpose,
                    &ids,
                    Some(&day_text),
                    &signer.key,
                    now,
                )
                .map_err(exchange_error)?;
                let request_id = attest::read_request(&request)
                    .map_err(exchange_error)?
                    .request_id;
                batches.push(PeerBatch {
                    home: home.clone(),
                    request,
                    request_id,
                    persons: chunk.to_vec(),
                });
            }
            let n = persons.len();
            Ok(Answer::new(batches, n as i64).outcome(format!(
                "ok: {n} persons arrived from {home}, asked about as of {day}"
            )))
        });
        self.ask(caller, Action::Attest, work).await
    }

    /// B: records the home province's answer to `batch` — checked against the trust list,
    /// stored by pseudonym — or, when there is none (`Err`: down, slow, refused) or it does not
    /// verify, "home data unavailable" for the batch's persons today. Audited with what was
    /// received.
    pub async fn peer_receive(
        &self,
        caller: &Caller,
        batch: &PeerBatch,
        answer: Result<Vec<u8>, String>,
    ) -> Result<PeerReceived, EngineError> {
        let batch = batch.clone();
        let work = Async(move |asking: Asking| async move {
            let engine = asking.engine().clone();
            let zone = asking.snapshot().await?.zone();
            let now = Timestamp::now();
            for &p in &batch.persons {
                asking.note(p);
            }
            let opened = match answer {
                Ok(bytes) => engine.trust_list().and_then(|trust| {
                    attest::open_answer(
                        &bytes,
                        &batch.request,
                        batch.persons.len(),
                        &trust,
                        &batch.home,
                        now.secs(),
                    )
                    .map_err(exchange_error)
                    .and_then(|a| stored(&batch, a, now, zone))
                }),
                Err(e) => Err(EngineError::Unavailable(e)),
            };
            let mut got = PeerReceived {
                home: batch.home.clone(),
                request_id: batch.request_id.clone(),
                persons: batch.persons.len(),
                attested: 0,
                not_green: 0,
                not_known: 0,
                unavailable: 0,
                error: None,
            };
            let outcome = match opened {
                Ok((received, cleared)) => {
                    engine
                        .ops()
                        .record_attestations(&received, &batch.home, &cleared)
                        .await?;
                    got.attested = received.len();
                    got.not_green = received.iter().filter(|a| a.color != "green").count();
                    got.not_known = cleared.len();
                    format!(
                        "ok: {} attested by {} ({} not green), {} not known there",
                        got.attested, batch.home, got.not_green, got.not_known
                    )
                }
                Err(e) => {
                    let why = e.to_string();
                    engine
                        .ops()
                        .record_unavailable(
                            &batch.persons,
                            &batch.home,
                            &now.date(zone).to_string(),
                            now.millis(),
                            &why,
                        )
                        .await?;
                    got.unavailable = batch.persons.len();
                    let outcome = format!(
                        "ok: home data unavailable from {} for {} persons: {why}",
                        batch.home, got.unavailable
                    );
                    got.error = Some(why);
                    outcome
                }
            };
            engine.inner.peers.forget();
            let rows = got.persons as i64;
            Ok(Answer::new(got, rows).outcome(outcome))
        });
        self.ask(caller, Action::Attest, work).await
    }
}

/// A's items for `persons` (ID numbers) as of `as_of`: `None` for a malformed number and for
/// someone not registered here whom no record makes red or yellow (as `person_code` refuses
/// them). Everyone asked about is noted for the audit entry.
fn attest_all(ctx: &Ctx<'_>, persons: &[String], as_of: Date) -> Vec<Option<Attested>> {
    let engine = ctx.own_code_engine();
    persons
        .iter()
        .map(|id| {
            let id = crate::parse_person(id).ok()?;
            let p = ctx.keys.pseudonyms.pseudonym(id);
            ctx.shown.note(p);
            let code = engine.code_at(ctx.rules, p, as_of, &|_| String::new(), Detail::Local);
            if code.color == Color::Green && !ctx.registered(p).unwrap_or(false) {
                return None;
            }
            let mut groups: Vec<String> = code
                .reasons
                .iter()
                .filter(|r| r.color == code.color && r.color != Color::Green)
                .filter_map(|r| group_of(ctx.rules, &r.rule))
                .map(str::to_string)
                .collect();
            groups.sort_unstable();
            groups.dedup();
            Some(Attested {
                color: code.color.as_str().to_string(),
                groups,
                valid_until: code.valid_until.map(|d| d.to_string()),
            })
        })
        .collect()
}

/// B's rows of a verified answer: the attested persons, and those A does not know.
fn stored(
    batch: &PeerBatch,
    a: attest::Answer,
    now: Timestamp,
    zone: model::Zone,
) -> Result<(Vec<ops::StoredAttestation>, Vec<i64>), EngineError> {
    // An attestation without an end holds while the answer does.
    let answer_end = Timestamp(a.exp * 1000).date(zone);
    let (mut received, mut cleared) = (Vec::new(), Vec::new());
    for (&person, item) in batch.persons.iter().zip(a.items) {
        let Some(it) = item else {
            cleared.push(person);
            continue;
        };
        let bad =
            |what: String| EngineError::BadRequest(format!("{}'s answer: {what}", batch.home));
        let until = match &it.valid_until {
            Some(d) => d
                .parse::<Date>()
                .map_err(|_| bad(format!("valid_until {d:?} is not a date")))?,
            None => answer_end,
        };
        if it.groups.len() > 8 || !it.groups.iter().all(|g| plausible_group(g)) {
            return Err(bad("rule groups that are no rule groups".into()));
        }
        received.push(ops::StoredAttestation {
            person,
            province: batch.home.clone(),
            color: it.color,
            groups: it.groups,
            until: until.to_string(),
            received_at_ms: now.millis(),
            request_id: batch.request_id.clone(),
        });
    }
    Ok((received, cleared))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use model::Zone;
    use vault::{Keys, MasterKey};

    use super::*;
    use crate::test_city::{self, person};
    use crate::{EngineOptions, issuer_api};

    fn ingest(data: &Path, keys: &Keys, files: &[std::path::PathBuf]) {
        let s = ingest::into_data_dir(data, keys, Zone::CST, files).unwrap();
        assert_eq!(s.rows_rejected, 0);
    }

    fn admin() -> Caller {
        Caller::new(Account::local(), Purpose::ArrivalRegistration, "test")
    }

    /// Province A (Wenzhou, 330300: the test city, a case and the person living with them)
    /// and province B (Chengdu, 510100) where three of A's people and one from Guangzhou
    /// registered on arrival; each trusting the other's issuer key.
    async fn two_provinces(dir: &Path) -> (Engine, Engine, Keys) {
        let (a_data, b_data) = (dir.join("a"), dir.join("b"));
        test_city::two_households(&a_data, &dir.join("a-in"));
        let b_keys = Keys::derive(&MasterKey::from_bytes([44; 32]));
        let input = dir.join("b-in");
        std::fs::create_dir_all(&input).unwrap();
        let rows: Vec<String> = [
            (person(330302, 1), "330302"),
            (person(330302, 2), "330302"),
            (person(330302, 7), "330302"),
            (person(440100, 5), "440100"),
        ]
        .iter()
        .map(|(p, from)| format!("{p},2020-01-24,{from},510104"))
        .collect();
        std::fs::write(
            input.join("registrations.csv"),
            format!(
                "person_id,arrival_date,from_region,stay_region\n{}\n",
                rows.join("\n")
            ),
        )
        .unwrap();
        // Registered where they stay now, as B's persons.
        let persons: Vec<String> = rows
            .iter()
            .enumerate()
            .map(|(i, r)| format!("{},510104,B1,HB{i}", &r[..18]))
            .collect();
        std::fs::write(
            input.join("persons.csv"),
            format!(
                "person_id,home_region,community_id,household_id\n{}\n",
                persons.join("\n")
            ),
        )
        .unwrap();
        ingest(
            &b_data,
            &b_keys,
            &[input.join("registrations.csv"), input.join("persons.csv")],
        );
        let a_keys = test_city::keys();
        issuer_api::init_issuer(&a_data, &a_keys, "330300".parse().unwrap()).unwrap();
        issuer_api::init_issuer(&b_data, &b_keys, "510100".parse().unwrap()).unwrap();
        for (from, to) in [(&a_data, &b_data), (&b_data, &a_data)] {
            let (text, _) = issuer_api::export_trust(from, false).unwrap();
            let file = dir.join("trust.json");
            std::fs::write(&file, text).unwrap();
            issuer_api::import_trust(to, &file).unwrap();
        }
        let a = Engine::open(EngineOptions::new(&a_data), a_keys)
            .await
            .unwrap();
        let b = Engine::open(EngineOptions::new(&b_data), b_keys.clone())
            .await
            .unwrap();
        (a, b, b_keys)
    }

    #[tokio::test]
    async fn a_batch_of_arrivals_is_attested_verified_stored_and_folded_into_codes() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, _) = two_provinces(dir.path()).await;
        let as_of = Some("2020-01-25");
        let batches = b
            .peer_requests(&admin(), "330300", "arrival_registration", as_of)
            .await
            .unwrap();
        // Only the three who came from A's region; the one from Guangzhou is never named.
        assert_eq!(batches.len(), 1);
        assert_eq!(batches[0].len(), 3);
        let req = attest::read_request(&batches[0].request).unwrap();
        let mut asked = req.persons.clone();
        asked.sort();
        let mut want = vec![
            person(330302, 1).to_string(),
            person(330302, 2).to_string(),
            person(330302, 7).to_string(),
        ];
        want.sort();
        assert_eq!(asked, want);
        assert!(!req.persons.contains(&person(440100, 5).to_string()));

        let answer = a.answer_attestation(&batches[0].request).await.unwrap();
        let got = b
            .peer_receive(&admin(), &batches[0], Ok(answer.clone()))
            .await
            .unwrap();
        // The case and their household contact are known (red, yellow); the third is not.
        assert_eq!((got.attested, got.not_green, got.not_known), (2, 2, 1));

        // B's code of the case is red by A's word alone, the province named.
        let caller = Caller::new(Account::local(), Purpose::HealthCode, "test");
        let code = b
            .person_code(&caller, &person(330302, 1).to_string(), as_of)
            .await
            .unwrap();
        assert_eq!(code.color, "red");
        assert_eq!(code.reasons.len(), 1);
        assert_eq!(code.reasons[0].rule, "peer_attestation");
        assert!(
            code.reasons[0].detail.contains("330300"),
            "{:?}",
            code.reasons
        );
        assert!(
            code.reasons[0].detail.contains("case"),
            "{:?}",
            code.reasons
        );
        let contact = b
            .person_code(&caller, &person(330302, 2).to_string(), as_of)
            .await
            .unwrap();
        assert_ne!(contact.color, "green");
        // The signed QR code and the whole-population codes say the same.
        let signing = Caller::new(Account::local(), Purpose::HealthCode, "test");
        let issued = b
            .issue_code(&signing, &person(330302, 1).to_string(), as_of, None)
            .await
            .unwrap();
        assert_eq!(
            issued.claims.to_string().matches("\"red\"").count(),
            1,
            "{}",
            issued.claims
        );
        let out = dir.path().join("b-codes.csv");
        let outbreak = Caller::new(Account::local(), Purpose::OutbreakResponse, "test");
        let all = b
            .codes_to(&outbreak, as_of, out.clone(), false, Default::default())
            .await
            .unwrap();
        assert_eq!(
            all.counts[0], 2,
            "the third arrival and the Guangzhou one are green"
        );
        assert_eq!(all.counts[1] + all.counts[2], 2);
        assert!(
            std::fs::read_to_string(&out)
                .unwrap()
                .contains("peer_attestation")
        );

        // Asked in turn by A, B answers from its own records only: what A attested is not
        // echoed back (B's own code of the case is green).
        let a_signer = a.signer().unwrap();
        let back = attest::request_as_of(
            "330300",
            "510100",
            "health_code",
            &[person(330302, 1).to_string()],
            as_of,
            &a_signer.key,
            Timestamp::now().secs(),
        )
        .unwrap();
        let echoed = b.answer_attestation(&back).await.unwrap();
        let trust = a.trust_list().unwrap();
        let opened =
            attest::open_answer(&echoed, &back, 1, &trust, "510100", Timestamp::now().secs())
                .unwrap();
        assert_eq!(opened.items[0].as_ref().unwrap().color, "green");

        // The same request again is a replay.
        assert!(matches!(
            a.answer_attestation(&batches[0].request).await,
            Err(EngineError::Conflict(_))
        ));
        // A's answer replayed to another request of B's is refused by B, which then marks
        // the home data unavailable rather than trusting it.
        let again = b
            .peer_requests(&admin(), "330300", "arrival_registration", as_of)
            .await
            .unwrap();
        let refused = b
            .peer_receive(&admin(), &again[0], Ok(answer))
            .await
            .unwrap();
        assert_eq!(refused.unavailable, 3);
        assert!(refused.error.unwrap().contains("another request"));
    }

    /// A stored account with the role peer (written into the database by hand) signs in as
    /// nothing: only a signed request acts as a peer.
    #[test]
    fn no_account_is_a_peer() {
        let user = ops::User {
            name: "sneaky".into(),
            role: "peer".into(),
            region: None,
            community: None,
            created: 0,
            disabled: None,
            has_password: false,
        };
        assert!(matches!(
            Account::from_user(&user),
            Err(EngineError::Unauthenticated(_))
        ));
    }

    #[tokio::test]
    async fn an_unknown_signer_a_stranger_region_and_too_many_requests_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, _) = two_provinces(dir.path()).await;
        // A request signed by a key A does not trust for the region it names.
        let evil = codesign::IssuerKey::from_seed(&[66; 32]);
        let forged = attest::request(
            "510100",
            "330300",
            "health_code",
            &[person(330302, 1).to_string()],
            &evil,
            Timestamp::now().secs(),
        )
        .unwrap();
        assert!(matches!(
            a.answer_attestation(&forged).await,
            Err(EngineError::Unauthenticated(_))
        ));
        // Junk and an oversized body.
        assert!(matches!(
            a.answer_attestation(b"junk").await,
            Err(EngineError::BadRequest(_))
        ));
        assert!(matches!(
            a.answer_attestation(&vec![0; MAX_REQUEST_BYTES + 1]).await,
            Err(EngineError::BadRequest(_))
        ));
        // A request for a day after A's today.
        let signer = b.signer().unwrap();
        let ahead = attest::request_as_of(
            "510100",
            "330300",
            "health_code",
            &[],
            Some("2999-01-01"),
            &signer.key,
            Timestamp::now().secs(),
        )
        .unwrap();
        assert!(matches!(
            a.answer_attestation(&ahead).await,
            Err(EngineError::BadRequest(_))
        ));
        // B may ask only another region, for a known purpose.
        assert!(
            b.peer_requests(&admin(), "510100", "health_code", None)
                .await
                .is_err()
        );
        assert!(
            b.peer_requests(&admin(), "330300", "curiosity", None)
                .await
                .is_err()
        );
        // Past the rate, throttled (the one above counted).
        let mut throttled = false;
        for _ in 0..MAX_REQUESTS_PER_MINUTE + 1 {
            let r = attest::request(
                "510100",
                "330300",
                "health_code",
                &["not an id".to_string()],
                &signer.key,
                Timestamp::now().secs(),
            )
            .unwrap();
            match a.answer_attestation(&r).await {
                Ok(_) => {}
                Err(EngineError::Throttled(..)) => throttled = true,
                Err(e) => panic!("{e}"),
            }
        }
        assert!(throttled);
    }

    #[tokio::test]
    async fn a_home_province_that_does_not_answer_is_home_data_unavailable_until_it_does() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, _) = two_provinces(dir.path()).await;
        let batches = b
            .peer_requests(&admin(), "330300", "arrival_registration", None)
            .await
            .unwrap();
        // Today, nobody arrived from A within the window: nothing to ask.
        assert!(batches.is_empty());
        let batches = b
            .peer_requests(
                &admin(),
                "330300",
                "arrival_registration",
                Some("2020-01-25"),
            )
            .await
            .unwrap();
        let got = b
            .peer_receive(&admin(), &batches[0], Err("connection refused".into()))
            .await
            .unwrap();
        assert_eq!(got.unavailable, 3);
        let caller = Caller::new(Account::local(), Purpose::HealthCode, "test");
        let id = person(330302, 1).to_string();
        let code = b.person_code(&caller, &id, None).await.unwrap();
        assert_eq!(code.color, "green");
        assert!(
            code.reasons
                .iter()
                .any(|r| r.rule == "peer_attestation" && r.detail.contains("home data unavailable")),
            "{:?}",
            code.reasons
        );
        // A answers the retry: the mark goes, the attestation holds.
        let retry = b
            .peer_requests(
                &admin(),
                "330300",
                "arrival_registration",
                Some("2020-01-25"),
            )
            .await
            .unwrap();
        // A saved population run of that day, made before A answered…
        let out = dir.path().join("b-codes.csv");
        let outbreak = Caller::new(Account::local(), Purpose::OutbreakResponse, "test");
        let day = Some("2020-01-25");
        let before = b
            .codes_to(&outbreak, day, out.clone(), false, Default::default())
            .await
            .unwrap();
        assert_eq!(before.counts, [4, 0, 0]);
        let answer = a.answer_attestation(&retry[0].request).await.unwrap();
        b.peer_receive(&admin(), &retry[0], Ok(answer))
            .await
            .unwrap();
        // … is stale once it did: the next run, not asked to be full, sees the answers.
        let after = b
            .codes_to(&outbreak, day, out, false, Default::default())
            .await
            .unwrap();
        assert_eq!(after.counts[0], 2, "{:?}", after.counts);
        assert!(b.ops().unavailable().await.unwrap().is_empty());
        let code = b
            .person_code(&caller, &id, Some("2020-01-25"))
            .await
            .unwrap();
        assert_eq!(code.color, "red");
    }
}
