//! The run: reference kinds, the imported infections, then day by day — alerts, hot units,
//! every person streamed in fixed parts on parallel threads, new infections, lab results and
//! power readings — and finally risk areas and the truth files.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use model::{Date, Kind, MS_PER_DAY, Region, Timestamp};
use serde::Serialize;

use crate::bad_rows::BadRow;
use crate::config::Config;
use crate::economy::Economy;
use crate::layout::{BlockCache, Layout};
use crate::network::Network;
use crate::outbreak::{Candidate, Case, Hot, LabRow, Outbreak, Via};
use crate::plan::{By, HubeiExposure, Planner, Where};
use crate::rows::{self, EVENT_KINDS};
use crate::schedule::{self, Event, Scratch};
use crate::writer::{FileStat, Row, Sink};
use crate::{Error, World, calendar, reference, seats, truth};

/// Parts grow with the square root of the population (2 at 100,000, 5 at a million, 15 at
/// ten million): enough to keep cores busy, few enough files. They depend on N only, so the
/// output never depends on the number of cores.
fn part_count(total: u64) -> usize {
    ((total as f64 / 50_000.0).sqrt().ceil() as usize).max(1)
}

/// Persons `lo..hi` of part `i` of `parts`.
fn part_range(total: u64, parts: usize, i: usize) -> (u64, u64) {
    let p = parts as u128;
    let t = u128::from(total);
    ((t * i as u128 / p) as u64, (t * (i as u128 + 1) / p) as u64)
}

/// A person who stayed in Hubei, and what that stay exposed them to.
struct Import {
    idx: u64,
    exposure: HubeiExposure,
    region: Region,
    arrival: Timestamp,
}

/// Keeps the `n` candidates whose stays came closest to infecting them (ties: by person).
fn keep_closest(c: &mut Vec<Import>, n: usize) {
    c.sort_by(|a, b| {
        b.exposure
            .ratio()
            .total_cmp(&a.exposure.ratio())
            .then(a.idx.cmp(&b.idx))
    });
    c.truncate(n);
}

/// The factor on Hubei's force of infection for this province: 1, unless fewer than `min`
/// of those who stayed there would be infected — a province of 20,000 residents at the real
/// rate (about 20 cases per million) would have no outbreak to trace at all. Then the smallest
/// factor that infects `min` of them (all of them when there are fewer): the ones whose stays
/// came closest. Sorts `candidates` by person, so the outcome does not depend on the parts.
fn import_scale(candidates: &mut [Import], min: f64) -> f64 {
    candidates.sort_by_key(|c| c.idx);
    let min = min.round() as usize;
    let natural = candidates
        .iter()
        .filter(|c| c.exposure.ratio() >= 1.0)
        .count();
    if natural >= min || candidates.is_empty() {
        return 1.0;
    }
    let mut ratios: Vec<f64> = candidates.iter().map(|c| c.exposure.ratio()).collect();
    ratios.sort_by(|a, b| b.total_cmp(a));
    let kth = ratios[min.min(ratios.len()) - 1];
    if kth > 0.0 {
        // A hair above 1/kth, so the k-th reaches its draw despite rounding.
        (1.0 / kth) * (1.0 + 1e-9)
    } else {
        1.0
    }
}

/// What a run wrote.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Good rows written, per kind.
    #[serde(serialize_with = "kind_map")]
    pub rows: BTreeMap<Kind, u64>,
    /// Injected bad rows, per kind.
    #[serde(serialize_with = "kind_map")]
    pub bad_rows: BTreeMap<Kind, u64>,
    pub files: u64,
    pub bytes: u64,
    pub infections: u64,
    pub cases: u64,
    pub residents: u64,
    #[serde(serialize_with = "secs")]
    pub elapsed: Duration,
}

