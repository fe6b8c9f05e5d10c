//! One person's day as events: venue check-ins (office, shops, markets, restaurants, fever
//! clinics), rides with their gate scans, expressway passes, health self-reports, returnee
//! registrations and fever-clinic samples. A pure function of the person, the day and the
//! person's own (sparse) outbreak state, so the same day is recomputed identically for the
//! output and for finding where infectious people were.

use model::{Date, Direction, Mode, Region, Timestamp};

use crate::World;
use crate::calendar;
use crate::layout::{BlockCache, Class, Person};
use crate::outbreak::{Case, Outbreak, SampleSource};
use crate::plan::{By, Leg, Plan, PlanKind, Where};
use crate::rng::{Rng, hash, tag, unit};
use crate::venues::{Venue, VenueKind};

const MIN: i64 = 60_000;
const HOUR: i64 = 3_600_000;

#[derive(Clone, Copy, Debug)]
pub enum Event {
    Checkin {
        venue: Venue,
        tin: Timestamp,
        tout: Option<Timestamp>,
        /// `tout`, or `tin` + 60 minutes as the contract reads a missing scan out.
        until: Timestamp,
    },
    Ride {
        service: u32,
        /// Rail car (1-based; 0 for other modes).
        car: u8,
        /// Seat row (flights, trains) or number (coaches, ferries); 0 for standing.
        row: u8,
        letter: u8,
        depart: Timestamp,
        arrive: Timestamp,
        from_node: u16,
        to_node: u16,
        service_date: Date,
    },
    Scan {
        node: u16,
        mode: Mode,
        dir: Direction,
        time: Timestamp,
    },
    Pass {
        key: u64,
        shared: bool,
        /// Household or travel party (shared) or the person (alone): names the pass.
        group: u64,
        day: Date,
        leg: u8,
        driver: bool,
        time: Timestamp,
        region: Region,
        origin: Region,
        dest: Region,
        purpose: &'static str,
        plate_key: u64,
        plate_prefecture: u32,
        checkpoint: u8,
        /// Hours spent together in the car.
        hours: f64,
    },
    SelfReport {
        time: Timestamp,
        temp_tenths: u16,
        symptoms: &'static str,
        visited: Option<Region>,
        note: &'static str,
    },
    Registration {
        arrival: Date,
        from: Region,
        stay_region: Region,
        community: u32,
    },
    /// A negative fever-clinic sample of someone without COVID-19, reported today.
    FluSample {
        sample: Timestamp,
        reported: Timestamp,
    },
}

/// What the day says about the person beyond the events.
#[derive(Clone, Copy, Debug, Default)]
pub struct DayInfo {
    /// At home in the evening (household contact possible).
    pub home_evening: bool,
}

/// Reused buffers of one worker thread.
#[derive(Debug, Default)]
pub struct Scratch {
    pub events: Vec<Event>,
    pub cache: BlockCache,
    pub cache2: BlockCache,
}

impl Scratch {
    /// Person `idx` and what they do on `date` (the events are left in `self.events`): the one
    /// sequence both the hot-unit pass and the streaming pass run for a person-day.
    pub fn person_day(
        &mut self,
        world: &World,
        outbreak: &Outbreak,
        idx: u64,
        date: Date,
    ) -> (Person, DayInfo) {
        let p = world.layout.person(idx, &mut self.cache);
        let plan = world.planner.plan(&p, &mut self.cache);
        let info = day(
            world,
            outbreak,
            &p,
            &plan,
            date,
            &mut self.events,
            &mut self.cache2,
        );
        (p, info)
    }
}

fn minute(day: Date, world: &World, m: i64) -> Timestamp {
    day.start(world.zone).add_ms(m * MIN)
}

/// Legs that happen: a leg is cancelled (with everything after it) when the person is
/// isolated before it leaves or the household is in quarantine that day.
fn legs_done(
    plan: &Plan,
    case: Option<&Case>,
    outbreak: &Outbreak,
    hh: u64,
    visitor: bool,
) -> usize {
    if visitor {
        return 2;
    }
    let iso = case.and_then(|c| c.isolation);
    let mut n = 0;
    for leg in plan.legs.iter().flatten() {
        if iso.is_some_and(|t| t <= leg.depart) || outbreak.quarantined(hh, leg.day) {
            break;
        }
        n += 1;
    }
    n
}

/// Where the person is on `day`, taking cancellations into account.
pub fn where_on(_world: &World, outbreak: &Outbreak, p: &Person, plan: &Plan, day: Date) -> Where {
    let case = outbreak.case(p.idx);
    let n = legs_done(plan, case, outbreak, p.hh, p.is_visitor());
    plan.where_with(day, n)
}

