//! Computing the alerts of a day from the store, its trace index and the rules.

use std::collections::{BTreeMap, HashMap, HashSet};

use inflow::{InflowLevel, InflowQuery, OriginRisk, Period, RiskOf, Stay, daily_inflow};
use model::{ArrivalKind, Date, Region, Timestamp, Zone};
use query::Query;
use trace::{Index, Tracer, Via};

use crate::alert::alert_id;
use crate::trail::public_trail;
use crate::{Alert, AlertError, AlertRule, AlertRules, Task};

/// Where the alerts are computed from.
pub struct Sources<'a> {
    /// Pseudonymised tables.
    pub query: &'a Query,
    pub index: &'a Index,
    pub zone: Zone,
    pub risk: RiskOf<'a>,
}

/// Every alert of the day `as_of` (its end, in the deployment zone: records after it are not
/// seen), sorted by severity, then region, community, rule and id.
pub async fn compute(
    src: &Sources<'_>,
    rules: &AlertRules,
    as_of: Date,
) -> Result<Vec<Alert>, AlertError> {
    let mut out = Vec::new();
    if rules.high_risk_arrivals.enabled || rules.arrival_jump.enabled {
        inflow_alerts(src, rules, as_of, &mut out).await?;
    }
    let cases = if rules.case_trail.enabled {
        recent_cases(src, rules, as_of)
    } else {
        Vec::new()
    };
    let overdue = if rules.unregistered_returnee.enabled {
        overdue_returnees(src, rules, as_of)
    } else {
        Vec::new()
    };
    // Where the persons both rules name stay, in one read of the stay tables.
    let persons: HashSet<i64> = cases
        .iter()
        .map(|(p, _)| *p)
        .chain(overdue.iter().map(|a| a.person))
        .collect();
    let stays = inflow::stays(src.query, &persons).await?;
    case_trail_alerts(src, rules, &cases, &stays, &mut out).await?;
    returnee_alerts(rules, src.zone, overdue, &stays, &mut out);
    out.sort_by(|a, b| {
        (
            a.severity,
            a.region,
            a.community.is_none(),
            &a.community,
            a.rule,
            &a.id,
        )
            .cmp(&(
                b.severity,
                b.region,
                b.community.is_none(),
                &b.community,
                b.rule,
                &b.id,
            ))
    });
    Ok(out)
}

fn key(
    rule: AlertRule,
    date: Date,
    region: Region,
    community: Option<&str>,
    subject: &str,
) -> String {
    alert_id(&format!(
        "{}|{date}|{region}|{}|{subject}",
        rule.as_str(),
        community.unwrap_or("")
    ))
}

fn plural(n: u32, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// High-risk arrivals and jumps over the baseline, from community-level inflow.
async fn inflow_alerts(
    src: &Sources<'_>,
    rules: &AlertRules,
    day: Date,
    out: &mut Vec<Alert>,
) -> Result<(), AlertError> {
    let baseline = rules.arrival_jump.baseline_days;
    let period = Period::new(day.add_days(-(baseline as i32)), day)?;
    let rows = daily_inflow(
        src.query,
        src.zone,
        src.risk,
        InflowQuery {
            level: InflowLevel::Community,
            period,
            top: 3,
        },
    )
    .await?;
    // (region, community) → arrivals on the earlier days, and today's row.
    type Place<'r> = (u64, Option<&'r inflow::InflowRow>);
    let mut places: BTreeMap<(Region, Option<String>), Place<'_>> = BTreeMap::new();
    for r in &rows {
        let e = places
            .entry((r.region, r.community.clone()))
            .or_insert((0, None));
        if r.date == day {
            e.1 = Some(r);
        } else {
            e.0 += u64::from(r.arrivals);
        }
    }
    for ((region, community), (before, today)) in places {
        let Some(today) = today else { continue };
        let c = community.as_deref();
        let hr = &rules.high_risk_arrivals;
        if hr.enabled && today.from_high_risk >= hr.min_persons {
            let n = today.from_high_risk;
            let origins: Vec<String> = today
                .top_origins
                .iter()
                .map(|o| {
                    o.region
                        .place_name()
                        .map_or_else(|| o.region.to_string(), str::to_string)
                })
                .collect();
            out.push(Alert {
                id: key(AlertRule::HighRiskArrivals, day, region, c, ""),
                rule: AlertRule::HighRiskArrivals,
                severity: hr.severity,
                date: day,
                region,
                community: community.clone(),
                detail: format!(
                    "{} from high-risk areas on {day}, of {} in all (top origins: {})",
                    plural(n, "person arrived", "persons arrived"),
                    plural(today.arrivals, "arrival", "arrivals"),
                    origins.join(", ")
                ),
                task: Task::Visit,
                // The counts come from inflow; who they are is the watch list's to say (everyone
                // counted here is on it, as arrived on this day, for roles that may see them).
                task_detail: format!(
                    "Visit the {} from high-risk areas on {day}, named on the watch list of {} (arrived {day}): register them and start 14 days of home health monitoring.",
                    plural(n, "person who arrived", "persons who arrived"),
                    c.map_or_else(
                        || format!("{region}, staying in no known community"),
                        |c| format!("community {c}")
                    )
                ),
                count: n,
                persons: Vec::new(),
                venue: None,
                travel: None,
            });
        }
        let j = &rules.arrival_jump;
        let average = before as f64 / f64::from(baseline);
        if j.enabled
            && today.arrivals >= j.min_arrivals
            && f64::from(today.arrivals) > j.factor * average
        {
            out.push(Alert {
                id: key(AlertRule::ArrivalJump, day, region, c, ""),
                rule: AlertRule::ArrivalJump,
                severity: j.severity,
                date: day,
                region,
                community: community.clone(),
                detail: format!(
                    "{} on {day}, over {} times the average of the {baseline} days before ({average:.1} a day)",
                    plural(today.arrivals, "arrival", "arrivals"),
                    j.factor
                ),
                task: Task::Register,
                task_detail: "Staff the entrances and register today's arrivals; report the origins to the county.".into(),
                count: today.arrivals,
                persons: Vec::new(),
                venue: None,
                travel: None,
            });
        }
    }
    Ok(())
}

