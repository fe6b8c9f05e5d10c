//! Daily inflow (contract §7) on a small hand-made store, every figure computed by hand: what
//! counts as an arrival at each level, day bounds in +08:00, distinct persons per kind and
//! origin, shares, origin risk, and the community level.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use fangyi_inflow::{InflowLevel, InflowQuery, InflowRow, OriginRisk, Period, daily_inflow};
use model::{Date, Region, Zone};

/// The scenario, into Zhejiang (Wenzhou 330300: 330302 Lucheng, 330303 Longwan, 330304 Ouhai):
/// - A: rail from Wuchang 420106 to 330302 on the 22nd, and a checkpoint at 330302 from 420100
///   the same day; home 330302 / C2.
/// - B: a flight from Beijing Chaoyang 110105 to the prefecture code 330300 on the 22nd.
/// - C: rail from Hangzhou Xihu 330106 to 330302 on the 22nd; home 330106 / C9.
/// - D: coach from Longwan 330303 to Lucheng 330302 on the 22nd (within Wenzhou).
/// - E: a checkpoint at 330304 with no origin on the 22nd.
/// - F: registered from 420100 on the 22nd staying 330302 / C1.
/// - G: registered from 420100 on the 22nd without a stay region (not an arrival).
/// - H: a self-report visiting 420100 on the 22nd (not an arrival for inflow).
/// - J: rail from 420100 landing 2020-01-21T16:30Z (the 22nd in +08:00); home 330303 / C3.
/// - K: rail from 420100 at 2020-01-22T16:00Z (the 23rd).
/// - L: ship from Yichang 420500 to 330302 on the 23rd.
/// - M: rail from 420100 to 330302 on the 21st.
fn scenario(dir: &Path) -> Vec<Vec<PathBuf>> {
    vec![vec![
        file(
            dir,
            "travel.csv",
            TRAVEL,
            &[
                "{A},rail,G1722,2020-01-22,3,07A,武昌,420106,2020-01-22T08:00:00+08:00,温州南,330302,2020-01-22T14:00:00+08:00",
                "{B},flight,CA1541,2020-01-22,,23C,,110105,2020-01-22T08:00:00+08:00,,330300,2020-01-22T10:30:00+08:00",
                "{C},rail,G7501,2020-01-22,5,01A,杭州东,330106,2020-01-22T08:00:00+08:00,温州南,330302,2020-01-22T11:00:00+08:00",
                "{D},coach,K101,2020-01-22,,05,,330303,2020-01-22T08:00:00+08:00,,330302,2020-01-22T09:00:00+08:00",
                "{J},rail,Z47,2020-01-21,9,12B,汉口,420100,2020-01-21T06:00:00+08:00,温州南,330302,2020-01-21T16:30:00Z",
                "{K},rail,Z49,2020-01-22,9,12B,汉口,420100,2020-01-22T06:00:00+08:00,温州南,330302,2020-01-22T16:00:00Z",
                "{L},ship,S5,2020-01-20,,,,420500,2020-01-20T08:00:00+08:00,,330302,2020-01-23T08:00:00+08:00",
                "{M},rail,G1724,2020-01-21,3,08A,武昌,420106,2020-01-21T08:00:00+08:00,温州南,330302,2020-01-21T14:00:00+08:00",
            ],
        ),
        file(
            dir,
            "checkpoint.csv",
            CHECKPOINT,
            &[
                "P1,浙C12345,{A},passenger,G15-01,330302,2020-01-22T20:00:00+08:00,420100,330302,探亲",
                "P2,浙C22222,{E},driver,G15-02,330304,2020-01-22T10:00:00+08:00,,330304,",
            ],
        ),
        file(
            dir,
            "registrations.csv",
            REGISTRATIONS,
            &[
                "{F},2020-01-22,420100,330302,C1,,",
                "{G},2020-01-22,420100,,,,",
            ],
        ),
        file(
            dir,
            "self_reports.csv",
            SELF_REPORTS,
            &["{H},2020-01-22T09:00:00+08:00,36.6,,420100,"],
        ),
        file(
            dir,
            "persons.csv",
            PERSONS,
            &[
                "{A},,,,,330302,C2,,",
                "{C},,,,,330106,C9,,",
                "{J},,,,,330303,C3,,",
            ],
        ),
    ]]
}

/// High for Wuhan from the 20th, medium for the rest of Hubei.
fn risk(origin: Region, date: Date) -> OriginRisk {
    let wuhan: Region = "420100".parse().unwrap();
    let hubei: Region = "420000".parse().unwrap();
    if wuhan.covers(origin) && date >= "2020-01-20".parse().unwrap() {
        OriginRisk::High
    } else if hubei.covers(origin) {
        OriginRisk::Medium
    } else {
        OriginRisk::None
    }
}

