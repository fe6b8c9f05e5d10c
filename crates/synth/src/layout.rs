//! The synthetic population's structure without per-person memory: counties, communities,
//! 40-person blocks of households, and the injective map from a person's index to a valid,
//! unique identity number whose birth date and sex match the person.
//!
//! A county's residents are numbered 0..pop. Every block of [`BLOCK`] consecutive residents has
//! a fixed class composition (children, young adults, middle-aged, elders, migrant workers),
//! arranged into households by a draw keyed by the block. A person's rank within their class
//! across the county's blocks is therefore known in O(1); an affine permutation of that rank,
//! mapped through the age pyramid's birth-year buckets and then day-of-year and sequence
//! number, gives the identity number. Different classes use disjoint birth years or sequence
//! ranges, so no two persons can share an id.

use model::{Date, PersonId, Region, RegionInfo, RegionTable};

use crate::Error;
use crate::config::Config;
use crate::names;
use crate::rng::{Affine, Rng, hash, tag};

/// Residents per block; a block never straddles a community.
pub const BLOCK: u64 = 40;
/// Target residents per community (urban communities in Zhejiang hold 2,000–5,000 people).
const COMMUNITY_TARGET: f64 = 3500.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    Child,
    Young,
    Middle,
    Elder,
    /// A migrant worker born in another province.
    Migrant,
    /// A non-resident visitor from Hubei.
    Visitor,
}

/// Natives' birth-year span per class, as ages at the start of the simulated year.
const CLASS_AGES: [(u32, u32); 4] = [(0, 17), (18, 39), (40, 59), (60, 95)];
/// Natives per block by class; the young adults lose the block's migrants.
const CLASS_COUNTS: [u32; 4] = [8, 12, 12, 8];
/// Sequence-number ranges: natives 000–799, migrants 800–899, visitors 900–999.
const MIGRANT_SEQ: u32 = 800;
const VISITOR_SEQ: u32 = 900;

/// Relative population by single year of age (a stylised 2020 census pyramid, 5-year groups).
pub fn age_weight(age: u32) -> f64 {
    const GROUPS: [f64; 20] = [
        0.95, 1.05, 1.0, 0.85, 0.85, 1.1, 1.45, 1.15, 1.05, 1.35, 1.4, 1.1, 0.85, 0.95, 0.65, 0.45,
        0.3, 0.15, 0.05, 0.02,
    ];
    GROUPS[(age / 5).min(19) as usize]
}

/// Birth-year buckets of one class in one county, sized by the pyramid.
#[derive(Clone, Debug)]
struct ClassSpace {
    perm: Affine,
    /// Birth year of bucket `i` is `first_year + i`; `cum[i]..cum[i+1]` are its slots.
    first_year: i32,
    cum: Vec<u64>,
    /// Keyed shift of the day-of-year, so small buckets do not all start on the same day.
    key: u64,
}

impl ClassSpace {
    fn new(size: u64, ages: (u32, u32), ref_year: i32, key: u64) -> Result<ClassSpace, Error> {
        let first_year = ref_year - 1 - ages.1 as i32;
        let years = (ages.1 - ages.0 + 1) as usize;
        // Bucket i holds birth year first_year + i, i.e. age ages.1 - i.
        let weights: Vec<f64> = (0..years).map(|i| age_weight(ages.1 - i as u32)).collect();
        let total: f64 = weights.iter().sum();
        let mut cum = Vec::with_capacity(years + 1);
        let mut acc = 0.0;
        cum.push(0);
        for w in &weights {
            acc += w;
            cum.push(((acc / total) * size as f64).round() as u64);
        }
        *cum.last_mut().expect("non-empty") = size;
        for i in 0..years {
            let cap = 365 * 400;
            if cum[i + 1] - cum[i] > cap {
                return Err(Error::Config(
                    "too many persons for one county's identity numbers; use a larger region or fewer persons".into(),
                ));
            }
        }
        Ok(ClassSpace {
            perm: Affine::new(size, key),
            first_year,
            cum,
            key,
        })
    }

