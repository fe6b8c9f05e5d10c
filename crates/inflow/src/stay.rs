//! Where a person stays now: the latest registration naming a stay region, else the home in
//! `persons`, else unknown.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use arrow::array::Array;
use futures_util::future::try_join;
use model::Region;
use query::Query;

use crate::InflowError;
use crate::scan::{Columns, for_each_batch};

/// Which record a stay comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StaySource {
    /// The person's latest `registrations` row with a `stay_region`.
    Registration,
    /// The person's `persons` row (`home_region`, `community_id`).
    Home,
    /// Neither: no registration with a stay region and no `persons` row.
    Unknown,
}

impl StaySource {
    pub fn as_str(self) -> &'static str {
        match self {
            StaySource::Registration => "registration",
            StaySource::Home => "home",
            StaySource::Unknown => "unknown",
        }
    }
}

/// Where a person stays: region (county, or whatever code the record gives), community, and
/// the record it comes from. `region` is `None` exactly when the source is `Unknown`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stay {
    pub region: Option<Region>,
    pub community: Option<String>,
    pub source: StaySource,
}

impl Stay {
    pub const UNKNOWN: Stay = Stay {
        region: None,
        community: None,
        source: StaySource::Unknown,
    };

    /// Orders places by region, then community; an unknown region or an absent community
    /// comes after the known ones. The source does not take part.
    pub fn cmp_place(&self, other: &Stay) -> Ordering {
        let key = |s: &Stay| {
            (
                s.region.is_none(),
                s.region,
                s.community.is_none(),
                s.community.clone(),
            )
        };
        key(self).cmp(&key(other))
    }

    /// Same region and community (whatever the source).
    pub fn same_place(&self, other: &Stay) -> bool {
        self.region == other.region && self.community == other.community
    }
}

/// The latest stay seen so far for each person, by an order key.
struct Latest<O> {
    by_person: HashMap<i64, (O, Stay)>,
}

impl<O: Ord + Copy> Latest<O> {
    fn new() -> Self {
        Latest {
            by_person: HashMap::new(),
        }
    }

    /// Keeps `region`/`community` for `person` when `order` is later than what it has.
    fn offer(
        &mut self,
        person: i64,
        order: O,
        region: &str,
        community: Option<&str>,
        source: StaySource,
    ) {
        if self
            .by_person
            .get(&person)
            .is_some_and(|(o, _)| *o >= order)
        {
            return;
        }
        // Stored regions were validated at ingest; an unreadable one says nothing.
        let Ok(region) = region.parse::<Region>() else {
            return;
        };
        let stay = Stay {
            region: Some(region),
            community: community.map(str::to_string),
            source,
        };
        self.by_person.insert(person, (order, stay));
    }
}

/// The stay of each of `persons` (pseudonyms) that has one; the others are unknown.
///
/// Reads `registrations` rows with a `stay_region` and `persons` once each, concurrently,
/// keeping only rows of `persons`.
pub async fn stays(
    query: &Query,
    persons: &HashSet<i64>,
) -> Result<HashMap<i64, Stay>, InflowError> {
    if persons.is_empty() {
        return Ok(HashMap::new());
    }
    let registered = async {
        // Latest by (arrival_date, row id) per person.
        let mut latest = Latest::new();
        let sql = "SELECT person_id, arrival_date, _rid, stay_region, stay_community \
                   FROM registrations WHERE stay_region IS NOT NULL";
        for_each_batch(query, "registrations", sql, Vec::new(), |b| {
            let c = Columns {
                table: "registrations",
                batch: b,
            };
            let (person, day, rid) = (c.ints(0)?, c.dates(1)?, c.ints(2)?);
            let (region, community) = (c.strings(3)?, c.strings(4)?);
            for i in 0..b.num_rows() {
                let p = person.value(i);
                if persons.contains(&p) {
                    latest.offer(
                        p,
                        (day.value(i), rid.value(i)),
                        region.value(i),
                        community.is_valid(i).then(|| community.value(i)),
                        StaySource::Registration,
                    );
                }
            }
            Ok(())
        })
        .await?;
        Ok(latest)
    };
    let homes = async {
        // The last ingested row per person.
        let mut latest = Latest::new();
        let sql = "SELECT person_id, _rid, home_region, community_id FROM persons";
        for_each_batch(query, "persons", sql, Vec::new(), |b| {
            let c = Columns {
                table: "persons",
                batch: b,
            };
            let (person, rid) = (c.ints(0)?, c.ints(1)?);
            let (region, community) = (c.strings(2)?, c.strings(3)?);
            for i in 0..b.num_rows() {
                let p = person.value(i);
                if persons.contains(&p) {
                    latest.offer(
                        p,
                        rid.value(i),
                        region.value(i),
                        community.is_valid(i).then(|| community.value(i)),
                        StaySource::Home,
                    );
                }
            }
            Ok(())
        })
        .await?;
        Ok(latest)
    };
    let (registered, homes) = try_join(registered, homes).await?;
    let mut out: HashMap<i64, Stay> = homes
        .by_person
        .into_iter()
        .map(|(p, (_, stay))| (p, stay))
        .collect();
    out.extend(
        registered
            .by_person
            .into_iter()
            .map(|(p, (_, stay))| (p, stay)),
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stay(region: Option<u32>, community: Option<&str>) -> Stay {
        Stay {
            region: region.and_then(Region::new),
            community: community.map(str::to_string),
            source: StaySource::Home,
        }
    }

    #[test]
    fn unknown_places_sort_last() {
        let mut v = vec![
            Stay::UNKNOWN,
            stay(Some(330302), None),
            stay(Some(330302), Some("B")),
            stay(Some(330106), Some("Z")),
            stay(Some(330302), Some("A")),
        ];
        v.sort_by(Stay::cmp_place);
        assert_eq!(
            v,
            [
                stay(Some(330106), Some("Z")),
                stay(Some(330302), Some("A")),
                stay(Some(330302), Some("B")),
                stay(Some(330302), None),
                Stay::UNKNOWN,
            ]
        );
        assert!(stay(Some(330302), Some("A")).same_place(&Stay {
            source: StaySource::Registration,
            ..stay(Some(330302), Some("A"))
        }));
    }
}
