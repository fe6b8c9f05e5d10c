//! The de-identified `persons` table and the values of [`ColumnRule::Common`] columns, built
//! once per snapshot (and scope) from the stored tables: each person's quasi-identifiers —
//! birth date, sex, home region, community — generalised along [`privacy::sql::LADDER`] until
//! every combination shown is shared by at least [`privacy::sql::K`] persons.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arrow::array::{Array, AsArray, Int32Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Date32Type, Field, Int64Type, Schema, SchemaRef};
use model::{Date, Kind, Region};
use privacy::ColumnRule;
use privacy::sql::{K, LADDER, Rung};
use store::Store;

use crate::views::{PersonSet, Tables, personal};
use crate::{Query, QueryError};

/// What a de-identified session shows beyond the stored files' views.
#[derive(Debug)]
pub struct Deidentified {
    scope: Option<PersonSet>,
    persons: RecordBatch,
    common: HashMap<(Kind, &'static str), Arc<HashSet<String>>>,
}

/// The schema of the de-identified `persons`.
pub fn persons_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("person_id", DataType::Int64, false),
        Field::new("birth_decade", DataType::Int32, true),
        Field::new("sex", DataType::Utf8, true),
        Field::new("home_region", DataType::Utf8, true),
        Field::new("community_id", DataType::Utf8, true),
    ]))
}

impl Deidentified {
    /// Reads `persons` and the common values of the store's personal kinds, within `scope`
    /// when given. Runs trusted queries of its own, without the limits of outside SQL.
    pub async fn build(
        store: &Store,
        scope: Option<PersonSet>,
    ) -> Result<Deidentified, QueryError> {
        let tables = match &scope {
            Some(s) => Tables::InScope(s.clone()),
            None => Tables::Stored,
        };
        let q = Query::open_with(store, None, &tables, None, crate::Limits::default())?;
        let (_, batches) = q
            .collect(
                "SELECT person_id, birth_date, sex, home_region, community_id, _rid FROM persons",
            )
            .await?;
        let persons = generalise(&batches)?;
        let mut common = HashMap::new();
        for &kind in Kind::ALL {
            if !personal(kind) {
                continue;
            }
            for c in kind.spec().columns {
                if privacy::analyst_column(kind, c.name) != ColumnRule::Common {
                    continue;
                }
                let sql = format!(
                    "SELECT \"{col}\" AS v FROM {table} WHERE \"{col}\" IS NOT NULL \
                     GROUP BY 1 HAVING count(DISTINCT person_id) >= {K}",
                    col = c.name,
                    table = kind.name()
                );
                let (_, batches) = q.collect(&sql).await?;
                let mut values = HashSet::new();
                for b in &batches {
                    let v = arrow::compute::cast(b.column(0), &DataType::Utf8)
                        .map_err(|e| QueryError::Execution(e.to_string()))?;
                    values.extend(v.as_string::<i32>().iter().flatten().map(str::to_string));
                }
                common.insert((kind, c.name), Arc::new(values));
            }
        }
        Ok(Deidentified {
            scope,
            persons,
            common,
        })
    }

    /// The scope the tables were narrowed to, if any.
    pub fn scope(&self) -> Option<&PersonSet> {
        self.scope.as_ref()
    }

    /// The de-identified `persons`: one row per person.
    pub fn persons(&self) -> &RecordBatch {
        &self.persons
    }

    /// The values of a [`ColumnRule::Common`] column that at least K persons share.
    pub(crate) fn common_values(&self, kind: Kind, column: &str) -> Arc<HashSet<String>> {
        self.common
            .iter()
            .find(|((k, c), _)| *k == kind && *c == column)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }
}

/// One person's quasi-identifiers, coded small: decade of birth + 1 (0 unknown), sex and
/// community as 1 + an index into their interned texts (0 unknown), home region's code.
#[derive(Clone, Copy, Debug)]
struct Person {
    id: i64,
    decade: u16,
    sex: u16,
    region: u32,
    community: u32,
}

