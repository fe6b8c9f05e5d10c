//! Health attestations between deployments (issue 19 item 1), as the operational database
//! keeps them: at the arrival province what home provinces attested (one row per person and
//! province, replaced by each newer answer) and which did not answer; at the home province the
//! request ids accepted (a replay is refused) and when, per region (the rate limit).

use sqlx::Row;

use crate::{Ops, OpsError};

/// One person's attestation as received from a home province.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredAttestation {
    /// The store pseudonym (here).
    pub person: i64,
    pub province: String,
    pub color: String,
    pub groups: Vec<String>,
    /// `YYYY-MM-DD`, inclusive.
    pub until: String,
    pub received_at_ms: i64,
    pub request_id: String,
}

/// A home province that did not answer for a person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredUnavailable {
    pub person: i64,
    pub province: String,
    /// `YYYY-MM-DD`: the day of the last failed attempt.
    pub on: String,
    /// Failed attempts in a row.
    pub failures: i64,
    pub failed_at_ms: i64,
    pub error: String,
}

/// What recording a request id found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerRequestSeen {
    /// New; `recent` requests of that region (this one included) in the window asked.
    New { recent: i64 },
    /// Seen before: a replay.
    Replay,
}

/// Rows written per statement batch inside one transaction.
const CHUNK: usize = 500;

impl Ops {
    /// Records attestations received (replacing each person's earlier one from the same
    /// province) and clears their "unavailable" marks, in one transaction. `cleared` are the
    /// persons the province answered for without a code (not known there): their marks go too,
    /// and any earlier attestation of theirs from it.
    pub async fn record_attestations(
        &self,
        received: &[StoredAttestation],
        province: &str,
        cleared: &[i64],
    ) -> Result<(), OpsError> {
        let (_turn, mut tx) = self.begin_write().await?;
        for a in received {
            sqlx::query(
                "INSERT INTO peer_attestations (person, province, color, groups, until_day, \
                 received_at, request_id) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (person, province) DO UPDATE SET color = excluded.color, \
                 groups = excluded.groups, until_day = excluded.until_day, \
                 received_at = excluded.received_at, request_id = excluded.request_id",
            )
            .bind(a.person)
            .bind(&a.province)
            .bind(&a.color)
            .bind(a.groups.join(","))
            .bind(&a.until)
            .bind(a.received_at_ms)
            .bind(&a.request_id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.db(e))?;
        }
        let answered = received
            .iter()
            .map(|a| a.person)
            .chain(cleared.iter().copied());
        let answered: Vec<i64> = answered.collect();
        for chunk in answered.chunks(CHUNK) {
            let list = placeholders(2, chunk.len());
            let sql =
                format!("DELETE FROM peer_unavailable WHERE province = $1 AND person IN ({list})");
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(province);
            for p in chunk {
                q = q.bind(*p);
            }
            q.execute(&mut *tx).await.map_err(|e| self.db(e))?;
        }
        for chunk in cleared.chunks(CHUNK) {
            let list = placeholders(2, chunk.len());
            let sql =
                format!("DELETE FROM peer_attestations WHERE province = $1 AND person IN ({list})");
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(province);
            for p in chunk {
                q = q.bind(*p);
            }
            q.execute(&mut *tx).await.map_err(|e| self.db(e))?;
        }
        tx.commit().await.map_err(|e| self.db(e))
    }