fn flu_start(world: &World, idx: u64, s: Date) -> bool {
    unit(hash(world.seed, tag::FLU, idx, s.0 as u64)) < world.rates.flu
}

/// The fever-clinic visit of a flu episode that started on `s` (visit on `s + 1`), if any.
fn flu_visit(
    world: &World,
    outbreak: &Outbreak,
    p: &Person,
    plan: &Plan,
    s: Date,
) -> Option<Timestamp> {
    if !flu_start(world, p.idx, s) {
        return None;
    }
    let mut r = Rng::at(world.seed, tag::FLU, p.idx, s.0 as u64 ^ 0xABCD);
    if !r.chance(0.45) {
        return None;
    }
    let day = s.add_days(1);
    if where_on(world, outbreak, p, plan, day) != Where::Home || outbreak.quarantined(p.hh, day) {
        return None;
    }
    Some(minute(day, world, 510 + r.below(480) as i64))
}

fn has_flu(world: &World, p: &Person, day: Date) -> bool {
    (0..3).any(|k| flu_start(world, p.idx, day.add_days(-k)))
}

/// Generates the person's events for `day` into `events` (cleared first).
pub fn day(
    world: &World,
    outbreak: &Outbreak,
    p: &Person,
    plan: &Plan,
    day: Date,
    events: &mut Vec<Event>,
    cache: &mut BlockCache,
) -> DayInfo {
    events.clear();
    let mut info = DayInfo {
        home_evening: false,
    };
    let start = day.start(world.zone);
    let end = start.add_ms(model::MS_PER_DAY);
    let case = outbreak.case(p.idx);
    let iso = case.and_then(|c| c.isolation);
    if iso.is_some_and(|t| t <= start) {
        return info;
    }
    let visitor = p.is_visitor();
    let quarantined = !visitor && outbreak.quarantined(p.hh, day);
    let n_legs = legs_done(plan, case, outbreak, p.hh, visitor);
    let here = plan.where_with(day, n_legs);
    let before_iso = |t: Timestamp| iso.is_none_or(|i| t < i);
    let mut r = Rng::at(world.seed, tag::DAY, p.idx, day.0 as u64);
    let infected_flu = case.is_none() && !visitor && has_flu(world, p, day);
    let covid_sick = case.is_some_and(|c| !c.asymptomatic && c.onset <= start.add_ms(12 * HOUR));

    match here {
        Where::Travel(i) => {
            let leg = plan.legs[i].expect("leg exists");
            travel(
                world, outbreak, p, plan, &leg, i as u8, events, cache, &mut r,
            );
            if leg.enters_province && r.chance(world.rates.registration) {
                let stay = &world.layout.counties[p.county as usize];
                events.push(Event::Registration {
                    arrival: leg.arrive.date(world.zone),
                    from: leg.from_region.prefecture(),
                    stay_region: stay.region,
                    community: p.community,
                });
            }
            info.home_evening = leg.to_home && !visitor && before_iso(end);
        }
        Where::Home if !visitor => {
            info.home_evening = before_iso(start.add_ms(23 * HOUR));
            if !quarantined {
                let sick = if covid_sick || infected_flu { 0.5 } else { 1.0 };
                outings(world, p, plan, day, sick, events, &mut r);
            }
        }
        _ => {}
    }
    if visitor {
        return info;
    }
    // Fever-clinic visits of COVID-19 cases.
    if let Some(c) = case {
        for s in c.samples() {
            if s.source == SampleSource::Clinic && s.time >= start && s.time < end {
                let n = 1 + (hash(world.seed, tag::VENUE, p.idx, 9) % 2) as u8;
                let venue = Venue::County {
                    county: p.county,
                    kind: VenueKind::FeverClinic,
                    n,
                };
                let tin = s.time.add_ms(-40 * MIN);
                let tout = s.time.add_ms(15 * MIN);
                events.push(Event::Checkin {
                    venue,
                    tin,
                    tout: Some(tout),
                    until: tout,
                });
            }
        }
    }
    // Fever-clinic visits and negative samples of flu patients.
    if case.is_none() {
        for back in [1, 2] {
            let s = day.add_days(-back);
            if let Some(t) = flu_visit(world, outbreak, p, plan, s) {
                let mut fr = Rng::at(world.seed, tag::FLU, p.idx, t.0 as u64);
                let reported = t.add_ms((6 + fr.below(20) as i64) * HOUR);
                if back == 1 {
                    let n = 1 + (hash(world.seed, tag::VENUE, p.idx, 9) % 2) as u8;
                    let venue = Venue::County {
                        county: p.county,
                        kind: VenueKind::FeverClinic,
                        n,
                    };
                    let tout = t.add_ms(20 * MIN);
                    events.push(Event::Checkin {
                        venue,
                        tin: t.add_ms(-45 * MIN),
                        tout: Some(tout),
                        until: tout,
                    });
                }
                if t >= calendar::TESTING_OPEN.start(world.zone)
                    && reported >= start
                    && reported < end
                {
                    events.push(Event::FluSample {
                        sample: t,
                        reported,
                    });
                }
            }
        }
    }
    // Health self-reports from the first-level response on.
    if day >= calendar::RESPONSE {
        let mut chance = world.rates.self_reports * if quarantined { 1.8 } else { 1.0 };
        if p.class == Class::Child && p.age < 6 {
            chance *= 0.6;
        }
        if r.chance(chance.min(0.97)) {
            let time = minute(day, world, 420 + r.below(870) as i64);
            if before_iso(time) {
                let covid_fever = case.is_some_and(|c| !c.asymptomatic && c.onset <= time);
                let (temp, symptoms) = if covid_fever && r.chance(0.85) {
                    (
                        373 + r.below(20) as u16,
                        *r.pick(&["发热", "发热、干咳", "发热、乏力", "发热、咳嗽、乏力"]),
                    )
                } else if covid_fever {
                    (
                        365 + r.below(6) as u16,
                        *r.pick(&["干咳", "咳嗽、乏力", "乏力"]),
                    )
                } else if infected_flu {
                    (
                        374 + r.below(15) as u16,
                        *r.pick(&["发热、咳嗽", "发热、咽痛", "发热、流涕"]),
                    )
                } else {
                    let t = (365.0 + r.normal() * 2.2).round().clamp(359.0, 371.0) as u16;
                    (t, if r.chance(0.8) { "无" } else { "" })
                };
                let visited = plan.hubei_within_14(day).or_else(|| {
                    (here == Where::Away)
                        .then_some(plan.away_region)
                        .flatten()
                        .filter(|r| r.code() / 10_000 == 42)
                });
                let note = if quarantined {
                    "居家隔离观察"
                } else if here == Where::Away {
                    "在外地"
                } else {
                    ""
                };
                events.push(Event::SelfReport {
                    time,
                    temp_tenths: temp,
                    symptoms,
                    visited,
                    note,
                });
            }
        }
    }
    // Isolation ends the day for everything after it.
    if iso.is_some() {
        events.retain(|e| match *e {
            Event::Checkin { tin, .. } => before_iso(tin),
            Event::SelfReport { time, .. } => before_iso(time),
            _ => true,
        });
    }
    info
}

