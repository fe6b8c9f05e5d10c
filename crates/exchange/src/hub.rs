//! The trust hub's folder: the provinces' signer keys, the keys revoked, and every list
//! published, each signed by the trust anchor.
//!
//! ```text
//! HUB/hub.json                  the anchor public key, pinned at the first publication
//! HUB/provinces/<region>.json   a province's entries, how they came, its last submission time
//! HUB/revoked.json              revoked kids (never un-revoked)
//! HUB/published/<version>.cose  every signed list, versions only going up
//! ```
//!
//! A province is enrolled by the hub operator from its exported key file, received out of band
//! and checked by fingerprint (`fangyi hub add`): that first step is the deployment
//! authentication a network cannot give. From then on the province submits its keys itself,
//! signed by a key the hub already holds for it (`submission.rs`), so a rotation needs no
//! operator; the operator publishes with the offline anchor key when they choose, and can
//! revoke any key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use codesign::anchor::{AnchorKey, AnchorPublic, RevokedKey, SignedList};
use codesign::trust::TrustEntry;
use serde::{Deserialize, Serialize};

use crate::{ExchangeError, read_json, secs, write_atomic};

/// The file that marks a hub folder.
pub const HUB_FILE: &str = "hub.json";

/// The most a province's or the revocations' file may hold.
const MAX_FILE: u64 = codesign::trust::MAX_TRUST_BYTES;

/// `hub.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct HubFile {
    /// Base64 of the anchor public key the hub publishes with, once it has.
    #[serde(default)]
    anchor: Option<String>,
}

/// What the hub holds for one province.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Province {
    pub region: String,
    pub entries: Vec<TrustEntry>,
    /// RFC 3339.
    pub updated_at: String,
    /// `file` (the operator enrolled it) or `submission` (signed by the province).
    pub via: String,
    /// The signed time of the last submission accepted, Unix milliseconds (a replay carries
    /// an older one).
    #[serde(default)]
    pub submitted_at: Option<i64>,
}

/// A list just published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub version: u64,
    pub keys: usize,
    pub revoked: usize,
    pub path: PathBuf,
    /// Unix seconds.
    pub expires_at: i64,
}

/// How long a published list stays valid unless the operator says otherwise: deployments warn
/// after a week without a newer one (`deploy::DEFAULT_MAX_AGE_SECS`) and refuse the list from
/// this long after it was issued, so a hub frozen on an old list is noticed, then stopped.
pub const DEFAULT_VALIDITY_SECS: i64 = 30 * 86_400;

/// A hub's folder.
#[derive(Debug, Clone)]
pub struct Hub {
    dir: PathBuf,
}

/// The region every entry names (one province's key file names one); a bad entry or mixed
/// regions are a bad request.
pub(crate) fn one_region(entries: &[TrustEntry]) -> Result<String, ExchangeError> {
    if entries.is_empty() {
        return Err(ExchangeError::Bad("no keys in it".into()));
    }
    let mut region = None;
    for (i, e) in entries.iter().enumerate() {
        let k = e
            .resolve()
            .map_err(|why| ExchangeError::Bad(format!("entry {i}: {why}")))?;
        if !matches!(k.key, codesign::PublicKey::Ed25519(_)) {
            return Err(ExchangeError::Bad(format!(
                "entry {i}: a province signs codes with Ed25519 keys, not {}",
                k.key.name()
            )));
        }
        let Some(r) = &e.region else {
            return Err(ExchangeError::Bad(format!(
                "entry {i} names no region: a province's keys sign its own region's codes"
            )));
        };
        model::Region::parse(r.as_bytes()).map_err(|err| {
            ExchangeError::Bad(format!("entry {i}: region {r}: {}", err.reason()))
        })?;
        match &region {
            None => region = Some(r.clone()),
            Some(first) if first != r => {
                return Err(ExchangeError::Bad(format!(
                    "entries of regions {first} and {r}: one province's keys at a time (its `fangyi keys export`)"
                )));
            }
            Some(_) => {}
        }
    }
    Ok(region.expect("an entry"))
}

/// An entry as the hub keeps it: the fields a verifier needs, nothing a deployment added.
fn clean(e: &TrustEntry) -> TrustEntry {
    TrustEntry {
        kid: e.kid_b64(),
        extra: BTreeMap::new(),
        ..e.clone()
    }
}

