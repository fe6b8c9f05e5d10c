//! The whitelist (contract §8.2): which enterprises resume first. A plan (TOML) names tiers in
//! order, each with a resume date and a condition on `enterprises` columns; an enterprise
//! belongs to the first tier whose condition it meets, and the list is ordered by tier, then
//! local worker share, then annual output (both descending, absent = 0), then enterprise id.
//! How many of each enterprise's employees could come to the office on its resume date is §8.1's
//! decision, taken by the caller ([`office_ready`]).
//!
//! ```toml
//! [[tier]]
//! name = "critical"
//! resume_date = "2020-02-03"
//! when = "critical = true"
//!
//! [[tier]]
//! resume_date = "2020-02-10"
//! when = "annual_output_cny >= 20000000 and employees >= 50"
//!
//! [[tier]]
//! resume_date = "2020-02-17"
//! when = "all"
//! ```
//!
//! A condition is `all`, or comparisons `column op value` joined by `and`: numbers
//! (`employees`, `local_worker_share`, `annual_output_cny`) with `=` `!=` `<` `<=` `>` `>=`;
//! `critical` with `=` `!=` and `true`/`false`; text (`enterprise_id`, `name`, `industry`) with
//! `=` `!=` and a quoted or bare word; `region` with `=` `!=` and `in` (a code that covers the
//! enterprise's region, by contract §1's rule). An absent value meets no comparison.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};

use arrow::array::Array;
use model::{Date, Kind, Region};
use serde::{Deserialize, Serialize};
use store::Store;

use crate::ResumeError;
use crate::decide::{Codes, Verdict, decide};

/// The built-in plan: contract §8.2's three tiers. The contract gives no dates; these are
/// Zhejiang's in 2020 — essential enterprises from February 3, enterprises above designated
/// size from February 10 (the first day after the extended holiday), the rest a week later.
pub const BUILT_IN: &str = r#"# The built-in whitelist plan (contract §8.2): tiers in order; an enterprise belongs to
# the first whose condition it meets.

[[tier]]
name = "critical"
resume_date = "2020-02-03"
when = "critical = true"

[[tier]]
name = "above designated size"
resume_date = "2020-02-10"
when = "annual_output_cny >= 20000000"

[[tier]]
name = "all others"
resume_date = "2020-02-17"
when = "all"
"#;

/// A checked plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// Where it came from (a file name, or "built-in plan").
    pub origin: String,
    pub tiers: Vec<Tier>,
}

/// One tier.
#[derive(Clone, Debug, PartialEq)]
pub struct Tier {
    pub name: String,
    pub resume_date: Date,
    /// The condition as written.
    pub when: String,
    condition: Vec<Comparison>,
}