/// The cases reported in the last `days` days (by the end of `day`).
fn recent_cases(src: &Sources<'_>, rules: &AlertRules, day: Date) -> Vec<(i64, trace::CaseInfo)> {
    let zone = src.zone;
    let end = day.end_of_day(zone).millis();
    let first = day.add_days(1 - rules.case_trail.days as i32);
    Tracer::new(src.index, zone)
        .cases(end)
        .into_iter()
        .filter(|(_, c)| Timestamp(c.report_time).date(zone) >= first)
        .collect()
}

/// Venues and homes on the trails of `recent` cases.
async fn case_trail_alerts(
    src: &Sources<'_>,
    rules: &AlertRules,
    recent: &[(i64, trace::CaseInfo)],
    stays: &HashMap<i64, Stay>,
    out: &mut Vec<Alert>,
) -> Result<(), AlertError> {
    let zone = src.zone;
    if recent.is_empty() {
        return Ok(());
    }
    let trails: Vec<_> = recent
        .iter()
        .map(|(p, info)| public_trail(src.index, *p, info, zone))
        .collect();
    let venue_ids: HashSet<String> = trails
        .iter()
        .flatten()
        .filter(|s| s.via == Via::Venue)
        .map(|s| s.place.clone())
        .collect();
    let venues = inflow::venues(src.query, &venue_ids).await?;
    let severity = rules.case_trail.severity;
    for ((case, info), trail) in recent.iter().zip(&trails) {
        let reported = Timestamp(info.report_time).date(zone);
        let subject = case.to_string();
        // One alert per venue and case, naming the visits' times.
        let mut visits: BTreeMap<&str, Vec<(Timestamp, Timestamp)>> = BTreeMap::new();
        for s in trail.iter().filter(|s| s.via == Via::Venue) {
            visits.entry(&s.place).or_default().push((s.start, s.end));
        }
        for (venue_id, times) in visits {
            let Some(v) = venues.get(venue_id) else {
                continue;
            };
            let when: Vec<String> = times
                .iter()
                .map(|(a, b)| {
                    let (a, b) = (a.to_rfc3339(zone), b.to_rfc3339(zone));
                    format!("{} {}–{}", &a[..10], &a[11..16], &b[11..16])
                })
                .collect();
            let name = v.name.clone().unwrap_or_else(|| venue_id.to_string());
            out.push(Alert {
                id: key(
                    AlertRule::CaseTrail,
                    reported,
                    v.region,
                    v.community.as_deref(),
                    &format!("{subject}|venue|{venue_id}"),
                ),
                rule: AlertRule::CaseTrail,
                severity,
                date: reported,
                region: v.region,
                community: v.community.clone(),
                detail: format!(
                    "A case reported on {reported} visited {name} ({venue_id}): {}",
                    when.join(", ")
                ),
                task: Task::Disinfect,
                task_detail: format!(
                    "Disinfect {name}; post the notice asking visitors at those times to report and watch their health."
                ),
                count: 1,
                persons: Vec::new(),
                venue: Some(venue_id.to_string()),
                travel: None,
            });
        }
        if let Some(Stay {
            region: Some(region),
            community,
            ..
        }) = stays.get(case)
        {
            out.push(Alert {
                id: key(
                    AlertRule::CaseTrail,
                    reported,
                    *region,
                    community.as_deref(),
                    &format!("{subject}|home"),
                ),
                rule: AlertRule::CaseTrail,
                severity,
                date: reported,
                region: *region,
                community: community.clone(),
                detail: format!("A case reported on {reported} stays in this community"),
                task: Task::HomeQuarantineCheck,
                task_detail: "Check that the household keeps its home quarantine; disinfect the home's building and shared areas.".into(),
                count: 1,
                persons: Vec::new(),
                venue: None,
                travel: None,
            });
        }
    }
    Ok(())
}

