//! The reference kinds, written once: persons, venues, enterprises, employment, jobs, job
//! seekers, return-to-work applications, and (after the simulation) risk areas.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use model::{Date, Kind, Region, RegionTable, RiskLevel};

use crate::Error;
use crate::World;
use crate::applications::{Applicants, Application};
use crate::bad_rows::BadRow;
use crate::calendar;
use crate::economy::Enterprise;
use crate::layout::{BlockCache, push_padded};
use crate::names::{INDUSTRIES, SKILLS};
use crate::rng::{Rng, tag};
use crate::rows;
use crate::venues::{COMMUNITY_VENUES, COUNTY_VENUES, Venue};
use crate::writer::{FileStat, Row, Sink};

pub type Written = (FileStat, Vec<BadRow>);

fn sink(world: &World, dir: &Path, kind: Kind) -> Result<Sink, Error> {
    let c = world.config;
    Sink::create(
        dir,
        format!("{}.{}", kind.name(), c.format.extension()),
        kind,
        c.format,
        c.bad_row_rate,
        c.seed,
    )
}

fn check(cancel: &AtomicBool) -> Result<(), Error> {
    if cancel.load(Ordering::Relaxed) {
        Err(Error::Cancelled)
    } else {
        Ok(())
    }
}

pub fn persons(world: &World, dir: &Path, cancel: &AtomicBool) -> Result<Written, Error> {
    let mut s = sink(world, dir, Kind::Persons)?;
    let mut row = Row::default();
    let mut cache = BlockCache::default();
    for idx in 0..world.layout.residents {
        if idx % 16_384 == 0 {
            check(cancel)?;
        }
        let p = world.layout.person(idx, &mut cache);
        rows::render_person(world.layout, &p, &mut row);
        s.write(&row)?;
    }
    s.finish()
}

/// Employment, job seekers and return-to-work applications, streamed over residents.
pub fn employment(
    world: &World,
    dir: &Path,
    cancel: &AtomicBool,
) -> Result<(Written, Written, Written), Error> {
    let mut emp = sink(world, dir, Kind::Employment)?;
    let mut seek = sink(world, dir, Kind::JobSeekers)?;
    let mut apps = sink(world, dir, Kind::Applications)?;
    let applicants = Applicants::new(world);
    let large = applicants
        .large()
        .map(|g| world.economy.enterprise(world.layout, g))
        .and_then(|e| applicants.of(&e).map(|a| (e, a)));
    let mut row = Row::default();
    let mut cache = BlockCache::default();
    let layout = world.layout;
    for idx in 0..layout.residents {
        if idx % 16_384 == 0 {
            check(cancel)?;
        }
        let p = layout.person(idx, &mut cache);
        if !p.works() {
            continue;
        }
        let student = world
            .planner
            .personal(&p)
            .is_some_and(|pl| pl.kind == crate::plan::PlanKind::Student);
        let employer = world.economy.employer(layout, &p, student);
        if let Some(g) = employer {
            let e = world.economy.enterprise(layout, g);
            row.clear();
            row.str(e.id.as_str());
            row.person(p.id);
            emp.write(&row)?;
            if let Some(a) = applicants.of(&e)
                && let Some(at) = applicants.row(world, &a, idx)
            {
                write_application(world, &mut apps, &mut row, &e, &a, p.id, at)?;
            }
        }
        if let Some((e, a)) = &large
            && employer != Some(e.idx)
            && applicants.stray(idx)
        {
            let at = e
                .reopen
                .add_days(-2)
                .start(world.zone)
                .add_ms(10 * 3_600_000);
            write_application(world, &mut apps, &mut row, e, a, p.id, at)?;
        }
        let mut r = Rng::at(world.seed, tag::JOBS, idx, 0);
        let seeking = if employer.is_none() {
            r.chance(0.5)
        } else {
            r.chance(0.01)
        };
        if seeking && !student {
            row.clear();
            row.person(p.id);
            row.str(SKILLS[r.below(SKILLS.len() as u64) as usize]);
            row.region(layout.counties[p.county as usize].region);
            let from = if r.chance(0.6) {
                world
                    .config
                    .start
                    .add_days(r.below(u64::from(world.config.days)) as i32)
            } else {
                calendar::HOLIDAY_LAST.add_days(1 + r.below(20) as i32)
            };
            row.date(from);
            seek.write(&row)?;
        }
    }
    Ok((emp.finish()?, seek.finish()?, apps.finish()?))
}

fn write_application(
    world: &World,
    sink: &mut Sink,
    row: &mut Row,
    e: &Enterprise,
    a: &Application,
    person: model::PersonId,
    submitted: model::Timestamp,
) -> Result<(), Error> {
    row.clear();
    row.str(&a.id);
    row.str(e.id.as_str());
    row.person(person);
    row.date(a.start);
    row.ts(submitted, world.zone);
    sink.write(row)
}