async fn rows(dir: &Path, level: InflowLevel, first: &str, last: &str) -> Vec<InflowRow> {
    let (store, q) = load(dir, Zone::CST, &scenario(dir));
    let period = Period::new(first.parse().unwrap(), last.parse().unwrap()).unwrap();
    daily_inflow(
        &q,
        store.zone(),
        &risk,
        InflowQuery {
            level,
            period,
            top: 10,
        },
    )
    .await
    .unwrap()
}

/// A row as text: `region date arrivals high [kinds] {origin:persons:share…} [risk]`.
fn show(r: &InflowRow) -> String {
    let origins: Vec<String> = r
        .top_origins
        .iter()
        .map(|o| format!("{}:{}:{}", o.region, o.persons, r.share_millis(o.persons)))
        .collect();
    let community = r
        .community
        .as_deref()
        .map_or(String::new(), |c| format!("/{c}"));
    format!(
        "{}{community} {} {} {} {:?} {{{}}} {:?}",
        r.region,
        r.date,
        r.arrivals,
        r.from_high_risk,
        r.by_kind,
        origins.join(" "),
        r.by_origin_risk
    )
}

async fn shown(level: InflowLevel, first: &str, last: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    rows(dir.path(), level, first, last)
        .await
        .iter()
        .map(show)
        .collect()
}

#[tokio::test]
async fn prefecture_level_counts_only_arrivals_from_outside_the_prefecture() {
    assert_eq!(
        shown(InflowLevel::Prefecture, "2020-01-22", "2020-01-23").await,
        [
            // A B C E F J; D moved within Wenzhou; G has no stay; H only reported.
            "330300 2020-01-22 6 3 [3, 1, 0, 0, 2, 1] {420100:3:500 110100:1:167 330100:1:167} [3, 0, 0, 3]",
            "330300 2020-01-23 2 1 [1, 0, 0, 1, 0, 0] {420100:1:500 420500:1:500} [1, 1, 0, 0]",
        ]
    );
}

#[tokio::test]
async fn county_level_counts_moves_between_counties() {
    assert_eq!(
        shown(InflowLevel::County, "2020-01-22", "2020-01-23").await,
        [
            "330300 2020-01-22 1 0 [0, 1, 0, 0, 0, 0] {110100:1:1000} [0, 0, 0, 1]",
            "330302 2020-01-22 5 3 [3, 0, 1, 0, 1, 1] {420100:3:600 330100:1:200 330300:1:200} [3, 0, 0, 2]",
            "330302 2020-01-23 2 1 [1, 0, 0, 1, 0, 0] {420100:1:500 420500:1:500} [1, 1, 0, 0]",
            "330304 2020-01-22 1 0 [0, 0, 0, 0, 1, 0] {} [0, 0, 0, 1]",
        ]
    );
}

#[tokio::test]
async fn province_level_leaves_out_moves_within_the_province() {
    assert_eq!(
        shown(InflowLevel::Province, "2020-01-21", "2020-01-23").await,
        [
            "330000 2020-01-21 1 1 [1, 0, 0, 0, 0, 0] {420100:1:1000} [1, 0, 0, 0]",
            "330000 2020-01-22 5 3 [2, 1, 0, 0, 2, 1] {420100:3:600 110100:1:200} [3, 0, 0, 2]",
            "330000 2020-01-23 2 1 [1, 0, 0, 1, 0, 0] {420100:1:500 420500:1:500} [1, 1, 0, 0]",
        ]
    );
}

#[tokio::test]
async fn community_level_attributes_county_arrivals_to_where_people_stay() {
    assert_eq!(
        shown(InflowLevel::Community, "2020-01-22", "2020-01-22").await,
        [
            "330300 2020-01-22 1 0 [0, 1, 0, 0, 0, 0] {110100:1:1000} [0, 0, 0, 1]",
            // F registered to C1; A's home is C2; C, D and J stay elsewhere or unknown.
            "330302/C1 2020-01-22 1 1 [0, 0, 0, 0, 0, 1] {420100:1:1000} [1, 0, 0, 0]",
            "330302/C2 2020-01-22 1 1 [1, 0, 0, 0, 1, 0] {420100:1:1000} [1, 0, 0, 0]",
            "330302 2020-01-22 3 1 [2, 0, 1, 0, 0, 0] {330100:1:333 330300:1:333 420100:1:333} [1, 0, 0, 2]",
            "330304 2020-01-22 1 0 [0, 0, 0, 0, 1, 0] {} [0, 0, 0, 1]",
        ]
    );
}

#[tokio::test]
async fn a_day_with_no_arrivals_has_no_row() {
    assert!(
        shown(InflowLevel::Prefecture, "2020-01-24", "2020-01-30")
            .await
            .is_empty()
    );
}
