//! The rules' edge cases as the contract spells them, and each rule against a plain,
//! obviously correct reading of §9 on random captures (quadratic loops, no hashing, its own
//! arithmetic).

use model::{Date, Product, Region, Timestamp, Zone};
use proptest::prelude::*;

use super::*;
use crate::money::micro;

const ENT_A: &str = "91330106MA2B0C0D1X";

fn t(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s.as_bytes()).unwrap()
}

fn d(s: &str) -> Date {
    Date::parse(s.as_bytes()).unwrap()
}

fn region(s: &str) -> Region {
    Region::parse(s.as_bytes()).unwrap()
}

/// A capture no rule flags under the defaults (a daily mask with its standard by a known seller,
/// no baseline, no region), to change one thing at a time.
fn clean<'a>() -> Capture<'a> {
    Capture {
        platform: "tmall",
        listing_id: "L1",
        shop_id: "S1",
        seller: Some(ENT_A),
        region: None,
        title: "一次性口罩",
        product: Product::Daily,
        standard: Some("GB/T 32610-2016"),
        registration_no: None,
        price_micro: micro(10.0),
        units: 10,
        sales: Some(5),
        time: t("2020-01-25T10:00:00+08:00"),
        rid: 1,
    }
}

fn reference() -> Reference {
    let mut r = Reference::default();
    r.add_enterprise(ENT_A);
    r
}

fn rules_of(captures: &[Capture<'_>], r: &Reference, rules: &MarketRules) -> Vec<Vec<Rule>> {
    let flagged = check(captures, r, rules, Zone::CST);
    captures
        .iter()
        .map(|c| {
            flagged
                .iter()
                .find(|f| {
                    (f.platform.as_str(), f.listing_id.as_str(), f.captured_time)
                        == (c.platform, c.listing_id, c.time)
                })
                .map_or(Vec::new(), |f| f.rules.clone())
        })
        .collect()
}

fn one(c: Capture<'_>, r: &Reference) -> Vec<Rule> {
    rules_of(&[c], r, &MarketRules::default()).remove(0)
}

#[test]
fn a_clean_capture_is_not_flagged_and_the_standard_is_normalised() {
    let r = reference();
    assert!(one(clean(), &r).is_empty());
    for s in ["gb/t32610-2016", "GB/T32610", " gb/t 32610 "] {
        let c = Capture {
            standard: Some(s),
            ..clean()
        };
        assert!(one(c, &r).is_empty(), "{s}");
    }
    let c = Capture {
        standard: Some("GB 2626-2006"),
        ..clean()
    };
    assert_eq!(one(c, &r), [Rule::StandardMismatch]);
    let f = check(&[c], &r, &MarketRules::default(), Zone::CST).remove(0);
    let e = f.evidence.standard_mismatch.unwrap();
    assert_eq!(
        (e.given.as_str(), e.expected.as_str()),
        ("GB 2626-2006", "GB/T 32610")
    );
}

#[test]
fn an_unknown_seller_without_a_standard_is_also_no_standard() {
    let r = reference();
    let c = Capture {
        seller: None,
        ..clean()
    };
    assert_eq!(one(c, &r), [Rule::UnknownSeller]);
    let c = Capture {
        seller: None,
        standard: None,
        ..clean()
    };
    assert_eq!(one(c, &r), [Rule::NoStandard, Rule::UnknownSeller]);
    let c = Capture {
        seller: Some("91330106MA2B0C0D2X"),
        standard: None,
        ..clean()
    };
    let f = check(&[c], &r, &MarketRules::default(), Zone::CST).remove(0);
    assert_eq!(f.rules, [Rule::NoStandard, Rule::UnknownSeller]);
    assert_eq!(
        f.evidence.unknown_seller.unwrap().reason,
        "not_in_enterprises"
    );
    // A known seller without a standard is not flagged for it.
    let c = Capture {
        standard: None,
        ..clean()
    };
    assert!(one(c, &r).is_empty());
}

#[test]
fn registrations_are_judged_on_the_capture_date_in_the_deployment_zone() {
    let mut r = reference();
    r.add_registration(
        "浙械注准20192140001",
        Registration {
            holder: ENT_A.into(),
            product: Product::Surgical,
            valid_from: d("2019-03-01"),
            valid_to: Some(d("2020-01-25")),
        },
    );
    r.add_registration(
        "浙械注准20192140002",
        Registration {
            holder: ENT_A.into(),
            product: Product::Medical,
            valid_from: d("2020-01-01"),
            valid_to: None,
        },
    );
    let surgical = |no: Option<&'static str>, time: &str| Capture {
        product: Product::Surgical,
        standard: Some("YY 0469-2011"),
        registration_no: no,
        time: t(time),
        ..clean()
    };
    let reason = |c: Capture<'_>| {
        check(&[c], &r, &MarketRules::default(), Zone::CST)
            .pop()
            .and_then(|f| f.evidence.unregistered)
            .map(|e| e.reason)
    };
    // 23:00 in +08:00 on the last valid day, but 15:00 UTC: valid.
    let no = Some("浙械注准20192140001");
    assert_eq!(reason(surgical(no, "2020-01-25T15:00:00Z")), None);
    // 04:00 in +08:00 the next day, still the 25th in UTC: no longer valid.
    assert_eq!(
        reason(surgical(no, "2020-01-25T20:00:00Z")),
        Some("not_valid")
    );
    assert_eq!(
        reason(surgical(no, "2019-02-28T12:00:00+08:00")),
        Some("not_valid")
    );
    assert_eq!(
        reason(surgical(None, "2020-01-25T12:00:00+08:00")),
        Some("empty")
    );
    assert_eq!(
        reason(surgical(
            Some("浙械注准20190000000"),
            "2020-01-25T12:00:00+08:00"
        )),
        Some("not_found")
    );
    // Registered, but for a medical mask.
    let other = Some("浙械注准20192140002");
    let f = check(
        &[surgical(other, "2020-01-25T12:00:00+08:00")],
        &r,
        &MarketRules::default(),
        Zone::CST,
    )
    .remove(0);
    let e = f.evidence.unregistered.unwrap();
    assert_eq!(e.reason, "other_product");
    assert_eq!(e.registered[0].product, "medical");
    // An open registration: valid for ever after its start.
    let medical = Capture {
        product: Product::Medical,
        standard: Some("YY/T 0969-2013"),
        registration_no: other,
        time: t("2035-06-01T12:00:00+08:00"),
        ..clean()
    };
    assert!(one(medical, &r).is_empty());
    // Respirators and daily masks need none.
    assert!(one(clean(), &r).is_empty());
}