fn kind_map<S: serde::Serializer>(m: &BTreeMap<Kind, u64>, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(Some(m.len()))?;
    for (k, v) in m {
        map.serialize_entry(k.name(), v)?;
    }
    map.end()
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

#[derive(Debug, Clone)]
pub enum Progress {
    Started { total_steps: u64 },
    Step { done: u64, what: String },
    Finished,
}

fn check(cancel: &AtomicBool) -> Result<(), Error> {
    if cancel.load(Ordering::Relaxed) {
        Err(Error::Cancelled)
    } else {
        Ok(())
    }
}

/// Runs `f` for every part on up to `threads` threads; results in part order.
fn run_parts<T: Send>(
    parts: usize,
    threads: usize,
    f: impl Fn(usize) -> Result<T, Error> + Sync,
) -> Result<Vec<T>, Error> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let mut results: Vec<Option<Result<T, Error>>> = (0..parts).map(|_| None).collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads.min(parts).max(1))
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        if failed.load(Ordering::Relaxed) {
                            break;
                        }
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= parts {
                            break;
                        }
                        let r = f(i);
                        if r.is_err() {
                            failed.store(true, Ordering::Relaxed);
                        }
                        mine.push((i, r));
                    }
                    mine
                })
            })
            .collect();
        for h in handles {
            for (i, r) in h.join().expect("worker thread panicked") {
                results[i] = Some(r);
            }
        }
    });
    let mut out = Vec::with_capacity(parts);
    let mut first_err = None;
    for r in results {
        match r {
            Some(Ok(v)) => out.push(v),
            // Prefer a real error over a cancellation.
            Some(Err(e)) if first_err.is_none() || matches!(first_err, Some(Error::Cancelled)) => {
                first_err = Some(e);
            }
            Some(Err(_)) => {}
            None => {}
        }
    }
    match first_err {
        Some(e) => Err(e),
        None if out.len() == parts => Ok(out),
        None => Err(Error::Cancelled),
    }
}

struct PartOut {
    stats: Vec<(FileStat, Vec<BadRow>)>,
    candidates: Vec<Candidate>,
    labs: Vec<LabRow>,
}

