//! `fangyi bench market`: the market scan of contract §9 (seven rules over every listing
//! capture, default 1,000,000) timed through `market::scan` — the call `fangyi market scan`
//! makes through the engine — against DuckDB computing the same flagged captures in one SQL
//! query over the same Parquet files (`scripts/peers/market.py`), in the same run, the answers
//! compared byte for byte.
//!
//! The market is written here, not by `fangyi gen` (whose market grows with a province):
//! four platforms, a shop per 200 captures (5,000 at the default), a listing per 20, sellers in
//! the counties of Zhejiang and Hubei (some at prefecture level, some with no region, some
//! unknown or missing), device registrations (some missing, unknown, for another product or out
//! of date), baselines (several rows for some shops, ties on a date), prices rising from
//! 2020-01-20, injected outliers, claims in titles, standards spelled many ways, captures
//! written in UTC as well as +08:00, and a later line re-capturing one in two hundred at the
//! same instant (the later counts). Only the counts are random; every value is a hash of its
//! position, so a size always makes the same market.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use market::{Flagged, MarketRules, Rule};
use model::{Date, EnterpriseId, Product, Region, RegionTable};

use crate::duckdb_peer::Peer;
use crate::province::{BENCH_KEY, Run, ensure_peers, machine};
use crate::{BenchMarketArgs, thousands};

const PEER_SCRIPT: &str = include_str!("../../../scripts/peers/market.py");

/// What the market's files look like; a stamp with another version is written again.
const VERSION: u32 = 2;
const PLATFORMS: [(&str, &str); 4] = [
    ("taobao", "TB"),
    ("tmall", "TM"),
    ("jd", "JD"),
    ("pinduoduo", "PD"),
];
/// Reference unit prices before the emergency, in fen, in [`Product::ALL`]'s order.
const REF_FEN: [i64; 5] = [800, 120, 60, 400, 30];
const UNITS: [i64; 10] = [1, 1, 1, 3, 5, 7, 10, 10, 20, 50];
/// The designations each product's shops write, all the product's under the default rules.
const STANDARDS: [[&str; 4]; 5] = [
    ["GB 19083-2010", "GB19083", "gb 19083-2010", "GB 19083—2010"],
    ["YY 0469-2011", "YY0469", "yy 0469-2011", "YY　0469"],
    ["YY/T 0969-2013", "YY/T0969", "yy/t 0969", "YY/T 0969－2013"],
    ["GB 2626-2006", "GB2626-2019", "gb 2626", "GB 2626–2019"],
    [
        "GB/T 32610-2016",
        "GB/T32610",
        "gb/t32610-2016",
        "GB/T 32610",
    ],
];
/// Designations that are no product's (or not whole): mismatches.
const WRONG: [&str; 4] = ["GB 2626-19", "KN95", "EN 149", "GB/T 3261"];
const TITLES: [&str; 5] = [
    "医用防护口罩 独立包装",
    "医用外科口罩 三层 灭菌级",
    "一次性使用医用口罩",
    "KN95 防护口罩 五层",
    "一次性防护口罩 三层 熔喷布",
];
/// Titles a daily or respirator mask may not have (each with a default claim word).
const CLAIMS: [&str; 5] = [
    "医用级 防护口罩",
    "防病毒 KN95 口罩",
    "抗病毒 熔喷布 口罩",
    "灭活病毒 口罩 三层",
    "过滤率99.99% 口罩",
];
/// The most captures a run writes (about 20 GB of CSV).
const MAX_CAPTURES: u64 = 100_000_000;
/// Days of captures from January 10, 2020.
const DAYS: u64 = 30;

fn first_day() -> Date {
    Date::from_ymd(2020, 1, 10).expect("a day")
}

fn rise_day() -> Date {
    Date::from_ymd(2020, 1, 20).expect("a day")
}

fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// A hash of `(what, i)` below `n`.
fn pick(what: u64, i: u64, n: u64) -> u64 {
    mix(i.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ what.wrapping_mul(0x5851_f42d)) % n
}

/// A credit code: `prefix` (`91`: in `enterprises`, `92`: not), the county, a serial.
fn credit_code(prefix: &[u8; 2], county: Region, i: u64) -> String {
    let mut body = [b'0'; 17];
    body[..2].copy_from_slice(prefix);
    body[2..8].copy_from_slice(&county.digits());
    body[8] = b'M';
    body[9] = b'A';
    let charset = EnterpriseId::charset();
    let mut v = i;
    for b in body[10..17].iter_mut().rev() {
        *b = charset[(v % 31) as usize];
        v /= 31;
    }
    EnterpriseId::from_body(&body)
        .expect("charset body")
        .to_string()
}

