//! Per-employee return decisions (contract §8.1): the decision table as one pure function
//! ([`decide`]), and the decisions of every application row in the store ([`decide_all`]),
//! with each person's code from the rules crate's whole-population sweep, run once per
//! distinct start date over the persons applied for — never one person at a time.
//!
//! Works on pseudonyms; the caller shows identities.

use std::collections::{BTreeMap, HashMap, HashSet};

use arrow::array::Array;
use model::{Color, Date, Kind, Timestamp, Zone};
use rules::evaluate::Finding;
use rules::{CodeEngine, Condition, RuleSet};
use serde::Serialize;
use store::Store;

use crate::ResumeError;

/// What the decision table answers for one application row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    NotRegistered,
    NotEmployee,
    NotAllowed,
    Office,
    Quarantine,
}

impl Verdict {
    /// Every verdict, in the table's order.
    pub const ALL: [Verdict; 5] = [
        Verdict::NotRegistered,
        Verdict::NotEmployee,
        Verdict::NotAllowed,
        Verdict::Office,
        Verdict::Quarantine,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::NotRegistered => "not_registered",
            Verdict::NotEmployee => "not_employee",
            Verdict::NotAllowed => "not_allowed",
            Verdict::Office => "office",
            Verdict::Quarantine => "quarantine",
        }
    }
}

/// One rule that applies to a person's code, as the decision needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applying {
    pub rule: String,
    pub color: Color,
    /// The rule is about case status (the contract's `case`).
    pub case: bool,
    /// The end the rule would give on its own; `None` when it has none.
    pub valid_until: Option<Date>,
}

/// The rules applying to each person (absent: none, green).
pub type Codes = HashMap<i64, Vec<Applying>>;

/// The decision for one row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub verdict: Verdict,
    pub office_date: Option<Date>,
    /// For `quarantine` and `not_allowed`: every rule id of the code, sorted, each once.
    pub reasons: Vec<String>,
}

/// The contract's §8.1 table, first matching row deciding: `registered` (the person is in
/// `persons`), `employed` (an `employment` row links them to the applying enterprise), and
/// `code`, the rules that apply to their code as of the end of S − 1 (empty: green).
///
/// The green date is the latest `valid_until` among all of them, of any colour. A rule with no
/// end (only `case` in the built-in rules, decided before) leaves no green date: such a person
/// is told to quarantine with no office date.
pub fn decide(start: Date, registered: bool, employed: bool, code: &[Applying]) -> Decision {
    let no_date = |verdict| Decision {
        verdict,
        office_date: None,
        reasons: Vec::new(),
    };
    if !registered {
        return no_date(Verdict::NotRegistered);
    }
    if !employed {
        return no_date(Verdict::NotEmployee);
    }
    let reasons = || {
        let mut ids: Vec<String> = code.iter().map(|a| a.rule.clone()).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    };
    if code.iter().any(|a| a.case && a.color == Color::Red) {
        return Decision {
            verdict: Verdict::NotAllowed,
            office_date: None,
            reasons: reasons(),
        };
    }
    let mut green: Option<Option<Date>> = None;
    for a in code {
        green = Some(match (green, a.valid_until) {
            (None, v) => v,
            (Some(Some(x)), Some(y)) => Some(x.max(y)),
            _ => None,
        });
    }
    match green {
        None => Decision {
            verdict: Verdict::Office,
            office_date: Some(start),
            reasons: Vec::new(),
        },
        Some(Some(g)) if g <= start => Decision {
            verdict: Verdict::Office,
            office_date: Some(start),
            reasons: Vec::new(),
        },
        Some(g) => Decision {
            verdict: Verdict::Quarantine,
            office_date: g,
            reasons: reasons(),
        },
    }
}

/// One row of `applications` as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplicationRow {
    pub application_id: String,
    pub enterprise_id: String,
    pub person: i64,
    pub start_date: Date,
    pub submitted: Option<Timestamp>,
}

