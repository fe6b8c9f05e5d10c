//! The fixed transport network: stations and airports of the home province's prefectures and
//! of the cities its people travel to (Wuhan and the rest of Hubei, Shanghai, Beijing, …), and
//! the daily G/D trains, flights, coaches and ferries between them.

use model::{Mode, Region, RegionTable};

use crate::names;
use crate::rng::{Rng, hash, tag};

#[derive(Clone, Debug)]
pub struct Station {
    pub name: String,
    pub region: Region,
}

/// A city served by the network (one per prefecture).
#[derive(Clone, Debug)]
pub struct Node {
    pub prefecture: Region,
    pub rail: Option<Station>,
    pub air: Option<Station>,
    pub coach: Station,
    /// Inside the configured home region.
    pub home: bool,
    /// In the home province.
    pub in_province: bool,
    pub hubei: bool,
    pub point: (f64, f64),
}

#[derive(Clone, Debug)]
pub struct Service {
    pub mode: Mode,
    pub number: String,
    /// Minutes after local midnight.
    pub depart_min: u32,
    pub duration_min: u32,
    /// Rail: cars in the train set; flight: seat rows.
    pub cars: u8,
    pub rows: u8,
}

#[derive(Debug)]
pub struct Network {
    pub nodes: Vec<Node>,
    pub services: Vec<Service>,
    /// Services by (from, to, mode), sorted by departure.
    by_pair: std::collections::HashMap<(u16, u16, Mode), Vec<u32>>,
}

/// Outside cities: (prefecture or province, rail station, its county, airport, its county).
const OUTSIDE: &[(u32, &str, u32, &str, u32)] = &[
    (420100, "武汉站", 420111, "武汉天河国际机场", 420116),
    (420200, "黄石北站", 420202, "", 0),
    (420300, "十堰站", 420302, "十堰武当山机场", 420302),
    (420500, "宜昌东站", 420502, "宜昌三峡机场", 420502),
    (420600, "襄阳站", 420606, "襄阳刘集机场", 420606),
    (420700, "鄂州站", 420704, "", 0),
    (420800, "荆门站", 420802, "", 0),
    (420900, "孝感北站", 420902, "", 0),
    (421000, "荆州站", 421002, "", 0),
    (421100, "黄冈东站", 421102, "", 0),
    (421200, "咸宁北站", 421202, "", 0),
    (421300, "随州站", 421303, "", 0),
    (422800, "恩施站", 422801, "恩施许家坪机场", 422801),
    (310000, "上海虹桥站", 310112, "上海浦东国际机场", 310115),
    (110000, "北京南站", 110106, "北京首都国际机场", 110105),
    (440100, "广州南站", 440113, "广州白云国际机场", 440111),
    (440300, "深圳北站", 440306, "深圳宝安国际机场", 440306),
    (320100, "南京南站", 320114, "南京禄口国际机场", 320115),
    (340100, "合肥南站", 340111, "合肥新桥国际机场", 340104),
    (360100, "南昌西站", 360112, "南昌昌北国际机场", 360112),
    (430100, "长沙南站", 430111, "长沙黄花国际机场", 430121),
    (410100, "郑州东站", 410105, "郑州新郑国际机场", 410184),
    (510100, "成都东站", 510108, "成都双流国际机场", 510116),
    (500000, "重庆北站", 500112, "重庆江北国际机场", 500112),
    (520100, "贵阳北站", 520115, "贵阳龙洞堡国际机场", 520102),
    (330100, "杭州东站", 330104, "杭州萧山国际机场", 330109),
];

/// Zhejiang's own stations and airports (Zhoushan had no railway in 2020).
const ZHEJIANG: &[(u32, &str, u32, &str, u32)] = &[
    (330100, "杭州东站", 330104, "杭州萧山国际机场", 330109),
    (330200, "宁波站", 330203, "宁波栎社国际机场", 330203),
    (330300, "温州南站", 330304, "温州龙湾国际机场", 330303),
    (330400, "嘉兴南站", 330402, "", 0),
    (330500, "湖州站", 330502, "", 0),
    (330600, "绍兴北站", 330602, "", 0),
    (330700, "金华站", 330702, "义乌机场", 330782),
    (330800, "衢州站", 330802, "衢州机场", 330802),
    (330900, "", 0, "舟山普陀山机场", 330903),
    (331000, "台州站", 331004, "台州路桥机场", 331004),
    (331100, "丽水站", 331102, "", 0),
];

const AIRLINES: &[&str] = &["MU", "CA", "CZ", "HU", "FM", "ZH", "3U", "GJ"];

fn region_point(code: Region) -> (f64, f64) {
    let t = RegionTable::get();
    let mut r = Some(code);
    while let Some(c) = r {
        if let Some(info) = t.info(c) {
            if let Some(p) = info.point {
                return p;
            }
            r = info.parent;
        } else {
            r = None;
        }
    }
    (114.3, 30.6)
}

fn valid_or(code: u32, fallback: Region) -> Region {
    Region::new(code)
        .filter(|r| RegionTable::get().contains(*r))
        .unwrap_or(fallback)
}

