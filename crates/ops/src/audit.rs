//! The audit log in the database: appends that move the chain's head in the same transaction
//! (so concurrent writers, even on different servers, never fork it), a group-committing writer
//! for servers, queries by person, actor or action, and the check that finds tampering.

use std::collections::BTreeMap;

use privacy::AuditEntry;
use privacy::audit::{ChainBreak, ChainChecker, chain_hash};
use sqlx::Row;
use sqlx::any::AnyRow;
use tokio::sync::{mpsc, oneshot};

use crate::{Ops, OpsError, from_hex, to_hex};

/// An entry as stored, with its place in the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRecord {
    pub seq: i64,
    pub entry: AuditEntry,
    pub prev: [u8; 32],
    pub hash: [u8; 32],
}

/// Which entries to list; every field narrows.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    /// Entries that showed this person (store pseudonym).
    pub person: Option<i64>,
    pub actor: Option<String>,
    pub action: Option<String>,
    /// Milliseconds since the epoch, inclusive.
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    /// Entries after this sequence number (for paging).
    pub after_seq: Option<i64>,
    /// At most this many, oldest first (default 1,000).
    pub limit: Option<i64>,
}

/// What checking the whole log found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditReport {
    /// Entries checked.
    pub entries: i64,
    /// The head recorded beside the log (seq, hash).
    pub head: (i64, [u8; 32]),
    /// The first place the chain does not hold, if any.
    pub broken: Option<ChainBreak>,
}

/// Retries when another writer moved the head between our read and our write.
const MAX_RETRIES: usize = 64;
/// Entries per verification page.
const PAGE: i64 = 10_000;
/// Rows per multi-row insert, within both servers' limits on bound parameters.
const ENTRIES_PER_INSERT: usize = 64;
const PERSONS_PER_INSERT: usize = 500;

