//! The outbreak: infection courses (incubation, infectiousness, care seeking, tests), the
//! lab rows they produce, household testing and quarantine after a case is reported, and the
//! per-day "hot units" — households, venue stays, rides and car passes of infectious people —
//! against which everybody's day is checked. Only infected people are kept.

use model::{Date, Diagnosis, MS_PER_DAY, PersonId, Timestamp};

use crate::World;
use crate::calendar;
use crate::layout::{Class, Person};
use crate::rng::{IntMap, Rng, hash, tag, unit};
use crate::schedule::{Event, ride_key};
use crate::venues::VenueKind;

const HOUR: i64 = 3_600_000;
const MIN: i64 = 60_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Via {
    Household,
    Venue,
    Rail,
    Flight,
    Coach,
    Ship,
    Vehicle,
    Imported,
}

impl Via {
    pub fn text(self) -> &'static str {
        match self {
            Via::Household => "household",
            Via::Venue => "venue",
            Via::Rail => "rail",
            Via::Flight => "flight",
            Via::Coach => "coach",
            Via::Ship => "ship",
            Via::Vehicle => "vehicle",
            Via::Imported => "imported",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SampleSource {
    Clinic,
    Household,
}

#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub time: Timestamp,
    pub positive: bool,
    pub source: SampleSource,
}

#[derive(Clone, Copy, Debug)]
pub struct LabRow {
    pub person: PersonId,
    pub sample: Timestamp,
    pub positive: bool,
    pub diagnosis: Option<Diagnosis>,
    pub onset: Option<Date>,
    pub reported: Timestamp,
}

#[derive(Clone, Debug)]
pub struct Case {
    pub idx: u64,
    pub id: PersonId,
    pub resident: bool,
    pub hh: u64,
    pub pos_in_hh: u8,
    pub county: u32,
    pub infected: Timestamp,
    pub infector: Option<u64>,
    pub via: Via,
    pub place: String,
    pub asymptomatic: bool,
    /// Symptom onset (for asymptomatic infections: when it would have been).
    pub onset: Timestamp,
    pub infectious_from: Timestamp,
    pub infectious_to: Timestamp,
    pub weight: f64,
    clinic: Vec<Sample>,
    hh_tests: Vec<Sample>,
    /// Derived: the first positive sample, after which the person is in hospital.
    pub isolation: Option<Timestamp>,
    /// Derived: every lab row of the person, in reported order.
    pub rows: Vec<LabRow>,
}

impl Case {
    pub fn new(
        world: &World,
        p: &Person,
        infected: Timestamp,
        infector: Option<u64>,
        via: Via,
        place: String,
        arrival: Option<Timestamp>,
    ) -> Case {
        let rates = world.rates;
        let mut r = Rng::at(world.seed, tag::COURSE, p.idx, 0);
        let asymptomatic = r.chance(rates.asymptomatic);
        // Incubation: lognormal with mean 5.2 days (Li et al., NEJM 2020), kept to 2–14 days.
        let incubation = (1.434 + 0.661 * r.normal()).exp().clamp(2.0, 14.0);
        let onset = infected.add_ms((incubation * MS_PER_DAY as f64) as i64);
        // Infectious from two days before onset (He et al., Nature Medicine 2020).
        let infectious_from = onset
            .add_ms(-2 * MS_PER_DAY)
            .max(infected.add_ms(36 * HOUR));
        let infectious_to = if asymptomatic {
            infectious_from.add_ms(7 * MS_PER_DAY)
        } else {
            onset.add_ms(8 * MS_PER_DAY)
        };
        let mut clinic = Vec::new();
        let resident = !p.is_visitor();
        // Infected elsewhere and already over it when they arrive: never seen here.
        let recovered_before = arrival.is_some_and(|a| onset.add_ms(10 * MS_PER_DAY) < a);
        if resident && !asymptomatic && !recovered_before && !r.chance(rates.never_seek_care) {
            let mean = calendar::report_delay(onset.date(world.zone), rates);
            let delay = r.erlang(2, (mean - 0.8).max(0.4)).max(0.3);
            let mut t = daytime(
                world,
                onset.add_ms((delay * MS_PER_DAY as f64) as i64),
                &mut r,
            );
            // Provinces received test kits around Jan 19–20; earlier patients waited in isolation wards.
            let kits = calendar::TESTING_OPEN
                .add_days(-1)
                .start(world.zone)
                .add_ms(8 * HOUR);
            if let Some(a) = arrival.filter(|a| t < *a) {
                t = daytime(world, a.add_ms((12 + r.below(24) as i64) * HOUR), &mut r);
            }
            if t < kits {
                t = daytime(
                    world,
                    kits.add_ms((r.f64() * 2.0 * MS_PER_DAY as f64) as i64),
                    &mut r,
                );
            }
            for visit in 0..4 {
                let sens = if visit == 3 {
                    1.0
                } else {
                    rates.sensitivity + 0.1 * f64::from(visit)
                };
                let positive = r.chance(sens.min(1.0));
                clinic.push(Sample {
                    time: t,
                    positive,
                    source: SampleSource::Clinic,
                });
                if positive {
                    break;
                }
                t = daytime(
                    world,
                    t.add_ms((1 + r.below(3) as i64) * MS_PER_DAY),
                    &mut r,
                );
            }
        }
        let mut case = Case {
            idx: p.idx,
            id: p.id,
            resident,
            hh: p.hh,
            pos_in_hh: p.pos_in_hh,
            county: p.county,
            infected,
            infector,
            via,
            place,
            asymptomatic,
            onset,
            infectious_from,
            infectious_to,
            weight: if asymptomatic { 0.5 } else { 1.0 },
            clinic,
            hh_tests: Vec::new(),
            isolation: None,
            rows: Vec::new(),
        };
        case.derive(world);
        case
    }