#[test]
fn registration_numbers_are_told_by_their_published_shape() {
    for ok in [
        "浙械注准20192140001",
        "国械注进20153462055",
        "粤械注许20200000000",
    ] {
        assert!(published_shape(ok), "{ok}");
    }
    for bad in [
        "",
        "浙械注准2019214000",
        "浙械注准201921400011",
        "浙械注准30192140001",
        "浙械备20192140001",
        "浙械注备20192140001",
        "Z械注准20192140001",
        "浙械注准2019214000a",
        "浙食药监械(准)字2014第2640001号",
    ] {
        assert!(!published_shape(bad), "{bad}");
    }
}

#[test]
fn the_latest_baseline_counts_and_the_tolerance_is_exact() {
    let mut r = reference();
    let base = |price: f64, date: &str, rid| Baseline {
        unit_price_micro: micro(price),
        date: d(date),
        rid,
    };
    r.add_baseline("S1", Product::Daily, base(2.0, "2020-01-10", 1));
    r.add_baseline("S1", Product::Daily, base(0.5, "2019-12-31", 2));
    r.add_baseline("S1", Product::Daily, base(1.0, "2020-01-15", 3));
    // A later row of the same date wins over an earlier one.
    r.add_baseline("S2", Product::Daily, base(1.0, "2020-01-15", 5));
    r.add_baseline("S2", Product::Daily, base(9.0, "2020-01-15", 4));
    let at = |shop, price: f64, units| Capture {
        shop_id: shop,
        price_micro: micro(price),
        units,
        ..clean()
    };
    assert!(one(at("S1", 10.0, 10), &r).is_empty());
    assert_eq!(one(at("S1", 10.01, 10), &r), [Rule::PriceRise]);
    assert_eq!(one(at("S2", 10.01, 10), &r), [Rule::PriceRise]);
    // 2.45 / 7 is exactly 0.35: no rise from a baseline of 0.35 (in binary floating point,
    // a rise).
    r.add_baseline("S3", Product::Daily, base(0.35, "2020-01-15", 6));
    assert!(one(at("S3", 2.45, 7), &r).is_empty());
    let f = check(
        &[at("S1", 12.0, 10)],
        &r,
        &MarketRules::default(),
        Zone::CST,
    )
    .remove(0);
    let e = f.evidence.price_rise.unwrap();
    assert_eq!(
        (e.baseline_unit_price_cny, e.baseline_date.as_str()),
        (1.0, "2020-01-15")
    );
    assert_eq!(f.unit_price.cny(), 1.2);
    let tolerant = MarketRules::parse(
        &crate::DEFAULT_RULES.replace("tolerance_percent = 0", "tolerance_percent = 20"),
    )
    .unwrap();
    assert!(rules_of(&[at("S1", 12.0, 10)], &r, &tolerant)[0].is_empty());
    assert_eq!(
        rules_of(&[at("S1", 12.01, 10)], &r, &tolerant)[0],
        [Rule::PriceRise]
    );
    // A baseline for another product is none: a surgical mask's price is not compared.
    let other = Capture {
        product: Product::Respirator,
        standard: Some("GB 2626"),
        ..at("S1", 100.0, 1)
    };
    assert!(one(other, &r).is_empty());
}