    /// Birth date and sequence number (without the sex bit) of slot `v`.
    fn slot(&self, v: u64) -> (Date, u32) {
        let p = self.perm.apply(v);
        let i = self.cum.partition_point(|&c| c <= p) - 1;
        let r = p - self.cum[i];
        let year = self.first_year + i as i32;
        let (doy, k) = day_and_rank(r, year, hash(self.key, year as u64, 0, 0));
        (doy, 2 * k)
    }
}

fn days_in_year(y: i32) -> u64 {
    if model::time::is_leap(y) { 366 } else { 365 }
}

/// Spreads slot `r` of a birth year over its days (a bijection: day-of-year by a coprime
/// stride, then a rank among those born that day).
fn day_and_rank(r: u64, year: i32, shift: u64) -> (Date, u32) {
    let n = days_in_year(year);
    let doy = ((r % n) * 97 + shift % n) % n;
    let k = (r / n) as u32;
    let jan1 = Date::from_ymd(year, 1, 1).expect("valid year");
    (jan1.add_days(doy as i32), k)
}

#[derive(Clone, Debug)]
pub struct County {
    pub region: Region,
    pub name: String,
    pub short: String,
    pub prefecture: Region,
    pub point: (f64, f64),
    /// Global index of the first resident and the number of residents.
    pub start: u64,
    pub pop: u64,
    /// Global index of the first community and how many.
    pub first_community: u32,
    pub communities: u32,
    /// Migrants per block (fractional; block b has floor((b+1)f) - floor(bf)).
    pub migrant_rate: f64,
    /// Global index of the county's first migrant.
    pub migrant_offset: u64,
    /// Natives' classes: child, young, middle, elder.
    spaces: Vec<ClassSpace>,
}

impl County {
    fn migrants_before(&self, b: u64) -> u64 {
        (b as f64 * self.migrant_rate).floor() as u64
    }
    fn migrants_in(&self, b: u64) -> u32 {
        (self.migrants_before(b + 1) - self.migrants_before(b)) as u32
    }
}

#[derive(Clone, Debug)]
pub struct Community {
    pub county: u32,
    /// 1-based number within the county, as in the id `C330302001`.
    pub ordinal: u32,
    pub first_block: u64,
    pub name: String,
    pub point: (f64, f64),
}

/// One origin county slot for migrants: weighted origins become repeated slots.
#[derive(Clone, Copy, Debug)]
struct OriginSlot {
    county: Region,
    sub: u64,
    mult: u64,
}

/// One member position in a block.
#[derive(Clone, Copy, Debug, Default)]
pub struct Member {
    pub class: u8,
    /// Household number within the block.
    pub hh: u8,
    /// Position of the household's first member within the block, and its size.
    pub hh_start: u8,
    pub hh_len: u8,
    /// The spouse of the household head: opposite sex to the head.
    pub spouse: bool,
    /// Rank among the block's members of the same class.
    pub rank: u8,
}

/// The household arrangement of one block.
#[derive(Clone, Debug)]
pub struct Block {
    pub county: u32,
    pub block: u64,
    pub members: [Member; BLOCK as usize],
}

const C: u8 = 0;
const Y: u8 = 1;
const M: u8 = 2;
const E: u8 = 3;
const H: u8 = 4;

/// Household types with relative frequency (Zhejiang's mean household size is about 2.6).
const WITH_CHILDREN: &[(&[u8], f64)] = &[
    (&[Y, Y, C], 3.0),
    (&[Y, Y, C, C], 1.2),
    (&[M, M, C], 1.6),
    (&[E, E, Y, Y, C], 0.7),
    (&[E, Y, Y, C], 0.6),
    (&[E, E, Y, Y, C, C], 0.3),
    (&[H, H, C], 1.2),
    (&[Y, C], 0.3),
    (&[M, C], 0.3),
];
const WITHOUT_CHILDREN: &[(&[u8], f64)] = &[
    (&[E], 1.6),
    (&[E, E], 2.4),
    (&[Y], 1.6),
    (&[M], 0.9),
    (&[Y, Y], 1.3),
    (&[M, M], 2.0),
    (&[M, M, Y], 1.1),
    (&[E, E, M], 0.5),
    (&[E, M], 0.4),
    (&[H], 1.6),
    (&[H, H], 1.6),
    (&[H, H, H], 0.5),
];