/// Generalisations of one region code.
#[derive(Clone, Copy)]
struct RegionLevels {
    county: u32,
    prefecture: u32,
    province: u32,
}

fn levels(code: u32) -> RegionLevels {
    match Region::new(code) {
        Some(r) => RegionLevels {
            county: r.code(),
            prefecture: r.prefecture().code(),
            province: r.province().code(),
        },
        None => RegionLevels {
            county: 0,
            prefecture: 0,
            province: 0,
        },
    }
}

/// A person's combination at a rung, packed: 11 bits decade, 4 sex, 20 region, 29 community.
fn key(p: &Person, rung: &Rung, regions: &HashMap<u32, RegionLevels>) -> u64 {
    let decade = if rung.birth_decade {
        p.decade as u64
    } else {
        0
    };
    let sex = if rung.sex { p.sex as u64 } else { 0 };
    let region = match rung.region {
        None => 0,
        Some(level) => {
            let l = regions.get(&p.region).copied().unwrap_or(levels(0));
            (match level {
                model::Level::County => l.county,
                model::Level::Prefecture => l.prefecture,
                model::Level::Province => l.province,
            }) as u64
        }
    };
    let community = if rung.community {
        p.community as u64
    } else {
        0
    };
    (decade << 53) | (sex << 49) | (region << 29) | community
}

fn corrupt(what: &str) -> QueryError {
    QueryError::Execution(format!("persons: {what}"))
}

/// Interns `s`, returning 1 + its index.
fn intern(s: &str, texts: &mut Vec<String>, ids: &mut HashMap<String, u32>) -> u32 {
    if let Some(&i) = ids.get(s) {
        return i;
    }
    texts.push(s.to_string());
    let i = texts.len() as u32;
    ids.insert(s.to_string(), i);
    i
}