impl Ops {
    /// The last sequence number and hash (0 and zeros for an empty log).
    pub async fn audit_head(&self) -> Result<(i64, [u8; 32]), OpsError> {
        let row = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.db(e))?;
        let hash: String = row.get("hash");
        Ok((
            row.get("seq"),
            from_hex::<32>(&hash).ok_or_else(|| self.malformed("audit head"))?,
        ))
    }

    /// Appends entries to the chain under `key` in one transaction; returns their sequence
    /// numbers. If another writer appended in between, reads the new head and tries again.
    pub async fn append_audit(
        &self,
        key: &[u8; 32],
        entries: &[AuditEntry],
    ) -> Result<Vec<i64>, OpsError> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        // Persons are read back sorted; hash them that way.
        let entries: Vec<AuditEntry> = entries.iter().cloned().map(AuditEntry::normalize).collect();
        for _ in 0..MAX_RETRIES {
            let (head_seq, head_hash) = self.audit_head().await?;
            let mut prev = head_hash;
            let records: Vec<AuditRecord> = entries
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    let seq = head_seq + 1 + i as i64;
                    let hash = chain_hash(key, seq, &prev, e);
                    let r = AuditRecord {
                        seq,
                        entry: e.clone(),
                        prev,
                        hash,
                    };
                    prev = hash;
                    r
                })
                .collect();
            if self.insert_audit(head_seq, &records).await? {
                return Ok(records.iter().map(|r| r.seq).collect());
            }
        }
        Err(OpsError::Invalid(format!(
            "{}: the audit log's head kept moving; gave up after {MAX_RETRIES} attempts",
            self.target
        )))
    }

    /// Inserts records and moves the head from `expected`; false (and nothing written) when the
    /// head is no longer `expected`.
    async fn insert_audit(&self, expected: i64, records: &[AuditRecord]) -> Result<bool, OpsError> {
        let last = records.last().expect("at least one record");
        let mut tx = self.pool.begin().await.map_err(|e| self.db(e))?;
        // Moving the head first takes the write lock (SQLite) or the row lock (PostgreSQL), so
        // a concurrent writer waits here and then sees that the head moved.
        let moved =
            sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1 AND seq = $3")
                .bind(last.seq)
                .bind(to_hex(&last.hash))
                .bind(expected)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.db(e))?;
        if moved.rows_affected() != 1 {
            tx.rollback().await.map_err(|e| self.db(e))?;
            return Ok(false);
        }
        // Multi-row inserts: a trace can show thousands of persons, and one statement per row
        // would make its audit entry the slowest part of the request.
        for chunk in records.chunks(ENTRIES_PER_INSERT) {
            let mut sql = String::from(
                "INSERT INTO audit_log (seq, at_ms, actor, role, purpose, action, query, persons, \
                 row_count, outcome, prev, hash) VALUES ",
            );
            for i in 0..chunk.len() {
                if i > 0 {
                    sql.push(',');
                }
                sql.push('(');
                sql.push_str(&self.placeholders(i * 12, 12));
                sql.push(')');
            }
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for r in chunk {
                let e = &r.entry;
                q = q
                    .bind(r.seq)
                    .bind(e.at_ms)
                    .bind(e.actor.clone())
                    .bind(e.role.clone())
                    .bind(e.purpose.clone())
                    .bind(e.action.clone())
                    .bind(e.query.clone())
                    .bind(e.persons.len() as i64)
                    .bind(e.rows)
                    .bind(e.outcome.clone())
                    .bind(to_hex(&r.prev))
                    .bind(to_hex(&r.hash));
            }
            q.execute(&mut *tx).await.map_err(|e| self.db(e))?;
        }
        let pairs: Vec<(i64, i64)> = records
            .iter()
            .flat_map(|r| r.entry.persons.iter().map(move |&p| (p, r.seq)))
            .collect();
        for chunk in pairs.chunks(PERSONS_PER_INSERT) {
            let mut sql = String::from("INSERT INTO audit_persons (person, seq) VALUES ");
            for i in 0..chunk.len() {
                if i > 0 {
                    sql.push(',');
                }
                sql.push('(');
                sql.push_str(&self.placeholders(2 * i, 2));
                sql.push(')');
            }
            sql.push_str(" ON CONFLICT DO NOTHING");
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for &(p, seq) in chunk {
                q = q.bind(p).bind(seq);
            }
            q.execute(&mut *tx).await.map_err(|e| self.db(e))?;
        }
        tx.commit().await.map_err(|e| self.db(e))?;
        Ok(true)
    }

    fn record_from(&self, r: &AnyRow, persons: Vec<i64>) -> Result<AuditRecord, OpsError> {
        let hex32 = |s: String| from_hex::<32>(&s).ok_or_else(|| self.malformed("audit hash"));
        Ok(AuditRecord {
            seq: r.get("seq"),
            entry: AuditEntry {
                at_ms: r.get("at_ms"),
                actor: r.get("actor"),
                role: r.get("role"),
                purpose: r.get("purpose"),
                action: r.get("action"),
                query: r.get("query"),
                persons,
                rows: r.get("row_count"),
                outcome: r.get("outcome"),
            },
            prev: hex32(r.get("prev"))?,
            hash: hex32(r.get("hash"))?,
        })
    }

    /// The persons of the entries with sequence numbers in `from..=to`.
    async fn audit_persons(&self, from: i64, to: i64) -> Result<BTreeMap<i64, Vec<i64>>, OpsError> {
        let rows = sqlx::query(
            "SELECT seq, person FROM audit_persons WHERE seq >= $1 AND seq <= $2 ORDER BY seq, person",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.db(e))?;
        let mut out: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
        for r in rows {
            out.entry(r.get("seq")).or_default().push(r.get("person"));
        }
        Ok(out)
    }

    async fn with_persons(&self, rows: Vec<AnyRow>) -> Result<Vec<AuditRecord>, OpsError> {
        let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
            return Ok(Vec::new());
        };
        let (from, to): (i64, i64) = (first.get("seq"), last.get("seq"));
        let mut persons = if to - from < 4 * rows.len() as i64 + 64 {
            self.audit_persons(from, to).await?
        } else {
            // Sparse results (a person's entries across a long log): ask per entry.
            let mut m = BTreeMap::new();
            for r in &rows {
                let seq: i64 = r.get("seq");
                m.extend(self.audit_persons(seq, seq).await?);
            }
            m
        };
        rows.iter()
            .map(|r| {
                let seq: i64 = r.get("seq");
                self.record_from(r, persons.remove(&seq).unwrap_or_default())
            })
            .collect()
    }

    /// Entries matching `f`, oldest first.
    pub async fn audit_records(&self, f: &AuditFilter) -> Result<Vec<AuditRecord>, OpsError> {
        let rows = sqlx::query(
            "SELECT l.* FROM audit_log l \
             WHERE (CAST($1 AS BIGINT) IS NULL OR l.seq IN (SELECT seq FROM audit_persons WHERE person = $1)) \
             AND (CAST($2 AS TEXT) IS NULL OR l.actor = $2) \
             AND (CAST($3 AS TEXT) IS NULL OR l.action = $3) \
             AND (CAST($4 AS BIGINT) IS NULL OR l.at_ms >= $4) \
             AND (CAST($5 AS BIGINT) IS NULL OR l.at_ms <= $5) \
             AND l.seq > $6 ORDER BY l.seq LIMIT $7",
        )
        .bind(f.person)
        .bind(f.actor.as_deref())
        .bind(f.action.as_deref())
        .bind(f.from_ms)
        .bind(f.to_ms)
        .bind(f.after_seq.unwrap_or(0))
        .bind(f.limit.unwrap_or(1000).clamp(1, 100_000))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.db(e))?;
        self.with_persons(rows).await
    }

    /// Checks the whole chain under `key`, page by page, and the head beside it.
    pub async fn verify_audit(&self, key: &[u8; 32]) -> Result<AuditReport, OpsError> {
        let head = self.audit_head().await?;
        let mut checker = ChainChecker::new(*key);
        let mut after = 0i64;
        let mut broken = None;
        'pages: loop {
            let rows = sqlx::query("SELECT * FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2")
                .bind(after)
                .bind(PAGE)
                .fetch_all(&self.pool)
                .await
                .map_err(|e| self.db(e))?;
            if rows.is_empty() {
                break;
            }
            for r in self.with_persons(rows).await? {
                after = r.seq;
                if let Err(b) = checker.check(r.seq, &r.entry, &r.prev, &r.hash) {
                    broken = Some(b);
                    break 'pages;
                }
            }
        }
        if broken.is_none() {
            if checker.last() < head.0 {
                broken = Some(ChainBreak::Truncated {
                    last: checker.last(),
                    head: head.0,
                });
            } else if checker.last() > head.0 || checker.head() != head.1 {
                // Entries past the head, or a head that is not the last hash: written around
                // the append path.
                broken = Some(ChainBreak::Link { seq: head.0.max(1) });
            }
        }
        Ok(AuditReport {
            entries: checker.last(),
            head,
            broken,
        })
    }
}

