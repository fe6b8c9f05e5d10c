//! The rules over a real store: the three kinds and `enterprises` ingested from files, scanned
//! by period, with duplicate captures from two exports, captures near midnight placed on their
//! deployment-zone day, and the leads they make.

use std::path::{Path, PathBuf};

use fangyi_market::{MarketRules, Rule, Subject, leads, scan};
use model::{Date, Zone};
use store::Store;
use vault::{Keys, MasterKey};

fn keys() -> Keys {
    Keys::derive(&MasterKey::from_bytes([7; 32]))
}

fn ent(body: &[u8; 17]) -> String {
    model::EnterpriseId::from_body(body).unwrap().to_string()
}

fn ingest(data: &Path, files: &[PathBuf]) {
    let s = ingest::into_data_dir(data, &keys(), Zone::CST, files).unwrap();
    assert_eq!(
        s.rows_rejected,
        0,
        "{}",
        std::fs::read_to_string(&s.rejects).unwrap()
    );
}

fn date(s: &str) -> Date {
    Date::parse(s.as_bytes()).unwrap()
}

const HEADER: &str = "platform,listing_id,shop_id,seller_enterprise_id,seller_region,title,product,standard,registration_no,price_cny,units,sales,captured_time";

#[test]
fn a_store_is_scanned_by_day_in_the_deployment_zone_with_duplicates_once() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    let (a, b) = (ent(b"91330106MA2B0C0D1"), ent(b"91330106MA2B0C0D2"));
    std::fs::write(
        input.join("enterprises.csv"),
        format!("enterprise_id,name,industry,region\n{a},甲口罩厂,manufacturing,330106\n"),
    )
    .unwrap();
    std::fs::write(
        input.join("device_registrations.csv"),
        format!(
            "registration_no,holder_enterprise_id,product,valid_from,valid_to\n\
             浙械注准20192140001,{a},surgical,2019-01-01,2020-01-25\n"
        ),
    )
    .unwrap();
    std::fs::write(
        input.join("price_baselines.csv"),
        "shop_id,product,unit_price_cny,date\nS1,surgical,0.50,2019-12-01\nS1,surgical,0.60,2020-01-10\n",
    )
    .unwrap();
    // The same capture in two exports (L1 at 15:00 UTC, 23:00 on the 25th in +08:00), and
    // one at 20:00 UTC: the 26th in +08:00, past the registration's end.
    let l1 = format!(
        "tmall,L1,S1,{a},330106,医用外科口罩,surgical,YY 0469-2011,浙械注准20192140001,31.0,50,100,2020-01-25T15:00:00Z"
    );
    std::fs::write(
        input.join("listings-1.csv"),
        format!(
            "{HEADER}\n{l1}\n\
             jd,L2,S2,{b},330302,一次性口罩 防病毒,daily,,,5.0,10,40,2020-01-25T09:00:00+08:00\n"
        ),
    )
    .unwrap();
    std::fs::write(
        input.join("listings-2.csv"),
        format!(
            "{HEADER}\n{l1}\n\
             tmall,L1,S1,{a},330106,医用外科口罩,surgical,YY 0469-2011,浙械注准20192140001,31.0,50,160,2020-01-25T20:00:00Z\n\
             jd,L3,S3,,,普通口罩,daily,,,1.0,1,,2020-01-27T09:00:00+08:00\n"
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    ingest(&data, std::slice::from_ref(&input));
    let store = Store::open(&data, keys().key_id()).unwrap();
    let rules = MarketRules::default();

    let all = scan(&store, &rules, None, None).unwrap();
    assert_eq!(all.captures, 4);
    let got: Vec<(&str, String, Vec<Rule>)> = all
        .flagged
        .iter()
        .map(|f| {
            (
                f.listing_id.as_str(),
                f.captured_time.to_rfc3339(Zone::CST),
                f.rules.clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "L2",
                "2020-01-25T09:00:00+08:00".to_string(),
                vec![Rule::EfficacyClaim, Rule::NoStandard, Rule::UnknownSeller]
            ),
            (
                "L3",
                "2020-01-27T09:00:00+08:00".to_string(),
                vec![Rule::NoStandard, Rule::UnknownSeller]
            ),
            (
                "L1",
                "2020-01-25T23:00:00+08:00".to_string(),
                vec![Rule::PriceRise]
            ),
            (
                "L1",
                "2020-01-26T04:00:00+08:00".to_string(),
                vec![Rule::PriceRise, Rule::Unregistered]
            ),
        ]
    );
    let rise = all.flagged[2].evidence.price_rise.as_ref().unwrap();
    assert_eq!(
        (rise.baseline_unit_price_cny, rise.baseline_date.as_str()),
        (0.6, "2020-01-10")
    );

    // A period of deployment-zone days: the 26th holds the capture made at 20:00 UTC on the 25th.
    let day = scan(
        &store,
        &rules,
        Some(date("2020-01-26")),
        Some(date("2020-01-26")),
    )
    .unwrap();
    assert_eq!(day.captures, 1);
    assert_eq!(day.flagged[0].listing_id, "L1");
    let none = scan(&store, &rules, Some(date("2020-02-01")), None).unwrap();
    assert_eq!((none.captures, none.flagged.len()), (0, 0));

    // Leads: seller b has three rules on one listing, then seller a (two), then the shop
    // without a seller (two, no sales); each routed to its seller's region.
    let leads = leads(&all.flagged);
    let ids: Vec<String> = leads.iter().map(|l| l.subject.id()).collect();
    assert_eq!(
        ids,
        [
            format!("seller:{b}"),
            format!("seller:{a}"),
            "shop:jd/S3".to_string()
        ]
    );
    assert_eq!(leads[1].sales, 160, "the latest capture's sales, not a sum");
    assert_eq!(
        leads[1].county.map(|r| r.to_string()).as_deref(),
        Some("330106")
    );
    assert_eq!(
        leads[0].county.map(|r| r.to_string()).as_deref(),
        Some("330302")
    );
    assert_eq!(leads[2].county, None);
    assert!(matches!(&leads[2].subject, Subject::Shop { platform, .. } if platform == "jd"));
}

/// An outsider's input: a seller id in lower case is the same enterprise; another enterprise's
/// valid id is an unknown seller; a registration held by another enterprise still registers
/// (distributors resell); a title of 100,000 characters is read whole.
#[test]
fn ids_are_compared_as_codes_and_long_titles_are_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    let (a, other, maker) = (
        ent(b"91330106MA2B0C0D1"),
        ent(b"91330106MA2B0C0D9"),
        ent(b"91330106MA2B0C0D5"),
    );
    std::fs::write(
        input.join("enterprises.csv"),
        format!("enterprise_id,name,industry,region\n{a},甲,retail,330106\n{maker},乙,manufacturing,330106\n"),
    )
    .unwrap();
    std::fs::write(
        input.join("device_registrations.csv"),
        format!(
            "registration_no,holder_enterprise_id,product,valid_from,valid_to\n\
             浙械注准20192140001,{maker},surgical,2019-01-01,\n"
        ),
    )
    .unwrap();
    let long = format!("{}防病毒", "口".repeat(100_000));
    std::fs::write(
        input.join("listings.csv"),
        format!(
            "{HEADER}\n\
             jd,L1,S1,{},330106,外科口罩,surgical,YY 0469,浙械注准20192140001,10,10,,2020-01-25T09:00:00+08:00\n\
             jd,L2,S1,{other},330106,外科口罩,surgical,YY 0469,浙械注准20192140001,10,10,,2020-01-25T09:00:00+08:00\n\
             jd,L3,S1,{a},330106,{long},daily,,,10,10,,2020-01-25T09:00:00+08:00\n",
            a.to_lowercase()
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    ingest(&data, std::slice::from_ref(&input));
    let store = Store::open(&data, keys().key_id()).unwrap();
    let all = scan(&store, &MarketRules::default(), None, None).unwrap();
    let got: Vec<(&str, Vec<Rule>)> = all
        .flagged
        .iter()
        .map(|f| (f.listing_id.as_str(), f.rules.clone()))
        .collect();
    assert_eq!(
        got,
        [
            ("L2", vec![Rule::UnknownSeller]),
            ("L3", vec![Rule::EfficacyClaim])
        ]
    );
}