    /// Marks `persons` as not answered for by `province` on day `on` (one more failure each).
    pub async fn record_unavailable(
        &self,
        persons: &[i64],
        province: &str,
        on: &str,
        at_ms: i64,
        error: &str,
    ) -> Result<(), OpsError> {
        let error: String = error.chars().take(300).collect();
        let (_turn, mut tx) = self.begin_write().await?;
        for p in persons {
            sqlx::query(
                "INSERT INTO peer_unavailable (person, province, on_day, failures, failed_at, \
                 error) VALUES ($1, $2, $3, 1, $4, $5) ON CONFLICT (person, province) DO UPDATE \
                 SET on_day = excluded.on_day, failures = peer_unavailable.failures + 1, \
                 failed_at = excluded.failed_at, error = excluded.error",
            )
            .bind(*p)
            .bind(province)
            .bind(on)
            .bind(at_ms)
            .bind(&error)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.db(e))?;
        }
        tx.commit().await.map_err(|e| self.db(e))
    }

    /// Every attestation held.
    pub async fn attestations(&self) -> Result<Vec<StoredAttestation>, OpsError> {
        let rows = sqlx::query(
            "SELECT person, province, color, groups, until_day, received_at, request_id \
             FROM peer_attestations ORDER BY person, province",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.db(e))?;
        Ok(rows
            .iter()
            .map(|r| {
                let groups: String = r.get("groups");
                StoredAttestation {
                    person: r.get("person"),
                    province: r.get("province"),
                    color: r.get("color"),
                    groups: groups
                        .split(',')
                        .filter(|g| !g.is_empty())
                        .map(str::to_string)
                        .collect(),
                    until: r.get("until_day"),
                    received_at_ms: r.get("received_at"),
                    request_id: r.get("request_id"),
                }
            })
            .collect())
    }

    /// Every "home data unavailable" mark held.
    pub async fn unavailable(&self) -> Result<Vec<StoredUnavailable>, OpsError> {
        let rows = sqlx::query(
            "SELECT person, province, on_day, failures, failed_at, error FROM peer_unavailable \
             ORDER BY person, province",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.db(e))?;
        Ok(rows
            .iter()
            .map(|r| StoredUnavailable {
                person: r.get("person"),
                province: r.get("province"),
                on: r.get("on_day"),
                failures: r.get("failures"),
                failed_at_ms: r.get("failed_at"),
                error: r.get("error"),
            })
            .collect())
    }

    /// A cheap fingerprint of what is held (rows and latest times of both tables): a process
    /// keeping the attestations reloads them only when it changes.
    pub async fn attestations_stamp(&self) -> Result<(i64, i64, i64, i64), OpsError> {
        let a = sqlx::query(
            "SELECT COUNT(*) AS n, COALESCE(MAX(received_at), 0) AS last FROM peer_attestations",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.db(e))?;
        let u = sqlx::query(
            "SELECT COUNT(*) AS n, COALESCE(MAX(failed_at), 0) AS last FROM peer_unavailable",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.db(e))?;
        Ok((
            a.get::<i64, _>("n"),
            a.get::<i64, _>("last"),
            u.get::<i64, _>("n"),
            u.get::<i64, _>("last"),
        ))
    }

    /// At the home province: records a request id from `region`, refusing one seen before, and
    /// counts the region's requests since `window_start_ms`.
    pub async fn peer_request_seen(
        &self,
        request_id: &str,
        region: &str,
        persons: i64,
        at_ms: i64,
        window_start_ms: i64,
    ) -> Result<PeerRequestSeen, OpsError> {
        let _turn = self.write_turn().await;
        let inserted = sqlx::query(
            "INSERT INTO peer_requests (request_id, from_region, seen_at, persons) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(request_id)
        .bind(region)
        .bind(at_ms)
        .bind(persons)
        .execute(&self.pool)
        .await;
        match inserted {
            Ok(_) => {}
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Ok(PeerRequestSeen::Replay);
            }
            Err(e) => return Err(self.db(e)),
        }
        let r = sqlx::query(
            "SELECT COUNT(*) AS n FROM peer_requests WHERE from_region = $1 AND seen_at >= $2",
        )
        .bind(region)
        .bind(window_start_ms)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.db(e))?;
        Ok(PeerRequestSeen::New {
            recent: r.get::<i64, _>("n"),
        })
    }
}