/// Shops, markets, restaurants and the office.
fn outings(
    world: &World,
    p: &Person,
    plan: &Plan,
    day: Date,
    sick: f64,
    events: &mut Vec<Event>,
    r: &mut Rng,
) {
    let rates = world.rates;
    let mobility = calendar::mobility(day, rates) * sick;
    let mut worked = false;
    if calendar::is_workday(day) {
        let student = plan.kind == PlanKind::Student;
        if let Some(g) = world.economy.employer(world.layout, p, student) {
            let e = world.economy.enterprise(world.layout, g);
            let attend = world.economy.activity(&e, day) * if sick < 1.0 { 0.6 } else { 1.0 };
            let trucker = e.industry == crate::names::LOGISTICS
                && p.male
                && unit(hash(world.seed, tag::ENTERPRISE, p.idx, 77)) < 0.4;
            if trucker && r.chance(attend) {
                worked = true;
                truck_run(world, p, g, day, events, r);
            } else if r.chance(attend) {
                worked = true;
                let tin = minute(day, world, 450 + r.below(105) as i64);
                let tout = minute(day, world, 1020 + r.below(105) as i64);
                let venue = Venue::Office {
                    county: e.county as u32,
                    j: g - world.economy.first[e.county],
                    ent: g,
                };
                push_checkin(events, venue, tin, tout, r.chance(rates.missing_time_out));
            }
        }
    }
    let class_factor = match p.class {
        Class::Child => 0.35,
        Class::Elder => 0.9,
        Class::Migrant => 0.8,
        _ => 1.0,
    };
    let n = r
        .poisson(rates.checkins * mobility * class_factor)
        .min(if worked { 2 } else { 4 });
    let restaurants = calendar::restaurant_factor(day);
    let malls = if day < calendar::RESPONSE { 1.0 } else { 0.1 };
    let layout = world.layout;
    let county = &layout.counties[p.county as usize];
    for _ in 0..n {
        let k = r.weighted(&[0.3, 0.35, 0.25 * restaurants, 0.06, 0.07 * malls]);
        let (kind, count, window, stay) = match k {
            0 => (VenueKind::Market, 1, (390, 600), (20, 60)),
            1 => (VenueKind::Supermarket, 2, (540, 1200), (15, 45)),
            2 => {
                if r.chance(0.5) {
                    (VenueKind::Restaurant, 4, (660, 770), (40, 100))
                } else {
                    (VenueKind::Restaurant, 4, (1050, 1170), (40, 100))
                }
            }
            3 => (VenueKind::Pharmacy, 1, (480, 1200), (15, 25)),
            _ => (VenueKind::Mall, 2, (600, 1200), (45, 120)),
        };
        let n = 1 + r.below(count) as u8;
        let venue = if kind == VenueKind::Mall {
            Venue::County {
                county: p.county,
                kind,
                n,
            }
        } else {
            let comm = if county.communities > 1 && r.chance(0.15) {
                county.first_community + r.below(u64::from(county.communities)) as u32
            } else {
                p.community
            };
            Venue::Community { comm, kind, n }
        };
        let (lo, hi) = if worked { (1130, 1290) } else { window };
        let tin = minute(day, world, (lo + r.below(hi - lo) / 5 * 5) as i64);
        let tout = tin.add_ms((stay.0 + r.below((stay.1 - stay.0) as u64) as i64) * MIN);
        push_checkin(events, venue, tin, tout, r.chance(rates.missing_time_out));
    }
}