/// Great-circle distance in km.
pub fn distance_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (lon1, lat1) = (a.0.to_radians(), a.1.to_radians());
    let (lon2, lat2) = (b.0.to_radians(), b.1.to_radians());
    let h = ((lat2 - lat1) / 2.0).sin().powi(2)
        + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2.0).sin().powi(2);
    6371.0 * 2.0 * h.sqrt().asin()
}

impl Network {
    pub fn new(seed: u64, home: Region) -> Network {
        let table = RegionTable::get();
        let province = home.province();
        let mut nodes: Vec<Node> = Vec::new();
        // The home province's prefectures (real ones; placeholder groupings are skipped, a
        // municipality's districts become the municipality itself).
        let mut prefs: Vec<Region> = table
            .children(province)
            .filter(|r| !r.is_placeholder())
            .map(|r| r.region)
            .collect();
        if prefs.is_empty() {
            prefs.push(province);
        }
        for p in prefs {
            let info = table.info(p);
            let name = info.map(|i| i.name.as_str()).unwrap_or("");
            let short = names::short_name(name);
            let first_county = table
                .counties_under(p)
                .first()
                .map(|c| c.region)
                .unwrap_or(p);
            let known = ZHEJIANG.iter().find(|z| z.0 == p.code());
            let (rail, air) = match known {
                Some(z) => (
                    (!z.1.is_empty()).then(|| Station {
                        name: z.1.to_string(),
                        region: valid_or(z.2, first_county),
                    }),
                    (!z.3.is_empty()).then(|| Station {
                        name: z.3.to_string(),
                        region: valid_or(z.4, first_county),
                    }),
                ),
                None => {
                    let has_air = p.code() % 10_000 == 100
                        || hash(seed, tag::NETWORK, u64::from(p.code()), 1).is_multiple_of(2);
                    (
                        Some(Station {
                            name: format!("{short}站"),
                            region: first_county,
                        }),
                        has_air.then(|| Station {
                            name: format!("{short}机场"),
                            region: first_county,
                        }),
                    )
                }
            };
            nodes.push(Node {
                prefecture: p,
                coach: Station {
                    name: format!("{short}汽车客运中心"),
                    region: first_county,
                },
                rail,
                air,
                home: home.covers(p) || p.covers(home),
                in_province: true,
                hubei: province.code() == 420000,
                point: region_point(p),
            });
        }
        for &(code, rail, rail_c, air, air_c) in OUTSIDE {
            let p = Region::new(code).expect("valid");
            if p.province() == province {
                continue;
            }
            let name = table.info(p).map(|i| i.name.as_str()).unwrap_or("");
            let short = names::short_name(name);
            let rail_region = valid_or(rail_c, p);
            nodes.push(Node {
                prefecture: p,
                rail: Some(Station {
                    name: rail.to_string(),
                    region: rail_region,
                }),
                air: (!air.is_empty()).then(|| Station {
                    name: air.to_string(),
                    region: valid_or(air_c, p),
                }),
                coach: Station {
                    name: format!("{short}汽车客运站"),
                    region: rail_region,
                },
                home: false,
                in_province: false,
                hubei: code / 10_000 == 42,
                point: region_point(p),
            });
        }
        let mut net = Network {
            nodes,
            services: Vec::new(),
            by_pair: Default::default(),
        };
        net.build_services(seed);
        net
    }

