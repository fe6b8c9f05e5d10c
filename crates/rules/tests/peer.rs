//! `peer_attestation` through the real ingest, index and code engine: a person green here whose
//! home province attested yellow is yellow until the attestation ends, with the province named;
//! a person red here stays red; the sweep and a recomputation agree with the single code; a home
//! province that did not answer is said without changing the color.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use fangyi_rules::{
    CodeEngine, Color, PEER_ATTESTATION, PeerAttestation, PeerAttestations, PeerUnavailable,
    RiskAreas, RuleSet,
};
use model::{Date, PersonId, Zone};
use store::{Store, Writer};
use trace::Index;
use vault::{Keys, MasterKey};

fn keys() -> Keys {
    Keys::derive(&MasterKey::from_bytes([9; 32]))
}

fn person(i: u32) -> PersonId {
    PersonId::from_parts(510104, Date::from_ymd(1980, 1, 1 + i).unwrap(), 10 + i).unwrap()
}

fn day(s: &str) -> Date {
    s.parse().unwrap()
}

/// Person 1 had a fever on 2020-01-30 (yellow here); persons 2 and 3 only checked in.
fn store(dir: &Path) -> Store {
    let k = keys();
    let data = dir.join("data");
    let input = dir.join("in");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(
        input.join("self_reports.csv"),
        format!(
            "person_id,time,temperature_c,visited_regions\n{},2020-01-30T10:00:00+08:00,37.6,\n",
            person(1)
        ),
    )
    .unwrap();
    std::fs::write(
        input.join("checkins.csv"),
        format!(
            "person_id,venue_id,time_in,time_out\n{},V1,2020-01-29T10:00:00+08:00,\n{},V2,2020-01-29T11:00:00+08:00,\n",
            person(2),
            person(3)
        ),
    )
    .unwrap();
    let mut w = Writer::open(&data, k.key_id(), Zone::CST, || {}).unwrap();
    let files = vec![input.join("self_reports.csv"), input.join("checkins.csv")];
    let s = ingest::run(
        &mut w,
        &k,
        &files,
        &ingest::Options::default(),
        &|_| {},
        &AtomicBool::new(false),
    )
    .unwrap();
    assert_eq!(s.rows_rejected, 0);
    drop(w);
    let store = Store::open(&data, k.key_id()).unwrap();
    trace::update(&store, &|_| {}).unwrap();
    Store::open(&data, k.key_id()).unwrap()
}

#[test]
fn attested_colors_fold_into_codes_sweeps_and_recomputations() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let index = Index::open(&store).unwrap();
    let p = |i| keys().pseudonyms.pseudonym(person(i));
    let peer = PeerAttestations::new(
        [
            PeerAttestation {
                person: p(2),
                province: "330300".into(),
                color: Color::Yellow,
                groups: vec!["contact".into()],
                until: day("2020-02-05"),
            },
            PeerAttestation {
                person: p(1),
                province: "330300".into(),
                color: Color::Red,
                groups: vec!["case".into()],
                until: day("2020-02-03"),
            },
        ],
        [PeerUnavailable {
            person: p(3),
            province: "430000".into(),
            on: day("2020-02-01"),
        }],
    );
    let engine = CodeEngine::new(&index, RiskAreas::load(&store).unwrap(), Zone::CST)
        .with_peer_attestations(peer);
    let rules = RuleSet::builtin();
    let name = |c: i64| c.to_string();
    let d = day("2020-02-01");

    // Green here, yellow at home: yellow until the attestation's end, the province named.
    let c2 = engine.code(&rules, p(2), d, &name);
    assert_eq!(
        (c2.color, c2.valid_until),
        (Color::Yellow, Some(day("2020-02-05")))
    );
    assert_eq!(c2.reasons.len(), 1);
    assert_eq!(c2.reasons[0].rule, PEER_ATTESTATION);
    assert!(
        c2.reasons[0]
            .detail
            .contains("home province 330300 attested yellow")
    );
    // The day after it ends: green again.
    assert_eq!(
        engine.code(&rules, p(2), day("2020-02-06"), &name).color,
        Color::Green
    );

    // Yellow here (a fever), red at home: red until the attestation's end, both reasons listed,
    // the most severe first.
    let c1 = engine.code(&rules, p(1), d, &name);
    assert_eq!(
        (c1.color, c1.valid_until),
        (Color::Red, Some(day("2020-02-03")))
    );
    assert_eq!(c1.reasons[0].rule, PEER_ATTESTATION);
    assert!(
        c1.reasons.iter().any(|r| r.rule == "fever"),
        "{:?}",
        c1.reasons
    );

    // Home data unavailable: green, said.
    let c3 = engine.code(&rules, p(3), d, &name);
    assert_eq!(c3.color, Color::Green);
    assert!(c3.reasons[0].detail.starts_with("home data unavailable"));

    // The sweep and a recomputation give what the single codes give.
    let sweep = engine.sweep(&[&rules], d, &());
    for (i, code) in [(1, &c1), (2, &c2), (3, &c3)] {
        let s = &sweep.codes[&p(i)][0];
        assert_eq!(
            (s.color, s.valid_until),
            (code.color, code.valid_until),
            "person {i}"
        );
        assert!(
            s.rules.split(';').any(|r| r == PEER_ATTESTATION),
            "{}",
            s.rules
        );
    }
    let again = engine.recompute(&rules, &[p(1), p(2)], d);
    assert_eq!(again[0].1, sweep.codes[&p(1)][0]);
    assert_eq!(again[1].1, sweep.codes[&p(2)][0]);
}