/// Captures of one day's daily masks in Hangzhou (330100) at these unit prices (one unit each).
fn market<'a>(prices: &[f64], listings: &'a [String]) -> Vec<Capture<'a>> {
    prices
        .iter()
        .zip(listings)
        .map(|(&p, l)| Capture {
            listing_id: l,
            region: Some(region("330106")),
            price_micro: micro(p),
            units: 1,
            ..clean()
        })
        .collect()
}

#[test]
fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
    let names: Vec<String> = (0..6).map(|i| format!("L{i}")).collect();
    let r = reference();
    let rules = MarketRules::default();
    // Median (2 + 4) / 2 = 3: 9 is not above 3 × 3, 9.01 is.
    let got = rules_of(&market(&[1.0, 2.0, 4.0, 9.0], &names), &r, &rules);
    assert!(got.iter().all(Vec::is_empty), "{got:?}");
    let caps = market(&[1.0, 2.0, 4.0, 9.01], &names);
    let got = rules_of(&caps, &r, &rules);
    assert_eq!(got[3], [Rule::PriceOutlier]);
    let f = check(&caps, &r, &rules, Zone::CST).remove(0);
    let e = f.evidence.price_outlier.unwrap();
    assert_eq!(
        (
            e.median_unit_price_cny,
            e.captures,
            e.prefecture.as_str(),
            e.date.as_str()
        ),
        (3.0, 4, "330100", "2020-01-25")
    );
    // Odd count: the middle one, the listing itself included.
    let got = rules_of(&market(&[1.0, 3.0, 9.01], &names), &r, &rules);
    assert_eq!(got[2], [Rule::PriceOutlier]);
    let got = rules_of(&market(&[1.0, 3.0, 9.0], &names), &r, &rules);
    assert!(got[2].is_empty());
}

#[test]
fn captures_without_a_region_are_neither_compared_nor_counted() {
    let names: Vec<String> = (0..6).map(|i| format!("L{i}")).collect();
    let r = reference();
    let rules = MarketRules::default();
    let mut caps = market(&[1.0, 1.0, 10.0], &names);
    // Without a region, 100 is not compared, and does not lift the median.
    caps.push(Capture {
        listing_id: &names[3],
        region: None,
        price_micro: micro(100.0),
        units: 1,
        ..clean()
    });
    let got = rules_of(&caps, &r, &rules);
    assert_eq!(got[2], [Rule::PriceOutlier]);
    assert!(got[3].is_empty());
    // Another prefecture (Wenzhou), another day, another product: other medians.
    let mut caps = market(&[1.0, 1.0, 10.0], &names);
    caps[0].region = Some(region("330302"));
    caps[1].time = t("2020-01-25T16:30:00Z"); // the 26th in +08:00
    let got = rules_of(&caps, &r, &rules);
    assert!(got.iter().all(Vec::is_empty), "{got:?}");
    // A shop with a baseline is compared with it, not with the median.
    let mut r = reference();
    r.add_baseline(
        "S9",
        Product::Daily,
        Baseline {
            unit_price_micro: micro(50.0),
            date: d("2020-01-01"),
            rid: 1,
        },
    );
    let mut caps = market(&[1.0, 1.0, 10.0], &names);
    caps[2].shop_id = "S9";
    assert!(rules_of(&caps, &r, &rules)[2].is_empty());
}

