//! Retention: personal records are kept only as long as their purpose needs them. Every dated
//! kind that names a person (tickets, gate scans, checkpoint passes, check-ins, self-reports,
//! registrations, lab results) has a period; whole date partitions older than it are deleted,
//! with their sealed vault files, and what is derived from them (the trace index, saved codes)
//! is invalidated by the store in the same commit and rebuilt. The deletion is audited like any
//! access.

use std::collections::BTreeMap;

use model::{Date, Kind, Timestamp};
use privacy::Action;
use serde::Serialize;
use store::Writer;

use crate::ask::{Answer, Asking, Async, Ctx};
use crate::{Caller, Engine, EngineError};

/// How long each kind is kept, in days.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetentionPolicy {
    pub days: BTreeMap<Kind, u32>,
}

/// The kinds retention applies to: dated (partitioned) and naming a person.
pub fn personal_dated_kinds() -> Vec<Kind> {
    Kind::ALL
        .iter()
        .copied()
        .filter(|k| {
            let spec = k.spec();
            spec.partition_by.is_some() && spec.column("person_id").is_some()
        })
        .collect()
}

/// `28d`, `4w` or `28` (days).
pub fn parse_days(s: &str) -> Result<u32, EngineError> {
    let s = s.trim();
    let (n, unit) = match s.strip_suffix('d') {
        Some(n) => (n, 1),
        None => match s.strip_suffix('w') {
            Some(n) => (n, 7),
            None => (s, 1),
        },
    };
    n.parse::<u32>()
        .ok()
        .filter(|&n| n > 0 && n <= 36_500)
        .map(|n| n * unit)
        .ok_or_else(|| {
            EngineError::BadRequest(format!(
                "{s}: a period like 28d, 4w or 28 (days, at least 1)"
            ))
        })
}

impl RetentionPolicy {
    /// Every personal dated kind kept `days`, then `overrides` (`kind=28d,…`) applied.
    pub fn new(days: u32, overrides: &str) -> Result<RetentionPolicy, EngineError> {
        let kinds = personal_dated_kinds();
        let mut map: BTreeMap<Kind, u32> = kinds.iter().map(|&k| (k, days)).collect();
        for item in overrides
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let (k, d) = item.split_once('=').ok_or_else(|| {
                EngineError::BadRequest(format!("{item}: write kind=period, like lab_results=180d"))
            })?;
            let kind = Kind::parse(k.trim())
                .filter(|k| kinds.contains(k))
                .ok_or_else(|| {
                    EngineError::BadRequest(format!(
                        "{k}: not a dated kind with personal records ({})",
                        kinds
                            .iter()
                            .map(|k| k.name())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })?;
            map.insert(kind, parse_days(d)?);
        }
        Ok(RetentionPolicy { days: map })
    }
}

/// What was (or would be) deleted, per kind.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KindRemoved {
    pub kind: &'static str,
    pub days: u32,
    /// Partitions dated before this were deleted.
    pub before: String,
    pub files: u64,
    pub rows: u64,
    pub bytes: u64,
    /// Rows of the kind that stay.
    pub left: u64,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RetentionReport {
    pub as_of: String,
    pub dry_run: bool,
    pub kinds: Vec<KindRemoved>,
    pub rows: u64,
    /// Personal dated rows that stay, over all the kinds.
    pub left: u64,
}

impl RetentionReport {
    /// Whether it removes every personal dated record there is: with an `--as-of` far past
    /// the data (2020 records, "today" in 2026), a period leaves nothing.
    pub fn everything(&self) -> bool {
        self.rows > 0 && self.left == 0
    }
}

/// What `policy` removes from `manifest` as of `as_of`, per kind, without removing anything:
/// every partition dated before the kind's period ([`store::StoredFile::dated_before`], the
/// rule the writer removes by).
pub fn plan(
    manifest: &store::Manifest,
    policy: &RetentionPolicy,
    as_of: Date,
    dry_run: bool,
) -> RetentionReport {
    let kinds: Vec<KindRemoved> = policy
        .days
        .iter()
        .map(|(&kind, &days)| {
            let before = as_of.add_days(-(days as i32));
            let mut k = KindRemoved {
                kind: kind.name(),
                days,
                before: before.to_string(),
                files: 0,
                rows: 0,
                bytes: 0,
                left: 0,
            };
            for f in manifest.files(kind) {
                if f.dated_before(before) {
                    k.files += 1;
                    k.rows += f.rows;
                    k.bytes += f.bytes;
                } else {
                    k.left += f.rows;
                }
            }
            for f in manifest
                .vault_files(kind)
                .filter(|f| f.dated_before(before))
            {
                k.files += 1;
                k.bytes += f.bytes;
            }
            k
        })
        .collect();
    RetentionReport {
        as_of: as_of.to_string(),
        dry_run,
        rows: kinds.iter().map(|k| k.rows).sum(),
        left: kinds.iter().map(|k| k.left).sum(),
        kinds,
    }
}

impl Engine {
    /// Deletes the partitions past their period as of `as_of` (default today); with `dry_run`,
    /// only counts them. Refuses (409) to delete every personal dated record there is unless
    /// `allow_everything`: that is nearly always an `as_of` far past historical data.
    pub async fn apply_retention(
        &self,
        caller: &Caller,
        policy: RetentionPolicy,
        as_of: Option<Date>,
        dry_run: bool,
        allow_everything: bool,
    ) -> Result<RetentionReport, EngineError> {
        let work = Async(move |asking: Asking| async move {
            let _one_writer = asking.engine().inner.writer.lock().await;
            asking
                .blocking(move |ctx: &Ctx<'_>| {
                    retain(ctx, &policy, as_of, dry_run, allow_everything)
                })
                .await
        });
        self.ask(caller, Action::Retention, work).await
    }
}

