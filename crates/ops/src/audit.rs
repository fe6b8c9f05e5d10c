//! The audit log in the database: appends that move the chain's head and its MAC in the same
//! transaction (so concurrent writers, even on different servers, never fork it, and nobody
//! without the key can move it back), a group-committing writer for servers that also keeps the
//! checkpoint outside the database, queries by person, actor or action, and the check that
//! finds tampering.

use std::collections::BTreeMap;
use std::time::Duration;

use privacy::AuditEntry;
use privacy::audit::{ChainBreak, ChainChecker, chain_hash, head_is_authentic, head_mac};
use sqlx::Row;
use sqlx::any::AnyRow;
use tokio::sync::{mpsc, oneshot};

use crate::checkpoint::{Checkpoint, CheckpointFile, CheckpointState};
use crate::{IssuedCode, Ops, OpsError, from_hex, to_hex};

/// What one step of folding the index by person did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexStep {
    /// The entry the index reaches now.
    pub reached: i64,
    /// The entries it folded in, each counted as the persons it names and as one when it
    /// names no one (0: there was nothing to do).
    pub folded: usize,
}

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
    /// The newest `limit` instead, newest first (a person's access log).
    pub newest_first: bool,
}

/// What checking the whole log found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditReport {
    /// Entries checked.
    pub entries: i64,
    /// The head recorded beside the log (seq, hash).
    pub head: (i64, [u8; 32]),
    /// The sequence number an authentic checkpoint outside the database vouches for (`None`:
    /// none was consulted, or none exists yet).
    pub checkpoint: Option<i64>,
    /// The first place the chain does not hold, if any.
    pub broken: Option<ChainBreak>,
}

/// How long a server's writer lets the checkpoint outside the database trail the head: it is
/// written at most this often while entries arrive, and this long after the last of them.
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// How the index by person (`audit_persons`, behind "who looked at my data") keeps up with the
/// log. It is filled from the entries' packed lists in bulk, in key order, so that many entries
/// at once write each page of the index once (one entry at a time wrote a page per person),
/// by the writer itself between appends: it is the only writer of a server's database, so the
/// index never waits for SQLite's write lock against an append nor an append against it, and
/// requests are never held up by more than one step. A step folds in [`INDEX_STEP`] pairs of
/// (person, entry) — whole entries, at least one; an entry naming no one counts as one. The
/// writer takes a step when it has had nothing to append for [`INDEX_IDLE`], and at once while
/// more than [`INDEX_BACKLOG`] pairs wait, so a busy server's backlog stays bounded. The bound is
/// large (about a million pairs, some 1,600 traces): a burst of requests is not held up by
/// steps, and is folded in once it is over. A question by person folds in whatever is left
/// first (the longer, the more is waiting), so it sees every entry either way.
const INDEX_STEP: usize = 32_768;
const INDEX_IDLE: Duration = Duration::from_millis(100);
const INDEX_BACKLOG: usize = 32 * INDEX_STEP;
/// Entries read for one step, at most.
const INDEX_ENTRIES: i64 = 4096;

/// Retries when another writer moved the head between our read and our write.
const MAX_RETRIES: usize = 64;
/// Entries per verification page.
const PAGE: i64 = 10_000;
/// Rows per multi-row insert, within both servers' limits on bound parameters.
const ENTRIES_PER_INSERT: usize = 64;
const PERSONS_PER_INSERT: usize = 500;

/// An entry's persons (sorted, each once) as `audit_log.person_list` holds them: the first in
/// hex, then the differences, comma-separated — about 14 characters a person.
pub(crate) fn pack_persons(persons: &[i64]) -> String {
    let mut out = String::with_capacity(persons.len() * 14);
    let mut prev = 0u64;
    for (i, &p) in persons.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let v = p as u64;
        out.push_str(&format!("{:x}", v.wrapping_sub(prev)));
        prev = v;
    }
    out
}

/// The persons of a packed list; `None` when it is malformed.
pub(crate) fn unpack_persons(text: &str) -> Option<Vec<i64>> {
    if text.is_empty() {
        return Some(Vec::new());
    }
    let mut prev = 0u64;
    text.split(',')
        .map(|d| {
            prev = prev.wrapping_add(u64::from_str_radix(d, 16).ok()?);
            Some(prev as i64)
        })
        .collect()
}

impl Ops {
    /// The last sequence number and hash (0 and zeros for an empty log).
    pub async fn audit_head(&self) -> Result<(i64, [u8; 32]), OpsError> {
        let (seq, hash, _) = self.head_row().await?;
        Ok((seq, hash))
    }