impl Hub {
    /// Opens (creating) a hub folder.
    pub fn open(dir: &Path) -> Result<Hub, ExchangeError> {
        for d in [dir.join("provinces"), dir.join("published")] {
            std::fs::create_dir_all(&d).map_err(|e| ExchangeError::io(&d, e))?;
        }
        let hub = Hub {
            dir: dir.to_path_buf(),
        };
        if !hub.dir.join(HUB_FILE).exists() {
            hub.save_file(&HubFile::default())?;
        }
        Ok(hub)
    }

    /// Opens a hub folder that exists already (`hub.json` in it): a mistyped `--dir` is an
    /// error, not a new empty hub publishing an empty list.
    pub fn open_existing(dir: &Path) -> Result<Hub, ExchangeError> {
        if !dir.join(HUB_FILE).is_file() {
            return Err(ExchangeError::Bad(format!(
                "{} is not a hub folder (no {HUB_FILE}); `fangyi hub add FILE --dir DIR` makes one",
                dir.display()
            )));
        }
        Hub::open(dir)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn save_file(&self, f: &HubFile) -> Result<(), ExchangeError> {
        let text = serde_json::to_string_pretty(f).expect("serialisable") + "\n";
        write_atomic(&self.dir.join(HUB_FILE), text.as_bytes())
    }

    fn province_path(&self, region: &str) -> PathBuf {
        self.dir.join("provinces").join(format!("{region}.json"))
    }

    /// The province of `region`, if enrolled. `region` must be a region code (it names a file).
    pub fn province(&self, region: &str) -> Result<Option<Province>, ExchangeError> {
        model::Region::parse(region.as_bytes())
            .map_err(|e| ExchangeError::Bad(format!("region {region:?}: {}", e.reason())))?;
        read_json(&self.province_path(region), MAX_FILE)
    }

    /// Every enrolled province, by region.
    pub fn provinces(&self) -> Result<Vec<Province>, ExchangeError> {
        let dir = self.dir.join("provinces");
        let mut out = Vec::new();
        for e in std::fs::read_dir(&dir).map_err(|e| ExchangeError::io(&dir, e))? {
            let e = e.map_err(|e| ExchangeError::io(&dir, e))?;
            let name = e.file_name().to_string_lossy().to_string();
            // Anything but <region>.json (an editor's backup, a note) is not a province.
            let Some(region) = name
                .strip_suffix(".json")
                .filter(|r| model::Region::parse(r.as_bytes()).is_ok())
            else {
                continue;
            };
            if let Some(p) = self.province(region)? {
                out.push(p);
            }
        }
        out.sort_by(|a, b| a.region.cmp(&b.region));
        Ok(out)
    }

    pub(crate) fn save_province(&self, p: &Province) -> Result<(), ExchangeError> {
        let text = serde_json::to_string_pretty(p).expect("serialisable") + "\n";
        write_atomic(&self.province_path(&p.region), text.as_bytes())
    }

    /// The keys revoked so far.
    pub fn revoked(&self) -> Result<Vec<RevokedKey>, ExchangeError> {
        Ok(read_json(&self.dir.join("revoked.json"), MAX_FILE)?.unwrap_or_default())
    }

    pub(crate) fn is_revoked(&self, entry: &TrustEntry) -> Result<bool, ExchangeError> {
        let kid = entry.kid_b64();
        Ok(self.revoked()?.iter().any(|r| Some(&r.kid) == kid.as_ref()))
    }

    /// Enrols or updates a province from its exported key file's entries (the operator's
    /// step): every entry usable, all of one region, none revoked. Returns the province.
    pub fn enrol(&self, entries: &[TrustEntry], now: i64) -> Result<Province, ExchangeError> {
        let region = one_region(entries)?;
        for e in entries {
            if self.is_revoked(e)? {
                return Err(ExchangeError::Conflict(format!(
                    "key {} was revoked at this hub; a revoked key is never trusted again",
                    e.kid_b64().unwrap_or_default()
                )));
            }
        }
        // A key is one province's: listed under two regions, the other's codes would fail the
        // region check wherever the wrong entry is found first.
        for other in self.provinces()?.iter().filter(|p| p.region != region) {
            if let Some(e) = entries.iter().find(|e| {
                other.entries.iter().any(|o| {
                    o.kid_b64() == e.kid_b64()
                        || o.public_key.is_some() && o.public_key == e.public_key
                })
            }) {
                return Err(ExchangeError::Conflict(format!(
                    "key {} is region {}'s at this hub; a key belongs to one province",
                    e.kid_b64().unwrap_or_default(),
                    other.region
                )));
            }
        }
        let submitted_at = self.province(&region)?.and_then(|p| p.submitted_at);
        let p = Province {
            region,
            entries: entries.iter().map(clean).collect(),
            updated_at: codesign::rfc3339(now),
            via: "file".into(),
            submitted_at,
        };
        self.save_province(&p)?;
        Ok(p)
    }

    /// Revokes the key `kid` (base64): it leaves the next list, which names it as revoked, and
    /// is never accepted again. Returns whether it was newly revoked; a kid no province has is
    /// revoked all the same (a key known to be stolen before it was ever sent).
    pub fn revoke(&self, kid: &str, reason: &str, now: i64) -> Result<bool, ExchangeError> {
        let bytes = codesign::unb64(kid)
            .filter(|b| !b.is_empty() && b.len() <= 64)
            .ok_or_else(|| ExchangeError::Bad(format!("kid {kid:?} is not base64")))?;
        let kid = codesign::b64(&bytes);
        let mut revoked = self.revoked()?;
        if revoked.iter().any(|r| r.kid == kid) {
            return Ok(false);
        }
        let region = self.provinces()?.into_iter().find_map(|p| {
            p.entries
                .iter()
                .any(|e| e.kid_b64().as_ref() == Some(&kid))
                .then_some(p.region)
        });
        revoked.push(RevokedKey {
            kid,
            region,
            revoked_at: codesign::rfc3339(now),
            reason: Some(reason.to_string()),
        });
        let text = serde_json::to_string_pretty(&revoked).expect("serialisable") + "\n";
        write_atomic(&self.dir.join("revoked.json"), text.as_bytes())?;
        Ok(true)
    }

    fn published_path(&self, version: u64) -> PathBuf {
        self.dir
            .join("published")
            .join(format!("{version:012}.cose"))
    }

    /// The newest version published, if any.
    pub fn latest_version(&self) -> Result<Option<u64>, ExchangeError> {
        let dir = self.dir.join("published");
        let mut newest = None;
        for e in std::fs::read_dir(&dir).map_err(|e| ExchangeError::io(&dir, e))? {
            let e = e.map_err(|e| ExchangeError::io(&dir, e))?;
            let name = e.file_name().to_string_lossy().to_string();
            if let Some(v) = name
                .strip_suffix(".cose")
                .and_then(|v| v.parse::<u64>().ok())
            {
                newest = newest.max(Some(v));
            }
        }
        Ok(newest)
    }

    /// The newest signed list: its version and bytes.
    pub fn latest(&self) -> Result<Option<(u64, Vec<u8>)>, ExchangeError> {
        let Some(v) = self.latest_version()? else {
            return Ok(None);
        };
        let path = self.published_path(v);
        let bytes = model::files::read(&path, MAX_FILE).map_err(|e| ExchangeError::io(&path, e))?;
        Ok(Some((v, bytes)))
    }

    /// The entries the next list carries: every province's keys but the revoked ones and
    /// those retired past their `not_after` (no code they signed is valid any more), by region
    /// and kid.
    pub fn combined(&self, now: i64) -> Result<Vec<TrustEntry>, ExchangeError> {
        let mut out = Vec::new();
        for p in self.provinces()? {
            for e in p.entries {
                let expired = e
                    .not_after
                    .as_deref()
                    .and_then(secs)
                    .is_some_and(|t| t < now);
                if !expired && !self.is_revoked(&e)? {
                    out.push(e);
                }
            }
        }
        out.sort_by(|a, b| (&a.region, a.kid_b64()).cmp(&(&b.region, b.kid_b64())));
        Ok(out)
    }

    /// Signs and publishes the next version with the anchor `key`, valid for
    /// [`DEFAULT_VALIDITY_SECS`].
    pub fn publish(&self, key: &AnchorKey, now: i64) -> Result<Published, ExchangeError> {
        self.publish_valid_for(key, now, DEFAULT_VALIDITY_SECS)
    }

    /// Signs and publishes the next version with the anchor `key`, expiring `valid_for`
    /// seconds after `now`. The hub is pinned to the anchor of its first publication: another
    /// key is refused, since every deployment would refuse its lists.
    pub fn publish_valid_for(
        &self,
        key: &AnchorKey,
        now: i64,
        valid_for: i64,
    ) -> Result<Published, ExchangeError> {
        if !(3600..=3650 * 86_400).contains(&valid_for) {
            return Err(ExchangeError::Bad(
                "a list must stay valid for at least an hour and at most ten years".into(),
            ));
        }
        let mut file: HubFile = read_json(&self.dir.join(HUB_FILE), MAX_FILE)?.unwrap_or_default();
        let public = key.public();
        match &file.anchor {
            Some(a) if *a != public.to_b64() => {
                return Err(ExchangeError::Conflict(format!(
                    "this hub publishes with the anchor {a}, not {}; deployments trust that one",
                    public.to_b64()
                )));
            }
            Some(_) => {}
            None => {
                file.anchor = Some(public.to_b64());
                self.save_file(&file)?;
            }
        }
        let entries = self.combined(now)?;
        let revoked = self.revoked()?;
        let version = self.latest_version()?.unwrap_or(0) + 1;
        let expires_at = now.saturating_add(valid_for);
        let list = SignedList::new(version, now, entries, revoked).expiring_at(expires_at);
        let bytes = list.sign(key);
        // Checked as a deployment will before it leaves the operator's hands.
        SignedList::open(&bytes, &public)?;
        let path = self.published_path(version);
        // create_new: two publications at once cannot both take one version.
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| ExchangeError::io(&path, e))?;
        std::io::Write::write_all(&mut f, &bytes)
            .and_then(|()| f.sync_all())
            .map_err(|e| ExchangeError::io(&path, e))?;
        Ok(Published {
            version,
            keys: list.entries.len(),
            revoked: list.revoked.len(),
            path,
            expires_at,
        })
    }

