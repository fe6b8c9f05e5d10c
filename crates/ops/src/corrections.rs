//! Corrections of health codes: filed against one rule for one person, decided once (accepted
//! with an end date, or rejected). Accepted corrections are the code overrides — one source of
//! truth, read whole by the engine. Reasons and outcomes arrive sealed (the engine seals them;
//! this crate stores bytes it cannot read) and are kept as hex.

use sqlx::Row;

use crate::{Ops, OpsError};

/// Where a correction stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CorrectionStatus {
    Open,
    Accepted,
    Rejected,
}

impl CorrectionStatus {
    pub const ALL: [CorrectionStatus; 3] = [
        CorrectionStatus::Open,
        CorrectionStatus::Accepted,
        CorrectionStatus::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CorrectionStatus::Open => "open",
            CorrectionStatus::Accepted => "accepted",
            CorrectionStatus::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<CorrectionStatus> {
        CorrectionStatus::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// A correction being filed.
#[derive(Clone, Debug)]
pub struct NewCorrection<'a> {
    /// The person's store pseudonym.
    pub person: i64,
    pub rule: &'a str,
    /// The day (YYYY-MM-DD) of the code disputed.
    pub code_day: &'a str,
    /// The reason, sealed.
    pub reason: &'a [u8],
    pub filed_by: &'a str,
    pub filed_role: &'a str,
    pub filed_at_ms: i64,
}

/// What filing did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Filed {
    /// A new correction, with its id.
    New(i64),
    /// One for the same person and rule is open already (its id); nothing was stored.
    AlreadyOpen(i64),
}

/// A decision on an open correction.
#[derive(Clone, Debug)]
pub struct Decision<'a> {
    pub id: i64,
    pub accept: bool,
    pub decided_by: &'a str,
    pub decided_role: &'a str,
    pub decided_at_ms: i64,
    /// The outcome's text, sealed.
    pub outcome: &'a [u8],
    /// The last day (YYYY-MM-DD) the rule is set aside: needed to accept.
    pub until: Option<&'a str>,
}

/// A stored correction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorrectionRecord {
    pub id: i64,
    pub person: i64,
    pub rule: String,
    /// The day (YYYY-MM-DD) of the code disputed.
    pub code_day: String,
    /// Sealed.
    pub reason: Vec<u8>,
    pub filed_by: String,
    pub filed_role: String,
    pub filed_at_ms: i64,
    pub status: CorrectionStatus,
    pub decided_by: Option<String>,
    pub decided_role: Option<String>,
    pub decided_at_ms: Option<i64>,
    /// Sealed.
    pub outcome: Option<Vec<u8>>,
    /// YYYY-MM-DD, set when accepted.
    pub until: Option<String>,
}

/// Which corrections to list.
#[derive(Clone, Debug, Default)]
pub struct CorrectionFilter {
    pub status: Option<CorrectionStatus>,
    pub person: Option<i64>,
    /// At most this many, newest first (0: no limit).
    pub limit: i64,
}

const COLUMNS: &str = "id, person, rule, code_day, reason, filed_by, filed_role, filed_at, \
                       status, decided_by, decided_role, decided_at, outcome, until_day";

/// How many times filing retries when another writer took the next id first.
const FILE_TRIES: usize = 8;

fn hex(b: &[u8]) -> String {
    crate::to_hex(b)
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return None;
    }
    let nib = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    b.chunks(2)
        .map(|p| Some(nib(p[0])? << 4 | nib(p[1])?))
        .collect()
}

impl Ops {
    fn correction_of(&self, r: &sqlx::any::AnyRow) -> Result<CorrectionRecord, OpsError> {
        let bad = || self.malformed("correction");
        let status = CorrectionStatus::parse(&r.get::<String, _>("status")).ok_or_else(bad)?;
        let reason = unhex(&r.get::<String, _>("reason")).ok_or_else(bad)?;
        let outcome = match r.get::<Option<String>, _>("outcome") {
            Some(o) => Some(unhex(&o).ok_or_else(bad)?),
            None => None,
        };
        Ok(CorrectionRecord {
            id: r.get("id"),
            person: r.get("person"),
            rule: r.get("rule"),
            code_day: r.get("code_day"),
            reason,
            filed_by: r.get("filed_by"),
            filed_role: r.get("filed_role"),
            filed_at_ms: r.get("filed_at"),
            status,
            decided_by: r.get("decided_by"),
            decided_role: r.get("decided_role"),
            decided_at_ms: r.get("decided_at"),
            outcome,
            until: r.get("until_day"),
        })
    }