#[derive(Clone, Debug, PartialEq)]
struct Comparison {
    column: Column,
    op: Op,
    value: Value,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Column {
    EnterpriseId,
    Name,
    Industry,
    Region,
    Employees,
    LocalWorkerShare,
    AnnualOutput,
    Critical,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
}

#[derive(Clone, Debug, PartialEq)]
enum Value {
    Number(f64),
    Bool(bool),
    Text(String),
    Region(Region),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanFile {
    tier: Vec<TierFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TierFile {
    name: Option<toml::Spanned<String>>,
    resume_date: toml::Spanned<String>,
    when: toml::Spanned<String>,
}

/// The line (1-based) of byte `at` in `text`.
fn line_of(text: &str, at: usize) -> usize {
    text[..at.min(text.len())].matches('\n').count() + 1
}

impl Plan {
    /// The built-in plan.
    pub fn built_in() -> Plan {
        Plan::parse("built-in plan", BUILT_IN).expect("the built-in plan reads")
    }

    /// Reads a plan from `text`; errors name `origin` and the line.
    pub fn parse(origin: &str, text: &str) -> Result<Plan, ResumeError> {
        let bad = |line: usize, what: String| ResumeError::Plan(format!("{origin}:{line}: {what}"));
        let file: PlanFile = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(1, |s| line_of(text, s.start));
            bad(line, e.message().to_string())
        })?;
        if file.tier.is_empty() {
            return Err(bad(1, "a plan needs at least one [[tier]]".into()));
        }
        let mut tiers = Vec::new();
        for (i, t) in file.tier.iter().enumerate() {
            let date_line = line_of(text, t.resume_date.span().start);
            let resume_date = Date::parse(t.resume_date.get_ref().trim().as_bytes())
                .map_err(|e| bad(date_line, format!("resume_date: {}", e.reason())))?;
            let when_line = line_of(text, t.when.span().start);
            let condition = parse_condition(t.when.get_ref())
                .map_err(|e| bad(when_line, format!("when: {e}")))?;
            let name = t.name.as_ref().map_or_else(
                || format!("tier {}", i + 1),
                |n| n.get_ref().trim().to_string(),
            );
            // Two tiers of one name could not be told apart in the answer or in --diff's
            // reasons; an unnamed tier is called `tier N`, so a name may clash with that too.
            if tiers.iter().any(|x: &Tier| x.name == name) {
                let line = t
                    .name
                    .as_ref()
                    .map_or(line_of(text, t.resume_date.span().start), |n| {
                        line_of(text, n.span().start)
                    });
                return Err(bad(line, format!("name {name:?}: another tier has it")));
            }
            tiers.push(Tier {
                name,
                resume_date,
                when: t.when.get_ref().trim().to_string(),
                condition,
            });
        }
        Ok(Plan {
            origin: origin.to_string(),
            tiers,
        })
    }

    /// The 0-based index of the first tier `e` meets, if any.
    pub fn tier_of(&self, e: &Enterprise) -> Option<usize> {
        self.tiers
            .iter()
            .position(|t| t.condition.iter().all(|c| c.holds(e)))
    }
}

fn parse_condition(text: &str) -> Result<Vec<Comparison>, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("all") || text.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for part in split_and(text) {
        out.push(parse_comparison(part.trim())?);
    }
    Ok(out)
}

/// Splits on the word `and` outside quotes.
fn split_and(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted) = (0, false);
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => quoted = !quoted,
            b' ' if !quoted && text[i..].starts_with(" and ") => {
                parts.push(&text[start..i]);
                i += 5;
                start = i;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    parts.push(&text[start..]);
    parts
}

fn parse_comparison(text: &str) -> Result<Comparison, String> {
    let ops = [
        (">=", Op::Ge),
        ("<=", Op::Le),
        ("!=", Op::Ne),
        ("=", Op::Eq),
        ("<", Op::Lt),
        (">", Op::Gt),
        (" in ", Op::In),
    ];
    let (at, len, op) = ops
        .iter()
        .filter_map(|(s, op)| text.find(s).map(|at| (at, s.len(), *op)))
        .min_by_key(|(at, len, _)| (*at, usize::MAX - len))
        .ok_or_else(|| {
            format!("{text:?} is not `column op value` (operators: = != < <= > >= in) nor `all`")
        })?;
    let name = text[..at].trim();
    let raw = text[at + len..].trim();
    let column = match name {
        "enterprise_id" => Column::EnterpriseId,
        "name" => Column::Name,
        "industry" => Column::Industry,
        "region" => Column::Region,
        "employees" => Column::Employees,
        "local_worker_share" => Column::LocalWorkerShare,
        "annual_output_cny" => Column::AnnualOutput,
        "critical" => Column::Critical,
        other => {
            return Err(format!(
                "unknown column {other:?} (enterprise_id, name, industry, region, employees, local_worker_share, annual_output_cny, critical)"
            ));
        }
    };
    let unquoted = raw
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .unwrap_or(raw);
    let value = match column {
        Column::Employees | Column::LocalWorkerShare | Column::AnnualOutput => {
            if op == Op::In {
                return Err(format!("operator in is for region, not {name}"));
            }
            Value::Number(
                raw.replace('_', "")
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| format!("{name} compares with a number, not {raw:?}"))?,
            )
        }
        Column::Critical => {
            if !matches!(op, Op::Eq | Op::Ne) {
                return Err("critical takes = or != only".into());
            }
            Value::Bool(match raw {
                "true" => true,
                "false" => false,
                _ => return Err(format!("critical compares with true or false, not {raw:?}")),
            })
        }
        Column::Region => {
            if !matches!(op, Op::Eq | Op::Ne | Op::In) {
                return Err("region takes =, != or in".into());
            }
            Value::Region(
                Region::parse(unquoted.as_bytes())
                    .map_err(|e| format!("region {unquoted:?}: {}", e.reason()))?,
            )
        }
        Column::EnterpriseId | Column::Name | Column::Industry => {
            if !matches!(op, Op::Eq | Op::Ne) {
                return Err(format!("{name} takes = or != only"));
            }
            Value::Text(unquoted.to_string())
        }
    };
    Ok(Comparison { column, op, value })
}

