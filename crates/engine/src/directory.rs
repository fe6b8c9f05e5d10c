//! Who a pseudonym is: the person's home region and community (from `persons`, for scoping
//! answers to a region or community) and where their sealed name and phone lie in the vault
//! (opened only for an answer that may show them).
//!
//! Built from the `persons` tables and vault files once per set of `persons` sources and
//! kept in memory: 24 bytes a person, sorted by pseudonym; a person's latest `persons` row wins.

use std::collections::{BTreeMap, HashMap};

use arrow::array::Array;
use model::{Kind, Region};
use privacy::Residence;
use store::{DataFile, Store};
use vault::Keys;

use crate::EngineError;

const NONE: u32 = u32::MAX;

#[derive(Clone, Copy, Debug)]
struct Entry {
    person: i64,
    /// Home region code, 0 when unknown.
    region: u32,
    /// Index into `communities`, or `NONE`.
    community: u32,
    /// Index into `vault_files` and row within it, or `NONE`.
    vault_file: u32,
    vault_row: u32,
}

/// A person's sealed identity, opened.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identity {
    pub name: Option<String>,
    pub phone: Option<String>,
}

/// The directory of persons.
#[derive(Debug, Default)]
pub struct Directory {
    entries: Vec<Entry>,
    communities: Vec<String>,
    /// Positions in `entries`, sorted by (community, person).
    by_community: Vec<u32>,
    vault_files: Vec<DataFile>,
}

impl Directory {
    /// Reads `persons` and its vault files.
    pub fn build(store: &Store) -> Result<Directory, EngineError> {
        Directory::read(store).map_err(EngineError::internal)
    }

    fn read(store: &Store) -> Result<Directory, store::StoreError> {
        // person → (rid, region, community) of the latest row.
        let mut latest: HashMap<i64, (i64, u32, u32)> = HashMap::new();
        let mut communities: Vec<String> = Vec::new();
        let mut community_ids: HashMap<String, u32> = HashMap::new();
        for file in store.tables(Kind::Persons) {
            let columns = [
                "person_id",
                "home_region",
                "community_id",
                store::RID_COLUMN,
            ];
            for batch in file.scan(&columns)? {
                let batch = batch?;
                let (ids, rids) = (batch.ints("person_id")?, batch.ints(store::RID_COLUMN)?);
                let regions = batch.texts("home_region")?;
                let comms = batch.texts("community_id")?;
                for i in 0..batch.rows() {
                    let (p, rid) = (ids.value(i), rids.value(i));
                    if latest.get(&p).is_some_and(|(r, _, _)| *r > rid) {
                        continue;
                    }
                    let region = if regions.is_null(i) {
                        0
                    } else {
                        regions.value(i).parse::<u32>().unwrap_or(0)
                    };
                    let community = if comms.is_null(i) {
                        NONE
                    } else {
                        let c = comms.value(i);
                        match community_ids.get(c) {
                            Some(&n) => n,
                            None => {
                                let n = communities.len() as u32;
                                communities.push(c.to_string());
                                community_ids.insert(c.to_string(), n);
                                n
                            }
                        }
                    };
                    latest.insert(p, (rid, region, community));
                }
            }
        }
        // person → (rid, file, row) of their latest sealed row.
        let vault_files = store.vaults(Kind::Persons);
        let mut sealed: HashMap<i64, (i64, u32, u32)> = HashMap::new();
        for (fi, file) in vault_files.iter().enumerate() {
            let mut row = 0u32;
            for batch in file.scan(&[store::RID_COLUMN, "person_id"])? {
                let batch = batch?;
                let (rids, ids) = (batch.ints(store::RID_COLUMN)?, batch.ints("person_id")?);
                for i in 0..batch.rows() {
                    let (p, rid) = (ids.value(i), rids.value(i));
                    if sealed.get(&p).is_none_or(|(r, _, _)| *r <= rid) {
                        sealed.insert(p, (rid, fi as u32, row));
                    }
                    row += 1;
                }
            }
        }
        let mut entries: Vec<Entry> = latest
            .into_iter()
            .map(|(person, (_, region, community))| {
                let (vault_file, vault_row) = sealed
                    .get(&person)
                    .map_or((NONE, NONE), |&(_, f, r)| (f, r));
                Entry {
                    person,
                    region,
                    community,
                    vault_file,
                    vault_row,
                }
            })
            .collect();
        entries.sort_unstable_by_key(|e| e.person);
        let mut by_community: Vec<u32> = (0..entries.len() as u32)
            .filter(|&i| entries[i as usize].community != NONE)
            .collect();
        by_community.sort_unstable_by_key(|&i| {
            let e = &entries[i as usize];
            (e.community, e.person)
        });
        Ok(Directory {
            entries,
            communities,
            by_community,
            vault_files,
        })
    }