    /// Samples that happen (nothing after the isolating one), in time order.
    pub fn samples(&self) -> impl Iterator<Item = &Sample> {
        let iso = self.isolation;
        let mut all: Vec<&Sample> = self.clinic.iter().chain(self.hh_tests.iter()).collect();
        all.sort_by_key(|s| s.time);
        all.into_iter()
            .filter(move |s| iso.is_none_or(|i| s.time <= i))
    }

    /// Recomputes isolation and lab rows from the samples.
    fn derive(&mut self, world: &World) {
        let mut all: Vec<Sample> = self
            .clinic
            .iter()
            .chain(self.hh_tests.iter())
            .copied()
            .collect();
        all.sort_by_key(|s| s.time);
        self.isolation = all.iter().find(|s| s.positive).map(|s| s.time);
        let mut rows = Vec::new();
        let onset_date = (!self.asymptomatic).then(|| self.onset.date(world.zone));
        for s in &all {
            if self.isolation.is_some_and(|i| s.time > i) {
                break;
            }
            let mut r = Rng::at(world.seed, tag::LAB, self.idx, s.time.0 as u64);
            if !s.positive {
                rows.push(LabRow {
                    person: self.id,
                    sample: s.time,
                    positive: false,
                    diagnosis: None,
                    onset: None,
                    reported: s.time.add_ms((5 + r.below(16) as i64) * HOUR),
                });
                continue;
            }
            let symptomatic_now = !self.asymptomatic && self.onset <= s.time;
            let case_report;
            if symptomatic_now {
                if s.source == SampleSource::Clinic && r.chance(0.35) {
                    // The county lab's positive makes a suspected case; the CDC re-test confirms.
                    rows.push(LabRow {
                        person: self.id,
                        sample: s.time,
                        positive: true,
                        diagnosis: Some(Diagnosis::Suspected),
                        onset: onset_date,
                        reported: s.time.add_ms((4 + r.below(5) as i64) * HOUR),
                    });
                    case_report = s.time.add_ms((20 + r.below(16) as i64) * HOUR);
                } else {
                    case_report = s.time.add_ms((8 + r.below(20) as i64) * HOUR);
                }
                rows.push(LabRow {
                    person: self.id,
                    sample: s.time,
                    positive: true,
                    diagnosis: Some(Diagnosis::Confirmed),
                    onset: onset_date,
                    reported: case_report,
                });
            } else {
                case_report = s.time.add_ms((5 + r.below(6) as i64) * HOUR);
                rows.push(LabRow {
                    person: self.id,
                    sample: s.time,
                    positive: true,
                    diagnosis: Some(Diagnosis::Asymptomatic),
                    onset: None,
                    reported: case_report,
                });
                if !self.asymptomatic {
                    // Symptoms start under observation: reclassified as confirmed.
                    let t = self.onset.add_ms(3 * HOUR).max(case_report.add_ms(HOUR));
                    rows.push(LabRow {
                        person: self.id,
                        sample: t,
                        positive: true,
                        diagnosis: Some(Diagnosis::Confirmed),
                        onset: onset_date,
                        reported: t.add_ms(12 * HOUR),
                    });
                }
            }
            // Discharge after two negative tests, two to three weeks on.
            let last = rows.last().expect("row").reported;
            let rec = last.add_ms((14 + r.below(10) as i64) * MS_PER_DAY);
            let rec = rec.date(world.zone).start(world.zone).add_ms(10 * HOUR);
            rows.push(LabRow {
                person: self.id,
                sample: rec.add_ms(-MS_PER_DAY),
                positive: false,
                diagnosis: Some(Diagnosis::Recovered),
                onset: None,
                reported: rec,
            });
            break;
        }
        rows.sort_by_key(|r| (r.reported, r.sample));
        self.rows = rows;
    }