/// A decided row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decided {
    pub row: ApplicationRow,
    pub decision: Decision,
    /// An `employment` row links the person to the applying enterprise.
    pub employed: bool,
}

impl Decided {
    /// The verdict as the applying enterprise may see it: a person it does not employ is
    /// `not_employee` to it whether or not they are in `persons` — it learns nothing of
    /// someone else's registration by naming them (contract §8.1: its own employees only).
    pub fn verdict_for_enterprise(&self) -> Verdict {
        match self.decision.verdict {
            Verdict::NotRegistered if !self.employed => Verdict::NotEmployee,
            v => v,
        }
    }
}

/// Which rows to decide.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// One application only.
    pub application: Option<String>,
    /// One enterprise's applications only.
    pub enterprise: Option<String>,
}

/// Every stored application row submitted by `as_of` (a row without `submitted_time` always
/// counts) and matching `filter`, in file order.
pub fn applications(
    store: &Store,
    as_of: Timestamp,
    filter: &Filter,
) -> Result<Vec<ApplicationRow>, ResumeError> {
    let mut out = Vec::new();
    let columns = [
        "application_id",
        "enterprise_id",
        "person_id",
        "start_date",
        "submitted_time",
    ];
    for file in store.tables(Kind::Applications) {
        for batch in file.scan(&columns)? {
            let b = batch?;
            let app = b.texts("application_id")?;
            let ent = b.texts("enterprise_id")?;
            let person = b.ints("person_id")?;
            let start = b.dates("start_date")?;
            let submitted = b.instants("submitted_time")?;
            for i in 0..b.rows() {
                let sub = (!submitted.is_null(i)).then(|| Timestamp(submitted.value(i)));
                if sub.is_some_and(|t| t > as_of) {
                    continue;
                }
                if filter
                    .application
                    .as_deref()
                    .is_some_and(|a| a != app.value(i))
                    || filter
                        .enterprise
                        .as_deref()
                        .is_some_and(|e| e != ent.value(i))
                {
                    continue;
                }
                out.push(ApplicationRow {
                    application_id: app.value(i).to_string(),
                    enterprise_id: ent.value(i).to_string(),
                    person: person.value(i),
                    start_date: Date(start.value(i)),
                    submitted: sub,
                });
            }
        }
    }
    Ok(out)
}

/// The `(enterprise_id, person)` pairs of `employment` whose enterprise is one of
/// `enterprises`.
pub fn employment(
    store: &Store,
    enterprises: &HashSet<&str>,
) -> Result<HashSet<(String, i64)>, ResumeError> {
    let mut out = HashSet::new();
    for file in store.tables(Kind::Employment) {
        for batch in file.scan(&["enterprise_id", "person_id"])? {
            let b = batch?;
            let ent = b.texts("enterprise_id")?;
            let person = b.ints("person_id")?;
            for i in 0..b.rows() {
                if enterprises.contains(ent.value(i)) {
                    out.insert((ent.value(i).to_string(), person.value(i)));
                }
            }
        }
    }
    Ok(out)
}

/// The day whose end a row's code is taken at: S − 1, or the as-of day when that is earlier
/// (nothing after the as-of instant is used).
pub fn code_day(start: Date, as_of: Timestamp, zone: Zone) -> Date {
    start.add_days(-1).min(as_of.date(zone))
}

/// The rules applying to each of `persons` (sorted) as of the end of `day`, from one sweep.
pub fn codes_on(codes: &CodeEngine<'_>, rules: &RuleSet, persons: &[i64], day: Date) -> Codes {
    codes
        .sweep_findings(rules, persons, day)
        .into_iter()
        .map(|(p, f)| (p, applying(rules, &f)))
        .collect()
}