    fn build_services(&mut self, seed: u64) {
        let n = self.nodes.len();
        let mut g_no = 7001u32;
        let mut d_no = 3101u32;
        let mut k_no = 1001u32;
        let mut s_no = 101u32;
        let mut air_no = [5101u32, 1801, 3801, 7201, 9301, 8801, 8401, 8601];
        for a in 0..n {
            for b in 0..n {
                if a == b {
                    continue;
                }
                let (na, nb) = (self.nodes[a].clone(), self.nodes[b].clone());
                let (na, nb) = (&na, &nb);
                // Only services touching the home region matter to its residents.
                if !(na.home || nb.home) {
                    continue;
                }
                let dist = distance_km(na.point, nb.point);
                let pair = (a.min(b) as u64) << 16 | b.max(a) as u64;
                let mut r = Rng::at(seed, tag::NETWORK, pair, a as u64);
                let big = |x: &Node| {
                    matches!(
                        x.prefecture.code(),
                        310000 | 110000 | 420100 | 440100 | 330100
                    )
                };
                if na.rail.is_some() && nb.rail.is_some() {
                    let k = if na.in_province && nb.in_province {
                        5
                    } else if big(na) || big(nb) {
                        6
                    } else {
                        2
                    };
                    for i in 0..k {
                        let high = i % 3 != 2;
                        let speed = if high { 230.0 } else { 160.0 };
                        let dur = 25.0 + dist * 1.25 / speed * 60.0;
                        let number = if high {
                            g_no += 1;
                            format!("G{g_no}")
                        } else {
                            d_no += 1;
                            format!("D{d_no}")
                        };
                        let cars = if high && i % 2 == 0 { 16 } else { 8 };
                        self.add(Mode::Rail, number, a, b, i, k, dur, cars, 18, &mut r);
                    }
                }
                if na.air.is_some() && nb.air.is_some() && dist > 450.0 {
                    let k = if big(na) || big(nb) { 3 } else { 1 };
                    for i in 0..k {
                        let al = r.below(AIRLINES.len() as u64) as usize;
                        air_no[al] += 1;
                        let number = format!("{}{}", AIRLINES[al], air_no[al]);
                        let dur = 45.0 + dist / 700.0 * 60.0;
                        self.add(Mode::Flight, number, a, b, i, k, dur, 1, 38, &mut r);
                    }
                }
                if dist < 1100.0 {
                    let k = if na.in_province && nb.in_province {
                        4
                    } else {
                        1
                    };
                    for i in 0..k {
                        k_no += 1;
                        let dur = 20.0 + dist * 1.3 / 75.0 * 60.0;
                        self.add(
                            Mode::Coach,
                            format!("K{k_no}"),
                            a,
                            b,
                            i,
                            k,
                            dur,
                            1,
                            49,
                            &mut r,
                        );
                    }
                }
                let ferry = matches!(
                    (na.prefecture.code(), nb.prefecture.code()),
                    (330900, 310000) | (310000, 330900) | (330900, 330200) | (330200, 330900)
                );
                if ferry {
                    for i in 0..2 {
                        s_no += 1;
                        let dur = 40.0 + dist / 30.0 * 60.0;
                        self.add(
                            Mode::Ship,
                            format!("S{s_no}"),
                            a,
                            b,
                            i,
                            2,
                            dur,
                            1,
                            60,
                            &mut r,
                        );
                    }
                }
            }
        }
        for list in self.by_pair.values_mut() {
            list.sort_by_key(|&s| self.services[s as usize].depart_min);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        mode: Mode,
        number: String,
        a: usize,
        b: usize,
        i: u32,
        k: u32,
        duration: f64,
        cars: u8,
        rows: u8,
        r: &mut Rng,
    ) {
        let dur = (duration.round() as u32).clamp(30, 16 * 60);
        let span = 14 * 60 / k.max(1);
        let mut dep = 6 * 60 + 30 + i * span + r.below(u64::from(span.min(50))) as u32;
        dep = dep / 5 * 5;
        let latest = (23u32 * 60 + 10).saturating_sub(dur);
        if dep > latest {
            dep = latest / 5 * 5;
        }
        let id = self.services.len() as u32;
        self.services.push(Service {
            mode,
            number,
            depart_min: dep,
            duration_min: dur,
            cars,
            rows,
        });
        self.by_pair
            .entry((a as u16, b as u16, mode))
            .or_default()
            .push(id);
    }

    /// Services from `a` to `b` by `mode`.
    pub fn services(&self, a: usize, b: usize, mode: Mode) -> &[u32] {
        self.by_pair
            .get(&(a as u16, b as u16, mode))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The node of a region: its prefecture's, else one in the same province, else the nearest.
    pub fn node_of(&self, region: Region) -> usize {
        let pref = region.prefecture();
        if let Some(i) = self
            .nodes
            .iter()
            .position(|n| n.prefecture == pref || n.prefecture == region.province())
        {
            return i;
        }
        if let Some(i) = self
            .nodes
            .iter()
            .position(|n| n.prefecture.province() == region.province())
        {
            return i;
        }
        let p = region_point(region);
        let mut best = 0;
        let mut best_d = f64::MAX;
        for (i, n) in self.nodes.iter().enumerate() {
            let d = distance_km(p, n.point);
            if d < best_d {
                best_d = d;
                best = i;
            }
        }
        best
    }

    pub fn find(&self, prefecture: u32) -> Option<usize> {
        self.nodes
            .iter()
            .position(|n| n.prefecture.code() == prefecture)
    }

    pub fn station(&self, node: usize, mode: Mode) -> &Station {
        let n = &self.nodes[node];
        match mode {
            Mode::Rail => n.rail.as_ref().unwrap_or(&n.coach),
            Mode::Flight => n.air.as_ref().unwrap_or(&n.coach),
            Mode::Coach | Mode::Ship => &n.coach,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zhejiang_reaches_wuhan_by_rail_and_air() {
        let net = Network::new(1, Region::new(330000).unwrap());
        let wz = net.find(330300).unwrap();
        let wh = net.find(420100).unwrap();
        assert!(!net.services(wh, wz, Mode::Rail).is_empty());
        assert!(!net.services(wh, wz, Mode::Flight).is_empty());
        assert!(!net.services(wz, wh, Mode::Coach).is_empty());
        let mut numbers = std::collections::HashSet::new();
        for s in &net.services {
            assert!(numbers.insert(s.number.clone()), "{} repeats", s.number);
            assert!(s.depart_min + s.duration_min < 24 * 60);
        }
        assert_eq!(net.station(wz, Mode::Rail).name, "温州南站");
    }
}
