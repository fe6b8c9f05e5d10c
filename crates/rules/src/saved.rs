//! The last whole-population run, kept in `DIR/codes/` (the store's [`Derived::SavedCodes`])
//! so the next run for the same day and rules recomputes only the people that sources
//! ingested since then touch. A removal of records in the store moves its generation on and
//! empties the folder; a run saved at another generation is never read.

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use model::{Date, Kind};
use serde::{Deserialize, Serialize};
use store::{Basis, Derived, Part, Standing, Store};

use crate::engine::Summary;
use crate::{CodeError, Color};

const FORMAT: u32 = 1;

/// Which run the saved codes belong to.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct RunKey {
    pub format: u32,
    pub as_of: String,
    pub rules_digest: String,
    pub key_id: String,
    pub zone: String,
    /// The store's generation of saved codes when the run was made ([`Store::generation`]).
    #[serde(default)]
    pub generation: u64,
    /// The fingerprint of the code overrides the run applied ([`crate::Overrides::digest`]):
    /// a decision on a correction makes the saved run stale, whatever the store did.
    #[serde(default)]
    pub overrides: String,
    /// The fingerprint of the home provinces' attestations the run folded in
    /// ([`crate::PeerAttestations::digest`]): a new answer makes the saved run stale.
    #[serde(default)]
    pub peer: String,
}

impl RunKey {
    /// The run of `as_of` under the rules of `rules_digest`, with no overrides.
    pub fn new(store: &Store, as_of: Date, rules_digest: &str) -> RunKey {
        RunKey {
            format: FORMAT,
            as_of: as_of.to_string(),
            rules_digest: rules_digest.to_string(),
            key_id: store.manifest().key_id().to_string(),
            zone: store.zone().to_string(),
            generation: store.generation(Derived::SavedCodes),
            overrides: String::new(),
            peer: String::new(),
        }
    }

    /// The same run with the overrides of fingerprint `digest` ([`crate::Overrides::digest`]).
    pub fn with_overrides(mut self, digest: &str) -> RunKey {
        self.overrides = digest.to_string();
        self
    }

    /// The same run with the attestations of fingerprint `digest`
    /// ([`crate::PeerAttestations::digest`]).
    pub fn with_peer_attestations(mut self, digest: &str) -> RunKey {
        self.peer = digest.to_string();
        self
    }
}

#[derive(Serialize, Deserialize)]
struct SavedHead {
    run: RunKey,
    /// Store sources the codes were computed from.
    sources: Vec<u32>,
}

/// The not-green codes of the last run and what they were computed from.
#[derive(Clone, Debug, Default)]
pub struct SavedCodes {
    pub sources: BTreeSet<u32>,
    pub codes: HashMap<i64, Summary>,
}

fn dir(store: &Store) -> PathBuf {
    store.derived_dir(Derived::SavedCodes)
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> CodeError + '_ {
    move |cause| CodeError::Write {
        path: path.display().to_string(),
        cause,
    }
}