impl Comparison {
    fn holds(&self, e: &Enterprise) -> bool {
        let num = |x: Option<f64>, v: f64| {
            x.is_some_and(|x| match self.op {
                Op::Eq => x == v,
                Op::Ne => x != v,
                Op::Lt => x < v,
                Op::Le => x <= v,
                Op::Gt => x > v,
                Op::Ge => x >= v,
                Op::In => false,
            })
        };
        let eq = |same: Option<bool>| match (self.op, same) {
            (Op::Eq, Some(s)) => s,
            (Op::Ne, Some(s)) => !s,
            _ => false,
        };
        match (&self.column, &self.value) {
            (Column::Employees, Value::Number(v)) => num(e.employees.map(|x| x as f64), *v),
            (Column::LocalWorkerShare, Value::Number(v)) => num(e.local_worker_share, *v),
            (Column::AnnualOutput, Value::Number(v)) => num(e.annual_output_cny, *v),
            (Column::Critical, Value::Bool(v)) => eq(e.critical.map(|c| c == *v)),
            (Column::Region, Value::Region(r)) => match self.op {
                Op::In => r.covers(e.region),
                _ => eq(Some(*r == e.region)),
            },
            (Column::EnterpriseId, Value::Text(t)) => eq(Some(e.enterprise_id == *t)),
            (Column::Name, Value::Text(t)) => eq(Some(e.name == *t)),
            (Column::Industry, Value::Text(t)) => eq(Some(e.industry == *t)),
            _ => false,
        }
    }
}

/// One enterprise as the plan reads it.
#[derive(Clone, Debug, PartialEq)]
pub struct Enterprise {
    pub enterprise_id: String,
    pub name: String,
    pub industry: String,
    pub region: Region,
    pub employees: Option<i64>,
    pub local_worker_share: Option<f64>,
    pub annual_output_cny: Option<f64>,
    pub critical: Option<bool>,
}

/// Every enterprise in the store, once (the row read last wins), by id.
pub fn enterprises(store: &Store) -> Result<Vec<Enterprise>, ResumeError> {
    let mut by: BTreeMap<String, Enterprise> = BTreeMap::new();
    let cols = [
        "enterprise_id",
        "name",
        "industry",
        "region",
        "employees",
        "local_worker_share",
        "annual_output_cny",
        "critical",
    ];
    for file in store.tables(Kind::Enterprises) {
        for batch in file.scan(&cols)? {
            let b = batch?;
            let rb = b.record_batch();
            let id = b.texts("enterprise_id")?;
            let region = b.texts("region")?;
            let industry = b.texts("industry")?;
            let name = rb
                .column_by_name("name")
                .and_then(|c| c.as_any().downcast_ref::<arrow::array::StringArray>());
            let employees = b.ints("employees")?;
            let share = b.floats("local_worker_share")?;
            let output = b.floats("annual_output_cny")?;
            let critical = rb
                .column_by_name("critical")
                .and_then(|c| c.as_any().downcast_ref::<arrow::array::BooleanArray>());
            for i in 0..b.rows() {
                let Ok(r) = Region::parse(region.value(i).as_bytes()) else {
                    continue;
                };
                let opt_f = |a: &arrow::array::Float64Array| (!a.is_null(i)).then(|| a.value(i));
                by.insert(
                    id.value(i).to_string(),
                    Enterprise {
                        enterprise_id: id.value(i).to_string(),
                        name: name
                            .filter(|n| !n.is_null(i))
                            .map(|n| n.value(i).to_string())
                            .unwrap_or_default(),
                        industry: industry.value(i).to_string(),
                        region: r,
                        employees: (!employees.is_null(i)).then(|| employees.value(i)),
                        local_worker_share: opt_f(share),
                        annual_output_cny: opt_f(output),
                        critical: critical.filter(|c| !c.is_null(i)).map(|c| c.value(i)),
                    },
                );
            }
        }
    }
    Ok(by.into_values().collect())
}

