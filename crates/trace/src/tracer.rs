//! The indexed engine: a case's own events by person posting, then each of their groups'
//! members by a binary search on start time — never a scan of the event tables.

use std::collections::{BTreeMap, HashMap};

use model::{Date, Zone};

use crate::index::{GroupKey, Index, NO_LABEL, NO_ROW, Segment};
use crate::rules::{
    self, Assessment, CaseInfo, LabRow, Window, cars_match, overlap, quarantine_until, rows_near,
    seat_row, venue_overlap,
};
use crate::{TraceError, Via};

/// One shared interval behind a contact. It refers to the index for its service, pass,
/// venue or household and the contact's car, seat or checkpoint ([`Tracer::evidence_parts`]),
/// so tracing allocates no strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Evidence {
    /// The shared interval (unclipped; for a household, the window).
    pub from: i64,
    pub to: i64,
    pub via: Via,
    segment: u16,
    group: u32,
    label: u32,
}

/// What [`Evidence`] refers to, read from the index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EvidenceParts<'a> {
    /// Rides: the service number; otherwise the pass, venue or household id.
    pub id: &'a str,
    /// Rides: the service date.
    pub service_date: Option<Date>,
    /// The contact's own ticket or pass: rail car, flight seat, or the checkpoint.
    pub label: Option<&'a str>,
}

/// A close contact of a case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contact {
    pub person: i64,
    pub degree: u8,
    /// Who they were exposed to: the case (degree 1) or a degree-1 contact.
    pub via: i64,
    pub is_case: bool,
    pub first_exposure: i64,
    pub last_exposure: i64,
    pub quarantine_until: Date,
    pub evidence: Vec<Evidence>,
}

/// What makes a person a contact of one case, seen from the person (health codes ask this).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseExposure {
    pub case: i64,
    /// 1: exposed to the case; 2: exposed to `via`, a degree-1 contact of the case.
    pub degree: u8,
    pub via: i64,
    pub first_exposure: i64,
    pub last_exposure: i64,
    pub quarantine_until: Date,
    pub evidence: Vec<Evidence>,
}

/// A case and its contacts as of an instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trace {
    pub case: i64,
    pub info: CaseInfo,
    pub as_of: i64,
    /// In pseudonym order; callers that reveal ids sort by id.
    pub contacts: Vec<Contact>,
}

/// Exposures of one person to another, gathered before they become a [`Contact`].
#[derive(Clone, Debug)]
struct Exposure {
    first: i64,
    last: i64,
    evidence: Vec<Evidence>,
}

impl Exposure {
    fn into_case_exposure(mut self, case: i64, degree: u8, via: i64, zone: Zone) -> CaseExposure {
        self.evidence.sort_unstable();
        self.evidence.dedup();
        CaseExposure {
            case,
            degree,
            via,
            first_exposure: self.first,
            last_exposure: self.last,
            quarantine_until: quarantine_until(self.last, zone),
            evidence: self.evidence,
        }
    }

    fn add(&mut self, clipped: (i64, i64), e: Evidence) {
        self.first = self.first.min(clipped.0);
        self.last = self.last.max(clipped.1);
        self.evidence.push(e);
    }

    fn merge(&mut self, other: Exposure) {
        self.first = self.first.min(other.first);
        self.last = self.last.max(other.last);
        self.evidence.extend(other.evidence);
    }
}

/// The public co-travel question: was a case on this service (and car, or near this seat)?
#[derive(Clone, Debug)]
pub struct CotravelQuery {
    pub via: Via,
    pub service: String,
    pub date: Date,
    pub car: Option<String>,
    pub seat: Option<String>,
}

/// The answer carries counts only, never who or where they sat.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CotravelAnswer {
    /// Cases (as of the question) who rode that service, matching the car or seat rows.
    pub cases: u64,
    /// Of them, those riding within their infectious window.
    pub infectious: u64,
}

/// Who is a case as of an instant, for flagging contacts in bulk.
#[derive(Clone, Debug, Default)]
pub struct CaseSet(Vec<i64>);

impl CaseSet {
    pub fn new(cases: &[(i64, CaseInfo)]) -> CaseSet {
        let mut v: Vec<i64> = cases.iter().map(|c| c.0).collect();
        v.sort_unstable();
        v.dedup();
        CaseSet(v)
    }