    /// The newest published list, opened with the hub's anchor (for its expiry: when the
    /// operator must publish again at the latest).
    pub fn latest_list(&self) -> Result<Option<SignedList>, ExchangeError> {
        let (Some((_, bytes)), Some(anchor)) = (self.latest()?, self.anchor()?) else {
            return Ok(None);
        };
        Ok(Some(SignedList::open(&bytes, &anchor)?))
    }

    /// The anchor public key the hub publishes with, once it has published.
    pub fn anchor(&self) -> Result<Option<AnchorPublic>, ExchangeError> {
        let file: HubFile = read_json(&self.dir.join(HUB_FILE), MAX_FILE)?.unwrap_or_default();
        file.anchor
            .map(|a| AnchorPublic::parse(&a).map_err(ExchangeError::from))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use codesign::IssuerKey;

    const T0: i64 = 1_580_515_200;

    #[test]
    fn provinces_enrolled_are_published_signed_with_versions_going_up() {
        let dir = tempfile::tempdir().unwrap();
        let hub = Hub::open(dir.path()).unwrap();
        let a = IssuerKey::from_seed(&[1; 32]);
        let b = IssuerKey::from_seed(&[2; 32]);
        hub.enrol(&[a.trust_entry("330300", None)], T0).unwrap();
        hub.enrol(&[b.trust_entry("510100", None)], T0).unwrap();
        let anchor = AnchorKey::from_seed(&[9; 32]);
        let p1 = hub.publish(&anchor, T0).unwrap();
        assert_eq!((p1.version, p1.keys, p1.revoked), (1, 2, 0));
        assert!(hub.revoke(&codesign::b64(&a.kid()), "stolen", T0).unwrap());
        assert!(!hub.revoke(&codesign::b64(&a.kid()), "stolen", T0).unwrap());
        let p2 = hub.publish(&anchor, T0 + 1).unwrap();
        assert_eq!((p2.version, p2.keys, p2.revoked), (2, 1, 1));
        let (v, bytes) = hub.latest().unwrap().unwrap();
        assert_eq!(v, 2);
        let list = SignedList::open(&bytes, &anchor.public()).unwrap();
        assert_eq!(list.revoked[0].region.as_deref(), Some("330300"));
        // A revoked key cannot come back by file.
        assert!(matches!(
            hub.enrol(&[a.trust_entry("330300", None)], T0),
            Err(ExchangeError::Conflict(_))
        ));
        // Another anchor is refused.
        let other = AnchorKey::from_seed(&[8; 32]);
        assert!(matches!(
            hub.publish(&other, T0),
            Err(ExchangeError::Conflict(_))
        ));
        assert_eq!(hub.anchor().unwrap(), Some(anchor.public()));
    }

    #[test]
    fn a_key_file_of_mixed_regions_or_bad_entries_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let hub = Hub::open(dir.path()).unwrap();
        let a = IssuerKey::from_seed(&[1; 32]);
        let b = IssuerKey::from_seed(&[2; 32]);
        let mixed = [a.trust_entry("330300", None), b.trust_entry("510100", None)];
        assert!(matches!(hub.enrol(&mixed, T0), Err(ExchangeError::Bad(_))));
        assert!(matches!(hub.enrol(&[], T0), Err(ExchangeError::Bad(_))));
        let mut no_region = a.trust_entry("330300", None);
        no_region.region = None;
        assert!(hub.enrol(&[no_region], T0).is_err());
        let mut bad_region = a.trust_entry("330300", None);
        bad_region.region = Some("../../etc".into());
        assert!(hub.enrol(&[bad_region], T0).is_err());
        assert!(hub.province("../x").is_err());
        assert!(hub.revoke("%%%", "x", T0).is_err());
        assert!(hub.provinces().unwrap().is_empty());
    }