#[test]
fn claims_count_for_daily_masks_and_respirators_only() {
    let r = reference();
    let c = Capture {
        title: "防病毒 一次性口罩",
        ..clean()
    };
    assert_eq!(one(c, &r), [Rule::EfficacyClaim]);
    let c = Capture {
        title: "KN95 灭活 99.99% 防护",
        product: Product::Respirator,
        standard: Some("GB2626-2006"),
        ..clean()
    };
    let f = check(&[c], &r, &MarketRules::default(), Zone::CST).remove(0);
    assert_eq!(f.evidence.efficacy_claim.unwrap().words, ["灭活", "99.99%"]);
    let mut r2 = reference();
    r2.add_registration(
        "R",
        Registration {
            holder: ENT_A.into(),
            product: Product::Surgical,
            valid_from: d("2019-01-01"),
            valid_to: None,
        },
    );
    let c = Capture {
        title: "医用外科口罩",
        product: Product::Surgical,
        standard: Some("YY 0469"),
        registration_no: Some("R"),
        ..clean()
    };
    assert!(one(c, &r2).is_empty());
}

#[test]
fn duplicate_captures_count_once_the_later_ingested() {
    let mut caps = vec![
        Capture {
            rid: 1,
            price_micro: micro(1.0),
            ..clean()
        },
        Capture {
            rid: 7,
            price_micro: micro(2.0),
            ..clean()
        },
        Capture {
            listing_id: "L0",
            ..clean()
        },
    ];
    dedupe(&mut caps);
    assert_eq!(caps.len(), 2);
    // In the place of the first of each key's captures.
    assert_eq!((caps[0].rid, caps[1].listing_id), (7, "L0"));
}

// ---- Property tests: each rule against a plain reading of §9. ----

const PLATFORMS: [&str; 2] = ["jd", "tmall"];
const LISTINGS: [&str; 3] = ["L1", "L2", "L3"];
const SHOPS: [&str; 3] = ["S1", "S2", "S3"];
const SELLERS: [&str; 3] = [
    "91330106MA2B0C0D1X",
    "91330106MA2B0C0D2X",
    "91330106MA2B0C0D3X",
];
const REGIONS: [&str; 4] = ["330106", "330102", "330302", "330100"];
const STANDARDS: [&str; 7] = [
    "GB 19083-2010",
    "yy 0469",
    "YY/T0969-2013",
    "GB 2626",
    "gb/t 32610-2016",
    "GB 2626-06",
    "Q/XYZ 001",
];
const NUMBERS: [&str; 3] = ["R1", "R2", "R3"];
const TITLES: [&str; 5] = [
    "口罩",
    "医用口罩",
    "防病毒口罩",
    "口罩 99.99%",
    "灭活 抗病毒",
];

/// Indices into the tables above: platform, listing, shop, seller, region, title, product.
type CaptureDraw = (
    usize,
    usize,
    usize,
    Option<usize>,
    Option<usize>,
    usize,
    usize,
);
/// Standard, registration number, price in fen, units, sales, minutes into the day.
type MoreDraw = (Option<usize>, Option<usize>, i64, i64, Option<i64>, i64);

#[derive(Clone, Debug)]
struct World {
    captures: Vec<CaptureDraw>,
    more: Vec<MoreDraw>,
    enterprises: Vec<usize>,
    registrations: Vec<(usize, usize, usize, i32, Option<i32>)>,
    baselines: Vec<(usize, usize, i64, i32)>,
    tolerance: i64,
    k: i64,
}