/// The generalised `persons` from the stored columns (person_id, birth_date, sex, home_region,
/// community_id, _rid): one row per person (their latest stored row), sorted by pseudonym.
pub(crate) fn generalise(batches: &[RecordBatch]) -> Result<RecordBatch, QueryError> {
    let mut sexes: Vec<String> = Vec::new();
    let mut sex_ids = HashMap::new();
    let mut communities: Vec<String> = Vec::new();
    let mut community_ids = HashMap::new();
    let mut rows: Vec<(Person, i64)> = Vec::new();
    for b in batches {
        let ids = b
            .column(0)
            .as_primitive_opt::<Int64Type>()
            .ok_or_else(|| corrupt("person_id"))?;
        let births = b
            .column(1)
            .as_primitive_opt::<Date32Type>()
            .ok_or_else(|| corrupt("birth_date"))?;
        let sex = b
            .column(2)
            .as_string_opt::<i32>()
            .ok_or_else(|| corrupt("sex"))?;
        let region = b
            .column(3)
            .as_string_opt::<i32>()
            .ok_or_else(|| corrupt("home_region"))?;
        let community = b
            .column(4)
            .as_string_opt::<i32>()
            .ok_or_else(|| corrupt("community_id"))?;
        let rid = b
            .column(5)
            .as_primitive_opt::<Int64Type>()
            .ok_or_else(|| corrupt("_rid"))?;
        for i in 0..b.num_rows() {
            if ids.is_null(i) {
                continue;
            }
            let decade = if births.is_null(i) {
                0
            } else {
                let year = Date(births.value(i)).ymd().0;
                u16::try_from(year.max(0) / 10 + 1).unwrap_or(0).min(2047)
            };
            let p = Person {
                id: ids.value(i),
                decade,
                sex: if sex.is_null(i) {
                    0
                } else {
                    intern(sex.value(i), &mut sexes, &mut sex_ids).min(15) as u16
                },
                region: if region.is_null(i) {
                    0
                } else {
                    region.value(i).parse().unwrap_or(0)
                },
                community: if community.is_null(i) {
                    0
                } else {
                    intern(community.value(i), &mut communities, &mut community_ids)
                        .min((1 << 29) - 1)
                },
            };
            rows.push((p, if rid.is_null(i) { 0 } else { rid.value(i) }));
        }
    }
    // One row per person: the latest.
    rows.sort_unstable_by(|a, b| a.0.id.cmp(&b.0.id).then(b.1.cmp(&a.1)));
    rows.dedup_by_key(|r| r.0.id);
    let people: Vec<Person> = rows.into_iter().map(|r| r.0).collect();
    let rung = place(&people);
    let mut regions_out: HashMap<u32, RegionLevels> = HashMap::new();
    for p in &people {
        regions_out
            .entry(p.region)
            .or_insert_with(|| levels(p.region));
    }
    let shown: Vec<usize> = if people.len() < K {
        Vec::new()
    } else {
        (0..people.len()).collect()
    };
    let id: Int64Array = shown.iter().map(|&i| Some(people[i].id)).collect();
    let decade: Int32Array = shown
        .iter()
        .map(|&i| {
            let (p, r) = (&people[i], &LADDER[rung[i]]);
            (r.birth_decade && p.decade > 0).then(|| (p.decade as i32 - 1) * 10)
        })
        .collect();
    let sex: StringArray = shown
        .iter()
        .map(|&i| {
            let (p, r) = (&people[i], &LADDER[rung[i]]);
            (r.sex && p.sex > 0).then(|| sexes[p.sex as usize - 1].as_str())
        })
        .collect();
    let region: StringArray = shown
        .iter()
        .map(|&i| {
            let (p, r) = (&people[i], &LADDER[rung[i]]);
            let l = regions_out[&p.region];
            let code = match r.region? {
                model::Level::County => l.county,
                model::Level::Prefecture => l.prefecture,
                model::Level::Province => l.province,
            };
            (code > 0).then(|| format!("{code:06}"))
        })
        .collect();
    let community: StringArray = shown
        .iter()
        .map(|&i| {
            let (p, r) = (&people[i], &LADDER[rung[i]]);
            (r.community && p.community > 0).then(|| communities[p.community as usize - 1].as_str())
        })
        .collect();
    RecordBatch::try_new(
        persons_schema(),
        vec![
            Arc::new(id),
            Arc::new(decade),
            Arc::new(sex),
            Arc::new(region),
            Arc::new(community),
        ],
    )
    .map_err(|e| QueryError::Execution(e.to_string()))
}

