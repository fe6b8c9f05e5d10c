//! Labour matching (contract §8.4): `jobs` openings filled with `job_seekers`, deterministically.
//! Jobs go in the order of their enterprise's whitelist rank (§8.2), then `job_id`, every opening
//! of a job before the next job's; each opening takes the best remaining eligible seeker of the
//! same skill whose region lies in the job's prefecture: same county first, then earliest
//! `available_from` (empty = earliest), then `person_id`. Each seeker fills at most one opening.
//!
//! Seekers wait in one queue per (skill, prefecture) and one per (skill, county), each sorted
//! once by the contract's order, so an opening costs a look at the head of at most two queues
//! (past seekers already placed) instead of a scan over everyone.
//!
//! Works on pseudonyms; eligibility (available, a green code as of the end of D − 1) is the
//! caller's, and so is the order of person ids (it holds the key that reveals them).

use std::collections::{HashMap, HashSet};

use arrow::array::Array;
use model::{Date, Kind, Region};
use store::Store;

use crate::ResumeError;

/// One job as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    pub job_id: String,
    pub enterprise_id: String,
    pub skill: String,
    pub openings: u32,
    pub region: Region,
}

/// One job seeker as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seeker {
    pub person: i64,
    pub skill: String,
    pub region: Region,
    pub available_from: Option<Date>,
}

/// A job and whom it got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filled {
    pub job: Job,
    /// Pseudonyms in the order they were chosen.
    pub seekers: Vec<i64>,
}

/// Every stored job, in file order (a job id stored twice is two jobs: both are listed).
pub fn jobs(store: &Store) -> Result<Vec<Job>, ResumeError> {
    let mut out = Vec::new();
    for file in store.tables(Kind::Jobs) {
        for batch in file.scan(&["job_id", "enterprise_id", "skill", "openings", "region"])? {
            let b = batch?;
            let (id, ent, skill) = (
                b.texts("job_id")?,
                b.texts("enterprise_id")?,
                b.texts("skill")?,
            );
            let (openings, region) = (b.ints("openings")?, b.texts("region")?);
            for i in 0..b.rows() {
                let Ok(r) = Region::parse(region.value(i).as_bytes()) else {
                    continue;
                };
                out.push(Job {
                    job_id: id.value(i).to_string(),
                    enterprise_id: ent.value(i).to_string(),
                    skill: skill.value(i).to_string(),
                    openings: openings.value(i).clamp(0, u32::MAX as i64) as u32,
                    region: r,
                });
            }
        }
    }
    Ok(out)
}

/// Every stored job seeker row available on `date` (`available_from` empty or ≤ `date`).
pub fn seekers(store: &Store, date: Date) -> Result<Vec<Seeker>, ResumeError> {
    let mut out = Vec::new();
    for file in store.tables(Kind::JobSeekers) {
        for batch in file.scan(&["person_id", "skill", "region", "available_from"])? {
            let b = batch?;
            let (person, skill, region) =
                (b.ints("person_id")?, b.texts("skill")?, b.texts("region")?);
            let from = b.dates("available_from")?;
            for i in 0..b.rows() {
                let available_from = (!from.is_null(i)).then(|| Date(from.value(i)));
                if available_from.is_some_and(|d| d > date) {
                    continue;
                }
                let Ok(r) = Region::parse(region.value(i).as_bytes()) else {
                    continue;
                };
                out.push(Seeker {
                    person: person.value(i),
                    skill: skill.value(i).to_string(),
                    region: r,
                    available_from,
                });
            }
        }
    }
    Ok(out)
}

/// Fills `jobs` with `seekers` (each already eligible), contract §8.4. `rank` gives an
/// enterprise's whitelist rank (enterprises without one go after all ranked ones, by job id);
/// `id_order` gives the number a person id sorts by (its first 17 digits).
pub fn fill(
    mut jobs: Vec<Job>,
    seekers: &[Seeker],
    rank: &dyn Fn(&str) -> Option<usize>,
    id_order: &dyn Fn(i64) -> u64,
) -> Vec<Filled> {
    jobs.sort_by(|a, b| {
        let ra = rank(&a.enterprise_id).unwrap_or(usize::MAX);
        let rb = rank(&b.enterprise_id).unwrap_or(usize::MAX);
        (ra, &a.job_id).cmp(&(rb, &b.job_id))
    });
    // The contract's preference after the county: earliest available (empty first), then id.
    let key = |s: &Seeker| {
        (
            s.available_from.map_or(i32::MIN, |d| d.0),
            id_order(s.person),
        )
    };
    let mut order: Vec<(usize, (i32, u64))> = seekers
        .iter()
        .enumerate()
        .map(|(i, s)| (i, key(s)))
        .collect();
    order.sort_by_key(|&(i, k)| (k, i));
    let mut skills: HashMap<&str, usize> = HashMap::new();
    for s in seekers {
        let n = skills.len();
        skills.entry(s.skill.as_str()).or_insert(n);
    }
    let mut by_prefecture: HashMap<(usize, Region), Queue> = HashMap::new();
    let mut by_county: HashMap<(usize, Region), Queue> = HashMap::new();
    for &(i, _) in &order {
        let s = &seekers[i];
        let skill = skills[s.skill.as_str()];
        by_prefecture
            .entry((skill, s.region.prefecture()))
            .or_default()
            .items
            .push(i);
        by_county
            .entry((skill, s.region))
            .or_default()
            .items
            .push(i);
    }
    let mut placed: HashSet<i64> = HashSet::new();
    let mut out = Vec::with_capacity(jobs.len());
    for job in jobs {
        let mut chosen = Vec::new();
        let skill = skills.get(job.skill.as_str()).copied();
        for _ in 0..job.openings {
            let Some(skill) = skill else { break };
            let taken = |i: usize| placed.contains(&seekers[i].person);
            let pick = by_county
                .get_mut(&(skill, job.region))
                .and_then(|q| q.next(&taken))
                .or_else(|| {
                    by_prefecture
                        .get_mut(&(skill, job.region.prefecture()))
                        .and_then(|q| q.next(&taken))
                });
            let Some(i) = pick else { break };
            placed.insert(seekers[i].person);
            chosen.push(seekers[i].person);
        }
        out.push(Filled {
            job,
            seekers: chosen,
        });
    }
    out
}