fn world() -> impl Strategy<Value = World> {
    let capture = (
        0..2usize,
        0..3usize,
        0..3usize,
        proptest::option::of(0..3usize),
        proptest::option::of(0..4usize),
        0..5usize,
        0..5usize,
    );
    let more = (
        proptest::option::of(0..7usize),
        proptest::option::of(0..3usize),
        // Prices in fen up to 20 yuan, units 1..4, sales, minutes into 2020-01-25 (+08:00),
        // some after midnight UTC+8 and some on the day before in UTC.
        (0i64..2_000),
        (1i64..4),
        proptest::option::of(0i64..100),
        (-600i64..2_000),
    );
    (
        proptest::collection::vec((capture, more), 0..40),
        proptest::collection::vec(0..3usize, 0..3),
        proptest::collection::vec(
            (
                0..3usize,
                0..3usize,
                0..5usize,
                -3i32..3,
                proptest::option::of(-2i32..3),
            ),
            0..5,
        ),
        proptest::collection::vec((0..3usize, 0..5usize, 0i64..800, 0i32..3), 0..8),
        prop_oneof![Just(0i64), Just(10), Just(50)],
        1i64..4,
    )
        .prop_map(
            |(cm, enterprises, registrations, baselines, tolerance, k)| {
                let (captures, more) = cm.into_iter().unzip();
                World {
                    captures,
                    more,
                    enterprises,
                    registrations,
                    baselines,
                    tolerance,
                    k,
                }
            },
        )
}

fn product(i: usize) -> Product {
    Product::ALL[i]
}

impl World {
    fn captures(&self) -> Vec<Capture<'static>> {
        let day = d("2020-01-25").start(Zone::CST);
        self.captures
            .iter()
            .zip(&self.more)
            .enumerate()
            .map(|(i, (c, m))| Capture {
                platform: PLATFORMS[c.0],
                listing_id: LISTINGS[c.1],
                shop_id: SHOPS[c.2],
                seller: c.3.map(|s| SELLERS[s]),
                region: c.4.map(|r| region(REGIONS[r])),
                title: TITLES[c.5],
                product: product(c.6),
                standard: m.0.map(|s| STANDARDS[s]),
                registration_no: m.1.map(|n| NUMBERS[n]),
                price_micro: m.2 * 10_000,
                units: m.3,
                sales: m.4,
                // Coarse times, so captures of one listing meet at one instant.
                time: day.add_ms((m.5 / 60) * 3_600_000),
                rid: i as i64,
            })
            .collect()
    }

    fn rules(&self) -> MarketRules {
        MarketRules::parse(
            &crate::DEFAULT_RULES
                .replace(
                    "tolerance_percent = 0",
                    &format!("tolerance_percent = {}", self.tolerance),
                )
                .replace("k = 3", &format!("k = {}", self.k)),
        )
        .unwrap()
    }

    fn reference(&self) -> Reference {
        let mut r = Reference::default();
        for &e in &self.enterprises {
            r.add_enterprise(SELLERS[e]);
        }
        let base = d("2020-01-25");
        for &(n, h, p, from, to) in &self.registrations {
            r.add_registration(
                NUMBERS[n],
                Registration {
                    holder: SELLERS[h].into(),
                    product: product(p),
                    valid_from: base.add_days(from),
                    valid_to: to.map(|t| base.add_days(from.max(0) + t.max(0) - 1)),
                },
            );
        }
        for (i, &(s, p, fen, day)) in self.baselines.iter().enumerate() {
            r.add_baseline(
                SHOPS[s],
                product(p),
                Baseline {
                    unit_price_micro: fen * 10_000,
                    date: d("2019-12-01").add_days(day),
                    rid: i as i64,
                },
            );
        }
        r
    }
}