/// The rung of [`LADDER`] each person is shown at: the first where their combination is shared
/// by at least K of the persons not yet placed; the rest at the last rung, topped up to K from
/// the largest groups when fewer are left.
fn place(people: &[Person]) -> Vec<usize> {
    let last = LADDER.len() - 1;
    let mut regions: HashMap<u32, RegionLevels> = HashMap::new();
    for p in people {
        regions.entry(p.region).or_insert_with(|| levels(p.region));
    }
    let mut rung = vec![last; people.len()];
    let mut unplaced: Vec<usize> = (0..people.len()).collect();
    for (r, step) in LADDER.iter().enumerate().take(last) {
        let mut counts: HashMap<u64, usize> = HashMap::new();
        for &i in &unplaced {
            *counts.entry(key(&people[i], step, &regions)).or_default() += 1;
        }
        unplaced.retain(|&i| {
            if counts[&key(&people[i], step, &regions)] >= K {
                rung[i] = r;
                false
            } else {
                true
            }
        });
    }
    // The last rung shows nothing but the pseudonym; it still must hold K persons or none.
    let mut left = unplaced.len();
    if left == 0 || left >= K {
        return rung;
    }
    let mut groups: HashMap<(usize, u64), Vec<usize>> = HashMap::new();
    for (i, p) in people.iter().enumerate() {
        if rung[i] != last {
            groups
                .entry((rung[i], key(p, &LADDER[rung[i]], &regions)))
                .or_default()
                .push(i);
        }
    }
    let mut groups: Vec<Vec<usize>> = groups.into_values().collect();
    // Largest first; ties by their first person, so the result does not depend on hashing.
    groups.sort_unstable_by(|a, b| b.len().cmp(&a.len()).then(a[0].cmp(&b[0])));
    // First persons a group can spare while keeping K…
    for g in &mut groups {
        while left < K && g.len() > K {
            let i = g.pop().expect("more than K");
            rung[i] = last;
            left += 1;
        }
    }
    // …then whole groups, smallest first.
    for g in groups.iter().rev() {
        if left >= K {
            break;
        }
        for &i in g {
            rung[i] = last;
        }
        left += g.len();
    }
    rung
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(id: i64, decade: u16, sex: u16, region: u32, community: u32) -> Person {
        Person {
            id,
            decade,
            sex,
            region,
            community,
        }
    }

    fn smallest_group(people: &[Person], rung: &[usize]) -> usize {
        let regions: HashMap<u32, RegionLevels> = people
            .iter()
            .map(|p| (p.region, levels(p.region)))
            .collect();
        let mut counts: HashMap<(usize, u64), usize> = HashMap::new();
        for (i, p) in people.iter().enumerate() {
            *counts
                .entry((rung[i], key(p, &LADDER[rung[i]], &regions)))
                .or_default() += 1;
        }
        counts.values().copied().min().unwrap_or(0)
    }

    #[test]
    fn every_group_holds_k_and_rare_people_climb_the_ladder() {
        let mut people = Vec::new();
        // Ten alike in one community: shown in full.
        for i in 0..10 {
            people.push(person(i, 199, 1, 330302, 1));
        }
        // Two in another community of the same county with the same decade and sex, and
        // three in a third: five together at the county level, without community.
        for i in 10..12 {
            people.push(person(i, 199, 1, 330302, 2));
        }
        for i in 12..15 {
            people.push(person(i, 199, 1, 330302, 3));
        }
        // One elder alone in the province: climbs to the last rung, where four of the ten
        // (all the first group can spare) keep them company.
        people.push(person(15, 193, 2, 330381, 4));
        let rung = place(&people);
        let last = LADDER.len() - 1;
        assert_eq!(&rung[10..15], &[1; 5]);
        assert_eq!(rung[15], last);
        assert_eq!(rung[..10].iter().filter(|&&r| r == 0).count(), 6);
        assert_eq!(rung.iter().filter(|&&r| r == last).count(), K);
        assert!(smallest_group(&people, &rung) >= K, "{rung:?}");
        // With no group to spare from, a whole group joins.
        people.drain(..5);
        let rung = place(&people);
        assert!(smallest_group(&people, &rung) >= K, "{rung:?}");
    }

    #[test]
    fn fewer_than_k_persons_show_nothing() {
        let ids = Int64Array::from(vec![1, 2, 3]);
        let births = arrow::array::Date32Array::from(vec![Some(3650), None, Some(7000)]);
        let text = |v: Vec<Option<&str>>| Arc::new(StringArray::from(v)) as _;
        let b = RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("person_id", DataType::Int64, false),
                Field::new("birth_date", DataType::Date32, true),
                Field::new("sex", DataType::Utf8, true),
                Field::new("home_region", DataType::Utf8, false),
                Field::new("community_id", DataType::Utf8, true),
                Field::new("_rid", DataType::Int64, false),
            ])),
            vec![
                Arc::new(ids),
                Arc::new(births),
                text(vec![Some("M"), Some("F"), None]),
                text(vec![Some("330302"), Some("330302"), Some("110101")]),
                text(vec![None, None, None]),
                Arc::new(Int64Array::from(vec![1, 2, 3])),
            ],
        )
        .unwrap();
        assert_eq!(generalise(&[b]).unwrap().num_rows(), 0);
    }
}