fn push_checkin(
    events: &mut Vec<Event>,
    venue: Venue,
    tin: Timestamp,
    tout: Timestamp,
    missing: bool,
) {
    events.push(Event::Checkin {
        venue,
        tin,
        tout: (!missing).then_some(tout),
        until: if missing { tin.add_ms(60 * MIN) } else { tout },
    });
}

/// A logistics driver's day: out to another county of the province and back, one pass each
/// way at the checkpoint of the county entered.
fn truck_run(world: &World, p: &Person, ent: u64, day: Date, events: &mut Vec<Event>, r: &mut Rng) {
    let home = world.layout.counties[p.county as usize].region;
    let Some(dest) = world.planner.other_county(home, r) else {
        return;
    };
    let out = minute(day, world, 420 + r.below(180) as i64);
    let back = minute(day, world, 900 + r.below(240) as i64);
    for (leg, time, region, origin) in [(10u8, out, dest, home), (11, back, home, dest)] {
        events.push(Event::Pass {
            key: pass_key(false, p.idx, leg, day),
            shared: false,
            group: p.idx,
            day,
            leg,
            driver: true,
            time,
            region,
            origin,
            dest: region,
            purpose: "物流",
            plate_key: ent | (1 << 62),
            plate_prefecture: home.prefecture().code(),
            checkpoint: 1
                + (hash(world.seed, tag::PLAN, u64::from(region.code()), p.idx) % 3) as u8,
            hours: 2.0,
        });
    }
}

/// Does this household member take part in the household's shared leg?
fn joins(world: &World, outbreak: &Outbreak, m: &Person, leg: &Leg) -> bool {
    if world.planner.personal(m).is_some() {
        return false;
    }
    outbreak.isolation(m.idx).is_none_or(|t| t > leg.depart)
}

