//! The audit log's entries and their hash chain. Each entry's hash is a keyed BLAKE3 over the
//! previous hash, its sequence number and every field, so editing, deleting or reordering an
//! entry breaks every hash after it, and without the key nobody can rebuild the chain.

use serde::Serialize;

/// The `prev` of the first entry.
pub const GENESIS: [u8; 32] = [0; 32];

/// One access, as appended to the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// When, in milliseconds since the Unix epoch.
    pub at_ms: i64,
    /// The account (`public` for anonymous requests, `cli:<user>` for the command line).
    pub actor: String,
    pub role: String,
    pub purpose: String,
    /// The action's name (`trace`, `person_code`, …).
    pub action: String,
    /// What was asked, with person ids masked (`GET /api/v1/persons/420106********1234/code`).
    pub query: String,
    /// The store pseudonyms of the persons whose data the answer showed, sorted, each once.
    pub persons: Vec<i64>,
    /// How many rows (persons, contacts, codes …) the answer held.
    pub rows: i64,
    /// `ok`, `denied: …` or `error: …`.
    pub outcome: String,
}

impl AuditEntry {
    /// Sorts and deduplicates `persons`, as the chain expects.
    pub fn normalize(mut self) -> AuditEntry {
        self.persons.sort_unstable();
        self.persons.dedup();
        self
    }
}

fn field(h: &mut blake3::Hasher, s: &str) {
    h.update(&(s.len() as u64).to_le_bytes());
    h.update(s.as_bytes());
}

/// The hash of entry `seq` after `prev`, keyed with the audit key (derived from the master
/// key, so a copy of the database cannot be re-chained after an edit).
pub fn chain_hash(key: &[u8; 32], seq: i64, prev: &[u8; 32], e: &AuditEntry) -> [u8; 32] {
    let mut h = blake3::Hasher::new_keyed(key);
    h.update(b"fangyi audit v1");
    h.update(prev);
    h.update(&seq.to_le_bytes());
    h.update(&e.at_ms.to_le_bytes());
    for s in [
        &e.actor, &e.role, &e.purpose, &e.action, &e.query, &e.outcome,
    ] {
        field(&mut h, s);
    }
    h.update(&(e.persons.len() as u64).to_le_bytes());
    for p in &e.persons {
        h.update(&p.to_le_bytes());
    }
    h.update(&e.rows.to_le_bytes());
    *h.finalize().as_bytes()
}

/// What checking a chain found: the first entry whose hash does not follow, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChainBreak {
    /// Sequence numbers must run 1, 2, 3 …; a gap means deleted entries.
    Gap { expected: i64, found: i64 },
    /// The stored `prev` is not the previous entry's hash: reordered or deleted before it.
    Link { seq: i64 },
    /// The stored hash does not match the entry's fields: edited.
    Hash { seq: i64 },
    /// The log ends before the head recorded beside it: entries removed from the end.
    Truncated { last: i64, head: i64 },
}

impl std::fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChainBreak::Gap { expected, found } => write!(
                f,
                "entry {expected} is missing (the next is {found}): entries were deleted"
            ),
            ChainBreak::Link { seq } => write!(
                f,
                "entry {seq} does not follow the entry before it: entries were deleted or reordered"
            ),
            ChainBreak::Hash { seq } => write!(
                f,
                "entry {seq} does not match its hash: it was edited (or the key is not this log's)"
            ),
            ChainBreak::Truncated { last, head } => write!(
                f,
                "the log ends at entry {last} but its head says {head}: entries were removed from the end"
            ),
        }
    }
}

/// Checks entries one at a time, in sequence order.
#[derive(Debug)]
pub struct ChainChecker {
    key: [u8; 32],
    next: i64,
    prev: [u8; 32],
}

impl ChainChecker {
    pub fn new(key: [u8; 32]) -> ChainChecker {
        ChainChecker {
            key,
            next: 1,
            prev: GENESIS,
        }
    }

    /// Checks the next stored entry (`seq`, its fields, the stored `prev` and `hash`).
    pub fn check(
        &mut self,
        seq: i64,
        e: &AuditEntry,
        prev: &[u8; 32],
        hash: &[u8; 32],
    ) -> Result<(), ChainBreak> {
        if seq != self.next {
            return Err(ChainBreak::Gap {
                expected: self.next,
                found: seq,
            });
        }
        if prev != &self.prev {
            return Err(ChainBreak::Link { seq });
        }
        if &chain_hash(&self.key, seq, prev, e) != hash {
            return Err(ChainBreak::Hash { seq });
        }
        self.next += 1;
        self.prev = *hash;
        Ok(())
    }

    /// The last sequence number checked (0 before any).
    pub fn last(&self) -> i64 {
        self.next - 1
    }

    /// The hash of the last entry checked.
    pub fn head(&self) -> [u8; 32] {
        self.prev
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(i: i64) -> AuditEntry {
        AuditEntry {
            at_ms: 1_000 + i,
            actor: "epi".into(),
            role: "epidemiologist".into(),
            purpose: "outbreak_response".into(),
            action: "trace".into(),
            query: format!("GET /cases/{i}"),
            persons: vec![i, i + 1],
            rows: 2,
            outcome: "ok".into(),
        }
    }

    fn chain(key: &[u8; 32], n: i64) -> Vec<(i64, AuditEntry, [u8; 32], [u8; 32])> {
        let mut prev = GENESIS;
        (1..=n)
            .map(|seq| {
                let e = entry(seq);
                let h = chain_hash(key, seq, &prev, &e);
                let row = (seq, e, prev, h);
                prev = h;
                row
            })
            .collect()
    }

    fn check(
        key: [u8; 32],
        rows: &[(i64, AuditEntry, [u8; 32], [u8; 32])],
    ) -> Result<(), ChainBreak> {
        let mut c = ChainChecker::new(key);
        for (seq, e, prev, hash) in rows {
            c.check(*seq, e, prev, hash)?;
        }
        Ok(())
    }

    #[test]
    fn every_kind_of_tampering_is_found() {
        let key = [7; 32];
        let rows = chain(&key, 5);
        assert_eq!(check(key, &rows), Ok(()));

        let mut edited = rows.clone();
        edited[2].1.persons = vec![99];
        assert_eq!(check(key, &edited), Err(ChainBreak::Hash { seq: 3 }));

        let mut deleted = rows.clone();
        deleted.remove(1);
        assert_eq!(
            check(key, &deleted),
            Err(ChainBreak::Gap {
                expected: 2,
                found: 3
            })
        );

        // Deleted and renumbered: the link to the previous hash breaks.
        let mut renumbered = rows.clone();
        renumbered.remove(1);
        for (i, r) in renumbered.iter_mut().enumerate() {
            r.0 = i as i64 + 1;
        }
        assert_eq!(check(key, &renumbered), Err(ChainBreak::Link { seq: 2 }));

        let mut swapped = rows.clone();
        swapped.swap(1, 2);
        swapped[1].0 = 2;
        swapped[2].0 = 3;
        assert_eq!(check(key, &swapped), Err(ChainBreak::Link { seq: 2 }));

        // Re-chained without the key: every hash differs.
        assert_eq!(check([8; 32], &rows), Err(ChainBreak::Hash { seq: 1 }));
    }
}