/// Everything fixed about the synthetic province, in O(counties + communities) memory.
#[derive(Debug)]
pub struct Layout {
    pub seed: u64,
    pub ref_year: i32,
    pub home_province: Region,
    pub counties: Vec<County>,
    pub communities: Vec<Community>,
    pub residents: u64,
    pub visitors: u64,
    origin_slots: Vec<OriginSlot>,
    /// Hubei's real counties: visitors' birth places.
    pub hubei_counties: Vec<Region>,
}

/// A person, computed on demand from their index.
#[derive(Clone, Debug)]
pub struct Person {
    pub idx: u64,
    pub class: Class,
    pub id: PersonId,
    pub birth: Date,
    pub male: bool,
    /// Age in whole years at the start of the simulated year.
    pub age: u32,
    pub birth_region: Region,
    /// Home county (visitors: the county they stay in).
    pub county: u32,
    /// Global community index (visitors: where they stay).
    pub community: u32,
    /// Block within the county and household number within the block.
    pub block: u64,
    pub hh_ord: u8,
    /// Global index of the household's first member: the household's key. For visitors, the
    /// index of their travel party's first member.
    pub hh: u64,
    pub hh_len: u8,
    pub pos_in_hh: u8,
}

impl Person {
    pub fn is_visitor(&self) -> bool {
        self.class == Class::Visitor
    }
    pub fn is_adult(&self) -> bool {
        self.class != Class::Child
    }
    /// Working age and not a student or retiree.
    pub fn works(&self) -> bool {
        match self.class {
            Class::Young => self.age >= 20,
            Class::Middle | Class::Migrant => true,
            Class::Elder => self.age < 63,
            _ => false,
        }
    }
}

/// Caches the last block so streaming through persons builds each block once.
#[derive(Debug, Default)]
pub struct BlockCache {
    last: Option<Block>,
}