    #[test]
    fn only_adding_a_province_makes_a_hub_folder() {
        let dir = tempfile::tempdir().unwrap();
        let typo = dir.path().join("hbu");
        assert!(matches!(
            Hub::open_existing(&typo),
            Err(ExchangeError::Bad(_))
        ));
        assert!(!typo.exists());
        Hub::open(&typo).unwrap();
        Hub::open_existing(&typo).unwrap();
    }

    #[test]
    fn a_key_belongs_to_one_province_and_stray_files_are_no_provinces() {
        let dir = tempfile::tempdir().unwrap();
        let hub = Hub::open(dir.path()).unwrap();
        let b = IssuerKey::from_seed(&[2; 32]);
        hub.enrol(&[b.trust_entry("510100", None)], T0).unwrap();
        // Province A claiming B's key: refused, whichever way it comes.
        let e = hub.enrol(&[b.trust_entry("330300", None)], T0).unwrap_err();
        assert!(matches!(e, ExchangeError::Conflict(_)), "{e}");
        // B again: its own key, fine.
        hub.enrol(&[b.trust_entry("510100", None)], T0).unwrap();
        std::fs::write(dir.path().join("provinces/notes.json"), "{}").unwrap();
        std::fs::write(dir.path().join("provinces/510100.json~"), "{}").unwrap();
        assert_eq!(hub.provinces().unwrap().len(), 1);
        hub.publish(&AnchorKey::from_seed(&[9; 32]), T0).unwrap();
    }