    /// The case report time from the rows written before `end`: the first row that makes a
    /// confirmed or asymptomatic status (contract section 2).
    pub fn report_before(&self, end: Timestamp) -> Option<(Timestamp, bool)> {
        let mut first = None;
        let mut confirmed = false;
        for row in self.rows.iter().filter(|r| r.reported < end) {
            match row.diagnosis {
                Some(Diagnosis::Confirmed) => {
                    confirmed = true;
                    first.get_or_insert(row.reported);
                }
                Some(Diagnosis::Asymptomatic) => {
                    first.get_or_insert(row.reported);
                }
                _ => {}
            }
        }
        first.map(|t| (t, confirmed))
    }

    /// Adds the household tests of an alert (each member is swabbed a few minutes apart).
    fn add_household_tests(&mut self, world: &World, alert: &Alert) {
        for &t in &alert.tests {
            let t = t.add_ms(i64::from(self.pos_in_hh) * 5 * MIN);
            if t <= self.infected || self.isolation.is_some_and(|i| i <= t) {
                continue;
            }
            let mut r = Rng::at(world.seed, tag::LAB, self.idx, t.0 as u64 ^ 0x55);
            let detectable = t.0 - self.infected.0 >= 2 * MS_PER_DAY
                && t < self.infectious_to.add_ms(10 * MS_PER_DAY);
            let positive = detectable && r.chance(world.rates.sensitivity);
            self.hh_tests.push(Sample {
                time: t,
                positive,
                source: SampleSource::Household,
            });
            self.derive(world);
        }
    }
}

/// Moves a time into clinic hours (08:00–17:00 local).
fn daytime(world: &World, t: Timestamp, r: &mut Rng) -> Timestamp {
    let day = t.date(world.zone);
    let start = day.start(world.zone);
    let m = (t.0 - start.0) / MIN;
    let t = Timestamp(t.0 - t.0.rem_euclid(MIN));
    if m < 8 * 60 {
        start.add_ms((8 * 60 + r.below(180) as i64) * MIN)
    } else if m > 17 * 60 {
        start.add_ms(MS_PER_DAY + (8 * 60 + r.below(240) as i64) * MIN)
    } else {
        t
    }
}

/// A reported case's household: tested the next day and a week later, quarantined 14 days.
#[derive(Clone, Debug)]
pub struct Alert {
    pub index: u64,
    pub tests: [Timestamp; 2],
    pub from: Date,
    pub until: Date,
}

/// Everything known about the outbreak at the start of a day.
#[derive(Debug, Default)]
pub struct Outbreak {
    pub cases: IntMap<u64, Case>,
    pub alerts: IntMap<u64, Vec<Alert>>,
    alerted: IntMap<u64, ()>,
    /// Today's seats of everyone riding a service (see `seats.rs`).
    pub seats: IntMap<u64, crate::seats::Seat>,
}

impl Outbreak {
    pub fn case(&self, idx: u64) -> Option<&Case> {
        if self.cases.is_empty() {
            return None;
        }
        self.cases.get(&idx)
    }

