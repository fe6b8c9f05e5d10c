//! Health codes from the index beside the store: one person by lookups (their labs, arrivals,
//! fevers and the cases they met), or everyone by gathering only the people some rule could
//! touch — the rest of the population is green without being looked at.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use model::{Date, Timestamp, Zone};
use rayon::prelude::*;
use trace::{CaseSet, Index, Tracer};

use crate::evaluate::{ContactFact, Detail, Facts, Finding, evaluate, rule_ids, verdict};
use crate::overrides::{OVERRIDE, Overrides};
use crate::peer::{PEER_ATTESTATION, PeerAttestations};
use crate::risk::RiskAreas;
use crate::ruleset::{Condition, RuleSet};
use crate::{Color, HealthCode};

/// Cases traced at once in a sweep, so contact lists never pile up for all cases.
const TRACE_CHUNK: usize = 1024;

/// A person's code in short: what the whole-population file holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    pub color: Color,
    /// Ids of the rules that apply, sorted, `;`-joined.
    pub rules: String,
    pub valid_until: Option<Date>,
}

impl Summary {
    pub fn green() -> Summary {
        Summary {
            color: Color::Green,
            rules: String::new(),
            valid_until: None,
        }
    }

    /// The summary of `findings` (rules set aside already dropped); `overridden` adds the
    /// `override` rule to the ids, which changes neither color nor `valid_until`.
    fn of(rules: &RuleSet, findings: &[Finding], overridden: bool) -> Summary {
        let (color, valid_until) = verdict(findings);
        let mut ids = rule_ids(rules, findings);
        if overridden {
            ids.push(OVERRIDE);
            ids.sort_unstable();
            ids.dedup();
        }
        Summary {
            color,
            rules: ids.join(";"),
            valid_until,
        }
    }

    /// Whether the summary says anything: not green, or a rule (an override) listed.
    pub fn is_plain_green(&self) -> bool {
        self.color == Color::Green && self.rules.is_empty()
    }
}

/// Everyone who is not green under each rule set, as of one day.
#[derive(Clone, Debug, Default)]
pub struct Sweep {
    /// Per person: one summary per rule set, in the order given (green included when another
    /// set makes them not green).
    pub codes: HashMap<i64, Vec<Summary>>,
    /// People looked at (a rule could have touched them).
    pub examined: u64,
    /// Cases traced for contacts.
    pub cases_traced: u64,
}

/// One contact of a case traced outside the index (contract §3, as `trace --all` answers):
/// what a sweep needs of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TracedContact {
    pub case: i64,
    pub person: i64,
    pub degree: u8,
    /// The case (degree 1) or the degree-1 contact they were exposed to.
    pub via: i64,
    /// Epoch milliseconds.
    pub last_exposure: i64,
}

/// Every case's contacts as of a sweep's day, traced elsewhere (`trace --all` on a cluster) to
/// [`CodeEngine::sweep_depth`], for [`CodeEngine::sweep_traced`].
#[derive(Clone, Debug, Default)]
pub struct Traced {
    /// How many cases were traced.
    pub cases: u64,
    pub contacts: Vec<TracedContact>,
}

/// Progress of a sweep: which stage, and work done in it.
pub trait SweepProgress: Sync {
    fn stage(&self, name: &str, total: u64);
    fn advance(&self, n: u64);
}

impl SweepProgress for () {
    fn stage(&self, _: &str, _: u64) {}
    fn advance(&self, _: u64) {}
}

/// Evaluates health codes from an index and the store's risk areas.
#[derive(Debug)]
pub struct CodeEngine<'a> {
    index: &'a Index,
    tracer: Tracer<'a>,
    /// Borrowed from whoever keeps them (a server's snapshot, for every request), or owned.
    risk: Cow<'a, RiskAreas>,
    /// Rules set aside per person (accepted corrections); none unless given.
    overrides: Cow<'a, Overrides>,
    /// Home provinces' attested colors (`peer_attestation`); none unless given.
    peer: Cow<'a, PeerAttestations>,
    zone: Zone,
}