/// Venues, enterprises and jobs.
pub fn places(world: &World, dir: &Path, cancel: &AtomicBool) -> Result<Vec<Written>, Error> {
    let layout = world.layout;
    let mut row = Row::default();
    let mut venues = sink(world, dir, Kind::Venues)?;
    let mut write_venue = |v: Venue, office: Option<&str>, s: &mut Sink| -> Result<(), Error> {
        row.clear();
        v.write_id(layout, row.raw());
        row.done();
        row.str(&v.name(layout, office));
        row.str(v.kind().text());
        let (county, comm) = match v {
            Venue::Community { comm, .. } => (layout.communities[comm as usize].county, Some(comm)),
            Venue::County { county, .. } | Venue::Office { county, .. } => (county, None),
        };
        row.region(layout.counties[county as usize].region);
        match comm {
            Some(c) => {
                layout.community_id(c, row.raw());
                row.done();
            }
            None => row.empty(),
        }
        let (lat, lon) = v.lat_lon(layout);
        row.float(lat);
        row.float(lon);
        s.write(&row)
    };
    for comm in 0..layout.communities.len() as u32 {
        for &(kind, n) in COMMUNITY_VENUES {
            for i in 1..=n {
                write_venue(Venue::Community { comm, kind, n: i }, None, &mut venues)?;
            }
        }
    }
    for county in 0..layout.counties.len() as u32 {
        for &(kind, n) in COUNTY_VENUES {
            for i in 1..=n {
                write_venue(Venue::County { county, kind, n: i }, None, &mut venues)?;
            }
        }
    }
    let eco = world.economy;
    let mut ents = sink(world, dir, Kind::Enterprises)?;
    let mut jobs = sink(world, dir, Kind::Jobs)?;
    let mut row = Row::default();
    for g in 0..eco.total {
        if g % 4096 == 0 {
            check(cancel)?;
        }
        let e = eco.enterprise(layout, g);
        let name = eco.name(layout, &e);
        let county = e.county as u32;
        write_venue(
            Venue::Office {
                county,
                j: g - eco.first[e.county],
                ent: g,
            },
            Some(&name),
            &mut venues,
        )?;
        let region = layout.counties[e.county].region;
        row.clear();
        row.str(e.id.as_str());
        row.str(&name);
        row.str(INDUSTRIES[e.industry].0);
        row.region(region);
        row.int(e.employees as i64);
        row.float((e.local_share * 100.0).round() / 100.0);
        row.float(e.output_cny.round());
        row.str(if e.critical { "true" } else { "false" });
        ents.write(&row)?;
        let mut r = Rng::at(world.seed, tag::JOBS, g, 1);
        if r.chance(0.3) {
            for n in 1..=1 + r.below(3) {
                row.clear();
                let raw = row.raw();
                raw.push(b'J');
                push_padded(raw, g, 7);
                raw.push(b'-');
                push_padded(raw, n, 1);
                row.done();
                row.str(e.id.as_str());
                row.str(SKILLS[r.below(SKILLS.len() as u64) as usize]);
                row.int((1 + r.below(1 + e.employees / 10)).min(500) as i64);
                row.region(region);
                jobs.write(&row)?;
            }
        }
    }
    Ok(vec![venues.finish()?, ents.finish()?, jobs.finish()?])
}

/// Risk areas: Wuhan from Jan 20, the rest of Hubei from Jan 23–24, and the home counties by
/// simulated case reports: medium with one case reported in the last 14 days, high with
/// `rates.high_risk_cases`; the level applies from the day after the report.
pub fn risk_areas(world: &World, dir: &Path, reports: &[(u32, Date)]) -> Result<Written, Error> {
    let mut s = sink(world, dir, Kind::RiskAreas)?;
    let mut row = Row::default();
    let mut put = |region: Region,
                   level: RiskLevel,
                   from: Date,
                   to: Option<Date>,
                   s: &mut Sink|
     -> Result<(), Error> {
        row.clear();
        row.region(region);
        row.str(level.as_str());
        row.date(from);
        match to {
            Some(t) => row.date(t),
            None => row.empty(),
        }
        s.write(&row)
    };
    let hubei = Region::new(420000).expect("valid");
    put(
        Region::new(420100).expect("valid"),
        RiskLevel::High,
        calendar::WUHAN_ALERT,
        None,
        &mut s,
    )?;
    let table = RegionTable::get();
    let early = [421100, 420700, 429004, 420900];
    for child in table.children(hubei) {
        let codes: Vec<Region> = if child.is_placeholder() {
            table.children(child.region).map(|c| c.region).collect()
        } else {
            vec![child.region]
        };
        for r in codes {
            if r.code() == 420100 {
                continue;
            }
            let from = if early.contains(&r.code()) {
                calendar::WUHAN_LOCKDOWN
            } else {
                calendar::RESPONSE
            };
            put(r, RiskLevel::High, from, None, &mut s)?;
        }
    }
    if world.layout.home_province != hubei {
        let start = world.config.start;
        let days = world.config.days as i32;
        let n = world.layout.counties.len();
        let mut counts = vec![vec![0u32; days as usize]; n];
        for &(county, d) in reports {
            let i = d.0 - start.0;
            if (0..days).contains(&i) {
                counts[county as usize][i as usize] += 1;
            }
        }
        let high = world.rates.high_risk_cases;
        for (k, c) in counts.iter().enumerate() {
            let mut current: Option<(RiskLevel, Date)> = None;
            for i in 0..days {
                // Level for day start+i+1 from reports up to day start+i.
                let lo = (i - 13).max(0) as usize;
                let recent: u32 = c[lo..=i as usize].iter().sum();
                let level = if f64::from(recent) >= high {
                    Some(RiskLevel::High)
                } else if recent > 0 {
                    Some(RiskLevel::Medium)
                } else {
                    None
                };
                let day = start.add_days(i + 1);
                if level != current.map(|x| x.0) {
                    if let Some((lv, from)) = current {
                        put(
                            world.layout.counties[k].region,
                            lv,
                            from,
                            Some(day.add_days(-1)),
                            &mut s,
                        )?;
                    }
                    current = level.map(|l| (l, day));
                }
            }
            if let Some((lv, from)) = current {
                put(world.layout.counties[k].region, lv, from, None, &mut s)?;
            }
        }
    }
    s.finish()
}