/// Generates the province into `out` (created if missing).
pub fn generate(
    config: &Config,
    out: &Path,
    progress: &(dyn Fn(Progress) + Sync),
    cancel: &AtomicBool,
) -> Result<Summary, Error> {
    config.validate()?;
    let t0 = Instant::now();
    let truth_dir = out.join("truth");
    std::fs::create_dir_all(&truth_dir).map_err(|e| Error::io(&truth_dir, e))?;
    truth::mark(&truth_dir)?;
    let layout = Layout::new(config)?;
    let net = Network::new(config.seed, config.region);
    let economy = Economy::new(&layout);
    let world = World {
        config,
        layout: &layout,
        net: &net,
        economy: &economy,
        planner: Planner::new(&layout, &net, &config.rates, config.zone),
        rates: &config.rates,
        zone: config.zone,
        seed: config.seed,
    };
    let total = layout.total();
    let parts = part_count(total);
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(parts.max(3));
    let steps = u64::from(config.days) + 3;
    progress(Progress::Started { total_steps: steps });
    let mut done = 0u64;
    let mut step = |what: String| {
        done += 1;
        progress(Progress::Step { done, what });
    };
    let mut written: Vec<(FileStat, Vec<BadRow>)> = Vec::new();

    // Reference kinds, three streams side by side.
    {
        let w = &world;
        let (a, b, c) = std::thread::scope(|s| {
            let a = s.spawn(|| reference::persons(w, out, cancel));
            let b = s.spawn(|| reference::employment(w, out, cancel));
            let c = reference::places(w, out, cancel);
            (
                a.join().expect("persons thread"),
                b.join().expect("employment thread"),
                c,
            )
        });
        written.push(a?);
        let (e, j, a) = b?;
        written.push(e);
        written.push(j);
        written.push(a);
        written.extend(c?);
    }
    step("reference files".into());

    // Infections brought in from Hubei: residents coming back, students, business travellers
    // and visitors, each exposed to Wuhan's growing force of infection while there. Each part
    // keeps those infected and, for a small province, the few whose stays came closest.
    let mut outbreak = Outbreak::default();
    {
        let keep = config.rates.min_imported.round() as usize;
        let candidates = run_parts(parts, threads, |i| {
            let mut cache = BlockCache::default();
            let mut found = Vec::new();
            let mut closest: Vec<Import> = Vec::new();
            let (lo, hi) = part_range(total, parts, i);
            for idx in lo..hi {
                if idx % 16_384 == 0 {
                    check(cancel)?;
                }
                let p = layout.person(idx, &mut cache);
                let plan = if p.is_visitor() {
                    world.planner.plan(&p, &mut cache)
                } else {
                    match world.planner.personal(&p) {
                        Some(plan) => plan,
                        None => continue,
                    }
                };
                if let Some(e) = world.planner.hubei_exposure(&p, &plan) {
                    let (_, back, region) = plan.hubei.expect("exposed in Hubei");
                    let arrival = plan
                        .legs
                        .iter()
                        .flatten()
                        .find(|l| l.day == back)
                        .map_or(back.start(world.zone), |l| l.arrive);
                    let import = Import {
                        idx,
                        exposure: e,
                        region,
                        arrival,
                    };
                    if e.ratio() >= 1.0 {
                        found.push(import);
                    } else if keep > 0 {
                        closest.push(import);
                        if closest.len() >= 2 * keep {
                            keep_closest(&mut closest, keep);
                        }
                    }
                }
            }
            keep_closest(&mut closest, keep);
            found.extend(closest);
            Ok(found)
        })?;
        let mut candidates: Vec<Import> = candidates.into_iter().flatten().collect();
        let scale = import_scale(&mut candidates, config.rates.min_imported);
        let mut cache = BlockCache::default();
        for c in &candidates {
            let Some(t) = world.planner.hubei_infection(&c.exposure, scale) else {
                continue;
            };
            let p = layout.person(c.idx, &mut cache);
            let case = Case::new(
                &world,
                &p,
                t,
                None,
                Via::Imported,
                c.region.to_string(),
                Some(c.arrival),
            );
            outbreak.add(&world, case);
        }
    }
    step("imported infections".into());

    let ext = config.format.extension();
    let end = config.start.add_days(config.days as i32).start(config.zone);
    // The year before's power: the baseline period, and the simulated days' lunar twins.
    let mut curves = truth::Curves::new();
    let year_end = Date::from_ymd(config.start.ymd().0 - 1, 12, 31).expect("a valid day");
    let baseline: Vec<Date> = (0..config.power_baseline_days as i32)
        .rev()
        .map(|k| year_end.add_days(-k))
        .collect();
    if let Some(first) = baseline.first() {
        written.push(power_file(
            &world,
            &baseline,
            &format!("power-baseline-{first}.{ext}"),
            out,
            cancel,
            None,
        )?);
    }
    if config.power_last_year {
        let before = baseline.first().copied().unwrap_or(year_end.add_days(1));
        let twins: Vec<Date> = (0..config.days as i32)
            .map(|d| config.start.add_days(d - calendar::LUNAR_YEAR))
            .filter(|d| *d < before)
            .collect();
        if let Some(first) = twins.first() {
            written.push(power_file(
                &world,
                &twins,
                &format!("power-lastyear-{first}.{ext}"),
                out,
                cancel,
                None,
            )?);
        }
    }
    for d in 0..config.days {
        check(cancel)?;
        let day = config.start.add_days(d as i32);
        outbreak.raise_alerts(&world, day);
        let passengers = run_parts(parts, threads, |i| {
            passengers_of(&world, &outbreak, day, i, cancel)
        })?;
        outbreak.seats = seats::allocate(&world, day, passengers.into_iter().flatten().collect());
        let hot = hot_units(&world, &outbreak, day);
        let date_text = day.to_string();
        let results = run_parts(parts, threads, |i| {
            let suffix = if parts > 1 {
                format!("-p{i}")
            } else {
                String::new()
            };
            stream_part(
                &world,
                &outbreak,
                &hot,
                day,
                i,
                &format!("{date_text}{suffix}.{ext}"),
                out,
                cancel,
            )
        })?;
        let mut candidates = Vec::new();
        let mut labs = Vec::new();
        for r in results {
            written.extend(r.stats);
            candidates.extend(r.candidates);
            labs.extend(r.labs);
        }
        infect(&world, &mut outbreak, candidates);
        lab_day(&world, &outbreak, day, end, &mut labs);
        if !labs.is_empty() {
            let mut s = Sink::create(
                out,
                format!("lab_results-{date_text}.{ext}"),
                Kind::LabResults,
                config.format,
                config.bad_row_rate,
                config.seed,
            )?;
            let mut row = Row::default();
            for l in &labs {
                rows::render_lab(config.zone, l, &mut row);
                s.write(&row)?;
            }
            written.push(s.finish()?);
        }
        written.push(power_file(
            &world,
            &[day],
            &format!("power-{date_text}.{ext}"),
            out,
            cancel,
            Some(&mut curves),
        )?);
        step(format!(
            "day {date_text}: {} infected so far",
            outbreak.cases.len()
        ));
    }
    check(cancel)?;

    // Online mask listings (contract §9), with their own truth.
    written.extend(crate::market::write(&world, out, &truth_dir, cancel)?);
    let (infections, cases, reports) = truth::infections(&world, &outbreak, &truth_dir, end)?;
    curves.write(&truth_dir)?;
    written.push(reference::risk_areas(&world, out, &reports)?);
    let mut summary = Summary {
        infections,
        cases,
        residents: layout.residents,
        ..Summary::default()
    };
    let mut bad: Vec<BadRow> = Vec::new();
    let mut files = Vec::new();
    for (stat, b) in written {
        let kind = Kind::parse(&stat.kind).expect("kind name");
        *summary.rows.entry(kind).or_default() += stat.rows;
        *summary.bad_rows.entry(kind).or_default() += stat.bad_rows;
        summary.files += 1;
        summary.bytes += stat.bytes;
        bad.extend(b);
        files.push(stat);
    }
    files.sort_by(|a, b| a.file.cmp(&b.file));
    truth::bad_rows(&truth_dir, &mut bad)?;
    // Without the elapsed time, so two runs give identical files.
    let mut json = serde_json::to_value(&summary).expect("serialisable");
    if let Some(obj) = json.as_object_mut() {
        obj.remove("elapsed");
        obj.insert(
            "files_detail".into(),
            serde_json::to_value(&files).expect("serialisable"),
        );
        obj.insert("seed".into(), config.seed.into());
        obj.insert("region".into(), config.region.to_string().into());
        obj.insert("start".into(), config.start.to_string().into());
        obj.insert("days".into(), config.days.into());
    }
    truth::summary(&truth_dir, &json)?;
    step("truth".into());
    progress(Progress::Finished);
    summary.elapsed = t0.elapsed();
    Ok(summary)
}