    #[test]
    fn retired_keys_leave_the_list_once_past_not_after() {
        let dir = tempfile::tempdir().unwrap();
        let hub = Hub::open(dir.path()).unwrap();
        let old = IssuerKey::from_seed(&[1; 32]);
        let new = IssuerKey::from_seed(&[2; 32]);
        hub.enrol(
            &[
                old.trust_entry("330300", Some(T0 + 100)),
                new.trust_entry("330300", None),
            ],
            T0,
        )
        .unwrap();
        assert_eq!(hub.combined(T0).unwrap().len(), 2);
        assert_eq!(hub.combined(T0 + 101).unwrap().len(), 1);
    }

    #[test]
    fn a_publication_expires_as_asked_and_at_least_an_hour_on() {
        let dir = tempfile::tempdir().unwrap();
        let hub = Hub::open(dir.path()).unwrap();
        let anchor = AnchorKey::from_seed(&[9; 32]);
        assert!(hub.latest_list().unwrap().is_none());
        let p = hub.publish(&anchor, T0).unwrap();
        assert_eq!(p.expires_at, T0 + DEFAULT_VALIDITY_SECS);
        let p = hub.publish_valid_for(&anchor, T0 + 10, 3600).unwrap();
        assert_eq!(p.expires_at, T0 + 3610);
        let latest = hub.latest_list().unwrap().unwrap();
        assert_eq!(
            (latest.version, latest.expires_secs()),
            (2, Some(T0 + 3610))
        );
        for short in [3599, 0, -5, 3650 * 86_400 + 1, i64::MAX] {
            assert!(matches!(
                hub.publish_valid_for(&anchor, T0 + 20, short),
                Err(ExchangeError::Bad(_))
            ));
        }
        assert_eq!(hub.latest_version().unwrap(), Some(2), "nothing published");
        let p = hub
            .publish_valid_for(&anchor, T0 + 30, 3650 * 86_400)
            .unwrap();
        assert_eq!(p.expires_at, T0 + 30 + 3650 * 86_400);
    }
}
