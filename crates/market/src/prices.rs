//! Price monitoring over time (issue 20): per capture day, prefecture and product, the median
//! unit price, how many captures and listings there were and the share of listings the rules
//! flagged, so an officer sees when prices jump. Computed in the scan's own pass
//! ([`crate::scan`]: a day's files read once, the same deduplication), with the scan's median
//! ([`check::medians`]), so a day here and the `price_outlier` evidence of that day agree.

use model::{Date, Product, Region, Zone};
use rayon::prelude::*;
use store::Store;

use crate::check::{self, Capture, Flagged};
use crate::money::Ratio;
use crate::rules::MarketRules;
use crate::scan;
use crate::{FastMap, FastSet, MarketError};

/// One day of one product's market in one prefecture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriceDay {
    /// The captures' deployment-zone date.
    pub date: Date,
    /// The prefecture of the sellers' `seller_region` (contract §7's roll-up).
    pub prefecture: Region,
    pub product: Product,
    /// The median unit price, exactly as the `price_outlier` rule takes it (an even count's
    /// median is the mean of the middle two).
    pub median: Ratio,
    /// Captures counted (one per platform, listing and instant).
    pub captures: u64,
    /// Distinct listings (platform, listing id) among them.
    pub listings: u64,
    /// Listings with at least one capture that day flagged by any rule.
    pub flagged: u64,
}

impl PriceDay {
    /// `flagged / listings`, in 0..=1.
    pub fn flagged_share(&self) -> f64 {
        self.flagged as f64 / self.listings as f64
    }
}

/// What price monitoring found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriceReport {
    /// Sorted by prefecture, product, date; a day without captures of a product in a
    /// prefecture has no row.
    pub days: Vec<PriceDay>,
    /// Captures read in the period, of every prefecture (and none), before `keep`.
    pub captures: u64,
}

/// The prices of `from..=to` (deployment-zone capture dates, both ends included; `None` open)
/// for the prefectures and products `keep` accepts, flagged under `rules`. Captures without a
/// `seller_region` belong to no prefecture and are not counted, as the median does not count
/// them.
pub fn prices(
    store: &Store,
    rules: &MarketRules,
    from: Option<Date>,
    to: Option<Date>,
    keep: &(dyn Fn(Region, Product) -> bool + Sync),
) -> Result<PriceReport, MarketError> {
    let reference = scan::reference(store)?;
    let zone = store.zone();
    let by_day = scan::days(store, from, to)?;
    let per_day: Vec<(u64, Vec<PriceDay>)> = by_day
        .par_iter()
        .map(|(_, files)| {
            scan::read_day(files, |all| {
                // Every rule judges a capture alone but `price_outlier`, whose median is of the
                // capture's own day, prefecture and product: a group kept whole is judged as in
                // the full scan, so the others need not be checked at all.
                let mine: Vec<Capture<'_>> = all
                    .iter()
                    .filter(|c| c.region.is_some_and(|r| keep(r.prefecture(), c.product)))
                    .copied()
                    .collect();
                let flagged = check::check(&mine, &reference, rules, zone);
                (all.len() as u64, day_prices(&mine, &flagged, zone))
            })
        })
        .collect::<Result<_, _>>()?;
    let mut out = PriceReport {
        days: Vec::new(),
        captures: 0,
    };
    for (n, days) in per_day {
        out.captures += n;
        out.days.extend(days);
    }
    out.days
        .sort_unstable_by_key(|d| (d.prefecture, d.product, d.date));
    Ok(out)
}

type Group = (Date, Region, Product);