/// Today's riders of trains, flights, coaches and ferries in one part.
fn passengers_of(
    world: &World,
    outbreak: &Outbreak,
    day: Date,
    part: usize,
    cancel: &AtomicBool,
) -> Result<Vec<seats::Passenger>, Error> {
    let total = world.layout.total();
    let (lo, hi) = part_range(total, part_count(total), part);
    let mut cache = BlockCache::default();
    let mut found = Vec::new();
    for idx in lo..hi {
        if idx % 16_384 == 0 {
            check(cancel)?;
        }
        let p = world.layout.person(idx, &mut cache);
        let plan = world.planner.plan(&p, &mut cache);
        if let Where::Travel(li) = schedule::where_on(world, outbreak, &p, &plan, day)
            && let Some(leg) = plan.legs[li]
            && let By::Service(s) = leg.by
        {
            let (group, pos) = if plan.shared {
                (p.hh, p.pos_in_hh)
            } else {
                (p.idx, 0)
            };
            found.push((s, group, pos, idx));
        }
    }
    Ok(found)
}

/// Where the infectious are today.
fn hot_units(world: &World, outbreak: &Outbreak, day: Date) -> Hot {
    let mut hot = Hot::default();
    let start = day.start(world.zone);
    let end = start.add_ms(MS_PER_DAY);
    let mut scratch = Scratch::default();
    for idx in outbreak.sorted_ids() {
        let c = &outbreak.cases[&idx];
        if c.infectious_from >= end
            || c.infectious_to <= start
            || c.isolation.is_some_and(|t| t <= start)
        {
            continue;
        }
        let (_, info) = scratch.person_day(world, outbreak, idx, day);
        hot.add(world, c, day, &scratch.events, info.home_evening);
    }
    hot
}

/// Streams one part's persons through `day`, writing the event kinds' files.
#[allow(clippy::too_many_arguments)]
fn stream_part(
    world: &World,
    outbreak: &Outbreak,
    hot: &Hot,
    day: Date,
    part: usize,
    tail: &str,
    dir: &Path,
    cancel: &AtomicBool,
) -> Result<PartOut, Error> {
    let config = world.config;
    let total = world.layout.total();
    let (lo, hi) = part_range(total, part_count(total), part);
    let mut sinks: [Option<Sink>; 6] = Default::default();
    let mut scratch = Scratch::default();
    let mut row = Row::default();
    let mut out = PartOut {
        stats: Vec::new(),
        candidates: Vec::new(),
        labs: Vec::new(),
    };
    let check_contacts = !hot.is_empty();
    for idx in lo..hi {
        if idx % 8192 == 0 {
            check(cancel)?;
        }
        let (p, info) = scratch.person_day(world, outbreak, idx, day);
        for e in &scratch.events {
            if let Event::FluSample { sample, reported } = *e {
                out.labs.push(LabRow {
                    person: p.id,
                    sample,
                    positive: false,
                    diagnosis: None,
                    onset: None,
                    reported,
                });
                continue;
            }
            let k = rows::event_kind(e).expect("event kind");
            rows::render(world, &p, e, &mut row);
            let sink = match &mut sinks[k] {
                Some(s) => s,
                slot => {
                    let kind = EVENT_KINDS[k];
                    *slot = Some(Sink::create(
                        dir,
                        format!("{}-{tail}", kind.name()),
                        kind,
                        config.format,
                        config.bad_row_rate,
                        config.seed,
                    )?);
                    slot.as_mut().expect("just created")
                }
            };
            sink.write(&row)?;
        }
        if check_contacts && !p.is_visitor() && outbreak.case(idx).is_none() {
            crate::outbreak::contacts(
                world,
                hot,
                &p,
                &scratch.events,
                info.home_evening,
                &mut out.candidates,
            );
        }
    }
    for s in sinks.into_iter().flatten() {
        out.stats.push(s.finish()?);
    }
    Ok(out)
}