type Pending = (AuditEntry, oneshot::Sender<Result<i64, String>>);

/// A server's audit writer: requests hand it entries and wait for their commit, and it commits
/// everything that arrived meanwhile in one transaction (group commit), so the log keeps up
/// with many requests at once while no answer leaves before its entry is durable.
#[derive(Clone, Debug)]
pub struct AuditLog {
    tx: mpsc::Sender<Pending>,
}

/// Entries per transaction, at most.
const BATCH: usize = 512;

impl AuditLog {
    /// Starts the writer task on the current tokio runtime.
    pub fn start(ops: Ops, key: [u8; 32]) -> AuditLog {
        let (tx, mut rx) = mpsc::channel::<Pending>(4 * BATCH);
        tokio::spawn(async move {
            let mut batch: Vec<Pending> = Vec::with_capacity(BATCH);
            while rx.recv_many(&mut batch, BATCH).await > 0 {
                let entries: Vec<AuditEntry> = batch.iter().map(|(e, _)| e.clone()).collect();
                match ops.append_audit(&key, &entries).await {
                    Ok(seqs) => {
                        for ((_, reply), seq) in batch.drain(..).zip(seqs) {
                            let _ = reply.send(Ok(seq));
                        }
                    }
                    Err(e) => {
                        let msg = e.to_string();
                        tracing::error!("audit log append failed: {msg}");
                        for (_, reply) in batch.drain(..) {
                            let _ = reply.send(Err(msg.clone()));
                        }
                    }
                }
            }
        });
        AuditLog { tx }
    }