    /// The head with its MAC (`None` before the first append).
    async fn head_row(&self) -> Result<(i64, [u8; 32], Option<[u8; 32]>), OpsError> {
        let row = sqlx::query("SELECT seq, hash, mac FROM audit_head WHERE id = 1")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.db(e))?;
        let hash: String = row.get("hash");
        let mac: Option<String> = row.get("mac");
        Ok((
            row.get("seq"),
            from_hex::<32>(&hash).ok_or_else(|| self.malformed("audit head"))?,
            match mac {
                Some(m) => Some(from_hex::<32>(&m).ok_or_else(|| self.malformed("audit head"))?),
                None => None,
            },
        ))
    }

    /// The authentic head under `key`, or the error that refuses to build on it.
    async fn authentic_head(&self, key: &[u8; 32]) -> Result<(i64, [u8; 32]), OpsError> {
        let (seq, hash, mac) = self.head_row().await?;
        if !head_is_authentic(key, seq, &hash, mac.as_ref()) {
            return Err(OpsError::AuditHead {
                target: self.target.clone(),
                seq,
            });
        }
        Ok((seq, hash))
    }

    /// Moves the checkpoint outside the database forward to the current head, if the head is
    /// authentic and the log still holds the checkpointed entry (so the checkpoint follows one
    /// chain and never moves onto a log someone cut back and wrote again); returns whether the
    /// file was written.
    pub async fn checkpoint_audit(
        &self,
        key: &[u8; 32],
        file: &CheckpointFile,
    ) -> Result<bool, OpsError> {
        let (seq, hash) = self.authentic_head(key).await?;
        let join = |e: tokio::task::JoinError| {
            if e.is_cancelled() {
                OpsError::Stopping
            } else {
                OpsError::Audit(e.to_string())
            }
        };
        let (f, k) = (file.clone(), *key);
        let from = tokio::task::spawn_blocking(move || f.read(&k))
            .await
            .map_err(join)??;
        match &from {
            CheckpointState::Valid(c) if c.seq >= seq => return Ok(false),
            CheckpointState::Valid(c) if self.entry_hash(c.seq).await? != Some(c.hash) => {
                tracing::error!(
                    "the audit log no longer holds checkpointed entry {}; the checkpoint stays there — run fangyi audit verify",
                    c.seq
                );
                return Ok(false);
            }
            CheckpointState::Invalid(_) => return Ok(false),
            _ if seq == 0 => return Ok(false),
            _ => {}
        }
        let (f, k) = (file.clone(), *key);
        tokio::task::spawn_blocking(move || f.advance(&k, &from, Checkpoint { seq, hash }))
            .await
            .map_err(join)?
    }

    /// The stored hash of entry `seq`, if it exists.
    async fn entry_hash(&self, seq: i64) -> Result<Option<[u8; 32]>, OpsError> {
        let row = sqlx::query("SELECT hash FROM audit_log WHERE seq = $1")
            .bind(seq)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.db(e))?;
        match row {
            None => Ok(None),
            Some(r) => {
                let hash: String = r.get("hash");
                Ok(Some(
                    from_hex::<32>(&hash).ok_or_else(|| self.malformed("audit hash"))?,
                ))
            }
        }
    }

    /// Appends entries to the chain under `key` in one transaction; returns their sequence
    /// numbers. If another writer appended in between, reads the new head and tries again.
    /// Refuses to build on a head that fails authentication (`OpsError::AuditHead`): appending
    /// would make a head someone moved back authentic again.
    pub async fn append_audit(
        &self,
        key: &[u8; 32],
        entries: &[AuditEntry],
    ) -> Result<Vec<i64>, OpsError> {
        self.append_audit_issuing(key, entries, &[]).await
    }

    /// [`Ops::append_audit`], recording `issued` (the codes the entries' answers hand out) in
    /// the same transaction: one commit where a code's record and its request's entry would
    /// otherwise be two, in series.
    pub async fn append_audit_issuing(
        &self,
        key: &[u8; 32],
        entries: &[AuditEntry],
        issued: &[IssuedCode],
    ) -> Result<Vec<i64>, OpsError> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        // Persons are read back sorted; hash them that way.
        let entries: Vec<AuditEntry> = entries.iter().cloned().map(AuditEntry::normalize).collect();
        for _ in 0..MAX_RETRIES {
            let (head_seq, head_hash) = self.authentic_head(key).await?;
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
            if self.insert_audit(key, head_seq, &records, issued).await? {
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
    async fn insert_audit(
        &self,
        key: &[u8; 32],
        expected: i64,
        records: &[AuditRecord],
        issued: &[IssuedCode],
    ) -> Result<bool, OpsError> {
        let last = records.last().expect("at least one record");
        let (_turn, mut tx) = self.begin_write().await?;
        // Moving the head first takes the write lock (SQLite) or the row lock (PostgreSQL), so
        // a concurrent writer waits here and then sees that the head moved.
        let moved = sqlx::query(
            "UPDATE audit_head SET seq = $1, hash = $2, mac = $3 WHERE id = 1 AND seq = $4",
        )
        .bind(last.seq)
        .bind(to_hex(&last.hash))
        .bind(to_hex(&head_mac(key, last.seq, &last.hash)))
        .bind(expected)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.db(e))?;
        if moved.rows_affected() != 1 {
            tx.rollback().await.map_err(|e| self.db(e))?;
            return Ok(false);
        }
        // Multi-row inserts, the persons packed in each entry's row: a trace can show
        // thousands of persons, and a row for each (in an index by person) made its audit entry
        // the slowest part of the request; they are indexed later, in bulk.
        for chunk in records.chunks(ENTRIES_PER_INSERT) {
            let mut sql = String::from(
                "INSERT INTO audit_log (seq, at_ms, actor, role, purpose, action, query, persons, \
                 row_count, outcome, prev, hash, person_list) VALUES ",
            );
            for i in 0..chunk.len() {
                if i > 0 {
                    sql.push(',');
                }
                sql.push('(');
                sql.push_str(&self.placeholders(i * 13, 13));
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
                    .bind(to_hex(&r.hash))
                    .bind(pack_persons(&e.persons));
            }
            q.execute(&mut *tx).await.map_err(|e| self.db(e))?;
        }
        self.insert_issued(&mut tx, issued).await?;
        tx.commit().await.map_err(|e| self.db(e))?;
        Ok(true)
    }

    /// Up to which entry `audit_persons` holds the persons of every entry.
    async fn audit_indexed(&self) -> Result<i64, OpsError> {
        let row = sqlx::query("SELECT seq FROM audit_indexed WHERE id = 1")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.db(e))?;
        Ok(row.get("seq"))
    }

    /// Folds the persons of the entries not yet in the index by person into it, oldest first,
    /// a step of [`INDEX_STEP`] pairs per transaction, as far as entry `upto` (every entry:
    /// `None`); returns up to which entry it now reaches.
    pub async fn index_audit_persons(&self, upto: Option<i64>) -> Result<i64, OpsError> {
        loop {
            let step = self.index_audit_step(upto, INDEX_STEP).await?;
            if step.folded == 0 {
                return Ok(step.reached);
            }
        }
    }

    /// One step of folding the index by person: the persons of the entries after its mark
    /// (not past `upto`), whole entries up to `max_pairs` pairs (at least one entry), in one
    /// transaction. Safe beside appends and other processes doing the same: entries never
    /// change once written, so they are read before the transaction, whose first statement
    /// moves the mark with a compare-and-set (taking SQLite's write lock as an append does),
    /// and a row already in the index is left as it is.
    pub async fn index_audit_step(
        &self,
        upto: Option<i64>,
        max_pairs: usize,
    ) -> Result<IndexStep, OpsError> {
        loop {
            let from = self.audit_indexed().await?;
            if upto.is_some_and(|u| from >= u) {
                return Ok(IndexStep {
                    reached: from,
                    folded: 0,
                });
            }
            let rows = sqlx::query(
                "SELECT seq, person_list FROM audit_log WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3",
            )
            .bind(from)
            .bind(upto.unwrap_or(i64::MAX))
            .bind(INDEX_ENTRIES)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.db(e))?;
            let mut last = None;
            let mut pairs: Vec<(i64, i64)> = Vec::new();
            // Each entry counts as its persons, and as one when it names no one.
            let mut folded = 0usize;
            for r in &rows {
                if last.is_some() && folded >= max_pairs {
                    break;
                }
                let seq: i64 = r.get("seq");
                let mut named = 0;
                if let Some(list) = r.get::<Option<String>, _>("person_list") {
                    let persons =
                        unpack_persons(&list).ok_or_else(|| self.malformed("audit person list"))?;
                    named = persons.len();
                    pairs.extend(persons.into_iter().map(|p| (p, seq)));
                }
                folded += named.max(1);
                last = Some(seq);
            }
            let Some(last) = last else {
                return Ok(IndexStep {
                    reached: from,
                    folded: 0,
                });
            };
            // In key order, so each page of the index is written once per step.
            pairs.sort_unstable();
            let (_turn, mut tx) = self.begin_write().await?;
            let moved = sqlx::query("UPDATE audit_indexed SET seq = $1 WHERE id = 1 AND seq = $2")
                .bind(last)
                .bind(from)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.db(e))?;
            if moved.rows_affected() != 1 {
                // Another process indexed these meanwhile.
                tx.rollback().await.map_err(|e| self.db(e))?;
                continue;
            }
            self.insert_audit_persons(&mut tx, &pairs).await?;
            tx.commit().await.map_err(|e| self.db(e))?;
            return Ok(IndexStep {
                reached: last,
                folded,
            });
        }
    }

    async fn insert_audit_persons(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        pairs: &[(i64, i64)],
    ) -> Result<(), OpsError> {
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
            q.execute(&mut **tx).await.map_err(|e| self.db(e))?;
        }
        Ok(())
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
        // Entries since the lists were packed into their rows carry them.
        let mut packed: Vec<Option<Vec<i64>>> = Vec::with_capacity(rows.len());
        for r in &rows {
            packed.push(match r.get::<Option<String>, _>("person_list") {
                Some(list) => {
                    Some(unpack_persons(&list).ok_or_else(|| self.malformed("audit person list"))?)
                }
                None => None,
            });
        }
        // Older entries, only in the index by person.
        let legacy: Vec<&AnyRow> = rows
            .iter()
            .zip(&packed)
            .filter(|(_, p)| p.is_none())
            .map(|(r, _)| r)
            .collect();
        let mut persons = self.persons_of(&legacy).await?;
        rows.iter()
            .zip(packed)
            .map(|(r, p)| {
                let seq: i64 = r.get("seq");
                let p = p.unwrap_or_else(|| persons.remove(&seq).unwrap_or_default());
                self.record_from(r, p)
            })
            .collect()
    }

    /// The persons of entries from the index by person.
    async fn persons_of(&self, rows: &[&AnyRow]) -> Result<BTreeMap<i64, Vec<i64>>, OpsError> {
        let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
            return Ok(BTreeMap::new());
        };
        let (from, to): (i64, i64) = (first.get("seq"), last.get("seq"));
        let persons = if to - from < 4 * rows.len() as i64 + 64 {
            self.audit_persons(from, to).await?
        } else {
            // Sparse results (a person's entries across a long log): ask per entry.
            let mut m = BTreeMap::new();
            for r in rows {
                let seq: i64 = r.get("seq");
                m.extend(self.audit_persons(seq, seq).await?);
            }
            m
        };
        Ok(persons)
    }

    /// Entries matching `f`, oldest first.
    pub async fn audit_records(&self, f: &AuditFilter) -> Result<Vec<AuditRecord>, OpsError> {
        if f.person.is_some() {
            // Everything appended so far is found through the index by person.
            self.index_audit_persons(None).await?;
        }
        let sql = format!(
            "SELECT l.* FROM audit_log l \
             WHERE (CAST($1 AS BIGINT) IS NULL OR l.seq IN (SELECT seq FROM audit_persons WHERE person = $1)) \
             AND (CAST($2 AS TEXT) IS NULL OR l.actor = $2) \
             AND (CAST($3 AS TEXT) IS NULL OR l.action = $3) \
             AND (CAST($4 AS BIGINT) IS NULL OR l.at_ms >= $4) \
             AND (CAST($5 AS BIGINT) IS NULL OR l.at_ms <= $5) \
             AND l.seq > $6 ORDER BY l.seq {} LIMIT $7",
            if f.newest_first { "DESC" } else { "ASC" }
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
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

    /// Checks the whole chain under `key`, page by page, and the head beside it (its MAC
    /// included).
    pub async fn verify_audit(&self, key: &[u8; 32]) -> Result<AuditReport, OpsError> {
        self.verify_audit_anchored(key, None).await
    }

    /// [`Ops::verify_audit`], and the log against the checkpoint outside the database: it must
    /// reach the checkpoint's entry, with the checkpoint's hash there.
    pub async fn verify_audit_anchored(
        &self,
        key: &[u8; 32],
        file: Option<&CheckpointFile>,
    ) -> Result<AuditReport, OpsError> {
        // The checkpoint first: a writer may move it past the head read below, never before.
        let checkpoint = match file {
            Some(f) => {
                let f = f.clone();
                let key = *key;
                tokio::task::spawn_blocking(move || f.read(&key))
                    .await
                    .map_err(|e| OpsError::Audit(e.to_string()))??
            }
            None => CheckpointState::Missing,
        };
        let (head_seq, head_hash, head_mac) = self.head_row().await?;
        let head = (head_seq, head_hash);
        // The index by person must agree with the lists up to where it reaches.
        let indexed = self.audit_indexed().await?;
        let mut checker = ChainChecker::new(*key);
        let mut after = 0i64;
        let mut broken = None;
        // The hash of the checkpointed entry, once the chain reaches it.
        let mut at_checkpoint: Option<[u8; 32]> = None;
        'pages: loop {
            // Up to the head read above: entries appended since are checked next time.
            let rows = sqlx::query(
                "SELECT * FROM audit_log WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3",
            )
            .bind(after)
            .bind(head.0)
            .bind(PAGE)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.db(e))?;
            if rows.is_empty() {
                break;
            }
            let records = self.with_persons(rows).await?;
            let (first, last) = (records[0].seq, records[records.len() - 1].seq);
            let mut index = if first <= indexed {
                self.audit_persons(first, last.min(indexed)).await?
            } else {
                BTreeMap::new()
            };
            for r in records {
                after = r.seq;
                if let Err(b) = checker.check(r.seq, &r.entry, &r.prev, &r.hash) {
                    broken = Some(b);
                    break 'pages;
                }
                if r.seq <= indexed && index.remove(&r.seq).unwrap_or_default() != r.entry.persons {
                    broken = Some(ChainBreak::PersonIndex { seq: r.seq });
                    break 'pages;
                }
                if let CheckpointState::Valid(c) = &checkpoint
                    && c.seq == r.seq
                {
                    at_checkpoint = Some(r.hash);
                }
            }
        }
        if broken.is_none() {
            if checker.last() < head.0 {
                broken = Some(ChainBreak::Truncated {
                    last: checker.last(),
                    head: head.0,
                });
            } else if checker.head() != head.1 {
                // A head that is not the last entry's hash: written around the append path.
                broken = Some(ChainBreak::Link { seq: head.0.max(1) });
            } else if !head_is_authentic(key, head.0, &head.1, head_mac.as_ref()) {
                broken = Some(ChainBreak::Head { seq: head.0 });
            }
        }
        if broken.is_none() {
            // Every commit moves the head with its entries, so the largest sequence number, read
            // before the head is read again, is never past it unless written around the appends.
            let max: i64 = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS m FROM audit_log")
                .fetch_one(&self.pool)
                .await
                .map_err(|e| self.db(e))?
                .get("m");
            if max > self.head_row().await?.0 {
                broken = Some(ChainBreak::PastHead { seq: max });
            }
        }
        if broken.is_none() {
            broken = match &checkpoint {
                CheckpointState::Missing => None,
                CheckpointState::Invalid(_) => Some(ChainBreak::Checkpoint),
                CheckpointState::Valid(c) if c.seq > checker.last() => {
                    Some(ChainBreak::BehindCheckpoint {
                        last: checker.last(),
                        checkpoint: c.seq,
                    })
                }
                CheckpointState::Valid(c) if c.seq > 0 && at_checkpoint != Some(c.hash) => {
                    Some(ChainBreak::Rewritten { seq: c.seq })
                }
                CheckpointState::Valid(_) => None,
            };
        }
        Ok(AuditReport {
            entries: checker.last(),
            head,
            checkpoint: match checkpoint {
                CheckpointState::Valid(c) => Some(c.seq),
                _ => None,
            },
            broken,
        })
    }
}