impl Layout {
    pub fn new(config: &Config) -> Result<Layout, Error> {
        let table = RegionTable::get();
        let seed = config.seed;
        let ref_year = config.start.ymd().0;
        let home = config.region;
        let home_province = home.province();
        let infos: Vec<&RegionInfo> = table.counties_under(home);
        if infos.is_empty() {
            return Err(Error::Config(format!("region {home} has no counties")));
        }
        // County weights: urban districts are denser than county-level cities, which are
        // denser than counties; a keyed jitter keeps neighbours from being identical.
        let weights: Vec<f64> = infos
            .iter()
            .map(|c| {
                let base = if c.name.ends_with('区') {
                    1.5
                } else if c.name.ends_with('市') {
                    1.25
                } else {
                    0.7
                };
                let jitter = 0.75
                    + 0.5
                        * crate::rng::unit(hash(seed, tag::LAYOUT, u64::from(c.region.code()), 0));
                base * jitter
            })
            .collect();
        let pops = apportion(config.persons, &weights);
        let mut counties = Vec::with_capacity(infos.len());
        let mut communities = Vec::new();
        let mut start = 0u64;
        let mut migrant_offset = 0u64;
        let rates = &config.rates;
        for (i, info) in infos.iter().enumerate() {
            let pop = pops[i];
            let blocks = pop.div_ceil(BLOCK);
            let point = point_of(info);
            let prefecture = info.parent.unwrap_or(info.region.prefecture());
            let urban = info.name.ends_with('区');
            let key = hash(seed, tag::LAYOUT, u64::from(info.region.code()), 1);
            let factor = if urban { 1.2 } else { 0.85 } * (0.7 + 0.6 * crate::rng::unit(key));
            let migrant_rate = (24.0 * rates.migrants * factor).min(11.0);
            let first_community = communities.len() as u32;
            let m = ((pop as f64 / COMMUNITY_TARGET).round() as u64).clamp(1, blocks.max(1));
            if blocks > 0 {
                let cw: Vec<f64> = (0..m)
                    .map(|j| {
                        0.6 + 0.8
                            * crate::rng::unit(hash(
                                seed,
                                tag::LAYOUT,
                                u64::from(info.region.code()),
                                100 + j,
                            ))
                    })
                    .collect();
                let sizes = apportion(blocks - m, &cw);
                let mut fb = 0;
                for (j, s) in sizes.iter().enumerate() {
                    let n = s + 1;
                    let ckey = hash(
                        seed,
                        tag::LAYOUT,
                        u64::from(info.region.code()),
                        10_000 + j as u64,
                    );
                    let mut r = Rng::new(ckey);
                    let dp = (r.f64() - 0.5) * 0.08;
                    let dq = (r.f64() - 0.5) * 0.08;
                    communities.push(Community {
                        county: i as u32,
                        ordinal: j as u32 + 1,
                        first_block: fb,
                        name: names::community_name(ckey),
                        point: (point.0 + dp, point.1 + dq),
                    });
                    fb += n;
                }
            }
            let n_comm = communities.len() as u32 - first_community;
            let mut county = County {
                region: info.region,
                name: info.name.clone(),
                short: names::short_name(&info.name),
                prefecture,
                point,
                start,
                pop,
                first_community,
                communities: n_comm,
                migrant_rate,
                migrant_offset,
                spaces: Vec::new(),
            };
            let mut spaces = Vec::with_capacity(4);
            for (c, ages) in CLASS_AGES.iter().enumerate() {
                let mut size = u64::from(CLASS_COUNTS[c]) * blocks;
                if c == Y as usize {
                    size -= county.migrants_before(blocks);
                }
                let key = hash(
                    seed,
                    tag::LAYOUT,
                    u64::from(info.region.code()),
                    200 + c as u64,
                );
                spaces.push(ClassSpace::new(size, *ages, ref_year, key)?);
            }
            county.spaces = spaces;
            migrant_offset += county.migrants_before(blocks);
            start += pop;
            counties.push(county);
        }
        let hubei_counties: Vec<Region> = table
            .counties_under(Region::new(420000).expect("valid"))
            .iter()
            .map(|c| c.region)
            .collect();
        let origin_slots = origin_slots(seed, home_province, rates.hubei_migrants);
        let visitors = (config.persons as f64 * rates.visitors).round() as u64;
        let layout = Layout {
            seed,
            ref_year,
            home_province,
            counties,
            communities,
            residents: config.persons,
            visitors,
            origin_slots,
            hubei_counties,
        };
        layout.check_capacity(migrant_offset)?;
        Ok(layout)
    }

    fn check_capacity(&self, migrants: u64) -> Result<(), Error> {
        let k = self.origin_slots.len() as u64;
        let max_mult = self.origin_slots.iter().map(|s| s.mult).max().unwrap_or(1);
        if migrants.div_ceil(k.max(1)) * max_mult >= 32 * 365 * 50 {
            return Err(Error::Config(
                "too many migrant workers for their identity numbers".into(),
            ));
        }
        let h = self.hubei_counties.len() as u64;
        if self.visitors.div_ceil(h) >= 55 * 365 * 50 {
            return Err(Error::Config(
                "too many visitors for their identity numbers".into(),
            ));
        }
        Ok(())
    }

    /// Residents plus visitors: the index space streamed each day.
    pub fn total(&self) -> u64 {
        self.residents + self.visitors
    }

    pub fn county_of(&self, idx: u64) -> usize {
        self.counties.partition_point(|c| c.start + c.pop <= idx)
    }