    /// Appends one entry and waits until it is committed; returns its sequence number.
    pub async fn append(&self, entry: AuditEntry) -> Result<i64, OpsError> {
        let (reply, done) = oneshot::channel();
        let gone = || OpsError::Invalid("the audit writer has stopped".into());
        self.tx
            .send((entry.normalize(), reply))
            .await
            .map_err(|_| gone())?;
        done.await.map_err(|_| gone())?.map_err(OpsError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use crate::testing;

    use super::*;

    fn entry(i: i64, persons: Vec<i64>) -> AuditEntry {
        AuditEntry {
            at_ms: 1_000 * i,
            actor: format!("user{}", i % 3),
            role: "epidemiologist".into(),
            purpose: "outbreak_response".into(),
            action: if i % 2 == 0 { "trace" } else { "person_code" }.into(),
            query: format!("GET /x/{i}"),
            persons,
            rows: i,
            outcome: "ok".into(),
        }
    }

    #[tokio::test]
    async fn appends_chain_and_tampering_is_found() {
        let key = [5u8; 32];
        for db in testing::all().await {
            let ops = &db.ops;
            let seqs = ops
                .append_audit(&key, &[entry(1, vec![1001, 10]), entry(2, vec![])])
                .await
                .unwrap();
            assert_eq!(seqs, vec![1, 2]);
            // An entry that showed more persons than one insert takes.
            let many = ops
                .append_audit(&key, &[entry(0, (5000..6200).collect())])
                .await
                .unwrap();
            assert_eq!(many, vec![3]);
            let r = ops
                .audit_records(&AuditFilter {
                    person: Some(6199),
                    ..Default::default()
                })
                .await
                .unwrap();
            assert_eq!((r.len(), r[0].entry.persons.len()), (1, 1200));
            // The group-committing writer, many at once.
            let log = AuditLog::start(ops.clone(), key);
            let mut tasks = Vec::new();
            for i in 4..=40 {
                let log = log.clone();
                tasks.push(tokio::spawn(async move {
                    log.append(entry(i, vec![i, 10])).await.unwrap()
                }));
            }
            let mut got: Vec<i64> = Vec::new();
            for t in tasks {
                got.push(t.await.unwrap());
            }
            got.sort();
            assert_eq!(got, (4..=40).collect::<Vec<_>>());
            let report = ops.verify_audit(&key).await.unwrap();
            assert_eq!((report.entries, report.broken.clone()), (40, None));
            assert_eq!(report.head.0, 40);

            // Who looked at person 1001? Only entry 1.
            let f = AuditFilter {
                person: Some(1001),
                ..Default::default()
            };
            let r = ops.audit_records(&f).await.unwrap();
            assert_eq!(r.len(), 1);
            assert_eq!(r[0].entry.persons, vec![10, 1001]);
            let by_person = ops
                .audit_records(&AuditFilter {
                    person: Some(10),
                    action: Some("trace".into()),
                    ..Default::default()
                })
                .await
                .unwrap();
            assert!(by_person.iter().all(|r| r.entry.action == "trace"));
            assert_eq!(by_person.len(), 19);

            // A wrong key cannot vouch for the log.
            let wrong = ops.verify_audit(&[6u8; 32]).await.unwrap();
            assert_eq!(wrong.broken, Some(ChainBreak::Hash { seq: 1 }));

            // Edit an entry: found at that entry.
            sqlx::query("UPDATE audit_log SET outcome = 'denied' WHERE seq = 7")
                .execute(&ops.pool)
                .await
                .unwrap();
            assert_eq!(
                ops.verify_audit(&key).await.unwrap().broken,
                Some(ChainBreak::Hash { seq: 7 })
            );
            sqlx::query("UPDATE audit_log SET outcome = 'ok' WHERE seq = 7")
                .execute(&ops.pool)
                .await
                .unwrap();
            // Remove a person from an entry.
            sqlx::query("DELETE FROM audit_persons WHERE seq = 9 AND person = 9")
                .execute(&ops.pool)
                .await
                .unwrap();
            assert_eq!(
                ops.verify_audit(&key).await.unwrap().broken,
                Some(ChainBreak::Hash { seq: 9 })
            );
            sqlx::query("INSERT INTO audit_persons (person, seq) VALUES (9, 9)")
                .execute(&ops.pool)
                .await
                .unwrap();
            assert_eq!(ops.verify_audit(&key).await.unwrap().broken, None);
            // Delete from the end and roll the head back by hand: the head no longer matches.
            sqlx::query("DELETE FROM audit_log WHERE seq = 40")
                .execute(&ops.pool)
                .await
                .unwrap();
            assert_eq!(
                ops.verify_audit(&key).await.unwrap().broken,
                Some(ChainBreak::Truncated { last: 39, head: 40 })
            );
            // Delete in the middle.
            sqlx::query("DELETE FROM audit_log WHERE seq = 20")
                .execute(&ops.pool)
                .await
                .unwrap();
            assert_eq!(
                ops.verify_audit(&key).await.unwrap().broken,
                Some(ChainBreak::Gap {
                    expected: 20,
                    found: 21
                })
            );
        }
    }
}