impl SavedCodes {
    /// The saved run, if it is for `run` (same day, rules, key and zone).
    pub fn load(store: &Store, run: &RunKey) -> Result<Option<SavedCodes>, CodeError> {
        let d = dir(store);
        let Ok(head) = std::fs::read(d.join("last.json")) else {
            return Ok(None);
        };
        let Ok(head) = serde_json::from_slice::<SavedHead>(&head) else {
            return Ok(None);
        };
        if head.run != *run {
            return Ok(None);
        }
        let path = d.join("last.csv");
        let Ok(f) = File::open(&path) else {
            return Ok(None);
        };
        let mut codes = HashMap::new();
        for line in BufReader::new(f).lines() {
            let line = line.map_err(io(&path))?;
            let mut parts = line.split(',');
            let (Some(p), Some(c), Some(r), Some(u)) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return Ok(None);
            };
            let (Ok(p), Some(color), Ok(until)) = (
                p.parse::<i64>(),
                Color::parse(c),
                (!u.is_empty()).then(|| u.parse::<i32>()).transpose(),
            ) else {
                return Ok(None);
            };
            codes.insert(
                p,
                Summary {
                    color,
                    rules: r.to_string(),
                    valid_until: until.map(Date),
                },
            );
        }
        Ok(Some(SavedCodes {
            sources: head.sources.into_iter().collect(),
            codes,
        }))
    }

    /// Saves the codes (those not green, or listing a rule: an override) of a run; the head is written last, so a crash leaves
    /// the previous run or none.
    pub fn save(&self, store: &Store, run: &RunKey) -> Result<(), CodeError> {
        // A removal in the store empties the folder under the same lock, never mid-save; a run
        // computed before a removal is not saved after it.
        let lock = Derived::SavedCodes.lock(store.root())?;
        if !store.still_current(Derived::SavedCodes)? {
            return Ok(());
        }
        let d = lock.dir();
        let _ = std::fs::remove_file(d.join("last.json"));
        let tmp = d.join("last.csv.tmp");
        let mut w = BufWriter::new(File::create(&tmp).map_err(io(&tmp))?);
        for (p, s) in &self.codes {
            if s.is_plain_green() {
                continue;
            }
            let until = s.valid_until.map_or_else(String::new, |d| d.0.to_string());
            writeln!(w, "{p},{},{},{until}", s.color.as_str(), s.rules).map_err(io(&tmp))?;
        }
        w.into_inner()
            .map_err(|e| io(&tmp)(e.into_error()))?
            .sync_all()
            .map_err(io(&tmp))?;
        let path = d.join("last.csv");
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        let head = SavedHead {
            run: run.clone(),
            sources: self.sources.iter().copied().collect(),
        };
        let path = d.join("last.json");
        std::fs::write(&path, serde_json::to_vec(&head).expect("serialisable")).map_err(io(&path))
    }
}

/// What changed in the store since a saved run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Sources committed since.
    pub new_sources: Vec<u32>,
    /// A source the run used is gone, or a new one changes everyone (risk areas): recompute
    /// the whole population.
    pub everyone: bool,
    /// People named in the new sources.
    pub persons: Vec<i64>,
}

/// The changes since `saved` (loaded for this store's generation: [`SavedCodes::load`]), as
/// the store's registry judges them ([`Store::standing`]).
pub fn changes(store: &Store, saved: &SavedCodes) -> Result<Changes, CodeError> {
    let built = Basis {
        generation: store.generation(Derived::SavedCodes),
        sources: saved.sources.clone(),
    };
    let new_sources = match store.standing(Derived::SavedCodes, &built) {
        Standing::Current => return Ok(Changes::default()),
        Standing::Behind(new) => new,
        Standing::Invalid => {
            return Ok(Changes {
                new_sources: all_sources(store)
                    .difference(&saved.sources)
                    .copied()
                    .collect(),
                everyone: true,
                persons: Vec::new(),
            });
        }
    };
    let mut c = Changes {
        new_sources,
        ..Changes::default()
    };
    let mut files = Vec::new();
    for s in store.sources_of(Derived::SavedCodes) {
        if !c.new_sources.contains(&s.seq) {
            continue;
        }
        match s.kind() {
            Some(Kind::RiskAreas) => c.everyone = true,
            Some(k) if k.spec().column("person_id").is_some() => {
                files.extend(store.source_files(s, Part::Table));
            }
            _ => {}
        }
    }
    if !c.everyone {
        c.persons = crate::population::person_ids(&files)?;
    }
    Ok(c)
}

