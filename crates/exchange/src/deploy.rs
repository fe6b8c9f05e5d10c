//! A deployment's side of the hub: accepting a signed list it pulled and making it the trust
//! list its verification uses (`keys/trust.json`, which `fangyi verify` reads and the server's
//! verifier re-reads).
//!
//! Accepting is: the anchor's signature and the document (`SignedList::open`); the version
//! against the one accepted before from the same anchor (`keys/hub.json`: lower is a rollback,
//! the same with other bytes an equivocation, both refused and the previous list kept); then
//! the trust list rebuilt — the previous hub's entries (marked `"source": "trust hub"`) all
//! replaced by the new list's, every kid it revokes dropped whoever added it, the data dir's
//! own keys and keys imported by hand kept — and written atomically (temporary file, rename)
//! before `keys/hub.json` records the version. A crash between the two leaves the new trust
//! list and the old record; the next pull of the same list writes it again.
//!
//! Freezes: a version check cannot tell a hub that publishes nothing new from one (or a man in
//! the middle) that keeps serving an old, validly signed list. So a list past its signed
//! `expires_at` is refused, and [`list_age`] says when the accepted list is older than a
//! deployment's maximum age (default [`DEFAULT_MAX_AGE_SECS`]) or has expired since: `trust
//! status`, `serve --trust-hub`'s log and its metrics show it.

use std::path::{Path, PathBuf};

use codesign::anchor::{self, AnchorPublic, Freshness, SignedList};
use codesign::issuer::{self, Issuer};
use codesign::trust::{self, TrustEntry};
use serde::{Deserialize, Serialize};

use crate::{ExchangeError, read_json, write_atomic};

/// The mark on trust list entries that came from the hub.
pub const SOURCE_FIELD: &str = "source";
pub const SOURCE_HUB: &str = "trust hub";

/// `keys/hub.json`: the list last accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accepted {
    /// Base64 kid of the anchor that signed it.
    pub anchor: String,
    pub version: u64,
    /// SHA-256 of the signed bytes, hex.
    pub digest: String,
    pub issued_at: String,
    /// When the list expires (RFC 3339); lists of before had none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    pub accepted_at: String,
    /// Where it came from (a URL or a file).
    pub source: String,
    pub keys: usize,
    pub revoked: usize,
    /// The kids it revokes (base64): kept so that a later local change of the trust list (a
    /// rotation, an export) cannot put one of them back before the next pull.
    #[serde(default)]
    pub revoked_kids: Vec<String>,
}

/// What accepting a list did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullOutcome {
    /// The trust list was replaced: the new version, its keys, the kids it revokes, and how
    /// many entries of the previous trust list it dropped as revoked.
    Updated {
        version: u64,
        keys: usize,
        revoked: usize,
        dropped: usize,
    },
    /// The list was the one already accepted.
    Unchanged { version: u64 },
}

pub fn accepted_path(data: &Path) -> PathBuf {
    data.join("keys").join("hub.json")
}

/// The signed list last accepted, kept as received (`keys/hub-list.cose`).
pub fn list_path(data: &Path) -> PathBuf {
    data.join("keys").join("hub-list.cose")
}

/// The list this data dir accepted last, if any.
pub fn accepted(data: &Path) -> Result<Option<Accepted>, ExchangeError> {
    read_json(&accepted_path(data), 64 * 1024)
}

fn from_hub(e: &TrustEntry) -> bool {
    e.extra.get(SOURCE_FIELD).and_then(|v| v.as_str()) == Some(SOURCE_HUB)
}

fn same_key(a: &TrustEntry, b: &TrustEntry) -> bool {
    a.kid_b64() == b.kid_b64() && a.public_key == b.public_key && a.certificate == b.certificate
}