/// The groups of `captures` (deduplicated: [`check::dedupe`]) with `flagged`, the rules' answer
/// on the same captures, in no particular order.
pub fn day_prices(captures: &[Capture<'_>], flagged: &[Flagged], zone: Zone) -> Vec<PriceDay> {
    let mut listings: FastMap<Group, FastSet<(&str, &str)>> = FastMap::default();
    for c in captures {
        if let Some(r) = c.region {
            listings
                .entry((c.time.date(zone), r.prefecture(), c.product))
                .or_default()
                .insert((c.platform, c.listing_id));
        }
    }
    let mut bad: FastMap<Group, FastSet<(&str, &str)>> = FastMap::default();
    for f in flagged {
        if let Some(r) = f.seller_region {
            bad.entry((f.captured_time.date(zone), r.prefecture(), f.product))
                .or_default()
                .insert((&f.platform, &f.listing_id));
        }
    }
    check::medians(captures, zone)
        .into_iter()
        .map(
            |(key @ (date, prefecture, product), (median, n))| PriceDay {
                date,
                prefecture,
                product,
                median,
                captures: n,
                listings: listings.get(&key).map_or(0, |s| s.len() as u64),
                flagged: bad.get(&key).map_or(0, |s| s.len() as u64),
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use model::Timestamp;
    use proptest::prelude::*;

    use super::*;
    use crate::check::Reference;
    use crate::money::micro;

    const ENT: &str = "91330106MA2B0C0D1X";

    fn region(s: &str) -> Region {
        Region::parse(s.as_bytes()).unwrap()
    }

    fn t(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s.as_bytes()).unwrap()
    }

    fn cap<'a>(
        listing: &'a str,
        region: Option<&str>,
        yuan: f64,
        units: i64,
        at: &str,
    ) -> Capture<'a> {
        Capture {
            platform: "jd",
            listing_id: listing,
            shop_id: "S1",
            seller: Some(ENT),
            region: region.map(self::region),
            title: "日用口罩",
            product: Product::Daily,
            standard: Some("GB/T 32610-2016"),
            registration_no: None,
            price_micro: micro(yuan),
            units,
            sales: None,
            time: t(at),
            rid: 0,
        }
    }

    fn run(mut caps: Vec<Capture<'_>>) -> Vec<PriceDay> {
        let mut r = Reference::default();
        r.add_enterprise(ENT);
        check::dedupe(&mut caps);
        let flagged = check::check(&caps, &r, &MarketRules::default(), Zone::CST);
        let mut v = day_prices(&caps, &flagged, Zone::CST);
        v.sort_unstable_by_key(|d| (d.prefecture, d.product, d.date));
        v
    }

    const DAY: &str = "2020-01-25T10:00:00+08:00";

    #[test]
    fn one_listing_is_its_own_median_and_not_an_outlier() {
        let v = run(vec![cap("L1", Some("330302"), 2.45, 7, DAY)]);
        assert_eq!(v.len(), 1);
        let d = &v[0];
        assert_eq!(
            (d.prefecture, d.product),
            (region("330300"), Product::Daily)
        );
        assert_eq!(d.date.to_string(), "2020-01-25");
        assert_eq!(d.median, Ratio::new(micro(0.35), 1));
        assert_eq!(d.median.micro(), 350_000);
        assert_eq!((d.captures, d.listings, d.flagged), (1, 1, 0));
        assert_eq!(d.flagged_share(), 0.0);
    }

    #[test]
    fn an_even_count_takes_the_mean_of_the_middle_two_and_shares_count_listings() {
        // Unit prices 1, 2, 3 and 100 yuan: the median is 2.5; the 100 is above 3 × 2.5.
        let v = run(vec![
            cap("L1", Some("330302"), 1.0, 1, DAY),
            cap("L2", Some("330304"), 20.0, 10, DAY),
            cap("L3", Some("330302"), 3.0, 1, DAY),
            cap("L4", Some("330302"), 100.0, 1, DAY),
        ]);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].median.micro(), 2_500_000);
        assert_eq!((v[0].captures, v[0].listings, v[0].flagged), (4, 4, 1));
        assert_eq!(v[0].flagged_share(), 0.25);
        // A half micro-yuan median rounds up.
        let v = run(vec![
            cap("L1", Some("330302"), 0.000001, 1, DAY),
            cap("L2", Some("330302"), 0.000002, 1, DAY),
        ]);
        assert_eq!(v[0].median, Ratio::new(3, 2));
        assert_eq!(v[0].median.micro(), 2);
    }

    #[test]
    fn a_listing_captured_twice_is_one_listing_and_a_duplicate_counts_once() {
        let v = run(vec![
            cap("L1", Some("330302"), 1.0, 1, "2020-01-25T09:00:00+08:00"),
            cap("L1", Some("330302"), 1.0, 1, "2020-01-25T21:00:00+08:00"),
            // The same instant again: one capture.
            cap("L1", Some("330302"), 1.0, 1, "2020-01-25T21:00:00+08:00"),
            cap("L2", Some("330302"), 2.0, 1, "2020-01-25T21:00:00+08:00"),
        ]);
        assert_eq!((v[0].captures, v[0].listings, v[0].flagged), (3, 2, 0));
        assert_eq!(v[0].median.micro(), 1_000_000);
    }

    #[test]
    fn days_are_the_deployment_zone_s_and_a_day_without_captures_has_no_row() {
        let v = run(vec![
            // 23:30 UTC on the 24th is the 25th in Beijing.
            cap("L1", Some("330302"), 1.0, 1, "2020-01-24T23:30:00Z"),
            cap("L2", Some("330302"), 3.0, 1, "2020-01-27T10:00:00+08:00"),
            // No region: in no prefecture, counted nowhere.
            cap("L3", None, 50.0, 1, "2020-01-26T10:00:00+08:00"),
        ]);
        let days: Vec<String> = v.iter().map(|d| d.date.to_string()).collect();
        assert_eq!(days, ["2020-01-25", "2020-01-27"]);
    }

    #[test]
    fn a_region_outside_the_table_rolls_up_by_its_digits() {
        // 999901 is not a county anyone knows: its prefecture is 999900.
        let v = run(vec![cap("L1", Some("999901"), 1.0, 1, DAY)]);
        assert_eq!(v[0].prefecture, region("999900"));
    }

    // ---- against a plain reading ---------------------------------------------------------

    const LISTINGS: [&str; 4] = ["L1", "L2", "L3", "L4"];
    const PLATFORMS: [&str; 2] = ["jd", "tmall"];
    const REGIONS: [&str; 4] = ["330302", "330304", "420106", "330300"];

    /// Platform, listing, region, product, fen, units, hour, whether the seller is unknown.
    type Draw = (usize, usize, Option<usize>, usize, i64, i64, i64, bool);

    fn draws() -> impl Strategy<Value = Vec<Draw>> {
        proptest::collection::vec(
            (
                0..2usize,
                0..4usize,
                proptest::option::of(0..4usize),
                0..2usize,
                1i64..3_000,
                1i64..5,
                -20i64..60,
                any::<bool>(),
            ),
            0..40,
        )
    }

    fn captures(v: &[Draw]) -> Vec<Capture<'static>> {
        let day = Date::parse(b"2020-01-25").unwrap().start(Zone::CST);
        v.iter()
            .enumerate()
            .map(|(i, &(p, l, r, prod, fen, units, hour, unknown))| Capture {
                platform: PLATFORMS[p],
                listing_id: LISTINGS[l],
                shop_id: "S1",
                seller: Some(if unknown { "X" } else { ENT }),
                region: r.map(|r| region(REGIONS[r])),
                title: "口罩",
                product: [Product::Daily, Product::Respirator][prod],
                standard: None,
                registration_no: None,
                price_micro: fen * 10_000,
                units,
                sales: None,
                time: day.add_ms(hour * 3_600_000),
                rid: i as i64,
            })
            .collect()
    }

    /// Date, prefecture, product, the median's numerator and denominator, captures, listings,
    /// flagged listings.
    type Plain = (Date, Region, Product, i128, i128, u64, u64, u64);

    /// Quadratic, no hashing: the kept captures, each group's unit prices sorted by cross
    /// multiplication, the middle one or the two middle ones' mean, and a listing flagged when
    /// one of its kept captures is unknown-seller or above three times the median.
    fn plain(v: &[Draw]) -> Vec<Plain> {
        let all = captures(v);
        let kept: Vec<&Capture<'_>> = all
            .iter()
            .filter(|c| {
                !all.iter().any(|o| {
                    (o.platform, o.listing_id, o.time) == (c.platform, c.listing_id, c.time)
                        && o.rid > c.rid
                })
            })
            .collect();
        let key = |c: &Capture<'_>| {
            c.region
                .map(|r| (c.time.date(Zone::CST), r.prefecture(), c.product))
        };
        let mut groups: Vec<(Date, Region, Product)> = Vec::new();
        for c in &kept {
            if let Some(k) = key(c)
                && !groups.contains(&k)
            {
                groups.push(k);
            }
        }
        let mut out = Vec::new();
        for g in groups {
            let members: Vec<&&Capture<'_>> = kept.iter().filter(|c| key(c) == Some(g)).collect();
            let mut prices: Vec<(i128, i128)> = members
                .iter()
                .map(|c| (c.price_micro as i128, c.units as i128))
                .collect();
            for i in 0..prices.len() {
                for j in i + 1..prices.len() {
                    if prices[j].0 * prices[i].1 < prices[i].0 * prices[j].1 {
                        prices.swap(i, j);
                    }
                }
            }
            let n = prices.len();
            let (num, den) = if n % 2 == 1 {
                prices[n / 2]
            } else {
                let (a, b) = (prices[n / 2 - 1], prices[n / 2]);
                (a.0 * b.1 + b.0 * a.1, 2 * a.1 * b.1)
            };
            let mut listings: Vec<(&str, &str)> = Vec::new();
            let mut flagged: Vec<(&str, &str)> = Vec::new();
            for c in &members {
                let id = (c.platform, c.listing_id);
                if !listings.contains(&id) {
                    listings.push(id);
                }
                // price > 3 × median: price_micro / units > 3 num / den.
                let outlier = c.price_micro as i128 * den > 3 * num * c.units as i128;
                if (c.seller == Some("X") || outlier) && !flagged.contains(&id) {
                    flagged.push(id);
                }
            }
            out.push((
                g.0,
                g.1,
                g.2,
                num,
                den,
                n as u64,
                listings.len() as u64,
                flagged.len() as u64,
            ));
        }
        out.sort_unstable_by_key(|x| (x.1, x.2, x.0));
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn prices_agree_with_the_plain_reading(v in draws()) {
            let fast = run(captures(&v));
            let slow = plain(&v);
            prop_assert_eq!(fast.len(), slow.len());
            for (f, s) in fast.iter().zip(&slow) {
                prop_assert_eq!((f.date, f.prefecture, f.product), (s.0, s.1, s.2));
                prop_assert_eq!(f.median, Ratio { num: s.3, den: s.4 });
                prop_assert_eq!((f.captures, f.listings, f.flagged), (s.5, s.6, s.7));
            }
        }
    }
}