#[allow(clippy::too_many_arguments)]
fn travel(
    world: &World,
    outbreak: &Outbreak,
    p: &Person,
    plan: &Plan,
    leg: &Leg,
    li: u8,
    events: &mut Vec<Event>,
    cache: &mut BlockCache,
    r: &mut Rng,
) {
    let net = world.net;
    match leg.by {
        By::Service(s) => {
            let sv = &net.services[s as usize];
            // Travel parties and families sit together.
            let group = if plan.shared { p.hh } else { p.idx };
            let offset = if plan.shared { p.pos_in_hh } else { 0 };
            let mut sr = Rng::at(
                world.seed,
                tag::PLAN,
                group,
                (u64::from(s) << 20) ^ leg.day.0 as u64,
            );
            let allocated = outbreak.seats.get(&p.idx).copied();
            let (car, row, letter) = if let Some(seat) = allocated {
                seat
            } else {
                match sv.mode {
                    Mode::Rail => {
                        let car = 1 + sr.below(u64::from(sv.cars)) as u8;
                        if sr.chance(0.04) {
                            (car, 0, 0)
                        } else {
                            let row = 1 + sr.below(u64::from(sv.rows)) as u8;
                            let letters = b"ABCDF";
                            (
                                car,
                                row,
                                letters[(sr.below(5) as usize + offset as usize) % 5],
                            )
                        }
                    }
                    Mode::Flight => {
                        let row = 1 + sr.below(u64::from(sv.rows)) as u8;
                        let letters = b"ABCDEF";
                        (
                            0,
                            row,
                            letters[(sr.below(6) as usize + offset as usize) % 6],
                        )
                    }
                    _ => {
                        let n = 1
                            + ((sr.below(u64::from(sv.rows)) + u64::from(offset))
                                % u64::from(sv.rows)) as u8;
                        (0, n, 0)
                    }
                }
            };
            if matches!(sv.mode, Mode::Rail | Mode::Flight) {
                let before = if sv.mode == Mode::Rail {
                    20 + r.below(40)
                } else {
                    60 + r.below(60)
                } as i64;
                events.push(Event::Scan {
                    node: leg.from_node,
                    mode: sv.mode,
                    dir: Direction::In,
                    time: leg.depart.add_ms(-before * MIN),
                });
            }
            events.push(Event::Ride {
                service: s,
                car,
                row,
                letter,
                depart: leg.depart,
                arrive: leg.arrive,
                from_node: leg.from_node,
                to_node: leg.to_node,
                service_date: leg.day,
            });
            if matches!(sv.mode, Mode::Rail | Mode::Flight) {
                events.push(Event::Scan {
                    node: leg.to_node,
                    mode: sv.mode,
                    dir: Direction::Out,
                    time: leg.arrive.add_ms((8 + r.below(20) as i64) * MIN),
                });
            }
        }
        By::Car => {
            let layout = world.layout;
            let home_prov = layout.home_province;
            let (region, time) = if home_prov.covers(leg.to_region) {
                (leg.to_region, leg.arrive.add_ms(-10 * MIN))
            } else {
                (leg.from_region, leg.depart.add_ms(15 * MIN))
            };
            let group = if plan.shared { p.hh } else { p.idx };
            let driver = if !plan.shared || p.is_visitor() {
                p.pos_in_hh == 0 || !plan.shared
            } else {
                // The first adult who goes drives (the first who goes, if no adult does).
                let mut first_any = None;
                let mut first_adult = None;
                for m in p.hh..p.hh + u64::from(p.hh_len) {
                    let mp = if m == p.idx {
                        p.clone()
                    } else {
                        layout.person(m, cache)
                    };
                    if joins(world, outbreak, &mp, leg) {
                        first_any.get_or_insert(m);
                        if mp.is_adult() && first_adult.is_none() {
                            first_adult = Some(m);
                        }
                    }
                }
                first_adult.or(first_any) == Some(p.idx)
            };
            let plate_prefecture = match plan.kind {
                PlanKind::Visitor => leg.from_region.prefecture().code(),
                PlanKind::Migrant
                    if hash(world.seed, tag::HOUSEHOLD_PLAN, group, 5).is_multiple_of(2) =>
                {
                    let origin = if leg.to_home {
                        leg.from_region
                    } else {
                        leg.to_region
                    };
                    origin.prefecture().code()
                }
                _ => layout.counties[p.county as usize].prefecture.code(),
            };
            let key = pass_key(plan.shared, group, li, leg.day);
            events.push(Event::Pass {
                key,
                shared: plan.shared,
                group,
                day: leg.day,
                leg: li,
                driver,
                time,
                region,
                origin: leg.from_region,
                dest: leg.to_region,
                purpose: leg.purpose.text(),
                plate_key: group ^ if plan.shared { 0 } else { 1 << 63 },
                plate_prefecture,
                checkpoint: 1
                    + (hash(world.seed, tag::PLAN, u64::from(region.code()), group) % 3) as u8,
                hours: (leg.arrive.0 - leg.depart.0) as f64 / HOUR as f64,
            });
        }
    }
}

pub fn pass_key(shared: bool, group: u64, leg: u8, day: Date) -> u64 {
    hash(
        0x5041_5353,
        group,
        u64::from(leg) | (u64::from(shared) << 8),
        day.0 as u64,
    )
}

/// Ride lookup key: the service on a date, and the car for trains.
pub fn ride_key(service: u32, date: Date, car: u8) -> u64 {
    hash(
        0x5249_4445,
        u64::from(service),
        date.0 as u64,
        u64::from(car),
    )
}