    /// The open correction of `person` for `rule`, if any.
    async fn open_correction(&self, person: i64, rule: &str) -> Result<Option<i64>, OpsError> {
        let row = sqlx::query(
            "SELECT id FROM corrections WHERE person = $1 AND rule = $2 AND status = 'open'",
        )
        .bind(person)
        .bind(rule)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.db(e))?;
        Ok(row.map(|r| r.get::<i64, _>("id")))
    }

    /// Files a correction (the next id), unless one for the same person and rule is open.
    pub async fn file_correction(&self, c: &NewCorrection<'_>) -> Result<Filed, OpsError> {
        for _ in 0..FILE_TRIES {
            if let Some(id) = self.open_correction(c.person, c.rule).await? {
                return Ok(Filed::AlreadyOpen(id));
            }
            let inserted = sqlx::query(
                "INSERT INTO corrections (id, person, rule, code_day, reason, filed_by, \
                 filed_role, filed_at, status) \
                 SELECT COALESCE(MAX(id), 0) + 1, $1, $2, $3, $4, $5, $6, $7, 'open' \
                 FROM corrections RETURNING id",
            )
            .bind(c.person)
            .bind(c.rule)
            .bind(c.code_day)
            .bind(hex(c.reason))
            .bind(c.filed_by)
            .bind(c.filed_role)
            .bind(c.filed_at_ms)
            .fetch_one(&self.pool)
            .await;
            match inserted {
                Ok(r) => return Ok(Filed::New(r.get::<i64, _>("id"))),
                // Another writer took the id, or filed the same one first: look again.
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => continue,
                Err(e) => return Err(self.db(e)),
            }
        }
        Err(OpsError::Invalid(format!(
            "{}: filing a correction kept colliding with other writers",
            self.target
        )))
    }

    /// One correction by id.
    pub async fn correction(&self, id: i64) -> Result<Option<CorrectionRecord>, OpsError> {
        let sql = format!("SELECT {COLUMNS} FROM corrections WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.db(e))?;
        row.map(|r| self.correction_of(&r)).transpose()
    }

    /// Corrections by status and person, newest first.
    pub async fn corrections(
        &self,
        filter: &CorrectionFilter,
    ) -> Result<Vec<CorrectionRecord>, OpsError> {
        let mut sql = format!("SELECT {COLUMNS} FROM corrections WHERE 1 = 1");
        let mut n = 0;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        if filter.status.is_some() {
            sql.push_str(&format!(" AND status = {}", next()));
        }
        if filter.person.is_some() {
            sql.push_str(&format!(" AND person = {}", next()));
        }
        sql.push_str(" ORDER BY id DESC");
        if filter.limit > 0 {
            sql.push_str(&format!(" LIMIT {}", filter.limit));
        }
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        if let Some(s) = filter.status {
            q = q.bind(s.as_str());
        }
        if let Some(p) = filter.person {
            q = q.bind(p);
        }
        let rows = q.fetch_all(&self.pool).await.map_err(|e| self.db(e))?;
        rows.iter().map(|r| self.correction_of(r)).collect()
    }

    /// Decides an open correction; false when it is not open (decided before, or no such id).
    pub async fn decide_correction(&self, d: &Decision<'_>) -> Result<bool, OpsError> {
        if d.accept && d.until.is_none() {
            return Err(OpsError::Invalid(
                "accepting a correction needs the last day of its override".into(),
            ));
        }
        let status = if d.accept {
            CorrectionStatus::Accepted
        } else {
            CorrectionStatus::Rejected
        };
        let _turn = self.write_turn().await;
        let done = sqlx::query(
            "UPDATE corrections SET status = $1, decided_by = $2, decided_role = $3, \
             decided_at = $4, outcome = $5, until_day = $6 WHERE id = $7 AND status = 'open'",
        )
        .bind(status.as_str())
        .bind(d.decided_by)
        .bind(d.decided_role)
        .bind(d.decided_at_ms)
        .bind(hex(d.outcome))
        .bind(d.until.filter(|_| d.accept))
        .bind(d.id)
        .execute(&self.pool)
        .await
        .map_err(|e| self.db(e))?;
        Ok(done.rows_affected() == 1)
    }

    /// How many corrections are accepted, and the largest id among them: accepted ones never
    /// change again, so an equal stamp means the same overrides (a cheap check for a process
    /// that keeps them).
    pub async fn accepted_stamp(&self) -> Result<(i64, i64), OpsError> {
        let r = sqlx::query(
            "SELECT COUNT(*) AS n, COALESCE(MAX(id), 0) AS last FROM corrections \
             WHERE status = 'accepted'",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.db(e))?;
        Ok((r.get::<i64, _>("n"), r.get::<i64, _>("last")))
    }

    /// Every accepted correction: the code overrides.
    pub async fn accepted_corrections(&self) -> Result<Vec<CorrectionRecord>, OpsError> {
        self.corrections(&CorrectionFilter {
            status: Some(CorrectionStatus::Accepted),
            ..CorrectionFilter::default()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    fn new<'a>(person: i64, rule: &'a str, reason: &'a [u8]) -> NewCorrection<'a> {
        NewCorrection {
            person,
            rule,
            code_day: "2020-02-01",
            reason,
            filed_by: "cw-1",
            filed_role: "community_worker",
            filed_at_ms: 1_000,
        }
    }

    fn decision(id: i64, accept: bool, until: Option<&str>) -> Decision<'_> {
        Decision {
            id,
            accept,
            decided_by: "epi-1",
            decided_role: "epidemiologist",
            decided_at_ms: 2_000,
            outcome: &[9, 8, 7],
            until,
        }
    }

    #[tokio::test]
    async fn a_correction_is_filed_once_per_rule_and_decided_once() {
        for db in testing::all().await {
            let ops = &db.ops;
            let sealed = [0u8, 1, 0xfe, 0xff];
            assert_eq!(
                ops.file_correction(&new(42, "close_contact", &sealed))
                    .await
                    .unwrap(),
                Filed::New(1)
            );
            // The same person and rule again: the open one is named, nothing stored.
            assert_eq!(
                ops.file_correction(&new(42, "close_contact", &[1]))
                    .await
                    .unwrap(),
                Filed::AlreadyOpen(1)
            );
            assert_eq!(
                ops.file_correction(&new(42, "fever", &[2])).await.unwrap(),
                Filed::New(2)
            );
            assert_eq!(
                ops.file_correction(&new(43, "close_contact", &[3]))
                    .await
                    .unwrap(),
                Filed::New(3)
            );
            let c = ops.correction(1).await.unwrap().unwrap();
            assert_eq!(
                (c.person, c.rule.as_str(), c.reason.as_slice()),
                (42, "close_contact", &sealed[..])
            );
            assert_eq!(c.status, CorrectionStatus::Open);
            assert_eq!((c.decided_by, c.outcome, c.until), (None, None, None));
            assert!(ops.correction(99).await.unwrap().is_none());

            // Accepting needs an end date; a decision is taken once.
            assert!(
                ops.decide_correction(&decision(1, true, None))
                    .await
                    .is_err()
            );
            assert!(
                ops.decide_correction(&decision(1, true, Some("2020-02-10")))
                    .await
                    .unwrap()
            );
            assert!(
                !ops.decide_correction(&decision(1, false, None))
                    .await
                    .unwrap()
            );
            assert!(
                !ops.decide_correction(&decision(99, false, None))
                    .await
                    .unwrap()
            );
            assert!(
                ops.decide_correction(&decision(3, false, None))
                    .await
                    .unwrap()
            );
            let c = ops.correction(1).await.unwrap().unwrap();
            assert_eq!(c.status, CorrectionStatus::Accepted);
            assert_eq!(c.until.as_deref(), Some("2020-02-10"));
            assert_eq!(c.outcome.as_deref(), Some(&[9u8, 8, 7][..]));
            assert_eq!(c.decided_by.as_deref(), Some("epi-1"));
            // A decided rule may be disputed again.
            assert_eq!(
                ops.file_correction(&new(42, "close_contact", &[4]))
                    .await
                    .unwrap(),
                Filed::New(4)
            );

            let ids = |v: Vec<CorrectionRecord>| v.iter().map(|c| c.id).collect::<Vec<_>>();
            let open = CorrectionFilter {
                status: Some(CorrectionStatus::Open),
                ..CorrectionFilter::default()
            };
            assert_eq!(ids(ops.corrections(&open).await.unwrap()), [4, 2]);
            let of_42 = CorrectionFilter {
                person: Some(42),
                limit: 2,
                ..CorrectionFilter::default()
            };
            assert_eq!(ids(ops.corrections(&of_42).await.unwrap()), [4, 2]);
            assert_eq!(ids(ops.accepted_corrections().await.unwrap()), [1]);
            assert_eq!(ops.accepted_stamp().await.unwrap(), (1, 1));
            let rejected = ops.correction(3).await.unwrap().unwrap();
            assert_eq!(rejected.status, CorrectionStatus::Rejected);
            assert_eq!(rejected.until, None);
        }
    }

    #[tokio::test]
    async fn filings_at_once_get_distinct_ids_and_one_open_per_rule() {
        for db in testing::all().await {
            let ops = db.ops.clone();
            let mut tasks = Vec::new();
            for i in 0..12i64 {
                let ops = ops.clone();
                tasks.push(tokio::spawn(async move {
                    let rule = if i % 2 == 0 { "fever" } else { "case" };
                    ops.file_correction(&new(i / 4, rule, &[1])).await.unwrap()
                }));
            }
            let mut new_ids = Vec::new();
            for t in tasks {
                if let Filed::New(id) = t.await.unwrap() {
                    new_ids.push(id);
                }
            }
            new_ids.sort_unstable();
            // Persons 0, 1, 2, each with an open fever and an open case correction.
            assert_eq!(new_ids, (1..=6).collect::<Vec<_>>());
        }
    }

    #[test]
    fn hex_round_trips_and_refuses_junk() {
        assert_eq!(unhex(&hex(&[0, 255, 16])), Some(vec![0, 255, 16]));
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
    }
}