/// Keeps each newly infected person's earliest exposure of the day.
fn infect(world: &World, outbreak: &mut Outbreak, mut candidates: Vec<Candidate>) {
    candidates.sort_by_key(|c| (c.person, c.time, c.infector));
    candidates.dedup_by_key(|c| c.person);
    let mut cache = BlockCache::default();
    for c in candidates {
        let p = world.layout.person(c.person, &mut cache);
        let place = rows::place_text(world, &p, &c.place);
        let case = Case::new(world, &p, c.time, Some(c.infector), c.via, place, None);
        outbreak.add(world, case);
    }
}

/// Lab rows reported on `day`: cases' rows, negatives of tested household members, and the
/// flu patients' negatives collected while streaming.
fn lab_day(world: &World, outbreak: &Outbreak, day: Date, end: Timestamp, labs: &mut Vec<LabRow>) {
    let zone = world.zone;
    for idx in outbreak.sorted_ids() {
        for r in &outbreak.cases[&idx].rows {
            if r.reported.date(zone) == day && r.reported < end {
                labs.push(*r);
            }
        }
    }
    let mut hhs: Vec<u64> = outbreak.alerts.keys().copied().collect();
    hhs.sort_unstable();
    let mut cache = BlockCache::default();
    let mut cache2 = BlockCache::default();
    for hh in hhs {
        for alert in &outbreak.alerts[&hh] {
            for &t0 in &alert.tests {
                if t0.date(zone) != day {
                    continue;
                }
                for m in world.layout.household_members(hh, &mut cache) {
                    if m == alert.index {
                        continue;
                    }
                    let p = world.layout.person(m, &mut cache);
                    let t = t0.add_ms(i64::from(p.pos_in_hh) * 5 * 60_000);
                    if outbreak
                        .case(m)
                        .is_some_and(|c| c.infected < t || c.isolation.is_some_and(|i| i <= t))
                    {
                        continue;
                    }
                    let plan = world.planner.plan(&p, &mut cache2);
                    if schedule::where_on(world, outbreak, &p, &plan, day) != Where::Home {
                        continue;
                    }
                    let h = crate::rng::hash(world.seed, crate::rng::tag::LAB, m, t.0 as u64);
                    let reported = t.add_ms((5 + (h % 6) as i64) * 3_600_000);
                    if reported < end {
                        labs.push(LabRow {
                            person: p.id,
                            sample: t,
                            positive: false,
                            diagnosis: None,
                            onset: None,
                            reported,
                        });
                    }
                }
            }
        }
    }
    labs.retain(|l| l.reported.date(zone) == day);
    labs.sort_by_key(|l| (l.reported, l.person, l.sample));
}

/// Power readings of every enterprise for `days`, in one file; with `curves`, each
/// industry-day's true share of normal power use is added to them.
fn power_file(
    world: &World,
    days: &[Date],
    name: &str,
    dir: &Path,
    cancel: &AtomicBool,
    mut curves: Option<&mut truth::Curves>,
) -> Result<(FileStat, Vec<BadRow>), Error> {
    let config = world.config;
    let mut s = Sink::create(
        dir,
        name.to_string(),
        Kind::Power,
        config.format,
        config.bad_row_rate,
        config.seed,
    )?;
    let mut row = Row::default();
    for g in 0..world.economy.total {
        if g % 16_384 == 0 {
            check(cancel)?;
        }
        let e = world.economy.enterprise(world.layout, g);
        for &day in days {
            row.clear();
            row.str(e.id.as_str());
            row.date(day);
            row.float(world.economy.kwh(world.layout, &e, day));
            s.write(&row)?;
            if let Some(c) = curves.as_deref_mut() {
                c.add(world.economy, &e, day);
            }
        }
    }
    s.finish()
}