/// Each person's earliest arrival from a high-risk area by ticket or checkpoint within the
/// look-back, past its deadline by the end of `day`, with no registration in time.
fn overdue_returnees(src: &Sources<'_>, rules: &AlertRules, day: Date) -> Vec<trace::Arrival> {
    let rule = &rules.unregistered_returnee;
    let zone = src.zone;
    let as_of = day.end_of_day(zone).millis();
    let grace = i64::from(rule.hours) * 3_600_000;
    let first = day.add_days(-(rule.lookback_days as i32));
    // The earliest high-risk arrival by ticket or checkpoint per person, past its deadline.
    let mut earliest: HashMap<i64, trace::Arrival> = HashMap::new();
    src.index.arrivals_between(first, day, &mut |a| {
        let by_ride_or_road =
            !matches!(a.kind, ArrivalKind::Registration | ArrivalKind::SelfReport);
        if !by_ride_or_road || a.time + grace > as_of {
            return;
        }
        let Some(origin) = Region::new(a.origin) else {
            return;
        };
        if (src.risk)(origin, a.date) != OriginRisk::High {
            return;
        }
        let e = earliest.entry(a.person).or_insert(a);
        if (a.time, a.origin) < (e.time, e.origin) {
            *e = a;
        }
    });
    earliest
        .into_values()
        .filter(|a| {
            let deadline = Timestamp(a.time + grace).date(zone);
            !src.index.arrivals_of(a.person).iter().any(|r| {
                r.kind == ArrivalKind::Registration
                    && r.time <= as_of
                    && a.date <= r.date
                    && r.date <= deadline
            })
        })
        .collect()
}

/// An alert for each overdue returnee whose stay is known.
fn returnee_alerts(
    rules: &AlertRules,
    zone: Zone,
    overdue: Vec<trace::Arrival>,
    stays: &HashMap<i64, Stay>,
    out: &mut Vec<Alert>,
) {
    let rule = &rules.unregistered_returnee;
    let grace = i64::from(rule.hours) * 3_600_000;
    for a in overdue {
        let Some(Stay {
            region: Some(region),
            community,
            ..
        }) = stays.get(&a.person)
        else {
            // Staying nowhere the records say: the county cannot be told; the inflow alerts
            // count such arrivals where they landed.
            continue;
        };
        let deadline = Timestamp(a.time + grace).date(zone);
        let origin = Region::new(a.origin).map_or_else(
            || a.origin.to_string(),
            |o| match o.place_name() {
                Some(n) => format!("{o} {n}"),
                None => o.to_string(),
            },
        );
        out.push(Alert {
            id: key(
                AlertRule::UnregisteredReturnee,
                a.date,
                *region,
                community.as_deref(),
                &a.person.to_string(),
            ),
            rule: AlertRule::UnregisteredReturnee,
            severity: rule.severity,
            date: deadline,
            region: *region,
            community: community.clone(),
            detail: format!(
                "Arrived from high-risk {origin} on {}; no returnee registration within {} h",
                a.date, rule.hours
            ),
            task: Task::Register,
            task_detail:
                "Visit and register the returnee; start 14 days of home health monitoring.".into(),
            count: 1,
            persons: vec![a.person],
            venue: None,
            travel: Some(a.kind.as_str()),
        });
    }
}