/// The plain reading: for every capture kept, the rules that apply.
fn plain(w: &World) -> Vec<(String, String, Timestamp, Vec<Rule>)> {
    let all = w.captures();
    // One capture per platform, listing and instant: the largest row id.
    let kept: Vec<&Capture<'_>> = all
        .iter()
        .filter(|c| {
            !all.iter().any(|o| {
                (o.platform, o.listing_id, o.time) == (c.platform, c.listing_id, c.time)
                    && o.rid > c.rid
            })
        })
        .collect();
    let zone_day =
        |c: &Capture<'_>| Date((c.time.millis() + 8 * 3_600_000).div_euclid(86_400_000) as i32);
    let norm = |s: &str| {
        let s: String = s.to_uppercase().chars().filter(|c| *c != ' ').collect();
        let b = s.as_bytes();
        if b.len() >= 5 && b[b.len() - 5] == b'-' && b[b.len() - 4..].iter().all(u8::is_ascii_digit)
        {
            s[..s.len() - 5].to_string()
        } else {
            s
        }
    };
    let expected = ["GB19083", "YY0469", "YY/T0969", "GB2626", "GB/T32610"];
    let mut out = Vec::new();
    for c in &kept {
        let mut rules = Vec::new();
        let unknown = match c.seller {
            None => true,
            Some(s) => !w.enterprises.iter().any(|&e| SELLERS[e] == s),
        };
        if unknown {
            rules.push(Rule::UnknownSeller);
        }
        let medical = matches!(
            c.product,
            Product::MedicalProtective | Product::Surgical | Product::Medical
        );
        if medical {
            let day = zone_day(c);
            let ok = c.registration_no.is_some_and(|n| {
                let base = d("2020-01-25");
                w.registrations.iter().any(|&(rn, _, p, from, to)| {
                    let valid_from = base.add_days(from);
                    let valid_to = to.map(|t| base.add_days(from.max(0) + t.max(0) - 1));
                    NUMBERS[rn] == n
                        && product(p) == c.product
                        && valid_from <= day
                        && valid_to.is_none_or(|t| day <= t)
                })
            });
            if !ok {
                rules.push(Rule::Unregistered);
            }
        }
        match c.standard {
            Some(s) if norm(s) != expected[c.product as usize] => {
                rules.push(Rule::StandardMismatch)
            }
            None if unknown => rules.push(Rule::NoStandard),
            _ => {}
        }
        // The latest baseline by date, then the later row.
        let baseline = w
            .baselines
            .iter()
            .enumerate()
            .filter(|(_, b)| SHOPS[b.0] == c.shop_id && product(b.1) == c.product)
            .max_by_key(|(i, b)| (b.3, *i))
            .map(|(_, b)| b.2 * 10_000);
        let (p, u) = (i128::from(c.price_micro), i128::from(c.units));
        match baseline {
            Some(b) => {
                // p / u > b × (100 + tolerance) / 100
                if p * 100 > i128::from(b) * u * i128::from(100 + w.tolerance) {
                    rules.push(Rule::PriceRise);
                }
            }
            None => {
                if let Some(r) = c.region {
                    let mut peers: Vec<(i128, i128)> = kept
                        .iter()
                        .filter(|o| {
                            o.region.is_some_and(|or| or.prefecture() == r.prefecture())
                                && o.product == c.product
                                && zone_day(o) == zone_day(c)
                        })
                        .map(|o| (i128::from(o.price_micro), i128::from(o.units)))
                        .collect();
                    peers.sort_by(|a, b| (a.0 * b.1).cmp(&(b.0 * a.1)));
                    let n = peers.len();
                    let k = i128::from(w.k);
                    let outlier = if n % 2 == 1 {
                        let (mp, mu) = peers[n / 2];
                        p * mu > k * mp * u
                    } else {
                        let ((a, ua), (b, ub)) = (peers[n / 2 - 1], peers[n / 2]);
                        2 * p * ua * ub > k * u * (a * ub + b * ua)
                    };
                    if outlier {
                        rules.push(Rule::PriceOutlier);
                    }
                }
            }
        }
        if matches!(c.product, Product::Daily | Product::Respirator)
            && ["医用", "防病毒", "抗病毒", "灭活", "99.99%"]
                .iter()
                .any(|w| c.title.contains(w))
        {
            rules.push(Rule::EfficacyClaim);
        }
        rules.sort();
        if !rules.is_empty() {
            out.push((
                c.platform.to_string(),
                c.listing_id.to_string(),
                c.time,
                rules,
            ));
        }
    }
    out.sort_by(|a, b| (&a.0, &a.1, a.2).cmp(&(&b.0, &b.1, b.2)));
    out
}