/// An enterprise's place in a plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Placed {
    pub enterprise: Enterprise,
    /// 1-based tier.
    pub tier: usize,
    /// 1-based over the whole list.
    pub rank: usize,
    pub resume_date: Date,
}

/// Contract §8.2's order: tier, then `local_worker_share` descending, then `annual_output_cny`
/// descending (absent = 0), then `enterprise_id`. An enterprise meeting no tier's condition
/// (a plan without a catch-all last tier) is left out of the list.
pub fn order(plan: &Plan, enterprises: &[Enterprise]) -> Vec<Placed> {
    let mut placed: Vec<(usize, &Enterprise)> = enterprises
        .iter()
        .filter_map(|e| plan.tier_of(e).map(|t| (t, e)))
        .collect();
    let desc = |a: Option<f64>, b: Option<f64>| {
        b.unwrap_or(0.0)
            .partial_cmp(&a.unwrap_or(0.0))
            .unwrap_or(Ordering::Equal)
    };
    placed.sort_by(|(ta, a), (tb, b)| {
        ta.cmp(tb)
            .then_with(|| desc(a.local_worker_share, b.local_worker_share))
            .then_with(|| desc(a.annual_output_cny, b.annual_output_cny))
            .then_with(|| a.enterprise_id.cmp(&b.enterprise_id))
    });
    placed
        .into_iter()
        .enumerate()
        .map(|(i, (t, e))| Placed {
            enterprise: e.clone(),
            tier: t + 1,
            rank: i + 1,
            resume_date: plan.tiers[t].resume_date,
        })
        .collect()
}

/// Per enterprise of `placed`: how many of the persons `employment` links to it would get
/// verdict `office` for start date = its resume date. `registered` says who is in `persons`;
/// `code_of` gives the rules applying to persons (sorted) as of the end of a day — one call per
/// distinct day.
pub fn office_ready(
    placed: &[Placed],
    employment: &[(String, i64)],
    registered: &dyn Fn(i64) -> bool,
    code_day: &dyn Fn(Date) -> Date,
    code_of: &dyn Fn(&[i64], Date) -> Codes,
) -> HashMap<String, u64> {
    let start_of: HashMap<&str, Date> = placed
        .iter()
        .map(|p| (p.enterprise.enterprise_id.as_str(), p.resume_date))
        .collect();
    let mut by_day: BTreeMap<Date, Vec<i64>> = BTreeMap::new();
    let mut seen: HashSet<(&str, i64)> = HashSet::new();
    let mut links: Vec<(&str, i64, Date)> = Vec::new();
    for (e, p) in employment {
        if let Some(&start) = start_of.get(e.as_str())
            && seen.insert((e.as_str(), *p))
        {
            links.push((e.as_str(), *p, start));
            if registered(*p) {
                by_day.entry(code_day(start)).or_default().push(*p);
            }
        }
    }
    let mut codes: HashMap<Date, Codes> = HashMap::new();
    for (day, mut persons) in by_day {
        persons.sort_unstable();
        persons.dedup();
        codes.insert(day, code_of(&persons, day));
    }
    let mut out: HashMap<String, u64> = placed
        .iter()
        .map(|p| (p.enterprise.enterprise_id.clone(), 0))
        .collect();
    for (e, p, start) in links {
        let code = codes
            .get(&code_day(start))
            .and_then(|c| c.get(&p))
            .map_or(&[][..], Vec::as_slice);
        if decide(start, registered(p), true, code).verdict == Verdict::Office {
            *out.get_mut(e).expect("placed") += 1;
        }
    }
    out
}