/// An entry, the codes its answer hands out, and where its sequence number goes.
type Pending = (
    AuditEntry,
    Vec<IssuedCode>,
    oneshot::Sender<Result<i64, String>>,
);

/// Moves `checkpoint` (if the writer keeps one) to the head, saying in the log why not.
async fn write_checkpoint(ops: Ops, key: [u8; 32], checkpoint: Option<CheckpointFile>) {
    let Some(file) = &checkpoint else {
        return;
    };
    match ops.checkpoint_audit(&key, file).await {
        // The writer brings it up to the head first thing at the next start.
        Err(OpsError::Stopping) => {
            tracing::info!("the audit checkpoint is brought up to date at the next start")
        }
        Err(e) => tracing::error!("the audit checkpoint was not written: {e}"),
        Ok(_) => {}
    }
}

/// A server's audit writer: requests hand it entries and wait for their commit, and it commits
/// everything that arrived meanwhile in one transaction (group commit), so the log keeps up
/// with many requests at once while no answer leaves before its entry is durable. It also moves
/// the checkpoint outside the database forward, at most [`CHECKPOINT_EVERY`] behind the head.
#[derive(Clone, Debug)]
pub struct AuditLog {
    tx: mpsc::Sender<Pending>,
}

/// Entries per transaction, at most.
const BATCH: usize = 512;