/// The trust list `current` becomes with `list`: hub entries replaced, revoked kids dropped.
/// Returns it and how many entries not from the hub were dropped as revoked.
pub fn rebuild(current: &[TrustEntry], list: &SignedList) -> (Vec<TrustEntry>, usize) {
    let mut dropped = 0;
    let mut out: Vec<TrustEntry> = Vec::new();
    for e in current {
        if from_hub(e) {
            continue;
        }
        if list.revokes(e) {
            dropped += 1;
            continue;
        }
        out.push(e.clone());
    }
    for e in list.trusted_entries() {
        // A key the data dir holds already (its own, or imported by hand) stays as it is.
        if out.iter().any(|x| same_key(x, &e)) {
            continue;
        }
        let mut e = e;
        e.extra.insert(SOURCE_FIELD.into(), SOURCE_HUB.into());
        out.push(e);
    }
    (out, dropped)
}

/// Accepts the signed list `bytes` (from `source`) if the anchor signed it and it is newer than
/// the one accepted; on any refusal nothing in the data dir changes.
pub fn accept(
    data: &Path,
    bytes: &[u8],
    anchor: &AnchorPublic,
    source: &str,
    now: i64,
) -> Result<PullOutcome, ExchangeError> {
    let list = SignedList::open(bytes, anchor)?;
    // Before the version: an expired list is refused even when it is the one accepted.
    list.check_expiry(now)?;
    let digest = anchor::digest(bytes);
    let before = accepted(data)?.filter(|a| a.anchor == anchor.kid_b64());
    let prior = before.as_ref().and_then(|a| {
        let d = codesign::unhex(&a.digest).and_then(|d| <[u8; 32]>::try_from(d).ok())?;
        Some((a.version, d))
    });
    if anchor::check_version(prior, list.version, &digest)? == Freshness::Same {
        return Ok(PullOutcome::Unchanged {
            version: list.version,
        });
    }
    let current = issuer::read_trust(data)?;
    let (entries, dropped) = rebuild(&current, &list);
    trust::write_entries(&Issuer::trust_path(data), &entries)?;
    write_atomic(&list_path(data), bytes)?;
    let record = Accepted {
        anchor: anchor.kid_b64(),
        version: list.version,
        digest: codesign::hex(&digest),
        issued_at: list.issued_at.clone(),
        expires_at: list.expires_at.clone(),
        accepted_at: codesign::rfc3339(now),
        source: source.to_string(),
        keys: list.trusted_entries().len(),
        revoked: list.revoked.len(),
        revoked_kids: list.revoked.iter().map(|r| r.kid.clone()).collect(),
    };
    let text = serde_json::to_string_pretty(&record).expect("serialisable") + "\n";
    write_atomic(&accepted_path(data), text.as_bytes())?;
    Ok(PullOutcome::Updated {
        version: list.version,
        keys: record.keys,
        revoked: record.revoked,
        dropped,
    })
}

/// How old an accepted list may be before a deployment warns: a hub publishes at least this
/// often when all is well.
pub const DEFAULT_MAX_AGE_SECS: i64 = 7 * 86_400;

/// How the accepted list stands at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListAge {
    /// Issued within the maximum age and not expired.
    Fresh { age: i64 },
    /// Older than the maximum age: the hub has published nothing newer (or something keeps
    /// newer lists away).
    Stale { age: i64, max_age: i64 },
    /// Past the expiry it was signed with.
    Expired { age: i64, expired_for: i64 },
}

impl ListAge {
    /// The warning to give, if any: a plain sentence naming the age and what to do.
    pub fn warning(&self, a: &Accepted) -> Option<String> {
        match *self {
            ListAge::Fresh { .. } => None,
            ListAge::Stale { age, max_age } => Some(format!(
                "the trust list (version {}, issued {}) is {} old, more than the {} allowed: the hub has published nothing newer, or something between keeps newer lists away (a freeze); check the hub",
                a.version,
                a.issued_at,
                span(age),
                span(max_age)
            )),
            ListAge::Expired { expired_for, .. } => Some(format!(
                "the trust list (version {}, issued {}) expired {} ago (at {}): no newer list has come from the hub; its keys are still used until one does, but check the hub",
                a.version,
                a.issued_at,
                span(expired_for),
                a.expires_at.as_deref().unwrap_or("?")
            )),
        }
    }

    pub fn age(&self) -> i64 {
        match *self {
            ListAge::Fresh { age } | ListAge::Stale { age, .. } | ListAge::Expired { age, .. } => {
                age
            }
        }
    }
}