/// Seekers in the contract's order, and how far the head has moved past those placed.
#[derive(Default)]
struct Queue {
    items: Vec<usize>,
    head: usize,
}

impl Queue {
    fn next(&mut self, taken: &dyn Fn(usize) -> bool) -> Option<usize> {
        while self.head < self.items.len() && taken(self.items[self.head]) {
            self.head += 1;
        }
        self.items.get(self.head).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn region(s: &str) -> Region {
        Region::parse(s.as_bytes()).unwrap()
    }

    fn job(id: &str, ent: &str, skill: &str, openings: u32, r: &str) -> Job {
        Job {
            job_id: id.into(),
            enterprise_id: ent.into(),
            skill: skill.into(),
            openings,
            region: region(r),
        }
    }

    fn seeker(p: i64, skill: &str, r: &str, from: Option<i32>) -> Seeker {
        Seeker {
            person: p,
            skill: skill.into(),
            region: region(r),
            available_from: from.map(Date),
        }
    }

    /// The contract read plainly: every opening scans every seeker.
    fn plain(
        jobs: &[Job],
        seekers: &[Seeker],
        rank: &dyn Fn(&str) -> Option<usize>,
        id_order: &dyn Fn(i64) -> u64,
    ) -> Vec<Filled> {
        let mut jobs = jobs.to_vec();
        jobs.sort_by(|a, b| {
            let ra = rank(&a.enterprise_id).unwrap_or(usize::MAX);
            let rb = rank(&b.enterprise_id).unwrap_or(usize::MAX);
            (ra, a.job_id.clone()).cmp(&(rb, b.job_id.clone()))
        });
        let mut placed: HashSet<i64> = HashSet::new();
        let mut out = Vec::new();
        for job in jobs {
            let mut chosen = Vec::new();
            for _ in 0..job.openings {
                let best = seekers
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| {
                        !placed.contains(&s.person)
                            && s.skill == job.skill
                            && s.region.prefecture() == job.region.prefecture()
                    })
                    .min_by_key(|(i, s)| {
                        (
                            s.region != job.region,
                            s.available_from.map_or(i32::MIN, |d| d.0),
                            id_order(s.person),
                            *i,
                        )
                    })
                    .map(|(_, s)| s.person);
                let Some(p) = best else { break };
                placed.insert(p);
                chosen.push(p);
            }
            out.push(Filled {
                job,
                seekers: chosen,
            });
        }
        out
    }

    #[test]
    fn openings_take_the_same_county_then_the_earliest_then_the_lowest_id() {
        let jobs = vec![
            job("J2", "E1", "welder", 2, "330302"),
            job("J1", "E2", "welder", 1, "330302"),
        ];
        let seekers = vec![
            seeker(5, "welder", "330303", None),
            seeker(4, "welder", "330302", Some(18_300)),
            seeker(3, "welder", "330302", Some(18_290)),
            seeker(2, "welder", "330106", None), // another prefecture
            seeker(1, "cook", "330302", None),
        ];
        // E1 ranks before E2, so J2 is filled first although J1 sorts first by id.
        let rank = |e: &str| Some(if e == "E1" { 1 } else { 2 });
        let got = fill(jobs, &seekers, &rank, &|p| p as u64);
        assert_eq!(got[0].job.job_id, "J2");
        assert_eq!(got[0].seekers, [3, 4]);
        assert_eq!(got[1].seekers, [5]);
    }

    proptest! {
        #[test]
        fn queues_agree_with_a_plain_reading(
            jobs in proptest::collection::vec((0..4u8, 0..3u8, 0..4u32, 0..3usize), 0..12),
            seekers in proptest::collection::vec((0..40i64, 0..3u8, 0..3usize, proptest::option::of(0..5i32)), 0..40),
        ) {
            let regions = ["330302", "330303", "330106"];
            let skills = ["welder", "cook", "driver"];
            let jobs: Vec<Job> = jobs
                .iter()
                .enumerate()
                .map(|(i, &(e, s, n, r))| job(&format!("J{}", i % 7), &format!("E{e}"), skills[s as usize], n, regions[r]))
                .collect();
            let seekers: Vec<Seeker> = seekers
                .iter()
                .map(|&(p, s, r, f)| seeker(p, skills[s as usize], regions[r], f))
                .collect();
            let rank = |e: &str| (e != "E3").then(|| e.len() + e.as_bytes()[1] as usize);
            let order = |p: i64| (p * 7919 % 101) as u64;
            prop_assert_eq!(
                fill(jobs.clone(), &seekers, &rank, &order),
                plain(&jobs, &seekers, &rank, &order)
            );
        }
    }
}