impl AuditLog {
    /// Starts the writer task on the current tokio runtime; with `checkpoint`, keeps that file
    /// (first brought up to the current head, if the head is authentic).
    pub fn start(ops: Ops, key: [u8; 32], checkpoint: Option<CheckpointFile>) -> AuditLog {
        let (tx, mut rx) = mpsc::channel::<Pending>(4 * BATCH);
        tokio::spawn(async move {
            write_checkpoint(ops.clone(), key, checkpoint.clone()).await;
            // The checkpoint written meanwhile, if any: one at a time, beside the appends.
            let mut checkpointing: Option<tokio::task::JoinHandle<()>> = None;
            let mut batch: Vec<Pending> = Vec::with_capacity(BATCH);
            // What this writer appended that the index by person does not hold yet (each entry
            // counted as its persons, at least one), up to which entry, and when it last
            // appended.
            let mut unindexed = 0usize;
            let mut appended: Option<i64> = None;
            let mut active = tokio::time::Instant::now();
            // Whether the head moved since the checkpoint was last written, and when that was.
            let mut behind = false;
            let mut written = tokio::time::Instant::now();
            let index_step = async |ops: &Ops, upto: Option<i64>, unindexed: &mut usize| {
                match ops.index_audit_step(upto, INDEX_STEP).await {
                    Ok(step) if step.folded == 0 => *unindexed = 0,
                    Ok(step) => *unindexed = unindexed.saturating_sub(step.folded),
                    Err(e) => {
                        tracing::error!("the audit log's index by person: {e}");
                        // A question by person folds the rest in first (or says why not).
                        *unindexed = 0;
                    }
                }
            };
            loop {
                // Besides entries, the writer waits for the checkpoint's time and for a quiet
                // moment to fold entries into the index by person.
                let checkpoint_due = behind.then(|| written + CHECKPOINT_EVERY);
                let quiet_due = (unindexed > 0).then(|| active + INDEX_IDLE);
                let due = match (checkpoint_due, quiet_due) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                let received = match due {
                    Some(due) => tokio::time::timeout_at(due, rx.recv_many(&mut batch, BATCH))
                        .await
                        .ok(),
                    None => Some(rx.recv_many(&mut batch, BATCH).await),
                };
                match received {
                    Some(0) => break,
                    Some(_) => {
                        let entries: Vec<AuditEntry> =
                            batch.iter().map(|(e, _, _)| e.clone()).collect();
                        let issued: Vec<IssuedCode> = batch
                            .iter()
                            .flat_map(|(_, c, _)| c.iter().cloned())
                            .collect();
                        let outcome = match ops.append_audit_issuing(&key, &entries, &issued).await
                        {
                            // A code's record refused (a key id too long, say) must not fail
                            // the entries committed with it: each on its own, then.
                            Err(e) if !issued.is_empty() && batch.len() > 1 => {
                                tracing::warn!("an audit batch with issued codes: {e}; one by one");
                                let mut each = Vec::with_capacity(batch.len());
                                for (entry, codes, _) in &batch {
                                    let one = std::slice::from_ref(entry);
                                    each.push(
                                        ops.append_audit_issuing(&key, one, codes)
                                            .await
                                            .map(|s| s[0])
                                            .map_err(|e| e.to_string()),
                                    );
                                }
                                Ok(each)
                            }
                            Ok(seqs) => Ok(seqs.into_iter().map(Ok).collect()),
                            Err(e) => Err(e.to_string()),
                        };
                        match outcome {
                            Ok(seqs) => {
                                for ((entry, _, reply), seq) in batch.drain(..).zip(seqs) {
                                    if let Ok(s) = &seq {
                                        unindexed += entry.persons.len().max(1);
                                        appended = appended.max(Some(*s));
                                        behind = true;
                                    }
                                    let _ = reply.send(seq);
                                }
                            }
                            Err(msg) => {
                                tracing::error!("audit log append failed: {msg}");
                                for (_, _, reply) in batch.drain(..) {
                                    let _ = reply.send(Err(msg.clone()));
                                }
                            }
                        }
                        active = tokio::time::Instant::now();
                        // Busy: a step now and then keeps the backlog bounded.
                        if unindexed > INDEX_BACKLOG {
                            index_step(&ops, appended, &mut unindexed).await;
                        }
                    }
                    None => {
                        // Quiet for a while: one step, then listen again.
                        if unindexed > 0 && active.elapsed() >= INDEX_IDLE {
                            index_step(&ops, appended, &mut unindexed).await;
                        }
                    }
                }
                // Written off the appends' path: the file and its folder are synced to disk,
                // milliseconds every second that every request waiting for its entry's commit
                // used to wait too.
                if behind
                    && written.elapsed() >= CHECKPOINT_EVERY
                    && checkpointing.as_ref().is_none_or(|h| h.is_finished())
                {
                    let write = write_checkpoint(ops.clone(), key, checkpoint.clone());
                    checkpointing = Some(tokio::spawn(write));
                    (behind, written) = (false, tokio::time::Instant::now());
                }
            }
            if let Some(running) = checkpointing {
                let _ = running.await;
            }
            if behind {
                write_checkpoint(ops.clone(), key, checkpoint.clone()).await;
            }
            if unindexed > 0
                && let Err(e) = ops.index_audit_persons(None).await
            {
                tracing::error!("the audit log's index by person: {e}");
            }
        });
        AuditLog { tx }
    }