    pub fn isolation(&self, idx: u64) -> Option<Timestamp> {
        self.case(idx).and_then(|c| c.isolation)
    }

    pub fn quarantined(&self, hh: u64, day: Date) -> bool {
        if self.alerts.is_empty() {
            return false;
        }
        self.alerts
            .get(&hh)
            .is_some_and(|v| v.iter().any(|a| a.from <= day && day <= a.until))
    }

    pub fn add(&mut self, world: &World, mut case: Case) {
        if let Some(alerts) = self.alerts.get(&case.hh) {
            for a in alerts.clone() {
                case.add_household_tests(world, &a);
            }
        }
        self.cases.insert(case.idx, case);
    }

    /// Households of cases reported before `day` are alerted: quarantine and tests.
    pub fn raise_alerts(&mut self, world: &World, day: Date) {
        let start = day.start(world.zone);
        let mut due: Vec<(u64, Timestamp)> = self
            .cases
            .values()
            .filter(|c| c.resident && !self.alerted.contains_key(&c.idx))
            .filter_map(|c| c.report_before(start).map(|(t, _)| (c.idx, t)))
            .collect();
        due.sort();
        let mut cache = crate::layout::BlockCache::default();
        for (idx, reported) in due {
            self.alerted.insert(idx, ());
            let hh = self.cases[&idx].hh;
            let rday = reported.date(world.zone);
            let at = |d: i32| {
                rday.add_days(d)
                    .start(world.zone)
                    .add_ms((9 * 60 + (hash(world.seed, tag::LAB, hh, 1) % 90) as i64) * MIN)
            };
            let alert = Alert {
                index: idx,
                tests: [at(1), at(7)],
                from: rday.add_days(1),
                until: rday.add_days(14),
            };
            let members = world.layout.household_members(hh, &mut cache);
            for m in members {
                if m == idx {
                    continue;
                }
                if let Some(c) = self.cases.get_mut(&m) {
                    c.add_household_tests(world, &alert);
                }
            }
            self.alerts.entry(hh).or_default().push(alert);
        }
    }

    /// Case indices in a fixed order.
    pub fn sorted_ids(&self) -> Vec<u64> {
        let mut v: Vec<u64> = self.cases.keys().copied().collect();
        v.sort_unstable();
        v
    }
}

/// Susceptibility relative to adults (children about a third to a half: Zhang et al.,
/// Science 2020; older people higher).
pub fn susceptibility(p: &Person) -> f64 {
    match p.class {
        Class::Child => 0.45,
        Class::Elder => 1.3,
        _ => 1.0,
    }
}

#[derive(Clone, Copy, Debug)]
pub struct HotStay {
    pub infector: u64,
    pub from: Timestamp,
    pub to: Timestamp,
    pub weight: f64,
    pub row: u8,
}

/// Where infectious people are on one day.
#[derive(Debug, Default)]
pub struct Hot {
    pub households: IntMap<u64, Vec<HotStay>>,
    pub venues: IntMap<u64, Vec<HotStay>>,
    pub rides: IntMap<u64, Vec<HotStay>>,
    pub passes: IntMap<u64, Vec<HotStay>>,
}

impl Hot {
    pub fn is_empty(&self) -> bool {
        self.households.is_empty()
            && self.venues.is_empty()
            && self.rides.is_empty()
            && self.passes.is_empty()
    }