/// One enterprise that a second plan puts elsewhere.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Move {
    pub enterprise_id: String,
    pub from: Option<Position>,
    pub to: Option<Position>,
    /// Why: the condition of the tier it now meets (or met and no longer does); when only
    /// the rank changed, that enterprises ahead of it moved.
    pub because: String,
}

/// A place in a plan.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Position {
    pub tier: usize,
    pub tier_name: String,
    pub rank: usize,
    pub resume_date: String,
}

/// Which enterprises `other` places differently from `plan`, by their rank under `other`
/// (those it leaves out last, by id).
pub fn diff(plan: &Plan, other: &Plan, enterprises: &[Enterprise]) -> Vec<Move> {
    let a = order(plan, enterprises);
    let b = order(other, enterprises);
    let pos = |p: &Plan, x: &Placed| Position {
        tier: x.tier,
        tier_name: p.tiers[x.tier - 1].name.clone(),
        rank: x.rank,
        resume_date: x.resume_date.to_string(),
    };
    let before: HashMap<&str, &Placed> = a
        .iter()
        .map(|x| (x.enterprise.enterprise_id.as_str(), x))
        .collect();
    let after: HashMap<&str, &Placed> = b
        .iter()
        .map(|x| (x.enterprise.enterprise_id.as_str(), x))
        .collect();
    let mut moves = Vec::new();
    let mut ids: Vec<&str> = b
        .iter()
        .map(|x| x.enterprise.enterprise_id.as_str())
        .collect();
    let mut gone: Vec<&str> = a
        .iter()
        .map(|x| x.enterprise.enterprise_id.as_str())
        .filter(|id| !after.contains_key(id))
        .collect();
    gone.sort_unstable();
    ids.extend(gone);
    for id in ids {
        let (x, y) = (before.get(id), after.get(id));
        let same = match (x, y) {
            (Some(x), Some(y)) => {
                x.tier == y.tier && x.rank == y.rank && x.resume_date == y.resume_date
            }
            _ => false,
        };
        if same {
            continue;
        }
        let because = match (x, y) {
            (_, Some(y))
                if x.is_none_or(|x| x.tier != y.tier || x.resume_date != y.resume_date) =>
            {
                let t = &other.tiers[y.tier - 1];
                format!("meets {} first: {}", t.name, t.when)
            }
            (Some(x), None) => {
                let t = &plan.tiers[x.tier - 1];
                format!(
                    "meets no tier of the other plan (was {}: {})",
                    t.name, t.when
                )
            }
            _ => "same tier; enterprises ahead of it moved".to_string(),
        };
        moves.push(Move {
            enterprise_id: id.to_string(),
            from: x.map(|x| pos(plan, x)),
            to: y.map(|y| pos(other, y)),
            because,
        });
    }
    moves
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::Applying;

    fn ent(id: &str, critical: bool, output: Option<f64>, share: Option<f64>) -> Enterprise {
        Enterprise {
            enterprise_id: id.into(),
            name: format!("{id} Ltd"),
            industry: "manufacturing".into(),
            region: Region::parse(b"330106").unwrap(),
            employees: Some(100),
            local_worker_share: share,
            annual_output_cny: output,
            critical: Some(critical),
        }
    }

    #[test]
    fn the_built_in_plan_orders_by_tier_share_output_and_id() {
        let plan = Plan::built_in();
        assert_eq!(plan.tiers.len(), 3);
        let es = [
            ent("E5", false, Some(1e6), Some(0.9)),
            ent("E4", false, Some(3e7), None),
            ent("E3", false, Some(3e7), Some(0.5)),
            ent("E2", true, None, Some(0.2)),
            ent("E1", true, None, Some(0.2)),
            ent("E6", false, None, Some(0.9)),
        ];
        let got: Vec<(String, usize, usize)> = order(&plan, &es)
            .into_iter()
            .map(|p| (p.enterprise.enterprise_id, p.tier, p.rank))
            .collect();
        let want = [
            ("E1", 1, 1),
            ("E2", 1, 2),
            ("E3", 2, 3),
            ("E4", 2, 4),
            // Same share: the larger output first; absent output is 0.
            ("E5", 3, 5),
            ("E6", 3, 6),
        ];
        let want: Vec<_> = want
            .iter()
            .map(|(a, b, c)| (a.to_string(), *b, *c))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn bad_plans_name_the_file_and_line() {
        let text = "[[tier]]\nresume_date = \"2020-02-03\"\nwhen = \"headcount >= 5\"\n";
        let e = Plan::parse("mine.toml", text).unwrap_err().to_string();
        assert!(
            e.starts_with("mine.toml:3: when: unknown column \"headcount\""),
            "{e}"
        );
        let text = "[[tier]]\nresume_date = \"2020-02-03\"\nwhen = \"employees ~ 5\"\n";
        let e = Plan::parse("mine.toml", text).unwrap_err().to_string();
        assert!(e.starts_with("mine.toml:3: when:"), "{e}");
        assert!(e.contains("operators"), "{e}");
        let text = "[[tier]]\nresume_date = \"2020-02-30\"\nwhen = \"all\"\n";
        let e = Plan::parse("mine.toml", text).unwrap_err().to_string();
        assert!(e.starts_with("mine.toml:2: resume_date"), "{e}");
        let text = "[[tier]]\nresume_date = \"2020-02-03\"\nwhen = \"all\"\ncolour = 1\n";
        let e = Plan::parse("mine.toml", text).unwrap_err().to_string();
        assert!(e.starts_with("mine.toml:"), "{e}");
        assert!(e.contains("colour"), "{e}");
        let e = Plan::parse(
            "mine.toml",
            "[[tier]]\nresume_date = \"2020-02-03\"\nwhen = \"critical >= true\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("critical takes = or != only"), "{e}");
    }

    #[test]
    fn hostile_plans_are_refused_not_crashed_on() {
        let tier = "[[tier]]\nresume_date = \"2020-02-03\"\n";
        // Deep nesting, at a known key and an unknown one.
        for deep in [
            format!(
                "{tier}when = {}1{}\n",
                "[".repeat(100_000),
                "]".repeat(100_000)
            ),
            format!(
                "{tier}when = \"all\"\nx = {}1{}\n",
                "{a=".repeat(100_000),
                "}".repeat(100_000)
            ),
        ] {
            assert!(Plan::parse("deep.toml", &deep).is_err());
        }
        // Wrong types: a TOML date, a number, an array for the condition.
        for bad in [
            "[[tier]]\nresume_date = 2020-02-03\nwhen = \"all\"\n",
            "[[tier]]\nresume_date = \"2020-02-03\"\nwhen = 5\n",
            "[[tier]]\nresume_date = \"2020-02-03\"\nwhen = [\"all\"]\n",
            "tier = 1\n",
        ] {
            let e = Plan::parse("mine.toml", bad).unwrap_err().to_string();
            assert!(e.starts_with("mine.toml:"), "{e}");
        }
        // Two tiers of one name, given or by default.
        let e = Plan::parse(
            "mine.toml",
            &format!("{tier}name = \"a\"\nwhen = \"all\"\n{tier}name = \"a\"\nwhen = \"all\"\n"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("mine.toml:7: name \"a\": another tier has it"),
            "{e}"
        );
        let e = Plan::parse(
            "mine.toml",
            &format!("{tier}when = \"all\"\n{tier}name = \"tier 1\"\nwhen = \"all\"\n"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("another tier has it"), "{e}");
        // Numbers that are not numbers.
        for x in ["nan", "NaN", "inf", "-inf", "1e999"] {
            let text = format!("{tier}when = \"employees >= {x}\"\n");
            let e = Plan::parse("mine.toml", &text).unwrap_err().to_string();
            assert!(e.contains("compares with a number"), "{x}: {e}");
        }
        // Dates outside the calendar the store keeps.
        for d in ["99999-01-01", "2020-13-01", "-2020-01-01"] {
            let text = format!("[[tier]]\nresume_date = \"{d}\"\nwhen = \"all\"\n");
            assert!(Plan::parse("mine.toml", &text).is_err(), "{d}");
        }
    }

    #[test]
    fn conditions_combine_with_and_and_regions_cover() {
        let text = "[[tier]]\nresume_date = \"2020-02-03\"\nwhen = \"region in 330100 and employees >= 100 and industry = \\\"manufacturing\\\"\"\n[[tier]]\nresume_date = \"2020-02-10\"\nwhen = \"all\"\n";
        let plan = Plan::parse("p.toml", text).unwrap();
        let e = ent("E1", false, None, None);
        assert_eq!(plan.tier_of(&e), Some(0));
        let far = Enterprise {
            region: Region::parse(b"330302").unwrap(),
            ..e.clone()
        };
        assert_eq!(plan.tier_of(&far), Some(1));
        let small = Enterprise {
            employees: None,
            ..e
        };
        assert_eq!(
            plan.tier_of(&small),
            Some(1),
            "an absent value meets no comparison"
        );
    }

    #[test]
    fn a_diff_names_who_moves_and_the_condition() {
        let plan = Plan::built_in();
        let other = Plan::parse(
            "other.toml",
            "[[tier]]\nname = \"big\"\nresume_date = \"2020-02-03\"\nwhen = \"annual_output_cny >= 20000000\"\n[[tier]]\nresume_date = \"2020-02-17\"\nwhen = \"all\"\n",
        )
        .unwrap();
        let es = [
            ent("E1", true, None, Some(0.5)),
            ent("E2", false, Some(3e7), Some(0.5)),
        ];
        let moves = diff(&plan, &other, &es);
        assert_eq!(moves.len(), 2);
        assert_eq!(moves[0].enterprise_id, "E2");
        assert_eq!(moves[0].to.as_ref().unwrap().rank, 1);
        assert_eq!(moves[0].from.as_ref().unwrap().tier, 2);
        assert_eq!(
            moves[0].because,
            "meets big first: annual_output_cny >= 20000000"
        );
        assert_eq!(moves[1].enterprise_id, "E1");
        assert_eq!(moves[1].to.as_ref().unwrap().tier, 2);
    }

    #[test]
    fn office_ready_counts_office_verdicts_on_each_resume_date() {
        let plan = Plan::built_in();
        let es = [ent("E1", true, None, None), ent("E2", false, None, None)];
        let placed = order(&plan, &es);
        let employment = vec![
            ("E1".to_string(), 1),
            ("E1".to_string(), 2),
            ("E1".to_string(), 3),
            ("E2".to_string(), 2),
        ];
        // Person 2 quarantines until 2020-02-12: not ready on E1's 02-03, ready on E2's 02-17.
        // Person 3 is not registered.
        let until = Date::parse(b"2020-02-12").unwrap();
        let ready = office_ready(
            &placed,
            &employment,
            &|p| p != 3,
            &|d| d.add_days(-1),
            &|persons, _| {
                persons
                    .iter()
                    .filter(|&&p| p == 2)
                    .map(|&p| {
                        (
                            p,
                            vec![Applying {
                                rule: "fever".into(),
                                color: model::Color::Yellow,
                                case: false,
                                valid_until: Some(until),
                            }],
                        )
                    })
                    .collect()
            },
        );
        assert_eq!(ready["E1"], 1);
        assert_eq!(ready["E2"], 1);
    }
}