    /// The block arrangement of one county block (keyed, so it never needs storing).
    pub fn block(&self, county: usize, b: u64) -> Block {
        let c = &self.counties[county];
        let mut counts = [0u32; 5];
        counts[..4].copy_from_slice(&CLASS_COUNTS);
        let mig = c.migrants_in(b);
        counts[Y as usize] -= mig;
        counts[H as usize] = mig;
        let mut r = Rng::at(self.seed, tag::BLOCK, u64::from(c.region.code()), b);
        let mut members = [Member::default(); BLOCK as usize];
        let mut pos = 0usize;
        let mut hh = 0u8;
        let mut place = |pattern: &[u8], counts: &mut [u32; 5], pos: &mut usize, hh: &mut u8| {
            let start = *pos;
            for (i, &cl) in pattern.iter().enumerate() {
                counts[cl as usize] -= 1;
                members[*pos] = Member {
                    class: cl,
                    hh: *hh,
                    hh_start: start as u8,
                    hh_len: pattern.len() as u8,
                    spouse: i == 1
                        && pattern.len() >= 2
                        && pattern[0] == pattern[1]
                        && cl != C
                        && cl != H,
                    rank: 0,
                };
                *pos += 1;
            }
            *hh += 1;
        };
        let fits = |p: &[u8], counts: &[u32; 5]| {
            let mut need = [0u32; 5];
            for &cl in p {
                need[cl as usize] += 1;
            }
            need.iter().zip(counts.iter()).all(|(n, c)| n <= c)
        };
        let mut w = Vec::with_capacity(16);
        while counts[C as usize] > 0 {
            w.clear();
            w.extend(
                WITH_CHILDREN
                    .iter()
                    .map(|(p, wt)| if fits(p, &counts) { *wt } else { 0.0 }),
            );
            if w.iter().all(|x| *x == 0.0) {
                // No adults left to live with: attach the child to the last household as a
                // grandchild (only reachable with unusual class counts).
                place(&[C], &mut counts, &mut pos, &mut hh);
                continue;
            }
            let i = r.weighted(&w);
            place(WITH_CHILDREN[i].0, &mut counts, &mut pos, &mut hh);
        }
        while counts.iter().any(|&c| c > 0) {
            w.clear();
            w.extend(
                WITHOUT_CHILDREN
                    .iter()
                    .map(|(p, wt)| if fits(p, &counts) { *wt } else { 0.0 }),
            );
            let i = r.weighted(&w);
            place(WITHOUT_CHILDREN[i].0, &mut counts, &mut pos, &mut hh);
        }
        let mut seen = [0u8; 5];
        for m in members.iter_mut() {
            m.rank = seen[m.class as usize];
            seen[m.class as usize] += 1;
        }
        Block {
            county: county as u32,
            block: b,
            members,
        }
    }