    /// Records an infectious person's day.
    pub fn add(
        &mut self,
        world: &World,
        case: &Case,
        day: Date,
        events: &[Event],
        home_evening: bool,
    ) {
        let start = day.start(world.zone);
        let end = start.add_ms(MS_PER_DAY);
        let lo = case.infectious_from;
        let hi = case
            .infectious_to
            .min(case.isolation.unwrap_or(Timestamp(i64::MAX)));
        let clip = |a: Timestamp, b: Timestamp| (a.max(lo), b.min(hi));
        let w = case.weight;
        let mk = |from, to, row| HotStay {
            infector: case.idx,
            from,
            to,
            weight: w,
            row,
        };
        if home_evening && case.resident {
            let (a, b) = clip(start.add_ms(19 * HOUR), end);
            if a < b && b == end {
                self.households
                    .entry(case.hh)
                    .or_default()
                    .push(mk(a, b, 0));
            }
        }
        for e in events {
            match *e {
                Event::Checkin {
                    venue, tin, until, ..
                } => {
                    let (a, b) = clip(tin, until);
                    if a < b {
                        self.venues
                            .entry(venue.key())
                            .or_default()
                            .push(mk(a, b, 0));
                    }
                }
                Event::Ride {
                    service,
                    car,
                    row,
                    depart,
                    arrive,
                    service_date,
                    ..
                } => {
                    let (a, b) = clip(depart, arrive);
                    if a < b {
                        self.rides
                            .entry(ride_key(service, service_date, car))
                            .or_default()
                            .push(mk(a, b, row));
                    }
                }
                Event::Pass {
                    key, time, hours, ..
                } if lo <= time && time < hi => {
                    let mut s = mk(time, time, 0);
                    s.weight = w * hours.max(0.5);
                    self.passes.entry(key).or_default().push(s);
                }
                _ => {}
            }
        }
    }
}

/// A possible infection found while streaming.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub person: u64,
    pub time: Timestamp,
    pub infector: u64,
    pub via: Via,
    /// Ride or venue or pass description, resolved to text when the infection is kept.
    pub place: PlaceRef,
}

#[derive(Clone, Copy, Debug)]
pub enum PlaceRef {
    Household,
    Venue(crate::venues::Venue),
    Ride {
        service: u32,
        date: Date,
        car: u8,
    },
    Pass {
        shared: bool,
        group: u64,
        leg: u8,
        day: Date,
    },
}

const HOUSEHOLD_PER_EVENING: f64 = 0.045;
const RAIL_PER_HOUR: f64 = 0.0015;
const FLIGHT_PER_HOUR: f64 = 0.01;
const COACH_PER_HOUR: f64 = 0.008;
const SHIP_PER_HOUR: f64 = 0.004;
const CAR_PER_HOUR: f64 = 0.08;
/// Daily office transmission to each co-worker is this over the enterprise's headcount.
const OFFICE_PER_DAY: f64 = 0.12;