/// `3 d 4 h`, `5 h 2 min`, `40 s`: a span for a message.
fn span(secs: i64) -> String {
    let s = secs.max(0);
    let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    if d > 0 {
        format!("{d} d {h} h")
    } else if h > 0 {
        format!("{h} h {m} min")
    } else if m > 0 {
        format!("{m} min")
    } else {
        format!("{s} s")
    }
}

/// How the accepted list `a` stands at `now` against `max_age` (seconds).
pub fn list_age(a: &Accepted, now: i64, max_age: i64) -> ListAge {
    let secs = |t: &str| {
        model::Timestamp::parse_rfc3339(t.as_bytes())
            .ok()
            .map(|t| t.0.div_euclid(1000))
    };
    // An unreadable issue time (a hand-edited hub.json) counts as very old: fail loudly.
    let age = now.saturating_sub(secs(&a.issued_at).unwrap_or(0)).max(0);
    if let Some(exp) = a.expires_at.as_deref().map(|t| secs(t).unwrap_or(0))
        && now >= exp
    {
        return ListAge::Expired {
            age,
            expired_for: now - exp,
        };
    }
    if age > max_age {
        ListAge::Stale { age, max_age }
    } else {
        ListAge::Fresh { age }
    }
}

/// The kids (raw bytes) the accepted hub list revokes; none before a first pull.
pub fn revoked_kids(data: &Path) -> Result<Vec<Vec<u8>>, ExchangeError> {
    Ok(accepted(data)?
        .map(|a| {
            a.revoked_kids
                .iter()
                .filter_map(|k| codesign::unb64(k))
                .collect()
        })
        .unwrap_or_default())
}

/// Whether `entry`'s kid is among `revoked`.
pub fn is_revoked(entry: &TrustEntry, revoked: &[Vec<u8>]) -> bool {
    entry
        .kid_b64()
        .and_then(|k| codesign::unb64(&k))
        .is_some_and(|k| revoked.contains(&k))
}