/// The findings as the decision table reads them.
pub fn applying(rules: &RuleSet, findings: &[Finding]) -> Vec<Applying> {
    findings
        .iter()
        .map(|f| {
            let rule = &rules.rules[f.rule];
            Applying {
                rule: rule.id.clone(),
                color: f.color,
                case: matches!(rule.when, Condition::Case { .. }),
                valid_until: f.valid_until,
            }
        })
        .collect()
}

/// Decides `rows` (a row stored twice — the same application, enterprise, person and start
/// date from two files — once): whether each person is registered (in `persons`), employed by the
/// applying enterprise (from `employment`), and their code from one sweep per distinct code
/// day. Sorted by application, then person (pseudonym; the caller re-sorts by the id it
/// shows), then start date.
pub fn decide_rows(
    rows: Vec<ApplicationRow>,
    registered: &dyn Fn(i64) -> bool,
    employment: &HashSet<(String, i64)>,
    as_of: Timestamp,
    zone: Zone,
    code_of: &dyn Fn(&[i64], Date) -> Codes,
) -> Vec<Decided> {
    let mut by_day: BTreeMap<Date, Vec<i64>> = BTreeMap::new();
    for r in &rows {
        by_day
            .entry(code_day(r.start_date, as_of, zone))
            .or_default()
            .push(r.person);
    }
    let mut codes: HashMap<Date, Codes> = HashMap::new();
    for (day, mut persons) in by_day {
        persons.sort_unstable();
        persons.dedup();
        persons.retain(|&p| registered(p));
        codes.insert(day, code_of(&persons, day));
    }
    let mut out: Vec<Decided> = rows
        .into_iter()
        .map(|row| {
            let day = code_day(row.start_date, as_of, zone);
            let code = codes
                .get(&day)
                .and_then(|c| c.get(&row.person))
                .map_or(&[][..], Vec::as_slice);
            let employed = employment.contains(&(row.enterprise_id.clone(), row.person));
            let decision = decide(row.start_date, registered(row.person), employed, code);
            Decided {
                row,
                decision,
                employed,
            }
        })
        .collect();
    fn key(d: &Decided) -> (&str, i64, Date, &str) {
        let r = &d.row;
        (&r.application_id, r.person, r.start_date, &r.enterprise_id)
    }
    out.sort_by(|a, b| key(a).cmp(&key(b)));
    out.dedup_by(|a, b| key(a) == key(b));
    out
}

/// Per application: the count of each verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ApplicationSummary {
    pub application_id: String,
    pub enterprise_id: String,
    pub rows: u64,
    pub not_registered: u64,
    pub not_employee: u64,
    pub not_allowed: u64,
    pub office: u64,
    pub quarantine: u64,
}