/// Checks one susceptible person's day against the hot units.
pub fn contacts(
    world: &World,
    hot: &Hot,
    p: &Person,
    events: &[Event],
    home_evening: bool,
    out: &mut Vec<Candidate>,
) {
    let s = susceptibility(p) * world.rates.transmission;
    let seed = world.seed ^ tag::INFECT;
    let mut best: Option<Candidate> = None;
    let mut consider = |c: Candidate| {
        if best
            .as_ref()
            .is_none_or(|b| (c.time, c.infector) < (b.time, b.infector))
        {
            best = Some(c);
        }
    };
    if home_evening && let Some(list) = hot.households.get(&p.hh) {
        for h in list.iter().filter(|h| h.infector != p.idx) {
            let prob = 1.0 - (-HOUSEHOLD_PER_EVENING * h.weight * s).exp();
            let x = hash(seed, p.idx, h.infector, h.from.0 as u64);
            if unit(x) < prob {
                let t = h
                    .from
                    .add_ms(((mix_unit(x) * (h.to.0 - h.from.0) as f64) as i64).max(0));
                consider(Candidate {
                    person: p.idx,
                    time: minute_floor(t),
                    infector: h.infector,
                    via: Via::Household,
                    place: PlaceRef::Household,
                });
            }
        }
    }
    for e in events {
        match *e {
            Event::Checkin {
                venue, tin, until, ..
            } => {
                let Some(list) = hot.venues.get(&venue.key()) else {
                    continue;
                };
                for h in list {
                    let a = tin.max(h.from);
                    let b = until.min(h.to);
                    if b.0 - a.0 < 15 * MIN {
                        continue;
                    }
                    let hours = (b.0 - a.0) as f64 / HOUR as f64;
                    let rate = match venue.kind() {
                        VenueKind::Office => {
                            let ent = match venue {
                                crate::venues::Venue::Office { ent, .. } => ent,
                                _ => 0,
                            };
                            let size =
                                world.economy.enterprise(world.layout, ent).employees.max(5) as f64;
                            OFFICE_PER_DAY / size / 8.0 * hours
                        }
                        k => k.beta_per_hour() * hours,
                    };
                    let prob = 1.0 - (-rate * h.weight * s).exp();
                    let x = hash(seed, p.idx, h.infector, venue.key() ^ a.0 as u64);
                    if unit(x) < prob {
                        let t = a.add_ms((mix_unit(x) * (b.0 - a.0) as f64) as i64);
                        consider(Candidate {
                            person: p.idx,
                            time: minute_floor(t),
                            infector: h.infector,
                            via: Via::Venue,
                            place: PlaceRef::Venue(venue),
                        });
                    }
                }
            }
            Event::Ride {
                service,
                car,
                row,
                depart,
                arrive,
                service_date,
                ..
            } => {
                let Some(list) = hot.rides.get(&ride_key(service, service_date, car)) else {
                    continue;
                };
                let mode = world.net.services[service as usize].mode;
                for h in list.iter().filter(|h| h.infector != p.idx) {
                    if mode == model::Mode::Flight && (i32::from(row) - i32::from(h.row)).abs() > 3
                    {
                        continue;
                    }
                    let a = depart.max(h.from);
                    let b = arrive.min(h.to);
                    if b <= a {
                        continue;
                    }
                    let (beta, via) = match mode {
                        model::Mode::Rail => (RAIL_PER_HOUR, Via::Rail),
                        model::Mode::Flight => (FLIGHT_PER_HOUR, Via::Flight),
                        model::Mode::Coach => (COACH_PER_HOUR, Via::Coach),
                        model::Mode::Ship => (SHIP_PER_HOUR, Via::Ship),
                    };
                    let hours = (b.0 - a.0) as f64 / HOUR as f64;
                    let prob = 1.0 - (-beta * hours * h.weight * s).exp();
                    let x = hash(seed, p.idx, h.infector, u64::from(service) ^ (a.0 as u64));
                    if unit(x) < prob {
                        let t = a.add_ms((mix_unit(x) * (b.0 - a.0) as f64) as i64);
                        consider(Candidate {
                            person: p.idx,
                            time: minute_floor(t),
                            infector: h.infector,
                            via,
                            place: PlaceRef::Ride {
                                service,
                                date: service_date,
                                car,
                            },
                        });
                    }
                }
            }
            Event::Pass {
                key,
                shared,
                group,
                leg,
                day,
                ..
            } => {
                let Some(list) = hot.passes.get(&key) else {
                    continue;
                };
                for h in list.iter().filter(|h| h.infector != p.idx) {
                    let prob = 1.0 - (-CAR_PER_HOUR * h.weight * s).exp();
                    let x = hash(seed, p.idx, h.infector, key);
                    if unit(x) < prob {
                        consider(Candidate {
                            person: p.idx,
                            time: h.from,
                            infector: h.infector,
                            via: Via::Vehicle,
                            place: PlaceRef::Pass {
                                shared,
                                group,
                                leg,
                                day,
                            },
                        });
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(c) = best {
        out.push(c);
    }
}

fn mix_unit(x: u64) -> f64 {
    unit(crate::rng::mix(x ^ 0x1234_5678))
}

/// Whole minutes: infection times are reported to the minute.
fn minute_floor(t: Timestamp) -> Timestamp {
    Timestamp(t.0 - t.0.rem_euclid(MIN))
}