/// Drops from the data dir's trust list the kids the accepted hub list revokes (its own keys
/// included: `keys rotate` and `keys export --all` write every generation of the issuer back);
/// returns how many entries it dropped.
pub fn drop_revoked(data: &Path) -> Result<usize, ExchangeError> {
    let revoked = revoked_kids(data)?;
    if revoked.is_empty() {
        return Ok(0);
    }
    let current = issuer::read_trust(data)?;
    let kept: Vec<TrustEntry> = current
        .iter()
        .filter(|e| !is_revoked(e, &revoked))
        .cloned()
        .collect();
    let dropped = current.len() - kept.len();
    if dropped > 0 {
        trust::write_entries(&Issuer::trust_path(data), &kept)?;
    }
    Ok(dropped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use codesign::anchor::{AnchorError, AnchorKey, RevokedKey};
    use codesign::{IssuerKey, TrustList};

    const T0: i64 = 1_580_515_200;

    fn anchor() -> AnchorKey {
        AnchorKey::from_seed(&[9; 32])
    }

    fn signed(version: u64, entries: Vec<TrustEntry>, revoked: &[&IssuerKey]) -> Vec<u8> {
        let revoked = revoked
            .iter()
            .map(|k| RevokedKey {
                kid: codesign::b64(&k.kid()),
                region: None,
                revoked_at: codesign::rfc3339(T0),
                reason: None,
            })
            .collect();
        SignedList::new(version, T0, entries, revoked).sign(&anchor())
    }

    fn kids(data: &Path) -> Vec<String> {
        let mut k: Vec<String> = issuer::read_trust(data)
            .unwrap()
            .iter()
            .filter_map(|e| e.kid_b64())
            .collect();
        k.sort();
        k
    }

    fn kid(k: &IssuerKey) -> String {
        codesign::b64(&k.kid())
    }

    #[test]
    fn pulls_replace_the_hub_keys_keep_our_own_and_drop_revoked_ones() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path();
        let own = IssuerKey::from_seed(&[5; 32]);
        let own_issuer = Issuer::new("510100", &own, T0);
        own_issuer.save(data).unwrap();
        own_issuer.sync_trust(data).unwrap();
        let (a1, a2) = (
            IssuerKey::from_seed(&[1; 32]),
            IssuerKey::from_seed(&[2; 32]),
        );

        let v1 = signed(
            1,
            vec![
                a1.trust_entry("330300", None),
                own.trust_entry("510100", None),
            ],
            &[],
        );
        let out = accept(data, &v1, &anchor().public(), "test", T0).unwrap();
        assert!(
            matches!(out, PullOutcome::Updated { version: 1, .. }),
            "{out:?}"
        );
        let mut want = vec![kid(&own), kid(&a1)];
        want.sort();
        assert_eq!(kids(data), want);
        // The same list again changes nothing.
        assert_eq!(
            accept(data, &v1, &anchor().public(), "test", T0).unwrap(),
            PullOutcome::Unchanged { version: 1 }
        );

        // A rotated: both keys; then a1 revoked.
        let v2 = signed(
            2,
            vec![
                a1.trust_entry("330300", Some(T0 + 100)),
                a2.trust_entry("330300", None),
            ],
            &[],
        );
        accept(data, &v2, &anchor().public(), "test", T0).unwrap();
        assert_eq!(kids(data).len(), 3);
        let v3 = signed(3, vec![a2.trust_entry("330300", None)], &[&a1]);
        accept(data, &v3, &anchor().public(), "test", T0).unwrap();
        let mut want = vec![kid(&own), kid(&a2)];
        want.sort();
        assert_eq!(kids(data), want);
        // Our own key stays as the data dir wrote it (no hub mark).
        let entries = issuer::read_trust(data).unwrap();
        let mine = entries
            .iter()
            .find(|e| e.kid_b64() == Some(kid(&own)))
            .unwrap();
        assert!(!from_hub(mine));
        TrustList::from_entries(&entries).unwrap();

        // Rollback to v2 (which still trusts a1): refused, the trust list kept.
        let before = std::fs::read(Issuer::trust_path(data)).unwrap();
        let e = accept(data, &v2, &anchor().public(), "test", T0).unwrap_err();
        assert!(
            matches!(e, ExchangeError::Anchor(AnchorError::Rollback { .. })),
            "{e}"
        );
        assert_eq!(std::fs::read(Issuer::trust_path(data)).unwrap(), before);
        assert_eq!(accepted(data).unwrap().unwrap().version, 3);
    }

    #[test]
    fn a_revoked_kid_is_dropped_even_when_imported_by_hand() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path();
        let a = IssuerKey::from_seed(&[1; 32]);
        trust::write_entries(&Issuer::trust_path(data), &[a.trust_entry("330300", None)]).unwrap();
        let out = accept(data, &signed(1, vec![], &[&a]), &anchor().public(), "t", T0).unwrap();
        assert!(
            matches!(out, PullOutcome::Updated { dropped: 1, .. }),
            "{out:?}"
        );
        assert!(kids(data).is_empty());
        // Written back by a local change (a rotation writes every generation again), it is
        // dropped again before anything verifies with it.
        let b = IssuerKey::from_seed(&[2; 32]);
        trust::write_entries(
            &Issuer::trust_path(data),
            &[a.trust_entry("330300", None), b.trust_entry("330300", None)],
        )
        .unwrap();
        assert_eq!(drop_revoked(data).unwrap(), 1);
        assert_eq!(kids(data).len(), 1);
        assert_eq!(drop_revoked(data).unwrap(), 0);
    }

    #[test]
    fn a_tampered_or_foreign_list_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path();
        let a = IssuerKey::from_seed(&[1; 32]);
        accept(
            data,
            &signed(1, vec![a.trust_entry("330300", None)], &[]),
            &anchor().public(),
            "t",
            T0,
        )
        .unwrap();
        let before = std::fs::read(Issuer::trust_path(data)).unwrap();
        let evil = IssuerKey::from_seed(&[66; 32]);
        let foreign = SignedList::new(9, T0, vec![evil.trust_entry("330300", None)], vec![])
            .sign(&AnchorKey::from_seed(&[8; 32]));
        assert!(accept(data, &foreign, &anchor().public(), "t", T0).is_err());
        let mut tampered = signed(2, vec![a.trust_entry("330300", None)], &[]);
        let n = tampered.len();
        tampered[n - 5] ^= 1;
        assert!(accept(data, &tampered, &anchor().public(), "t", T0).is_err());
        assert!(accept(data, b"garbage", &anchor().public(), "t", T0).is_err());
        assert_eq!(std::fs::read(Issuer::trust_path(data)).unwrap(), before);
        assert_eq!(accepted(data).unwrap().unwrap().version, 1);
    }

    #[test]
    fn an_expired_list_is_refused_and_an_old_one_warned_of() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path();
        let a = IssuerKey::from_seed(&[1; 32]);
        let day = 86_400;
        let list = |version: u64, issued: i64, valid: i64| {
            SignedList::new(version, issued, vec![a.trust_entry("330300", None)], vec![])
                .expiring_at(issued + valid)
                .sign(&anchor())
        };
        // Past its expiry: refused, nothing written.
        let e = accept(
            data,
            &list(1, T0, 30 * day),
            &anchor().public(),
            "t",
            T0 + 30 * day,
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("expired at 2020-03-02T00:00:00Z"),
            "{e}"
        );
        assert!(accepted(data).unwrap().is_none());
        assert!(!list_path(data).exists());

        // Accepted while valid; then it ages.
        let v1 = list(1, T0, 30 * day);
        accept(data, &v1, &anchor().public(), "t", T0 + 60).unwrap();
        let rec = accepted(data).unwrap().unwrap();
        assert_eq!(rec.expires_at.as_deref(), Some("2020-03-02T00:00:00Z"));
        let max = DEFAULT_MAX_AGE_SECS;
        assert_eq!(list_age(&rec, T0 + 3600, max), ListAge::Fresh { age: 3600 });
        assert_eq!(list_age(&rec, T0 + 3600, max).warning(&rec), None);
        let stale = list_age(&rec, T0 + 8 * day, max);
        assert_eq!(
            stale,
            ListAge::Stale {
                age: 8 * day,
                max_age: max
            }
        );
        let w = stale.warning(&rec).unwrap();
        assert!(
            w.contains("8 d 0 h old, more than the 7 d 0 h allowed"),
            "{w}"
        );
        assert!(w.contains("version 1") && w.contains("freeze"), "{w}");
        // A shorter maximum age is the deployment's choice.
        assert!(matches!(
            list_age(&rec, T0 + 2 * day, day),
            ListAge::Stale { .. }
        ));
        let expired = list_age(&rec, T0 + 31 * day, max);
        assert_eq!(
            expired,
            ListAge::Expired {
                age: 31 * day,
                expired_for: day
            }
        );
        assert!(
            expired
                .warning(&rec)
                .unwrap()
                .contains("expired 1 d 0 h ago")
        );

        // The hub keeps serving the same list after its expiry: refused, the record stays.
        let e = accept(data, &v1, &anchor().public(), "t", T0 + 31 * day).unwrap_err();
        assert!(e.to_string().contains("serving an old list"), "{e}");
        assert_eq!(accepted(data).unwrap().unwrap(), rec);
        // A fresh publication ends it.
        accept(
            data,
            &list(2, T0 + 31 * day, 30 * day),
            &anchor().public(),
            "t",
            T0 + 31 * day + 5,
        )
        .unwrap();
        let rec = accepted(data).unwrap().unwrap();
        assert_eq!(
            list_age(&rec, T0 + 31 * day + 5, max),
            ListAge::Fresh { age: 5 }
        );

        // A record of before (no expiry) only ages; an unreadable issue time is very old.
        let mut old = rec.clone();
        old.expires_at = None;
        assert!(matches!(
            list_age(&old, T0 + 400 * day, max),
            ListAge::Stale { .. }
        ));
        old.issued_at = "garbage".into();
        assert!(matches!(list_age(&old, T0, max), ListAge::Stale { .. }));
        // A clock behind the issue time is not a negative age.
        assert_eq!(list_age(&rec, T0, max), ListAge::Fresh { age: 0 });
    }
}