/// One summary per application, by application id then enterprise: two enterprises that
/// chose the same application id each get their own counts.
pub fn summarise<'a>(
    rows: impl IntoIterator<Item = (&'a str, &'a str, Verdict)>,
) -> Vec<ApplicationSummary> {
    let mut by: BTreeMap<(&str, &str), ApplicationSummary> = BTreeMap::new();
    for (app, ent, v) in rows {
        let s = by.entry((app, ent)).or_insert_with(|| ApplicationSummary {
            application_id: app.to_string(),
            enterprise_id: ent.to_string(),
            rows: 0,
            not_registered: 0,
            not_employee: 0,
            not_allowed: 0,
            office: 0,
            quarantine: 0,
        });
        s.rows += 1;
        *match v {
            Verdict::NotRegistered => &mut s.not_registered,
            Verdict::NotEmployee => &mut s.not_employee,
            Verdict::NotAllowed => &mut s.not_allowed,
            Verdict::Office => &mut s.office,
            Verdict::Quarantine => &mut s.quarantine,
        } += 1;
    }
    by.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> Date {
        Date::parse(s.as_bytes()).unwrap()
    }

    fn rule(id: &str, color: Color, until: Option<&str>) -> Applying {
        Applying {
            rule: id.into(),
            color,
            case: id == "case",
            valid_until: until.map(d),
        }
    }

    #[test]
    fn the_contracts_example_turns_green_at_the_latest_end_of_any_colour() {
        // Red until 02-10 and yellow for fever until 02-13: green on 02-13.
        let code = [
            rule("close_contact", Color::Red, Some("2020-02-10")),
            rule("fever", Color::Yellow, Some("2020-02-13")),
        ];
        let got = decide(d("2020-02-10"), true, true, &code);
        assert_eq!(got.verdict, Verdict::Quarantine);
        assert_eq!(got.office_date, Some(d("2020-02-13")));
        assert_eq!(got.reasons, ["close_contact", "fever"]);
        let got = decide(d("2020-02-13"), true, true, &code);
        assert_eq!(
            (got.verdict, got.office_date, got.reasons.len()),
            (Verdict::Office, Some(d("2020-02-13")), 0)
        );
    }

    #[test]
    fn the_first_matching_row_decides() {
        let case = [rule("case", Color::Red, None)];
        let s = d("2020-02-10");
        assert_eq!(
            decide(s, false, false, &case).verdict,
            Verdict::NotRegistered
        );
        assert_eq!(decide(s, true, false, &case).verdict, Verdict::NotEmployee);
        let got = decide(s, true, true, &case);
        assert_eq!(
            (got.verdict, got.office_date, got.reasons),
            (Verdict::NotAllowed, None, vec!["case".to_string()])
        );
        assert_eq!(decide(s, true, true, &[]).office_date, Some(s));
    }

    /// The table read plainly, row by row, as the contract writes it.
    fn plain(start: Date, registered: bool, employed: bool, code: &[Applying]) -> Decision {
        let mut ids: Vec<String> = code.iter().map(|a| a.rule.clone()).collect();
        ids.sort();
        ids.dedup();
        let none = |verdict| Decision {
            verdict,
            office_date: None,
            reasons: vec![],
        };
        let green = code.iter().all(|a| a.color == Color::Green) || code.is_empty();
        let red_by_case = code
            .iter()
            .any(|a| a.color == Color::Red && a.rule == "case");
        let open = code.iter().any(|a| a.valid_until.is_none());
        let green_date = code.iter().filter_map(|a| a.valid_until).max();
        if !registered {
            none(Verdict::NotRegistered)
        } else if !employed {
            none(Verdict::NotEmployee)
        } else if red_by_case {
            Decision {
                verdict: Verdict::NotAllowed,
                office_date: None,
                reasons: ids,
            }
        } else if green || (!open && green_date.is_some_and(|g| g <= start)) {
            Decision {
                verdict: Verdict::Office,
                office_date: Some(start),
                reasons: vec![],
            }
        } else {
            Decision {
                verdict: Verdict::Quarantine,
                office_date: if open { None } else { green_date },
                reasons: ids,
            }
        }
    }

    fn applying_strategy() -> impl Strategy<Value = Applying> {
        let rules = [
            ("case", Color::Red, false),
            ("close_contact", Color::Red, true),
            ("high_risk_arrival", Color::Red, true),
            ("medium_risk_arrival", Color::Yellow, true),
            ("fever", Color::Yellow, true),
            ("recovered", Color::Yellow, true),
        ];
        (0..rules.len(), 0..40i32).prop_map(move |(i, day)| {
            let (id, color, ends) = rules[i];
            Applying {
                rule: id.into(),
                color,
                case: id == "case",
                valid_until: ends.then(|| Date(18_290 + day)),
            }
        })
    }

    proptest! {
        #[test]
        fn the_table_agrees_with_a_plain_reading(
            start in 0..40i32,
            registered: bool,
            employed: bool,
            code in proptest::collection::vec(applying_strategy(), 0..5),
        ) {
            let start = Date(18_290 + start);
            prop_assert_eq!(
                decide(start, registered, employed, &code),
                plain(start, registered, employed, &code)
            );
        }
    }

    #[test]
    fn summaries_count_each_verdict_per_application() {
        let rows = [
            ("B", "E2", Verdict::Office),
            ("A", "E1", Verdict::Quarantine),
            ("A", "E1", Verdict::Office),
            ("A", "E1", Verdict::Office),
        ];
        let s = summarise(rows.iter().copied());
        assert_eq!(s.len(), 2);
        assert_eq!(
            (
                s[0].application_id.as_str(),
                s[0].rows,
                s[0].office,
                s[0].quarantine
            ),
            ("A", 3, 2, 1)
        );
        assert_eq!((s[1].application_id.as_str(), s[1].office), ("B", 1));
    }

    #[test]
    fn an_application_id_two_enterprises_chose_is_summarised_per_enterprise() {
        let rows = [
            ("A", "E2", Verdict::Office),
            ("A", "E1", Verdict::Quarantine),
            ("A", "E1", Verdict::Office),
        ];
        let s = summarise(rows.iter().copied());
        let seen: Vec<(&str, &str, u64, u64, u64)> = s
            .iter()
            .map(|x| {
                (
                    x.application_id.as_str(),
                    x.enterprise_id.as_str(),
                    x.rows,
                    x.office,
                    x.quarantine,
                )
            })
            .collect();
        assert_eq!(seen, [("A", "E1", 2, 1, 1), ("A", "E2", 1, 1, 0)]);
    }

    #[test]
    fn an_enterprise_learns_no_registration_of_someone_it_does_not_employ() {
        let row = |person| ApplicationRow {
            application_id: "A".into(),
            enterprise_id: "E1".into(),
            person,
            start_date: d("2020-02-10"),
            submitted: None,
        };
        // 1: employed, not registered; 2: neither; 3: registered, not employed.
        let employment: HashSet<(String, i64)> = [("E1".to_string(), 1)].into();
        let got = decide_rows(
            vec![row(1), row(2), row(3)],
            &|p| p == 3,
            &employment,
            d("2020-03-01").end_of_day(Zone::CST),
            Zone::CST,
            &|_, _| Codes::new(),
        );
        let seen: Vec<(Verdict, Verdict)> = got
            .iter()
            .map(|x| (x.decision.verdict, x.verdict_for_enterprise()))
            .collect();
        assert_eq!(
            seen,
            [
                (Verdict::NotRegistered, Verdict::NotRegistered),
                (Verdict::NotRegistered, Verdict::NotEmployee),
                (Verdict::NotEmployee, Verdict::NotEmployee),
            ]
        );
    }

    #[test]
    fn a_row_stored_twice_is_decided_once() {
        let row = |app: &str, person| ApplicationRow {
            application_id: app.into(),
            enterprise_id: "E1".into(),
            person,
            start_date: d("2020-02-10"),
            submitted: None,
        };
        let rows = vec![row("B", 1), row("A", 2), row("A", 1), row("A", 2)];
        let employment: HashSet<(String, i64)> = [("E1".to_string(), 1)].into();
        let got = decide_rows(
            rows,
            &|_| true,
            &employment,
            d("2020-03-01").end_of_day(Zone::CST),
            Zone::CST,
            &|_, _| Codes::new(),
        );
        let seen: Vec<(&str, i64, Verdict)> = got
            .iter()
            .map(|x| {
                (
                    x.row.application_id.as_str(),
                    x.row.person,
                    x.decision.verdict,
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("A", 1, Verdict::Office),
                ("A", 2, Verdict::NotEmployee),
                ("B", 1, Verdict::Office)
            ]
        );
    }

    #[test]
    fn code_day_is_the_day_before_the_start_unless_as_of_is_earlier() {
        let z = Zone::CST;
        let late = d("2020-03-01").end_of_day(z);
        assert_eq!(code_day(d("2020-02-10"), late, z), d("2020-02-09"));
        let early = d("2020-02-05").end_of_day(z);
        assert_eq!(code_day(d("2020-02-10"), early, z), d("2020-02-05"));
    }
}