/// `$first, $first+1, …` for `n` values.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    fn att(person: i64, color: &str, until: &str, at: i64) -> StoredAttestation {
        StoredAttestation {
            person,
            province: "330300".into(),
            color: color.into(),
            groups: vec!["contact".into(), "fever".into()],
            until: until.into(),
            received_at_ms: at,
            request_id: format!("r{at}"),
        }
    }

    #[tokio::test]
    async fn attestations_replace_earlier_ones_and_clear_unavailable_marks() {
        for db in testing::all().await {
            let ops = &db.ops;
            ops.record_unavailable(&[1, 2, 3], "330300", "2020-02-01", 10, "down")
                .await
                .unwrap();
            ops.record_unavailable(&[1], "330300", "2020-02-02", 20, "slow")
                .await
                .unwrap();
            let u = ops.unavailable().await.unwrap();
            assert_eq!(u.len(), 3);
            assert_eq!((u[0].failures, u[0].on.as_str()), (2, "2020-02-02"));
            let before = ops.attestations_stamp().await.unwrap();
            ops.record_attestations(&[att(1, "yellow", "2020-02-10", 30)], "330300", &[2])
                .await
                .unwrap();
            assert_ne!(ops.attestations_stamp().await.unwrap(), before);
            let u = ops.unavailable().await.unwrap();
            assert_eq!(u.iter().map(|x| x.person).collect::<Vec<_>>(), [3]);
            // A newer answer replaces the row; the person A no longer knows loses theirs.
            ops.record_attestations(&[att(1, "red", "2020-02-20", 40)], "330300", &[])
                .await
                .unwrap();
            let a = ops.attestations().await.unwrap();
            assert_eq!(a, [att(1, "red", "2020-02-20", 40)]);
            ops.record_attestations(&[], "330300", &[1]).await.unwrap();
            assert!(ops.attestations().await.unwrap().is_empty());
            // Another province's mark for the same person is its own row.
            ops.record_unavailable(&[3], "510000", "2020-02-02", 50, "down")
                .await
                .unwrap();
            assert_eq!(ops.unavailable().await.unwrap().len(), 2);
        }
    }

    #[tokio::test]
    async fn a_request_id_is_taken_once_and_counted_per_region() {
        for db in testing::all().await {
            let ops = &db.ops;
            assert_eq!(
                ops.peer_request_seen("a", "510000", 5, 1_000, 0)
                    .await
                    .unwrap(),
                PeerRequestSeen::New { recent: 1 }
            );
            assert_eq!(
                ops.peer_request_seen("a", "510000", 5, 1_001, 0)
                    .await
                    .unwrap(),
                PeerRequestSeen::Replay
            );
            assert_eq!(
                ops.peer_request_seen("b", "510000", 5, 2_000, 0)
                    .await
                    .unwrap(),
                PeerRequestSeen::New { recent: 2 }
            );
            // Another region, and a window that leaves the older ones out.
            assert_eq!(
                ops.peer_request_seen("c", "430000", 5, 2_000, 0)
                    .await
                    .unwrap(),
                PeerRequestSeen::New { recent: 1 }
            );
            assert_eq!(
                ops.peer_request_seen("d", "510000", 5, 3_000, 1_500)
                    .await
                    .unwrap(),
                PeerRequestSeen::New { recent: 2 }
            );
        }
    }

    #[tokio::test]
    async fn thousands_of_persons_in_one_answer() {
        for db in testing::all().await {
            let ops = &db.ops;
            let many: Vec<i64> = (0..2_345).collect();
            ops.record_unavailable(&many, "330300", "2020-02-01", 1, "down")
                .await
                .unwrap();
            let got: Vec<StoredAttestation> = many[..1000]
                .iter()
                .map(|&p| att(p, "yellow", "2020-02-09", 2))
                .collect();
            ops.record_attestations(&got, "330300", &many[1000..])
                .await
                .unwrap();
            assert!(ops.unavailable().await.unwrap().is_empty());
            assert_eq!(ops.attestations().await.unwrap().len(), 1000);
        }
    }
}