fn fen_text(fen: i64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

struct Shop {
    platform: usize,
    id: String,
    seller: Option<String>,
    /// Whether the seller goes into `enterprises`.
    known: bool,
    region: Option<Region>,
}

/// Shop `i`: 80 % sell as an enterprise of `enterprises`, 8 % give a code that is not one,
/// 12 % none; 90 % give their county, 5 % its prefecture, 5 % nothing.
fn shop(i: u64, counties: &[Region]) -> Shop {
    let county = counties[pick(1, i, counties.len() as u64) as usize];
    let platform = (i % 4) as usize;
    let s = pick(2, i, 100);
    let (seller, known) = if s < 80 {
        (Some(credit_code(b"91", county, i)), true)
    } else if s < 88 {
        (Some(credit_code(b"92", county, i)), false)
    } else {
        (None, false)
    };
    let r = pick(3, i, 100);
    let region = if r < 90 {
        Some(county)
    } else if r < 95 {
        Some(county.prefecture())
    } else {
        None
    };
    Shop {
        platform,
        id: format!("{}{i:06}", PLATFORMS[platform].1),
        seller,
        known,
        region,
    }
}

/// The shop's baseline unit price for `product` in fen, if it has one (half the pairs).
fn baseline_fen(shop: u64, product: usize) -> Option<i64> {
    (pick(4, shop * 5 + product as u64, 100) < 50).then(|| {
        (REF_FEN[product] * (90 + pick(5, shop * 5 + product as u64, 21) as i64) / 100).max(1)
    })
}

/// How a listing's registration stands.
#[derive(Clone, Copy, PartialEq)]
enum Registration {
    /// Not a medical device.
    NotNeeded,
    Valid,
    Empty,
    Unknown,
    OtherProduct,
    /// Valid until January 25, 2020.
    Expired,
    /// Valid from January 28, 2020.
    NotYet,
}

struct Listing {
    shop: u64,
    id: String,
    product: usize,
    units: i64,
    /// The product's words, then the listing's own (a pack size and a model number).
    title: String,
    standard: Option<&'static str>,
    registration: Registration,
    /// Whether its price rises above the baseline from January 20 (by `rise` percent, at least
    /// a fen).
    rise: i64,
}

fn product_of(i: u64) -> usize {
    // medical_protective 10 %, surgical 20 %, medical 15 %, respirator 15 %, daily 40 %.
    match pick(11, i, 100) {
        0..10 => 0,
        10..30 => 1,
        30..45 => 2,
        45..60 => 3,
        _ => 4,
    }
}

fn listing(i: u64, shops: u64) -> Listing {
    let shop = pick(10, i, shops);
    let product = product_of(i);
    let medical = product < 3;
    let claim = !medical && pick(12, i, 100) < 6;
    let units = UNITS[pick(21, i, 10) as usize];
    let words = if claim {
        CLAIMS[pick(13, i, 5) as usize]
    } else {
        TITLES[product]
    };
    let title = format!("{words} {units}只装 款{i}");
    let s = pick(14, i, 100);
    let standard = if s < 10 {
        None
    } else if s < 13 {
        Some(WRONG[pick(15, i, 4) as usize])
    } else if s < 15 {
        // Another product's.
        Some(STANDARDS[(product + 1 + pick(16, i, 4) as usize) % 5][0])
    } else {
        Some(STANDARDS[product][pick(17, i, 4) as usize])
    };
    let registration = if !medical {
        Registration::NotNeeded
    } else {
        match pick(18, i, 100) {
            0..4 => Registration::Empty,
            4..8 => Registration::Unknown,
            8..11 => Registration::OtherProduct,
            11..13 => Registration::Expired,
            13..15 => Registration::NotYet,
            _ => Registration::Valid,
        }
    };
    let rise = if pick(19, i, 100) < 30 {
        pick(20, i, 80) as i64
    } else {
        -1
    };
    Listing {
        shop,
        id: format!("L{i:08}"),
        product,
        units,
        title,
        standard,
        registration,
        rise,
    }
}

/// A listing's registration number (each listing its own).
fn registration_no(i: u64) -> String {
    format!("浙械注准2019{:07}", 2_140_000 + i)
}

/// Writes the market's input files into `dir`: enterprises, device registrations, baselines
/// and a file of listing captures per day.
fn write_input(dir: &Path, captures: u64) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let table = RegionTable::get();
    let mut counties: Vec<Region> = Vec::new();
    for province in [330000, 420000] {
        let p = Region::new(province).expect("a province");
        counties.extend(table.counties_under(p).iter().map(|r| r.region));
    }
    let n_shops = (captures / 200).max(8);
    let n_listings = (captures / 20).max(16);
    let shops: Vec<Shop> = (0..n_shops).map(|i| shop(i, &counties)).collect();
    let listings: Vec<Listing> = (0..n_listings).map(|i| listing(i, n_shops)).collect();
    let mut paths = Vec::new();

    let path = dir.join("enterprises.csv");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&path)?);
    writeln!(w, "enterprise_id,name,industry,region")?;
    for (i, s) in shops.iter().enumerate() {
        if let (true, Some(id)) = (s.known, &s.seller) {
            let county = counties[pick(1, i as u64, counties.len() as u64) as usize];
            writeln!(w, "{id},Maker {i},medical supplies,{county}")?;
        }
    }
    w.flush()?;
    paths.push(path);

    let path = dir.join("device_registrations.csv");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&path)?);
    writeln!(
        w,
        "registration_no,holder_enterprise_id,product,valid_from,valid_to"
    )?;
    for (i, l) in listings.iter().enumerate() {
        let holder = credit_code(b"91", counties[0], i as u64);
        let no = registration_no(i as u64);
        let product = Product::ALL[l.product].as_str();
        let other = Product::ALL[(l.product + 1) % 3].as_str();
        match l.registration {
            Registration::Valid => {
                writeln!(w, "{no},{holder},{product},2019-03-01,")?;
                // Some numbers have a second row, of another product and long past.
                if i % 7 == 0 {
                    writeln!(w, "{no},{holder},{other},2015-01-01,2018-12-31")?;
                }
            }
            Registration::OtherProduct => writeln!(w, "{no},{holder},{other},2019-03-01,")?,
            Registration::Expired => writeln!(w, "{no},{holder},{product},2015-01-01,2020-01-25")?,
            Registration::NotYet => writeln!(w, "{no},{holder},{product},2020-01-28,2025-01-27")?,
            Registration::NotNeeded | Registration::Empty | Registration::Unknown => {}
        }
    }
    w.flush()?;
    paths.push(path);

    let path = dir.join("price_baselines.csv");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&path)?);
    writeln!(w, "shop_id,product,unit_price_cny,date")?;
    for (i, s) in shops.iter().enumerate() {
        for (p, product) in Product::ALL.iter().enumerate() {
            let Some(fen) = baseline_fen(i as u64, p) else {
                continue;
            };
            let product = product.as_str();
            // An older, lower price first; for some pairs a tie on the latest date, whose later
            // line counts (a higher price written first).
            writeln!(w, "{},{product},{},2019-06-01", s.id, fen_text(fen / 2))?;
            if pick(6, i as u64 * 5 + p as u64, 4) == 0 {
                writeln!(w, "{},{product},{},2020-01-05", s.id, fen_text(fen * 3))?;
            }
            writeln!(w, "{},{product},{},2020-01-05", s.id, fen_text(fen))?;
        }
    }
    w.flush()?;
    paths.push(path);

    let mut files: Vec<std::io::BufWriter<std::fs::File>> = Vec::new();
    for d in 0..DAYS {
        let day = first_day().add_days(d as i32);
        let path = dir.join(format!("listings-{day}.csv"));
        let mut w = std::io::BufWriter::new(std::fs::File::create(&path)?);
        writeln!(
            w,
            "platform,listing_id,shop_id,seller_enterprise_id,seller_region,title,product,standard,registration_no,price_cny,units,sales,captured_time"
        )?;
        files.push(w);
        paths.push(path);
    }
    let mut line = String::new();
    let mut previous: Option<(u64, u64, u64)> = None;
    for c in 0..captures {
        // One capture in two hundred is the previous one again, a later line at the same
        // instant with another price: the later counts.
        let (j, d, second, again) = match previous {
            Some((j, d, second)) if c % 200 == 199 => (j, d, second, true),
            _ => (
                c % n_listings,
                pick(30, c, DAYS),
                pick(31, c, 86_400),
                false,
            ),
        };
        previous = Some((j, d, second));
        let l = &listings[j as usize];
        let s = &shops[l.shop as usize];
        let day = first_day().add_days(d as i32);
        let rising = day >= rise_day();
        let unit_fen = match baseline_fen(l.shop, l.product) {
            Some(b) if rising && l.rise >= 0 => b * (100 + l.rise) / 100 + 1,
            Some(b) => b,
            None => {
                // Within 0.8–2.3 of the reference, higher once prices rise; one capture in
                // four hundred at ten times it.
                let band = 80 + pick(32, c, 100) as i64 + if rising { 50 } else { 0 };
                let outlier = pick(33, c, 400) == 0;
                (REF_FEN[l.product] * band / 100 * if outlier { 10 } else { 1 }).max(1)
            }
        };
        let price_fen = unit_fen * l.units + if again { 7 } else { 0 };
        let time = if pick(34, c, 10) == 0 {
            // The same instant in UTC.
            let (utc_day, utc_second) = if second >= 8 * 3600 {
                (day, second - 8 * 3600)
            } else {
                (day.add_days(-1), second + 16 * 3600)
            };
            format!("{utc_day}T{}Z", clock(utc_second))
        } else {
            format!("{day}T{}+08:00", clock(second))
        };
        let registration = match l.registration {
            Registration::NotNeeded | Registration::Empty => String::new(),
            Registration::Unknown => format!("国械注进2099{:07}", j),
            _ => registration_no(j),
        };
        let sales = if pick(35, c, 20) == 0 {
            String::new()
        } else {
            pick(36, c, 5_000).to_string()
        };
        line.clear();
        let _ = writeln!(
            line,
            "{},{},{},{},{},{},{},{},{},{},{},{},{}",
            PLATFORMS[s.platform].0,
            l.id,
            s.id,
            s.seller.as_deref().unwrap_or(""),
            s.region.map(|r| r.to_string()).unwrap_or_default(),
            field(&l.title),
            Product::ALL[l.product].as_str(),
            l.standard.unwrap_or(""),
            registration,
            fen_text(price_fen),
            l.units,
            sales,
            time
        );
        files[d as usize].write_all(line.as_bytes())?;
    }
    for mut w in files {
        w.flush()?;
    }
    Ok(paths)
}