    fn entry(&self, person: i64) -> Option<&Entry> {
        self.entries
            .binary_search_by_key(&person, |e| e.person)
            .ok()
            .map(|i| &self.entries[i])
    }

    /// Whether `person` has a row in `persons` (contract §8: not, `not_registered`).
    pub fn contains(&self, person: i64) -> bool {
        self.entry(person).is_some()
    }

    /// How many persons it knows.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Where a person lives; empty for someone not in `persons`.
    pub fn residence(&self, person: i64) -> Residence<'_> {
        match self.entry(person) {
            None => Residence {
                person: Some(person),
                ..Residence::default()
            },
            Some(e) => Residence {
                region: Region::new(e.region),
                community: (e.community != NONE)
                    .then(|| self.communities[e.community as usize].as_str()),
                person: Some(person),
            },
        }
    }

    /// Everyone living within `scope`, sorted by pseudonym.
    pub fn persons_in(&self, scope: &privacy::Scope) -> Vec<i64> {
        self.entries
            .iter()
            .filter(|e| {
                scope.contains(Residence {
                    region: Region::new(e.region),
                    community: (e.community != NONE)
                        .then(|| self.communities[e.community as usize].as_str()),
                    person: Some(e.person),
                })
            })
            .map(|e| e.person)
            .collect()
    }

    /// The residents of a community, sorted by pseudonym.
    pub fn residents(&self, community: &str) -> Vec<i64> {
        let Some(c) = self.communities.iter().position(|x| x == community) else {
            return Vec::new();
        };
        let c = c as u32;
        let start = self
            .by_community
            .partition_point(|&i| self.entries[i as usize].community < c);
        self.by_community[start..]
            .iter()
            .map(|&i| &self.entries[i as usize])
            .take_while(|e| e.community == c)
            .map(|e| e.person)
            .collect()
    }

    /// Opens the names and phones of `persons` from the vault (one read per vault file).
    pub fn identities(
        &self,
        keys: &Keys,
        persons: &[i64],
    ) -> Result<HashMap<i64, Identity>, EngineError> {
        self.open_identities(keys, persons)
            .map_err(EngineError::internal)
    }

    fn open_identities(
        &self,
        keys: &Keys,
        persons: &[i64],
    ) -> Result<HashMap<i64, Identity>, store::StoreError> {
        let mut by_file: BTreeMap<u32, Vec<(u32, i64)>> = BTreeMap::new();
        for &p in persons {
            if let Some(e) = self.entry(p).filter(|e| e.vault_file != NONE) {
                by_file
                    .entry(e.vault_file)
                    .or_default()
                    .push((e.vault_row, p));
            }
        }
        let mut out = HashMap::new();
        for (file, mut rows) in by_file {
            rows.sort_unstable();
            rows.dedup();
            let vault_file = &self.vault_files[file as usize];
            let positions: Vec<u32> = rows.iter().map(|r| r.0).collect();
            let mut k = 0usize;
            for batch in vault_file.scan_rows(&store::VAULT_SCHEMA_FIELDS, &positions)? {
                let batch = batch?;
                let (rids, ids) = (batch.ints(store::RID_COLUMN)?, batch.ints("person_id")?);
                let (salts, sealed) = (batch.fixed_binaries("salt")?, batch.binaries("sealed")?);
                for i in 0..batch.rows() {
                    let p = ids.value(i);
                    if rows.get(k).map(|r| r.1) != Some(p) {
                        return Err(
                            vault_file.corrupt("the vault row does not belong to its person")
                        );
                    }
                    k += 1;
                    let salt: [u8; vault::SALT_LEN] = salts
                        .value(i)
                        .try_into()
                        .map_err(|_| vault_file.corrupt("a salt is not 16 bytes"))?;
                    let fields = keys
                        .opener(&salt)
                        .open(Kind::Persons.name(), p, rids.value(i), sealed.value(i))
                        .map_err(|e| vault_file.corrupt(e))?;
                    let mut it = fields.into_iter();
                    out.insert(
                        p,
                        Identity {
                            name: it.next().flatten(),
                            phone: it.next().flatten(),
                        },
                    );
                }
            }
        }
        Ok(out)
    }
}
