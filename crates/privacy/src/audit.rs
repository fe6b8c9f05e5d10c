//! The audit log's entries and their hash chain. Each entry's hash is a keyed BLAKE3 over the
//! previous hash, its sequence number and every field, so editing, deleting or reordering an
//! entry breaks every hash after it, and without the key nobody can rebuild the chain. The
//! chain's head (last sequence number and hash) and the checkpoints of it kept outside the
//! database carry MACs under keys derived from the audit key, so nobody without it can move the
//! head back to hide entries cut off the end.

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

/// The MAC of the head row (`seq`, `hash`) stored beside the log, under a key derived from the
/// audit key: a head moved back by someone without the key does not carry a valid one.
pub fn head_mac(key: &[u8; 32], seq: i64, hash: &[u8; 32]) -> [u8; 32] {
    mac("fangyi 2020 audit head v1", key, seq, hash)
}

/// The MAC of a checkpoint of the head kept outside the database. Its own derived key, so a
/// checkpoint (which a reader of the data dir sees) cannot be copied into the head row.
pub fn checkpoint_mac(key: &[u8; 32], seq: i64, hash: &[u8; 32]) -> [u8; 32] {
    mac("fangyi 2020 audit checkpoint v1", key, seq, hash)
}

fn mac(context: &str, key: &[u8; 32], seq: i64, hash: &[u8; 32]) -> [u8; 32] {
    let mut h = blake3::Hasher::new_keyed(&blake3::derive_key(context, key));
    h.update(&seq.to_le_bytes());
    h.update(hash);
    *h.finalize().as_bytes()
}

/// Whether a stored head is authentic: its MAC is right, or it is the empty log's head, which
/// nobody has written yet (`mac` is `None` only there).
pub fn head_is_authentic(
    key: &[u8; 32],
    seq: i64,
    hash: &[u8; 32],
    mac: Option<&[u8; 32]>,
) -> bool {
    match mac {
        Some(m) => constant_time_eq(m, &head_mac(key, seq, hash)),
        None => seq == 0 && hash == &GENESIS,
    }
}

/// Compares MACs without an early exit.
pub fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
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
    /// Entries lie past the head: written around the append path, or the head moved back.
    PastHead { seq: i64 },
    /// The head row's MAC is wrong or missing: the head was moved (back, to hide entries cut
    /// off the end) or written by someone without the key.
    Head { seq: i64 },
    /// The checkpoint kept outside the database fails its MAC: edited, or not this key's.
    Checkpoint,
    /// The log ends before an authentic checkpoint says it once reached: entries were removed
    /// from the end and the head moved back (or the whole log emptied).
    BehindCheckpoint { last: i64, checkpoint: i64 },
    /// The entry at the checkpoint's sequence number is not the one checkpointed: the log was
    /// cut back and written again from an earlier point.
    Rewritten { seq: i64 },
    /// The index by person disagrees with the persons the entry lists (which its hash covers):
    /// rows of the index were deleted or added, so asking who looked at a person's data would
    /// answer wrong.
    PersonIndex { seq: i64 },
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
            ChainBreak::PastHead { seq } => write!(
                f,
                "entry {seq} lies past the head: it was written around the append path, or the head was moved back"
            ),
            ChainBreak::Head { seq } => write!(
                f,
                "the head (entry {seq}) fails authentication: it was moved back or written without the key (entries may have been removed from the end)"
            ),
            ChainBreak::Checkpoint => write!(
                f,
                "the checkpoint kept outside the database fails authentication: it was edited (or the key is not this log's)"
            ),
            ChainBreak::BehindCheckpoint { last, checkpoint } => write!(
                f,
                "the log ends at entry {last} but a checkpoint kept outside the database says it reached entry {checkpoint}: entries were removed from the end"
            ),
            ChainBreak::Rewritten { seq } => write!(
                f,
                "entry {seq} is not the one the checkpoint kept outside the database recorded: the log was cut back and written again"
            ),
            ChainBreak::PersonIndex { seq } => write!(
                f,
                "the index of persons disagrees with the persons entry {seq} lists: rows of it were deleted or added"
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

    #[test]
    fn heads_are_authentic_only_with_their_mac() {
        let key = [7; 32];
        let rows = chain(&key, 3);
        let (seq, hash) = (3, rows[2].3);
        let mac = head_mac(&key, seq, &hash);
        assert!(head_is_authentic(&key, seq, &hash, Some(&mac)));
        // Moved back to an earlier entry, with or without the MAC it had.
        assert!(!head_is_authentic(&key, 2, &rows[1].3, Some(&mac)));
        assert!(!head_is_authentic(&key, 2, &rows[1].3, None));
        // Another key, or a checkpoint's MAC copied into the head.
        assert!(!head_is_authentic(&[8; 32], seq, &hash, Some(&mac)));
        let checkpoint = checkpoint_mac(&key, seq, &hash);
        assert_ne!(checkpoint, mac);
        assert!(!head_is_authentic(&key, seq, &hash, Some(&checkpoint)));
        // Only the empty log's head goes without one.
        assert!(head_is_authentic(&key, 0, &GENESIS, None));
        assert!(!head_is_authentic(&key, 0, &hash, None));
        assert!(!head_is_authentic(&key, seq, &hash, None));
    }
}