fn clock(second: u64) -> String {
    format!(
        "{:02}:{:02}:{:02}",
        second / 3600,
        second / 60 % 60,
        second % 60
    )
}

/// A CSV field as Python's `csv` module writes it (quoted only when it must be).
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The flagged captures in the form both sides write: platform, listing, shop, the capture's
/// instant (ms since the epoch), the unit price in micro-yuan (rounded half up) and the rules,
/// in the contract's order.
fn canonical(flagged: &[Flagged]) -> String {
    let mut out = String::from("platform,listing_id,shop_id,captured_ms,unit_price_micro,rules\n");
    for f in flagged {
        let u = f.unit_price;
        let micro = (2 * u.num + u.den) / (2 * u.den);
        let rules: Vec<&str> = f.rules.iter().map(|r| r.as_str()).collect();
        let _ = writeln!(
            out,
            "{},{},{},{},{},{}",
            field(&f.platform),
            field(&f.listing_id),
            field(&f.shop_id),
            f.captured_time.0,
            micro,
            rules.join(";")
        );
    }
    out
}

/// The market scan, fangyi's and DuckDB's, compared.
pub fn run(a: BenchMarketArgs) -> anyhow::Result<()> {
    // Below a thousand not every rule fires; above the bound the input alone would need
    // tens of gigabytes of disk.
    if !(1_000..=MAX_CAPTURES).contains(&a.captures) {
        return Err(crate::usage(format!(
            "--captures: from 1000 to {}",
            thousands(MAX_CAPTURES)
        )));
    }
    let data = a.dir.join("data");
    let run = Run::new(data.clone(), a.dir.join(BENCH_KEY));
    let stamp = a.dir.join("market.json");
    let want = format!("{{\"captures\":{},\"version\":{VERSION}}}", a.captures);
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(want.as_str()) {
        let input = a.dir.join("input");
        if data.exists() || input.exists() {
            // Only a market this benchmark wrote (its stamp beside it) is replaced.
            if !stamp.exists() {
                return Err(crate::usage(format!(
                    "{} holds data this benchmark did not write (not a bench folder); choose another --dir",
                    a.dir.display()
                )));
            }
            if data.exists() {
                std::fs::remove_dir_all(&data)?;
            }
            if input.exists() {
                std::fs::remove_dir_all(&input)?;
            }
        }
        // The stamp goes first, so an interrupted run's folder is still ours to clear.
        std::fs::create_dir_all(&a.dir)?;
        std::fs::write(&stamp, "{}")?;
        let started = Instant::now();
        let paths = write_input(&input, a.captures)?;
        println!(
            "wrote {} listing captures in {:.1} s",
            thousands(a.captures),
            started.elapsed().as_secs_f64()
        );
        let started = Instant::now();
        let s = run.ingest(&paths, &ingest::Options::default())?;
        println!(
            "ingested {} rows in {:.1} s",
            thousands(s.rows_accepted),
            started.elapsed().as_secs_f64()
        );
        if s.rows_rejected > 0 {
            anyhow::bail!(
                "{} generated rows were rejected (see the rejects in {})",
                s.rows_rejected,
                data.display()
            );
        }
        std::fs::remove_dir_all(&input)?;
        std::fs::write(&stamp, &want)?;
    }
    let keys = run.keys()?;
    let store = run.store(&keys)?;
    let rules = MarketRules::default();
    println!(
        "\nmarket scan (contract §9, the built-in rules) of every capture, on {}",
        machine()
    );
    let mut best = f64::INFINITY;
    let mut report = None;
    for _ in 0..a.repeat.max(1) {
        let started = Instant::now();
        let r = market::scan(&store, &rules, None, None)?;
        best = best.min(started.elapsed().as_secs_f64());
        report = Some(r);
    }
    let report = report.expect("at least one run");
    let stored: u64 = store
        .tables(model::Kind::Listings)
        .iter()
        .map(|f| f.rows())
        .sum();
    let per_rule: Vec<String> = Rule::ALL
        .iter()
        .map(|r| {
            let n = report
                .flagged
                .iter()
                .filter(|f| f.rules.contains(r))
                .count();
            format!("{} {}", r.as_str(), thousands(n as u64))
        })
        .collect();
    println!(
        "{} stored rows, {} captures (one per platform, listing and instant); flagged by rule: {}",
        thousands(stored),
        thousands(report.captures),
        per_rule.join(", ")
    );
    println!("{:<8} {:>10} {:>8}", "engine", "seconds", "flagged");
    println!("{:<8} {:>10.3} {:>8}", "fangyi", best, report.flagged.len());
    if a.no_peers || !ensure_peers()? {
        return Ok(());
    }
    Peer {
        name: "market",
        script: PEER_SCRIPT,
        data: &data,
        args: vec![
            "--zone-offset-seconds".into(),
            store.zone().offset_secs().to_string(),
            "--tolerance-e4".into(),
            rules.tolerance_e4.to_string(),
            "--k-e4".into(),
            rules.k_e4.to_string(),
        ],
        repeat: a.repeat,
    }
    .compare(
        &a.dir,
        &canonical(&report.flagged),
        report.flagged.len(),
        best,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_has_violations_and_clean_listings_exist() {
        let listings: Vec<Listing> = (0..2_000).map(|i| listing(i, 100)).collect();
        for r in [
            Registration::Valid,
            Registration::Empty,
            Registration::Unknown,
            Registration::OtherProduct,
            Registration::Expired,
            Registration::NotYet,
        ] {
            assert!(listings.iter().any(|l| l.registration == r));
        }
        assert!(listings.iter().any(|l| l.standard.is_none()));
        assert!(
            listings
                .iter()
                .any(|l| CLAIMS.iter().any(|c| l.title.starts_with(c)))
        );
        assert!(listings.iter().any(|l| l.rise >= 0));
    }

    #[test]
    fn every_spelling_of_a_standard_is_its_products() {
        let rules = MarketRules::default();
        for (p, spellings) in STANDARDS.iter().enumerate() {
            for s in spellings {
                assert_eq!(
                    market::rules::normalise_standard(s),
                    rules.standard(Product::ALL[p]).1,
                    "{s}"
                );
            }
        }
        for s in WRONG {
            assert!(
                (0..5)
                    .all(|p| market::rules::normalise_standard(s)
                        != rules.standard(Product::ALL[p]).1),
                "{s}"
            );
        }
    }

    #[test]
    fn fields_are_quoted_as_pythons_csv_does() {
        assert_eq!(field("TB1"), "TB1");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