/// Applies `policy` as of `as_of` (default today) with the single writer held.
fn retain(
    ctx: &Ctx<'_>,
    policy: &RetentionPolicy,
    as_of: Option<Date>,
    dry_run: bool,
    allow_everything: bool,
) -> Result<Answer<RetentionReport>, EngineError> {
    let as_of = as_of.unwrap_or_else(|| Timestamp::now().date(ctx.zone()));
    let mut writer = Writer::open(ctx.data, ctx.keys.key_id(), ctx.zone(), || {})
        .map_err(EngineError::internal)?;
    let report = plan(writer.manifest(), policy, as_of, dry_run);
    if dry_run {
        let rows = report.rows as i64;
        return Ok(Answer::new(report, rows));
    }
    if report.everything() && !allow_everything {
        return Err(EngineError::Conflict(format!(
            "as of {as_of} this would delete every personal record in the store ({} rows; nothing dated later is left): check the day counted back from, or allow it explicitly",
            report.rows
        )));
    }
    for k in &report.kinds {
        let kind = Kind::parse(k.kind).expect("a policy's kind");
        let before = as_of.add_days(-(k.days as i32));
        writer
            .remove_before(kind, before, false)
            .map_err(EngineError::internal)?;
    }
    drop(writer);
    if report.kinds.iter().any(|k| k.files > 0) {
        // The writer's removals invalidated and emptied what is derived from those kinds (the
        // trace index, saved codes: `store::Derived`); the index is built again at once.
        let store =
            store::Store::open(ctx.data, ctx.keys.key_id()).map_err(EngineError::internal)?;
        trace::update(&store, &|_| {})?;
        ctx.engine.refresh()?;
    }
    let rows = report.rows as i64;
    Ok(Answer::new(report, rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_and_periods() {
        assert_eq!(parse_days("28d").unwrap(), 28);
        assert_eq!(parse_days("4w").unwrap(), 28);
        assert_eq!(parse_days("14").unwrap(), 14);
        assert!(parse_days("0d").is_err() && parse_days("soon").is_err());
        let kinds: Vec<&str> = personal_dated_kinds().iter().map(|k| k.name()).collect();
        for k in [
            "travel",
            "checkins",
            "lab_results",
            "registrations",
            "self_reports",
        ] {
            assert!(kinds.contains(&k), "{k} in {kinds:?}");
        }
        assert!(!kinds.contains(&"power") && !kinds.contains(&"persons"));
        let p = RetentionPolicy::new(28, "lab_results=180d").unwrap();
        assert_eq!(p.days[&Kind::LabResults], 180);
        assert_eq!(p.days[&Kind::Travel], 28);
        assert!(RetentionPolicy::new(28, "persons=1d").is_err());
        assert!(RetentionPolicy::new(28, "travel").is_err());
    }
}