    /// The person with global index `idx` (residents first, then visitors).
    pub fn person(&self, idx: u64, cache: &mut BlockCache) -> Person {
        if idx >= self.residents {
            return self.visitor(idx - self.residents);
        }
        let k = self.county_of(idx);
        let c = &self.counties[k];
        let o = idx - c.start;
        let b = o / BLOCK;
        let pos = (o % BLOCK) as usize;
        let hit = matches!(&cache.last, Some(bl) if bl.county == k as u32 && bl.block == b);
        if !hit {
            cache.last = Some(self.block(k, b));
        }
        let block = cache.last.as_ref().expect("cached");
        let m = block.members[pos];
        let block_len = (c.pop - b * BLOCK).min(BLOCK) as u8;
        let hh_len = (m.hh_start + m.hh_len).min(block_len) - m.hh_start;
        let hh_first = c.start + b * BLOCK + u64::from(m.hh_start);
        let comm = self.community_of(k, b);
        // Sex: household heads at random, spouses opposite, others at random.
        let head_male = hash(self.seed, tag::NAME, hh_first, 1) & 1 == 1;
        let male = if m.hh_start as usize == pos {
            head_male
        } else if m.spouse {
            !head_male
        } else {
            hash(self.seed, tag::NAME, idx, 2) & 1 == 1
        };
        let (class, birth, seq, birth_region) = if m.class == H {
            let g = c.migrant_offset + c.migrants_before(b) + u64::from(m.rank);
            let (region, birth, seq) = self.migrant_slot(g);
            (Class::Migrant, birth, seq, region)
        } else {
            let space = &c.spaces[m.class as usize];
            let before = if m.class == Y {
                u64::from(CLASS_COUNTS[Y as usize]) * b - c.migrants_before(b)
            } else {
                u64::from(CLASS_COUNTS[m.class as usize]) * b
            };
            let (birth, seq) = space.slot(before + u64::from(m.rank));
            let class = [Class::Child, Class::Young, Class::Middle, Class::Elder][m.class as usize];
            (class, birth, seq, c.region)
        };
        let seq = seq + u32::from(male);
        let id = PersonId::from_parts(birth_region.code(), birth, seq).expect("id parts in range");
        Person {
            idx,
            class,
            id,
            birth,
            male,
            age: (self.ref_year - 1 - birth.ymd().0).max(0) as u32,
            birth_region,
            county: k as u32,
            community: comm,
            block: b,
            hh_ord: m.hh,
            hh: hh_first,
            hh_len,
            pos_in_hh: pos as u8 - m.hh_start,
        }
    }

    /// Global community index of block `b` of county `k`.
    pub fn community_of(&self, k: usize, b: u64) -> u32 {
        let c = &self.counties[k];
        let comms = &self.communities
            [c.first_community as usize..(c.first_community + c.communities) as usize];
        let j = comms.partition_point(|cm| cm.first_block <= b) - 1;
        c.first_community + j as u32
    }

    fn migrant_slot(&self, g: u64) -> (Region, Date, u32) {
        let k = self.origin_slots.len() as u64;
        let slot = self.origin_slots[(g % k) as usize];
        let local = (g / k) * slot.mult + slot.sub;
        let ny = 32u64;
        let year = self.ref_year - 50 + (local % ny) as i32;
        let r = local / ny;
        let (birth, rank) = day_and_rank_flat(
            r,
            year,
            hash(self.seed, u64::from(slot.county.code()), year as u64, 8),
        );
        (slot.county, birth, MIGRANT_SEQ + 2 * rank)
    }

    /// A non-resident visitor from Hubei; `v` counts from 0.
    pub fn visitor(&self, v: u64) -> Person {
        let h = self.hubei_counties.len() as u64;
        let region = self.hubei_counties[(v % h) as usize];
        let local = v / h;
        let ny = 55u64;
        let year = self.ref_year - 70 + (local % ny) as i32;
        let (birth, rank) = day_and_rank_flat(
            local / ny,
            year,
            hash(self.seed, u64::from(region.code()), year as u64, 9),
        );
        let male = hash(self.seed, tag::NAME, self.residents + v, 2) & 1 == 1;
        let seq = VISITOR_SEQ + 2 * rank + u32::from(male);
        let id = PersonId::from_parts(region.code(), birth, seq).expect("id parts in range");
        // Travel parties: triples of consecutive visitors, of keyed size 1–3.
        let leader = v / 3 * 3;
        let size = 1 + hash(self.seed, tag::PLAN, self.residents + leader, 3) % 3;
        let (first, len, pos) = if v - leader < size {
            (leader, size, v - leader)
        } else {
            (v, 1, 0)
        };
        // Where they stay: a county chosen by population, a community in it.
        let mut r = Rng::at(self.seed, tag::PLAN, self.residents + first, 4);
        let k = self.pick_county(&mut r);
        let cty = &self.counties[k];
        let comm = cty.first_community + r.below(u64::from(cty.communities.max(1))) as u32;
        Person {
            idx: self.residents + v,
            class: Class::Visitor,
            id,
            birth,
            male,
            age: (self.ref_year - 1 - year).max(0) as u32,
            birth_region: region,
            county: k as u32,
            community: comm,
            block: 0,
            hh_ord: 0,
            hh: self.residents + first,
            hh_len: len as u8,
            pos_in_hh: pos as u8,
        }
    }