impl<'a> CodeEngine<'a> {
    /// An engine over `index` with the risk areas `risk`, borrowed (`&RiskAreas`: nothing is
    /// copied per question) or handed over.
    pub fn new(
        index: &'a Index,
        risk: impl Into<Cow<'a, RiskAreas>>,
        zone: Zone,
    ) -> CodeEngine<'a> {
        CodeEngine {
            index,
            tracer: Tracer::new(index, zone),
            risk: risk.into(),
            overrides: Cow::Owned(Overrides::none()),
            peer: Cow::Owned(PeerAttestations::none()),
            zone,
        }
    }

    /// The same engine with home provinces' attestations folded into every code and sweep it
    /// gives (`peer_attestation`: at least the attested color until its end), borrowed or
    /// handed over.
    pub fn with_peer_attestations(
        mut self,
        peer: impl Into<Cow<'a, PeerAttestations>>,
    ) -> CodeEngine<'a> {
        self.peer = peer.into();
        self
    }

    pub fn peer_attestations(&self) -> &PeerAttestations {
        &self.peer
    }

    /// `summary` with `person`'s attestations folded in.
    fn fold_peer(&self, person: i64, as_of: Date, summary: &mut Summary) {
        if self.peer.is_empty() {
            return;
        }
        let reasons = self
            .peer
            .fold(person, as_of, &mut summary.color, &mut summary.valid_until);
        if !reasons.is_empty() {
            let mut ids: Vec<&str> = summary.rules.split(';').filter(|r| !r.is_empty()).collect();
            ids.push(PEER_ATTESTATION);
            ids.sort_unstable();
            ids.dedup();
            summary.rules = ids.join(";");
        }
    }

    /// The same engine with rules set aside per person by `overrides` (borrowed or handed
    /// over), in every code, sweep and finding it gives.
    pub fn with_overrides(mut self, overrides: impl Into<Cow<'a, Overrides>>) -> CodeEngine<'a> {
        self.overrides = overrides.into();
        self
    }

    pub fn risk(&self) -> &RiskAreas {
        &self.risk
    }

    pub fn overrides(&self) -> &Overrides {
        &self.overrides
    }

    /// The facts of one person; contacts found from the person's side, at `depth`.
    pub fn facts(&self, person: i64, as_of: Date, depth: u8, with_evidence: bool) -> Facts {
        let end = as_of.end_of_day(self.zone).millis();
        let contacts = if depth == 0 {
            Vec::new()
        } else {
            self.tracer
                .exposures_to_cases(person, end, depth)
                .into_iter()
                .map(|x| ContactFact {
                    case: x.case,
                    degree: x.degree,
                    via: x.via,
                    last_exposure: x.last_exposure,
                    evidence: with_evidence.then(|| {
                        x.evidence
                            .iter()
                            .map(|e| {
                                let p = self.tracer.evidence_parts(e);
                                let mut s = format!("{} {}", e.via.as_str(), p.id);
                                if let Some(d) = p.service_date {
                                    s.push_str(&format!(" {d}"));
                                }
                                s
                            })
                            .collect::<std::collections::BTreeSet<_>>()
                            .into_iter()
                            .collect::<Vec<_>>()
                            .join(", ")
                    }),
                })
                .collect()
        };
        Facts {
            labs: self.index.labs_of(person),
            arrivals: self.index.arrivals_of(person),
            fevers: self.index.fevers_of(person),
            contacts,
        }
    }

    /// The findings for one person under `rules`, without those of rules an override sets
    /// aside.
    pub fn findings(&self, rules: &RuleSet, person: i64, as_of: Date) -> Vec<Finding> {
        let mut facts = self.facts(person, as_of, rules.contact_depth(), true);
        let mut f = evaluate(rules, &mut facts, &self.risk, as_of, self.zone);
        self.overrides.set_aside(rules, person, as_of, &mut f);
        f
    }

    /// The findings for one person under `rules` as the rules alone give them, overrides
    /// ignored: the evidence behind a disputed rule.
    pub fn findings_without_overrides(
        &self,
        rules: &RuleSet,
        person: i64,
        as_of: Date,
    ) -> Vec<Finding> {
        let mut facts = self.facts(person, as_of, rules.contact_depth(), true);
        evaluate(rules, &mut facts, &self.risk, as_of, self.zone)
    }

    /// One person's code, with every reason; `name` shows a case (a masked id, say).
    pub fn code(
        &self,
        rules: &RuleSet,
        person: i64,
        as_of: Date,
        name: &dyn Fn(i64) -> String,
    ) -> HealthCode {
        self.code_at(rules, person, as_of, name, Detail::Full)
    }

    /// [`CodeEngine::code`] with reasons' details at `level`; an override in force is listed
    /// last, as a green reason of rule `override`.
    pub fn code_at(
        &self,
        rules: &RuleSet,
        person: i64,
        as_of: Date,
        name: &dyn Fn(i64) -> String,
        level: Detail,
    ) -> HealthCode {
        let f = self.findings(rules, person, as_of);
        let mut code = crate::evaluate::health_code_at(rules, person, as_of, &f, name, level);
        code.reasons.extend(self.overrides.reasons(person, as_of));
        let peer = self
            .peer
            .fold(person, as_of, &mut code.color, &mut code.valid_until);
        if !peer.is_empty() {
            code.reasons.extend(peer);
            // Most severe first; the order within a color is kept (stable).
            code.reasons.sort_by_key(|r| std::cmp::Reverse(r.color));
        }
        code
    }

    /// The people some rule of `sets` could touch as of `as_of`, and their summaries under
    /// each set. Everyone else is green under all of them.
    ///
    /// An override only sets rules aside, so it cannot make someone not gathered here yellow or
    /// red: the invariant holds with overrides. Those with one in force are gathered too, so
    /// their summary lists `override` (green when nothing else applies).
    pub fn sweep(&self, sets: &[&RuleSet], as_of: Date, progress: &dyn SweepProgress) -> Sweep {
        self.sweep_given(sets, as_of, None, progress)
    }

    /// [`CodeEngine::sweep`] with the cases' contacts traced elsewhere (`traced`: every case as
    /// of the end of `as_of`, to [`CodeEngine::sweep_depth`]) instead of on the index; the
    /// same codes.
    pub fn sweep_traced(
        &self,
        sets: &[&RuleSet],
        as_of: Date,
        traced: &Traced,
        progress: &dyn SweepProgress,
    ) -> Sweep {
        self.sweep_given(sets, as_of, Some(traced), progress)
    }

    /// The contact depth a sweep under `sets` traces to (0: no contact rule, nothing traced).
    pub fn sweep_depth(sets: &[&RuleSet]) -> u8 {
        depth_of(&longest_contact_rules(sets))
    }

    fn sweep_given(
        &self,
        sets: &[&RuleSet],
        as_of: Date,
        traced: Option<&Traced>,
        progress: &dyn SweepProgress,
    ) -> Sweep {
        let (mut candidates, contacts, cases_traced) =
            self.candidates(sets, as_of, traced, progress);
        if !self.overrides.is_empty() || !self.peer.is_empty() {
            candidates.extend(self.overrides.persons_in_force(as_of));
            candidates.extend(self.peer.persons_in_force(as_of));
            candidates.par_sort_unstable();
            candidates.dedup();
        }
        progress.stage("evaluating", candidates.len() as u64);
        let done = AtomicU64::new(0);
        let codes: HashMap<i64, Vec<Summary>> = candidates
            .par_iter()
            .with_min_len(256)
            .filter_map(|&p| {
                let mut facts = self.facts_with(p, &contacts);
                let summaries: Vec<Summary> = sets
                    .iter()
                    .map(|set| {
                        let mut f = evaluate(set, &mut facts, &self.risk, as_of, self.zone);
                        let overridden = self.overrides.set_aside(set, p, as_of, &mut f);
                        let mut s = Summary::of(set, &f, overridden);
                        self.fold_peer(p, as_of, &mut s);
                        s
                    })
                    .collect();
                if (done.fetch_add(1, Ordering::Relaxed) + 1).is_multiple_of(4096) {
                    progress.advance(4096);
                }
                summaries
                    .iter()
                    .any(|s| !s.is_plain_green())
                    .then_some((p, summaries))
            })
            .collect();
        Sweep {
            examined: candidates.len() as u64,
            cases_traced,
            codes,
        }
    }

    /// The findings — every rule that applies, each with its own `valid_until` — of those of
    /// `persons` (sorted) some rule could touch as of `as_of`, gathered by the same sweep as
    /// [`CodeEngine::sweep`] (cases traced in bulk, not one person at a time) but evaluated
    /// for `persons` only. Whoever is missing from the answer has no finding: green. Rules an
    /// override sets aside are left out (they block no one); the override itself is no finding.
    pub fn sweep_findings(
        &self,
        rules: &RuleSet,
        persons: &[i64],
        as_of: Date,
    ) -> HashMap<i64, Vec<Finding>> {
        let (candidates, contacts, _) = self.candidates(&[rules], as_of, None, &());
        candidates
            .par_iter()
            .with_min_len(256)
            .filter(|p| persons.binary_search(p).is_ok())
            .filter_map(|&p| {
                let mut facts = self.facts_with(p, &contacts);
                let mut f = evaluate(rules, &mut facts, &self.risk, as_of, self.zone);
                self.overrides.set_aside(rules, p, as_of, &mut f);
                (!f.is_empty()).then_some((p, f))
            })
            .collect()
    }

    fn facts_with(&self, p: i64, contacts: &HashMap<i64, Vec<ContactFact>>) -> Facts {
        Facts {
            labs: self.index.labs_of(p),
            arrivals: self.index.arrivals_of(p),
            fevers: self.index.fevers_of(p),
            contacts: contacts.get(&p).cloned().unwrap_or_default(),
        }
    }

    /// Everyone some rule of `sets` could touch as of `as_of` (sorted), the contacts of the
    /// cases traced for it by person, and how many cases were traced.
    #[allow(clippy::type_complexity)]
    fn candidates(
        &self,
        sets: &[&RuleSet],
        as_of: Date,
        traced: Option<&Traced>,
        progress: &dyn SweepProgress,
    ) -> (Vec<i64>, HashMap<i64, Vec<ContactFact>>, u64) {
        let end = as_of.end_of_day(self.zone).millis();
        let day_start = |d: Date| d.start(self.zone).millis();
        let mut candidates: Vec<i64> = self.index.lab_persons();
        for set in sets {
            for rule in &set.rules {
                match &rule.when {
                    Condition::Arrival { level, days, kinds } => {
                        let from = as_of.add_days(1 - days);
                        self.index.arrivals_between(from, as_of, &mut |a| {
                            if kinds.contains(&a.kind) && self.risk.covers(*level, a.origin, a.date)
                            {
                                candidates.push(a.person);
                            }
                        });
                    }
                    Condition::Fever {
                        min_temperature_c,
                        days,
                        ..
                    } => {
                        let from = day_start(as_of.add_days(1 - days));
                        self.index.fevers_between(from, end, &mut |f| {
                            if f.temperature_c >= *min_temperature_c {
                                candidates.push(f.person);
                            }
                        });
                    }
                    _ => {}
                }
            }
        }
        let (contacts, cases_traced) = match traced {
            None => self.sweep_contacts(sets, as_of, progress),
            Some(t) => (self.traced_contacts(sets, as_of, t), t.cases),
        };
        candidates.extend(contacts.keys().copied());
        candidates.par_sort_unstable();
        candidates.dedup();
        (candidates, contacts, cases_traced)
    }

    /// The people whose codes new records of `touched` may change: they, and — for those who
    /// are cases — their contacts at the rules' depth.
    pub fn affected(&self, rules: &RuleSet, touched: &[i64], as_of: Date) -> Vec<i64> {
        let end = as_of.end_of_day(self.zone).millis();
        let depth = rules.contact_depth();
        let mut out: Vec<i64> = touched
            .par_iter()
            .flat_map_iter(|&p| {
                let mut v = vec![p];
                if depth > 0
                    && let Ok(t) = self.tracer.trace(p, end, depth)
                {
                    v.extend(t.contacts.iter().map(|c| c.person));
                }
                v
            })
            .collect();
        out.par_sort_unstable();
        out.dedup();
        out
    }

    /// Summaries of `persons`, each evaluated on its own (contacts found from their side).
    pub fn recompute(&self, rules: &RuleSet, persons: &[i64], as_of: Date) -> Vec<(i64, Summary)> {
        let depth = rules.contact_depth();
        persons
            .par_iter()
            .with_min_len(64)
            .map(|&p| {
                let mut facts = self.facts(p, as_of, depth, false);
                let mut f = evaluate(rules, &mut facts, &self.risk, as_of, self.zone);
                let overridden = self.overrides.set_aside(rules, p, as_of, &mut f);
                let mut s = Summary::of(rules, &f, overridden);
                self.fold_peer(p, as_of, &mut s);
                (p, s)
            })
            .collect()
    }

    /// Contacts of the cases that can still make someone a contact on `as_of`, by person.
    fn sweep_contacts(
        &self,
        sets: &[&RuleSet],
        as_of: Date,
        progress: &dyn SweepProgress,
    ) -> (HashMap<i64, Vec<ContactFact>>, u64) {
        let end = as_of.end_of_day(self.zone).millis();
        let longest = longest_contact_rules(sets);
        let depth = depth_of(&longest);
        if depth == 0 {
            return (HashMap::new(), 0);
        }
        let all = self.tracer.cases(end);
        let set = CaseSet::new(&all);
        // Degree 1 needs only cases reported within the longest rule; degree 2 windows run to
        // today, so every case counts.
        let first_day = as_of.add_days(1 - longest[1]);
        let todo: Vec<_> = all
            .iter()
            .filter(|(_, info)| {
                depth == 2 || Timestamp(info.report_time).date(self.zone) >= first_day
            })
            .copied()
            .collect();
        progress.stage("tracing cases", todo.len() as u64);
        let mut out: HashMap<i64, Vec<ContactFact>> = HashMap::new();
        for chunk in todo.chunks(TRACE_CHUNK) {
            for t in self.tracer.trace_many(chunk, &set, end, depth) {
                for c in t.contacts {
                    let traced = TracedContact {
                        case: t.case,
                        person: c.person,
                        degree: c.degree,
                        via: c.via,
                        last_exposure: c.last_exposure,
                    };
                    self.keep_if_it_may_hold(&mut out, &longest, as_of, &traced);
                }
            }
            progress.advance(chunk.len() as u64);
        }
        (out, todo.len() as u64)
    }

    /// Adds `c` to its person's facts in `out` if it can still hold on `as_of` under the
    /// longest contact rule of its degree (`longest`, per degree).
    fn keep_if_it_may_hold(
        &self,
        out: &mut HashMap<i64, Vec<ContactFact>>,
        longest: &[i32; 3],
        as_of: Date,
        c: &TracedContact,
    ) {
        let days = longest[usize::from(c.degree).min(2)];
        if days > 0 && as_of < Timestamp(c.last_exposure).date(self.zone).add_days(days) {
            out.entry(c.person).or_default().push(ContactFact {
                case: c.case,
                degree: c.degree,
                via: c.via,
                last_exposure: c.last_exposure,
                evidence: None,
            });
        }
    }

    /// [`CodeEngine::sweep_contacts`]' map from contacts traced elsewhere. Degree-1 contacts of
    /// a case reported before the longest degree-1 rule began are dropped by
    /// [`Self::keep_if_it_may_hold`] (their last exposure is at most the report), as the index
    /// path leaves such cases out.
    fn traced_contacts(
        &self,
        sets: &[&RuleSet],
        as_of: Date,
        traced: &Traced,
    ) -> HashMap<i64, Vec<ContactFact>> {
        let longest = longest_contact_rules(sets);
        let mut out: HashMap<i64, Vec<ContactFact>> = HashMap::new();
        for c in &traced.contacts {
            self.keep_if_it_may_hold(&mut out, &longest, as_of, c);
        }
        out
    }
}

/// The longest contact rule of `sets` per degree (index 1 and 2; 0 when none): a contact
/// whose last exposure is older than that cannot hold today.
fn longest_contact_rules(sets: &[&RuleSet]) -> [i32; 3] {
    let mut longest = [0i32; 3];
    for set in sets {
        for r in &set.rules {
            if let Condition::Contact { degree, days } = r.when {
                let l = &mut longest[usize::from(degree).min(2)];
                *l = (*l).max(days);
            }
        }
    }
    longest
}

/// The depth a sweep traces to under the longest contact rules `longest` (0: none).
fn depth_of(longest: &[i32; 3]) -> u8 {
    if longest[2] > 0 {
        2
    } else if longest[1] > 0 {
        1
    } else {
        0
    }
}