/// Every source the saved codes are computed from now.
pub fn all_sources(store: &Store) -> BTreeSet<u32> {
    store.basis(Derived::SavedCodes).sources
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use model::{PersonId, Zone};
    use store::Writer;
    use vault::{Keys, MasterKey};

    use super::*;

    fn keys() -> Keys {
        Keys::derive(&MasterKey::from_bytes([9; 32]))
    }

    fn person(i: u32) -> PersonId {
        PersonId::from_parts(420106, Date::from_ymd(1980, 1, 1 + i).unwrap(), 10 + i).unwrap()
    }

    fn ingest(data: &Path, dir: &Path, name: &str, text: String) {
        std::fs::create_dir_all(dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let k = keys();
        let mut w = Writer::open(data, k.key_id(), Zone::CST, || {}).unwrap();
        let s = ingest::run(
            &mut w,
            &k,
            &[path],
            &ingest::Options::default(),
            &|_| {},
            &AtomicBool::new(false),
        )
        .unwrap();
        assert_eq!(s.rows_rejected, 0);
    }

    fn checkin(p: u32, day: u32) -> String {
        format!(
            "person_id,venue_id,time_in,time_out\n{},V1,2020-01-{day}T10:00:00+08:00,\n",
            person(p)
        )
    }

    #[test]
    fn saved_codes_learn_of_new_sources_and_are_never_read_after_a_removal() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let view = || Store::open(&data, keys().key_id()).unwrap();
        let run = |s: &Store| RunKey::new(s, "2020-01-25".parse().unwrap(), "rules");
        ingest(&data, &dir.path().join("a"), "checkins.csv", checkin(1, 18));
        let first = view();
        let red = Summary {
            color: Color::Red,
            rules: "case".into(),
            valid_until: None,
        };
        let saved = SavedCodes {
            sources: all_sources(&first),
            codes: HashMap::from([(7, red)]),
        };
        saved.save(&first, &run(&first)).unwrap();
        let loaded = SavedCodes::load(&first, &run(&first)).unwrap().unwrap();
        assert_eq!(changes(&first, &loaded).unwrap(), Changes::default());

        // A source ingested since: the saved run still holds, and names whom to recompute.
        ingest(&data, &dir.path().join("b"), "checkins.csv", checkin(2, 22));
        let now = view();
        let loaded = SavedCodes::load(&now, &run(&now)).unwrap().unwrap();
        let c = changes(&now, &loaded).unwrap();
        assert_eq!(c.new_sources, [2]);
        assert!(!c.everyone);
        assert_eq!(c.persons, [keys().pseudonyms.pseudonym(person(2))]);

        // Retention removes the first check-in. Suppose it stopped before emptying `codes/`:
        // the saved run is still there, but not for this generation.
        let folder = Derived::SavedCodes.dir(&data);
        let kept: Vec<(PathBuf, Vec<u8>)> = ["last.json", "last.csv"]
            .iter()
            .map(|f| (folder.join(f), std::fs::read(folder.join(f)).unwrap()))
            .collect();
        let mut w = Writer::open(&data, keys().key_id(), Zone::CST, || {}).unwrap();
        w.remove_before(Kind::Checkins, "2020-01-20".parse().unwrap(), false)
            .unwrap();
        drop(w);
        assert!(!folder.join("last.json").exists(), "the store empties it");
        for (path, bytes) in &kept {
            std::fs::write(path, bytes).unwrap();
        }
        let after = view();
        assert!(SavedCodes::load(&after, &run(&after)).unwrap().is_none());
        // A run computed from a view older than the removal is not saved.
        std::fs::remove_file(folder.join("last.json")).unwrap();
        saved.save(&now, &run(&now)).unwrap();
        assert!(!folder.join("last.json").exists());
        assert!(SavedCodes::load(&after, &run(&after)).unwrap().is_none());
    }

    #[test]
    fn an_override_decided_since_makes_the_saved_run_stale_and_a_green_override_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        ingest(&data, &dir.path().join("a"), "checkins.csv", checkin(1, 18));
        let store = Store::open(&data, keys().key_id()).unwrap();
        let day: Date = "2020-01-25".parse().unwrap();
        let before = RunKey::new(&store, day, "rules");
        let overridden = Summary {
            color: Color::Green,
            rules: "override".into(),
            valid_until: None,
        };
        let saved = SavedCodes {
            sources: all_sources(&store),
            codes: HashMap::from([(7, overridden.clone()), (8, Summary::green())]),
        };
        saved.save(&store, &before).unwrap();
        let loaded = SavedCodes::load(&store, &before).unwrap().unwrap();
        assert_eq!(loaded.codes, HashMap::from([(7, overridden)]));
        // A decision since: another fingerprint, and the saved run is not read.
        let after = RunKey::new(&store, day, "rules").with_overrides("0123456789abcdef");
        assert!(SavedCodes::load(&store, &after).unwrap().is_none());
    }
}