    /// A county drawn in proportion to its residents.
    pub fn pick_county(&self, r: &mut Rng) -> usize {
        let x = r.below(self.residents.max(1));
        self.county_of(x).min(self.counties.len() - 1)
    }

    pub fn community_id(&self, comm: u32, out: &mut Vec<u8>) {
        let cm = &self.communities[comm as usize];
        let c = &self.counties[cm.county as usize];
        out.push(b'C');
        push_code(out, c.region.code());
        push_padded(out, u64::from(cm.ordinal), 3);
    }

    pub fn household_id(&self, p: &Person, out: &mut Vec<u8>) {
        let c = &self.counties[p.county as usize];
        out.push(b'H');
        push_code(out, c.region.code());
        push_padded(out, p.block, 5);
        push_padded(out, u64::from(p.hh_ord), 2);
    }

    /// Members of the household whose first member is `first` (residents only).
    pub fn household_members(&self, first: u64, cache: &mut BlockCache) -> std::ops::Range<u64> {
        let p = self.person(first, cache);
        first..first + u64::from(p.hh_len)
    }
}

/// Like [`day_and_rank`] over 365 days, for the flat age spans of migrants and visitors.
fn day_and_rank_flat(r: u64, year: i32, shift: u64) -> (Date, u32) {
    let doy = ((r % 365) * 97 + shift % 365) % 365;
    let jan1 = Date::from_ymd(year, 1, 1).expect("valid year");
    (jan1.add_days(doy as i32), (r / 365) as u32)
}

pub fn push_code(out: &mut Vec<u8>, code: u32) {
    push_padded(out, u64::from(code), 6);
}

pub fn push_padded(out: &mut Vec<u8>, v: u64, width: usize) {
    let mut buf = itoa::Buffer::new();
    let s = buf.format(v);
    for _ in s.len()..width {
        out.push(b'0');
    }
    out.extend_from_slice(s.as_bytes());
}

/// A representative point: the county's own, else its prefecture's, else its province's.
fn point_of(info: &RegionInfo) -> (f64, f64) {
    let table = RegionTable::get();
    info.point
        .or_else(|| {
            info.parent
                .and_then(|p| table.info(p))
                .and_then(|p| p.point)
        })
        .or_else(|| table.info(info.region.province()).and_then(|p| p.point))
        .unwrap_or((120.0, 30.0))
}

/// Splits `total` in proportion to `weights`, largest remainders first (deterministic).
pub fn apportion(total: u64, weights: &[f64]) -> Vec<u64> {
    let sum: f64 = weights.iter().sum();
    let mut out: Vec<u64> = Vec::with_capacity(weights.len());
    let mut rem: Vec<(f64, usize)> = Vec::with_capacity(weights.len());
    let mut given = 0u64;
    for (i, w) in weights.iter().enumerate() {
        let exact = total as f64 * w / sum;
        let f = exact.floor() as u64;
        out.push(f);
        given += f;
        rem.push((exact - f as f64, i));
    }
    rem.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, i) in rem.iter().take((total - given) as usize) {
        out[*i] += 1;
    }
    out
}