fn fast(w: &World) -> Vec<(String, String, Timestamp, Vec<Rule>)> {
    let mut caps = w.captures();
    dedupe(&mut caps);
    let mut f = check(&caps, &w.reference(), &w.rules(), Zone::CST);
    Flagged::sort(&mut f);
    f.into_iter()
        .map(|f| (f.platform, f.listing_id, f.captured_time, f.rules))
        .collect()
}

/// Only the rules in `keep`, for one rule's property.
fn only(
    v: Vec<(String, String, Timestamp, Vec<Rule>)>,
    keep: Rule,
) -> Vec<(String, String, Timestamp)> {
    v.into_iter()
        .filter(|x| x.3.contains(&keep))
        .map(|x| (x.0, x.1, x.2))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn every_rule_agrees_with_the_plain_reading(w in world()) {
        let (a, b) = (fast(&w), plain(&w));
        for r in Rule::ALL {
            prop_assert_eq!(only(a.clone(), r), only(b.clone(), r), "rule {}", r.as_str());
        }
        prop_assert_eq!(a, b);
    }

    #[test]
    fn the_answer_does_not_depend_on_the_order_of_the_rows(w in world(), seed in any::<u64>()) {
        let mut caps = w.captures();
        // A cheap deterministic shuffle.
        let n = caps.len();
        let mut s = seed | 1;
        for i in (1..n).rev() {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            caps.swap(i, (s % (i as u64 + 1)) as usize);
        }
        dedupe(&mut caps);
        let mut f = check(&caps, &w.reference(), &w.rules(), Zone::CST);
        Flagged::sort(&mut f);
        let got: Vec<_> = f.into_iter().map(|f| (f.platform, f.listing_id, f.captured_time, f.rules)).collect();
        prop_assert_eq!(got, fast(&w));
    }
}

/// `Flagged::sort` orders by indices and moves each capture once along the permutation's
/// cycles: the same order as a plain stable sort, ties (the whole key equal) kept in their
/// order, for sorted runs as a scan hands them and for any shuffle.
#[test]
fn sorting_by_indices_is_the_plain_stable_sort() {
    let flagged = |platform: &str, listing: String, t: i64, shop: usize| Flagged {
        platform: platform.to_string(),
        listing_id: listing,
        shop_id: shop.to_string(),
        captured_time: Timestamp(t),
        unit_price: Ratio::new(1, 1),
        rules: vec![Rule::UnknownSeller],
        evidence: Evidence::default(),
        seller_enterprise_id: None,
        seller_region: None,
        sales: None,
        product: Product::Daily,
    };
    let mut s = 7u64;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    for (n, runs) in [(0, 1), (1, 1), (2, 1), (3, 2), (10, 3), (257, 1), (600, 30)] {
        let mut v = Vec::new();
        for run in 0..runs {
            let mut part: Vec<Flagged> = (0..n / runs)
                .map(|i| {
                    let x = next();
                    let platform = ["jd", "taobao"][(x % 2) as usize];
                    flagged(
                        platform,
                        format!("L{}", x % 13),
                        (x % 5) as i64,
                        run * n + i,
                    )
                })
                .collect();
            if run % 2 == 0 {
                part.sort_by(|a, b| {
                    (&a.platform, &a.listing_id, a.captured_time).cmp(&(
                        &b.platform,
                        &b.listing_id,
                        b.captured_time,
                    ))
                });
            }
            v.extend(part);
        }
        let mut want = v.clone();
        want.sort_by(|a, b| {
            (&a.platform, &a.listing_id, a.captured_time).cmp(&(
                &b.platform,
                &b.listing_id,
                b.captured_time,
            ))
        });
        Flagged::sort(&mut v);
        assert_eq!(v, want, "{n} in {runs} runs");
    }
}

/// A scan's answer holds hundreds of thousands of flagged captures, moved when collected and
/// sorted: the evidence is boxed so each stays small (it was over 600 bytes inline).
#[test]
fn a_flagged_capture_stays_small_to_move() {
    let size = size_of::<Flagged>();
    assert!(size <= 256, "{size} bytes");
}