    pub fn contains(&self, person: i64) -> bool {
        self.0.binary_search(&person).is_ok()
    }
}

/// Answers trace questions from an [`Index`].
#[derive(Debug)]
pub struct Tracer<'a> {
    index: &'a Index,
    zone: Zone,
}

impl<'a> Tracer<'a> {
    pub fn new(index: &'a Index, zone: Zone) -> Tracer<'a> {
        Tracer { index, zone }
    }

    fn segments(&self) -> &[Segment] {
        &self.index.segments
    }

    /// Section 2 for one person as of `as_of`.
    pub fn assess(&self, person: i64, as_of: i64) -> Assessment {
        let mut rows: Vec<LabRow> = Vec::new();
        for s in self.segments() {
            s.labs_of(person, &mut rows);
        }
        rules::assess(&mut rows, as_of, self.zone)
    }

    /// Every case as of `as_of`, in pseudonym order.
    pub fn cases(&self, as_of: i64) -> Vec<(i64, CaseInfo)> {
        let mut candidates = Vec::new();
        for s in self.segments() {
            s.diagnosed_persons(&mut candidates);
        }
        candidates.sort_unstable();
        candidates.dedup();
        candidates
            .into_iter()
            .filter_map(|p| self.assess(p, as_of).case.map(|c| (p, c)))
            .collect()
    }

    /// The contacts of `case` as of `as_of`, to `depth` 1 or 2.
    pub fn trace(&self, case: i64, as_of: i64, depth: u8) -> Result<Trace, TraceError> {
        let a = self.assess(case, as_of);
        let info = a.case.ok_or(TraceError::NotACase {
            status: a.status.as_str(),
        })?;
        Ok(self.trace_case(case, info, as_of, depth))
    }

    /// [`Tracer::trace`] for a person already known to be a case.
    pub fn trace_case(&self, case: i64, info: CaseInfo, as_of: i64, depth: u8) -> Trace {
        self.trace_with(case, info, as_of, depth, None)
    }

    fn trace_with(
        &self,
        case: i64,
        info: CaseInfo,
        as_of: i64,
        depth: u8,
        known: Option<&CaseSet>,
    ) -> Trace {
        let is_case = |p: i64| match known {
            Some(set) => set.contains(p),
            None => self.assess(p, as_of).case.is_some(),
        };
        let first = self.exposures(case, info.window, false);
        let mut contacts: BTreeMap<i64, (u8, i64, Exposure)> =
            first.into_iter().map(|(p, e)| (p, (1, case, e))).collect();
        if depth >= 2 {
            let mut second: HashMap<i64, (i64, Exposure)> = HashMap::new();
            for (&c, (_, _, e)) in &contacts {
                let window = Window {
                    from: e.first,
                    to: as_of,
                };
                for (p, e2) in self.exposures(c, window, false) {
                    if p == case || contacts.contains_key(&p) {
                        continue;
                    }
                    match second.get_mut(&p) {
                        None => {
                            second.insert(p, (c, e2));
                        }
                        Some((via, acc)) => {
                            // The earliest exposure names who they were exposed to.
                            if e2.first < acc.first {
                                *via = c;
                            }
                            acc.merge(e2);
                        }
                    }
                }
            }
            contacts.extend(second.into_iter().map(|(p, (via, e))| (p, (2, via, e))));
        }
        let contacts = contacts
            .into_iter()
            .map(|(person, (degree, via, mut e))| {
                e.evidence.sort_unstable();
                e.evidence.dedup();
                Contact {
                    person,
                    degree,
                    via,
                    is_case: is_case(person),
                    first_exposure: e.first,
                    last_exposure: e.last,
                    quarantine_until: quarantine_until(e.last, self.zone),
                    evidence: e.evidence,
                }
            })
            .collect();
        Trace {
            case,
            info,
            as_of,
            contacts,
        }
    }

    /// Traces `chunk` in parallel, in the order given. `all` is every case as of `as_of`
    /// ([`Tracer::cases`]), so that flagging contacts who are cases needs no lab lookups.
    pub fn trace_many(
        &self,
        chunk: &[(i64, CaseInfo)],
        all: &CaseSet,
        as_of: i64,
        depth: u8,
    ) -> Vec<Trace> {
        use rayon::prelude::*;
        chunk
            .par_iter()
            .map(|&(p, info)| self.trace_with(p, info, as_of, depth, Some(all)))
            .collect()
    }

    /// Every case `person` is a contact of as of `as_of`, at degree 1 (and 2 when `depth` is
    /// 2), each case once at its lowest degree: the rows [`Tracer::trace`] of each case would
    /// give for this person, found from the person's own groups. The matching rules are
    /// symmetric, so the person's co-members are the candidates and each one's window decides.
    pub fn exposures_to_cases(&self, person: i64, as_of: i64, depth: u8) -> Vec<CaseExposure> {
        // At degree 1 only the diagnosed can be the case: visit their events alone (the
        // index keeps them by group), not everyone a person met at a market.
        let everyone = self.exposures(
            person,
            Window {
                from: i64::MIN,
                to: as_of,
            },
            depth < 2,
        );
        let diagnosed = self.index.diagnosed();
        let mut found: BTreeMap<i64, CaseExposure> = BTreeMap::new();
        for (&other, e) in &everyone {
            if !diagnosed.contains(other) {
                continue;
            }
            if let Some(info) = self.assess(other, as_of).case
                && let Some(x) = self.within(e, info.window)
            {
                found.insert(other, x.into_case_exposure(other, 1, other, self.zone));
            }
        }
        if depth >= 2 {
            let mut second: BTreeMap<i64, (i64, Exposure)> = BTreeMap::new();
            let mut ordered: Vec<(&i64, &Exposure)> = everyone.iter().collect();
            ordered.sort_unstable_by_key(|(p, _)| **p);
            for (&mid, e) in ordered {
                for d1 in self.exposures_to_cases(mid, as_of, 1) {
                    if d1.case == person || found.contains_key(&d1.case) {
                        continue;
                    }
                    let window = Window {
                        from: d1.first_exposure,
                        to: as_of,
                    };
                    let Some(x) = self.within(e, window) else {
                        continue;
                    };
                    match second.get_mut(&d1.case) {
                        None => {
                            second.insert(d1.case, (mid, x));
                        }
                        Some((via, acc)) => {
                            if x.first < acc.first {
                                *via = mid;
                            }
                            acc.merge(x);
                        }
                    }
                }
            }
            for (case, (via, x)) in second {
                found.insert(case, x.into_case_exposure(case, 2, via, self.zone));
            }
        }
        found.into_values().collect()
    }

    /// The part of an exposure gathered over all time that falls in `window`: evidence whose
    /// interval meets it, first and last clipped to it (a household spans the window).
    fn within(&self, e: &Exposure, window: Window) -> Option<Exposure> {
        let mut out: Option<Exposure> = None;
        for ev in &e.evidence {
            let ev = if ev.via == Via::Household {
                Evidence {
                    from: window.from,
                    to: window.to,
                    ..*ev
                }
            } else {
                *ev
            };
            if let Some(clipped) = window.clip(ev.from, ev.to) {
                out.get_or_insert_with(|| Exposure {
                    first: i64::MAX,
                    last: i64::MIN,
                    evidence: Vec::new(),
                })
                .add(clipped, ev);
            }
        }
        out
    }

    /// Everyone who shared a group with `person` within `window`, with the shared intervals;
    /// `only_diagnosed` keeps only those who can be a case (a confirmed or asymptomatic lab
    /// result), visiting their events alone.
    fn exposures(
        &self,
        person: i64,
        window: Window,
        only_diagnosed: bool,
    ) -> HashMap<i64, Exposure> {
        let mut out: HashMap<i64, Exposure> = HashMap::new();
        let segs = self.segments();
        let diagnosed = only_diagnosed.then(|| self.index.diagnosed());
        for (si, seg) in segs.iter().enumerate() {
            for &ev in seg.events_of(person) {
                let ev = ev as usize;
                let group = seg.group_of(ev);
                let key = seg.key(group);
                let via = GroupKey::via(key);
                let me = seg.event(ev);
                let (start, end) = if via == Via::Household {
                    (window.from, window.to)
                } else {
                    (me.start, me.end)
                };
                // A pass's occupants share it whatever their rows say of the time, so all of
                // them are read; for the rest every shared interval lies within this event,
                // which must therefore meet the window.
                let whole_group = matches!(via, Via::Household | Via::Vehicle);
                if !whole_group && window.clip(start, end).is_none() {
                    continue;
                }
                let my_label = seg.label(me.label);
                for (ti, other) in segs.iter().enumerate() {
                    let Some(g) = (if ti == si {
                        Some(group)
                    } else {
                        other.find(key)
                    }) else {
                        continue;
                    };
                    let range = if whole_group {
                        other.members(g)
                    } else {
                        other.candidates(g, start, end)
                    };
                    let picked: &[u32] = match diagnosed {
                        Some(d) => d.events(ti, g, &range),
                        None => &[],
                    };
                    let positions: &mut dyn Iterator<Item = usize> = match diagnosed {
                        Some(_) => &mut picked.iter().map(|&j| j as usize),
                        None => &mut range.clone(),
                    };
                    for j in positions {
                        let them = other.event(j);
                        if them.person == person {
                            continue;
                        }
                        let same_label = || {
                            if ti == si {
                                me.label == them.label
                                    || me.label == NO_LABEL
                                    || them.label == NO_LABEL
                            } else {
                                cars_match(my_label, other.label(them.label))
                            }
                        };
                        let row = |n: i32| (n != NO_ROW).then_some(n);
                        let shared = match via {
                            Via::Rail if !same_label() => None,
                            Via::Flight if !rows_near(row(me.num), row(them.num)) => None,
                            Via::Rail | Via::Flight | Via::Coach | Via::Ship => {
                                overlap((me.start, me.end), (them.start, them.end))
                            }
                            // One pass, one instant; occupants' rows normally agree on it.
                            Via::Vehicle => {
                                Some((me.start.min(them.start), me.start.max(them.start)))
                            }
                            Via::Venue => venue_overlap((me.start, me.end), (them.start, them.end)),
                            Via::Household => Some((window.from, window.to)),
                        };
                        let Some((a, b)) = shared else {
                            continue;
                        };
                        let Some(clipped) = window.clip(a, b) else {
                            continue;
                        };
                        let evidence = Evidence {
                            from: a,
                            to: b,
                            via,
                            segment: ti as u16,
                            group: g,
                            label: match via {
                                Via::Rail | Via::Flight | Via::Vehicle => them.label,
                                _ => NO_LABEL,
                            },
                        };
                        out.entry(them.person)
                            .or_insert_with(|| Exposure {
                                first: i64::MAX,
                                last: i64::MIN,
                                evidence: Vec::new(),
                            })
                            .add(clipped, evidence);
                    }
                }
            }
        }
        out
    }

    /// The service, pass, venue or household and the contact's label behind `e`.
    pub fn evidence_parts(&self, e: &Evidence) -> EvidenceParts<'_> {
        let seg = &self.segments()[usize::from(e.segment)];
        let (service_date, id) = GroupKey::parts(seg.key(e.group));
        EvidenceParts {
            id,
            service_date,
            label: seg.label(e.label),
        }
    }