    /// Appends one entry and waits until it is committed; returns its sequence number.
    pub async fn append(&self, entry: AuditEntry) -> Result<i64, OpsError> {
        self.append_issuing(entry, Vec::new()).await
    }

    /// Appends one entry with the codes its answer hands out, recorded in the same commit
    /// ([`Ops::append_audit_issuing`]), and waits until both are; returns its sequence number.
    pub async fn append_issuing(
        &self,
        entry: AuditEntry,
        issued: Vec<IssuedCode>,
    ) -> Result<i64, OpsError> {
        let (reply, done) = oneshot::channel();
        let gone = || OpsError::Audit("the audit writer has stopped".into());
        self.tx
            .send((entry.normalize(), issued, reply))
            .await
            .map_err(|_| gone())?;
        done.await.map_err(|_| gone())?.map_err(OpsError::Audit)
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
            let log = AuditLog::start(ops.clone(), key, None);
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
            // Remove a person from an entry's list: its hash covers the list.
            sqlx::query("UPDATE audit_log SET person_list = '9' WHERE seq = 9")
                .execute(&ops.pool)
                .await
                .unwrap();
            assert_eq!(
                ops.verify_audit(&key).await.unwrap().broken,
                Some(ChainBreak::Hash { seq: 9 })
            );
            sqlx::query("UPDATE audit_log SET person_list = '9,1' WHERE seq = 9")
                .execute(&ops.pool)
                .await
                .unwrap();
            assert_eq!(ops.verify_audit(&key).await.unwrap().broken, None);
            // Or from the index by person, so that asking about them would not find the entry.
            sqlx::query("DELETE FROM audit_persons WHERE seq = 9 AND person = 9")
                .execute(&ops.pool)
                .await
                .unwrap();
            assert_eq!(
                ops.verify_audit(&key).await.unwrap().broken,
                Some(ChainBreak::PersonIndex { seq: 9 })
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
    #[test]
    fn person_lists_pack_and_unpack() {
        for persons in [
            vec![],
            vec![0],
            vec![i64::MIN, -5, 0, 7, 1 << 40, i64::MAX],
            (0..700)
                .map(|i| i * 6_588_000_000_000_001 % (1 << 62))
                .collect(),
        ] {
            let mut persons = persons;
            persons.sort_unstable();
            let packed = pack_persons(&persons);
            assert_eq!(unpack_persons(&packed), Some(persons));
        }
        assert_eq!(unpack_persons("1,x"), None);
    }

    #[tokio::test]
    async fn an_append_writes_one_row_and_the_index_by_person_follows_in_bulk() {
        // Regression: every person an answer showed was a row of the index by person, written
        // with the entry — a trace of 640 contacts dirtied a page of it per contact and made
        // its audit entry the slowest part of the request.
        let key = [5u8; 32];
        for db in testing::all().await {
            let ops = &db.ops;
            let persons: Vec<i64> = (0..640).map(|i| 1_000_003 * i + 17).collect();
            ops.append_audit(&key, &[entry(1, persons.clone()), entry(2, vec![17])])
                .await
                .unwrap();
            let rows = |sql: &'static str| async move {
                let r = sqlx::query(sql).fetch_one(&ops.pool).await.unwrap();
                r.get::<i64, _>("n")
            };
            assert_eq!(rows("SELECT COUNT(*) AS n FROM audit_persons").await, 0);
            // Read back whole from the entry's own row, and the chain holds.
            let all = ops.audit_records(&AuditFilter::default()).await.unwrap();
            assert_eq!(all[0].entry.persons, persons);
            assert_eq!(ops.verify_audit(&key).await.unwrap().broken, None);
            // Who looked at person 17: both entries, found through the index, filled now.
            let f = AuditFilter {
                person: Some(17),
                ..Default::default()
            };
            let seqs: Vec<i64> = ops
                .audit_records(&f)
                .await
                .unwrap()
                .iter()
                .map(|r| r.seq)
                .collect();
            assert_eq!(seqs, vec![1, 2]);
            // The newest first, as many as asked (a resident's access log).
            let newest = AuditFilter {
                person: Some(17),
                limit: Some(1),
                newest_first: true,
                ..Default::default()
            };
            let seqs: Vec<i64> = ops
                .audit_records(&newest)
                .await
                .unwrap()
                .iter()
                .map(|r| r.seq)
                .collect();
            assert_eq!(seqs, vec![2]);
            assert_eq!(rows("SELECT COUNT(*) AS n FROM audit_persons").await, 641);
            assert_eq!(ops.index_audit_persons(None).await.unwrap(), 2);
            assert_eq!(ops.verify_audit(&key).await.unwrap().broken, None);
        }
    }

    #[tokio::test]
    async fn a_step_folds_whole_entries_up_to_its_budget_and_counts_an_empty_one() {
        let key = [6u8; 32];
        for db in testing::all().await {
            let ops = &db.ops;
            let entries = [
                entry(1, (1..=3).collect()),
                entry(2, Vec::new()),
                entry(3, (10..=14).collect()),
                entry(4, vec![7]),
            ];
            ops.append_audit(&key, &entries).await.unwrap();
            // Budget 4: entry 1 (3 persons) and the empty entry 2 (counted as one).
            let step = ops.index_audit_step(None, 4).await.unwrap();
            assert_eq!((step.reached, step.folded), (2, 4));
            // Budget 1: still a whole entry, however many it names.
            let step = ops.index_audit_step(None, 1).await.unwrap();
            assert_eq!((step.reached, step.folded), (3, 5));
            // Not past `upto`; then nothing left to do.
            let step = ops.index_audit_step(Some(3), 100).await.unwrap();
            assert_eq!((step.reached, step.folded), (3, 0));
            let step = ops.index_audit_step(None, 100).await.unwrap();
            assert_eq!((step.reached, step.folded), (4, 1));
            assert_eq!(ops.index_audit_step(None, 100).await.unwrap().folded, 0);
            assert_eq!(ops.verify_audit(&key).await.unwrap().broken, None);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_quiet_writer_folds_what_it_appended_into_the_index_by_person() {
        // Regression: the writer folded entries into the index by person only after 1,024
        // of them, in a task of its own that fought the appends for SQLite's write lock; a
        // server with fewer entries left them all to the first question by person.
        let key = [7u8; 32];
        let db = testing::sqlite().await;
        let log = AuditLog::start(db.ops.clone(), key, None);
        for i in 1..=5 {
            log.append(entry(i, vec![100 + i, 200])).await.unwrap();
        }
        let count = async || {
            let r = sqlx::query("SELECT COUNT(*) AS n FROM audit_persons")
                .fetch_one(&db.ops.pool)
                .await
                .unwrap();
            r.get::<i64, _>("n")
        };
        let mut waited = 0;
        while count().await < 10 {
            waited += 1;
            assert!(waited < 3000, "the index by person was never folded in");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(db.ops.audit_indexed().await.unwrap(), 5);
        assert_eq!(db.ops.verify_audit(&key).await.unwrap().broken, None);
    }

    fn issued(cti: u64, subject: u8) -> IssuedCode {
        let mut c = IssuedCode {
            cti: [0; 16],
            subject: [subject; 16],
            issued: 100,
            exp: 1000,
            kid: "a2lk".into(),
            color: "green".into(),
        };
        c.cti[..8].copy_from_slice(&cti.to_le_bytes());
        c
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn codes_are_recorded_in_their_entries_commit_and_a_bad_one_fails_only_its_own() {
        // The code a request hands out was recorded in a commit of its own before the request's
        // entry in another: two commits in series for a resident's first code of the day.
        let key = [8u8; 32];
        for db in testing::all().await {
            let log = AuditLog::start(db.ops.clone(), key, None);
            // More than one batch's worth, and more than one statement's codes, at once.
            let n = BATCH + 7;
            let waits: Vec<_> = (0..n)
                .map(|i| {
                    let log = log.clone();
                    let codes = vec![issued(i as u64, (i % 3) as u8)];
                    tokio::spawn(async move { log.append_issuing(entry(1, vec![]), codes).await })
                })
                .collect();
            for w in waits {
                w.await.unwrap().unwrap();
            }
            let mut live = 0;
            for s in 0..3u8 {
                live += db.ops.live_codes(&[s; 16], 0).await.unwrap().len();
            }
            assert_eq!(live, n, "{:?}", db.ops.backend());
            // A code recorded twice is refused, and only its request hears of it (no entry
            // either), whatever else was committed with it.
            let mut fresh: Vec<_> = (0..64u64)
                .map(|i| {
                    let log = log.clone();
                    let codes = vec![issued(10_000 + i, 5)];
                    tokio::spawn(async move { log.append_issuing(entry(2, vec![]), codes).await })
                })
                .collect();
            let twice = log.clone();
            fresh.insert(
                10,
                tokio::spawn(async move {
                    twice
                        .append_issuing(entry(3, vec![]), vec![issued(0, 0)])
                        .await
                }),
            );
            let mut outcomes = Vec::new();
            for w in fresh {
                outcomes.push(w.await.unwrap().is_ok());
            }
            assert_eq!(outcomes.iter().filter(|ok| !**ok).count(), 1);
            assert!(!outcomes[10]);
            assert_eq!(db.ops.live_codes(&[5; 16], 0).await.unwrap().len(), 64);
            let report = db.ops.verify_audit(&key).await.unwrap();
            assert_eq!(report.broken, None);
            assert_eq!(db.ops.audit_head().await.unwrap().0, (n + 64) as i64);
        }
    }

    /// Runs `sql` on the test database.
    async fn exec(ops: &Ops, sql: &str) {
        testing::execute(ops, sql).await;
    }

    async fn broken(ops: &Ops, key: &[u8; 32], file: &CheckpointFile) -> Option<ChainBreak> {
        ops.verify_audit_anchored(key, Some(file))
            .await
            .unwrap()
            .broken
    }

    #[tokio::test]
    async fn a_shortened_or_emptied_log_is_found() {
        let key = [5u8; 32];
        for db in testing::all().await {
            let ops = &db.ops;
            let dir = tempfile::tempdir().unwrap();
            let file = CheckpointFile::in_data_dir(dir.path());
            for i in 1..=10 {
                ops.append_audit(&key, &[entry(i, vec![i])]).await.unwrap();
            }
            assert!(ops.checkpoint_audit(&key, &file).await.unwrap());
            let report = ops.verify_audit_anchored(&key, Some(&file)).await.unwrap();
            assert_eq!((report.broken, report.checkpoint), (None, Some(10)));

            // Delete the newest entries and move the head back by hand: its MAC is wrong, even
            // without the checkpoint; and nothing more is appended on top of it.
            exec(ops, "DELETE FROM audit_persons WHERE seq > 7").await;
            exec(ops, "DELETE FROM audit_log WHERE seq > 7").await;
            exec(
                ops,
                "UPDATE audit_head SET seq = 7, hash = (SELECT hash FROM audit_log WHERE seq = 7) WHERE id = 1",
            )
            .await;
            assert_eq!(
                ops.verify_audit(&key).await.unwrap().broken,
                Some(ChainBreak::Head { seq: 7 })
            );
            assert!(matches!(
                ops.append_audit(&key, &[entry(11, vec![])]).await,
                Err(OpsError::AuditHead { seq: 7, .. })
            ));
            // The same with the MAC removed, as if the log were fresh.
            exec(ops, "UPDATE audit_head SET mac = NULL WHERE id = 1").await;
            assert_eq!(
                broken(ops, &key, &file).await,
                Some(ChainBreak::Head { seq: 7 })
            );

            // Empty the log and reset the head: only the checkpoint outside can tell.
            exec(ops, "DELETE FROM audit_persons").await;
            exec(ops, "DELETE FROM audit_log").await;
            exec(
                ops,
                &format!(
                    "UPDATE audit_head SET seq = 0, hash = '{}', mac = NULL WHERE id = 1",
                    "0".repeat(64)
                ),
            )
            .await;
            assert_eq!(ops.verify_audit(&key).await.unwrap().broken, None);
            assert_eq!(
                broken(ops, &key, &file).await,
                Some(ChainBreak::BehindCheckpoint {
                    last: 0,
                    checkpoint: 10
                })
            );
            // Appends go on (a fresh log looks like this), and the checkpoint still tells.
            for i in 1..=12 {
                ops.append_audit(&key, &[entry(100 + i, vec![])])
                    .await
                    .unwrap();
            }
            assert_eq!(
                broken(ops, &key, &file).await,
                Some(ChainBreak::Rewritten { seq: 10 })
            );
            // The checkpoint never moves onto the rewritten log.
            assert!(!ops.checkpoint_audit(&key, &file).await.unwrap());
        }
    }

    /// The writer moves the checkpoint beside its appends (a checkpoint's syncs to disk no
    /// longer hold up the commits) and leaves it at the head when it stops.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_checkpoint_follows_the_appends_and_ends_at_the_head() {
        let key = [6u8; 32];
        let db = testing::sqlite().await;
        let dir = tempfile::tempdir().unwrap();
        let file = CheckpointFile::in_data_dir(dir.path());
        let log = AuditLog::start(db.ops.clone(), key, Some(file.clone()));
        let seq_of = |f: &CheckpointFile| match f.read(&key).unwrap() {
            CheckpointState::Valid(c) => c.seq,
            _ => 0,
        };
        let started = std::time::Instant::now();
        let mut last = 0;
        let mut i = 1;
        while started.elapsed() < CHECKPOINT_EVERY * 3 {
            last = log.append(entry(i, vec![i])).await.unwrap();
            i += 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let midway = seq_of(&file);
        assert!(midway > 0 && midway <= last, "{midway} of {last}");
        drop(log);
        let waited = std::time::Instant::now();
        while seq_of(&file) != last {
            assert!(
                waited.elapsed() < Duration::from_secs(10),
                "checkpoint stuck"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test]
    async fn moving_the_head_back_to_a_saved_authentic_one_is_found_by_the_checkpoint() {
        let key = [5u8; 32];
        for db in testing::all().await {
            let ops = &db.ops;
            let dir = tempfile::tempdir().unwrap();
            let file = CheckpointFile::in_data_dir(dir.path());
            for i in 1..=8 {
                ops.append_audit(&key, &[entry(i, vec![i])]).await.unwrap();
            }
            // Someone with read access saves the head row now...
            let row = sqlx::query("SELECT seq, hash, mac FROM audit_head WHERE id = 1")
                .fetch_one(&ops.pool)
                .await
                .unwrap();
            let (hash, mac): (String, String) = (row.get("hash"), row.get("mac"));
            // ...the server appends and checkpoints (its writer, started on this database)...
            let log = AuditLog::start(ops.clone(), key, Some(file.clone()));
            log.append(entry(9, vec![9])).await.unwrap();
            assert_eq!(
                file.read(&key).unwrap(),
                CheckpointState::Valid(Checkpoint {
                    seq: 8,
                    hash: from_hex(&hash).unwrap()
                }),
                "the writer brings the checkpoint up to the head it starts on"
            );
            ops.append_audit(&key, &[entry(10, vec![10])])
                .await
                .unwrap();
            assert!(ops.checkpoint_audit(&key, &file).await.unwrap());
            // ...and later the entries after the saved head are deleted and the head restored.
            exec(ops, "DELETE FROM audit_persons WHERE seq > 8").await;
            exec(ops, "DELETE FROM audit_log WHERE seq > 8").await;
            exec(
                ops,
                &format!(
                    "UPDATE audit_head SET seq = 8, hash = '{hash}', mac = '{mac}' WHERE id = 1"
                ),
            )
            .await;
            // The database alone cannot tell; the checkpoint can.
            assert_eq!(ops.verify_audit(&key).await.unwrap().broken, None);
            assert_eq!(
                broken(ops, &key, &file).await,
                Some(ChainBreak::BehindCheckpoint {
                    last: 8,
                    checkpoint: 10
                })
            );
            // An entry written around the append path, past the head.
            exec(
                ops,
                &format!(
                    "INSERT INTO audit_log (seq, at_ms, actor, role, purpose, action, query, persons, \
                     row_count, outcome, prev, hash) VALUES (20, 1, 'x', 'admin', 'oversight', \
                     'trace', 'q', 0, 1, 'ok', '{hash}', '{hash}')"
                ),
            )
            .await;
            assert_eq!(
                ops.verify_audit(&key).await.unwrap().broken,
                Some(ChainBreak::PastHead { seq: 20 })
            );
            // A forged or edited checkpoint is reported as such.
            let text = std::fs::read_to_string(file.path()).unwrap();
            std::fs::write(file.path(), text.replace("seq 10", "seq 3")).unwrap();
            exec(ops, "DELETE FROM audit_log WHERE seq = 20").await;
            assert_eq!(broken(ops, &key, &file).await, Some(ChainBreak::Checkpoint));
        }
    }
}