/// Origins of migrant workers in Zhejiang (2010 and 2020 census shares, rounded), as 200
/// weighted county slots so each origin county's workers can be numbered without counting.
fn origin_slots(seed: u64, home_province: Region, hubei_share: f64) -> Vec<OriginSlot> {
    let table = RegionTable::get();
    let others: &[(u32, f64)] = &[
        (340000, 20.0),
        (360000, 13.0),
        (410000, 10.0),
        (520000, 10.0),
        (510000, 8.0),
        (430000, 7.0),
        (500000, 4.0),
        (530000, 3.0),
        (450000, 3.0),
        (350000, 3.0),
        (320000, 3.0),
        (370000, 2.0),
        (330000, 6.0),
    ];
    let mut provinces: Vec<(u32, f64)> = others
        .iter()
        .filter(|(p, _)| *p != home_province.code())
        .copied()
        .collect();
    let rest: f64 = provinces.iter().map(|p| p.1).sum();
    for p in &mut provinces {
        p.1 *= (1.0 - hubei_share) / rest;
    }
    if home_province.code() != 420000 {
        provinces.push((420000, hubei_share));
    }
    const SLOTS: f64 = 200.0;
    let mut slots: Vec<OriginSlot> = Vec::new();
    for (prov, share) in provinces {
        let n = (share * SLOTS).round().max(1.0) as usize;
        let counties = table.counties_under(Region::new(prov).expect("valid"));
        let mut r = Rng::at(seed, tag::LAYOUT, u64::from(prov), 7);
        for _ in 0..n {
            let c = counties[r.below(counties.len() as u64) as usize].region;
            slots.push(OriginSlot {
                county: c,
                sub: 0,
                mult: 0,
            });
        }
    }
    // Number the repeats of each county.
    for i in 0..slots.len() {
        let c = slots[i].county;
        let sub = slots[..i].iter().filter(|s| s.county == c).count() as u64;
        let mult = slots.iter().filter(|s| s.county == c).count() as u64;
        slots[i].sub = sub;
        slots[i].mult = mult;
    }
    slots
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn config(persons: u64, region: u32, seed: u64) -> Config {
        Config {
            persons,
            seed,
            region: Region::new(region).unwrap(),
            ..Config::default()
        }
    }

    #[test]
    fn ids_are_valid_unique_and_match_the_person() {
        for (n, region) in [(6000, 330000), (5000, 330300), (999, 330302)] {
            let cfg = config(n, region, 7);
            let layout = Layout::new(&cfg).unwrap();
            let mut cache = BlockCache::default();
            let mut seen = HashSet::new();
            let mut sizes = Vec::new();
            for idx in 0..layout.total() {
                let p = layout.person(idx, &mut cache);
                let s = p.id.to_string();
                let parsed = PersonId::parse(s.as_bytes()).unwrap();
                assert_eq!(parsed.birth_date(), Some(p.birth));
                assert_eq!(parsed.is_male(), p.male);
                assert!(seen.insert(p.id), "duplicate id {s} at {idx}");
                if p.pos_in_hh == 0 && !p.is_visitor() {
                    sizes.push(p.hh_len);
                }
            }
            let mean = sizes.iter().map(|&s| f64::from(s)).sum::<f64>() / sizes.len() as f64;
            assert!((2.2..3.0).contains(&mean), "mean household size {mean}");
            assert!(sizes.iter().all(|&s| (1..=6).contains(&s)));
        }
    }

    #[test]
    fn class_slots_are_injective() {
        // Every slot of a class space maps to its own (birth date, rank).
        for size in [1u64, 7, 400, 5_000, 60_000] {
            let space = ClassSpace::new(size, CLASS_AGES[1], 2020, size * 31).unwrap();
            let mut seen = HashSet::new();
            for v in 0..size {
                assert!(seen.insert(space.slot(v)), "size {size}: slot {v} repeats");
            }
        }
        for y in [2019, 2020] {
            let n = days_in_year(y) * 3;
            let set: HashSet<_> = (0..n).map(|r| day_and_rank(r, y, 12345)).collect();
            assert_eq!(set.len() as u64, n);
        }
    }

    #[test]
    fn blocks_have_fixed_composition() {
        let cfg = config(20_000, 330300, 3);
        let layout = Layout::new(&cfg).unwrap();
        for b in 0..20 {
            let bl = layout.block(0, b);
            let mut counts = [0u32; 5];
            for m in bl.members.iter() {
                counts[m.class as usize] += 1;
            }
            assert_eq!(counts.iter().sum::<u32>(), BLOCK as u32);
            assert_eq!(counts[0], 8);
        }
    }
}