    pub fn zone(&self) -> Zone {
        self.zone
    }

    /// The public self-check: counts of cases aboard, never who.
    pub fn cotravel(&self, q: &CotravelQuery, as_of: i64) -> CotravelAnswer {
        let mut key = Vec::new();
        GroupKey::ride(&mut key, q.via, q.date.days(), &q.service);
        let my_row = q.seat.as_deref().and_then(seat_row);
        // Each rider once, with every ride of theirs that matches.
        let mut riders: BTreeMap<i64, Vec<(i64, i64)>> = BTreeMap::new();
        for s in self.segments() {
            let Some(g) = s.find(&key) else { continue };
            for j in s.members(g) {
                let e = s.event(j);
                let matches = match q.via {
                    Via::Rail => cars_match(q.car.as_deref(), s.label(e.label)),
                    Via::Flight => {
                        q.seat.is_none() || rows_near(my_row, (e.num != NO_ROW).then_some(e.num))
                    }
                    _ => true,
                };
                if matches {
                    riders.entry(e.person).or_default().push((e.start, e.end));
                }
            }
        }
        let mut answer = CotravelAnswer {
            cases: 0,
            infectious: 0,
        };
        for (p, rides) in riders {
            if let Some(c) = self.assess(p, as_of).case {
                answer.cases += 1;
                if rides.iter().any(|&(s, e)| c.window.clip(s, e).is_some()) {
                    answer.infectious += 1;
                }
            }
        }
        answer
    }
}
