//! The exposed list: one row per person who arrived from a region in a period, with their
//! first and last arrival, how and from where they came, and where they stay now; and its
//! counts per stay county and community.

use std::collections::{BTreeSet, HashMap, HashSet};

use model::{ArrivalKind, Date, Region, Zone};
use query::Query;

use crate::InflowError;
use crate::arrival::arrivals_from;
use crate::period::Period;
use crate::stay::{Stay, stays};

/// One exposed person (a pseudonym; the caller reveals it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExposedPerson {
    pub person: i64,
    /// First and last arrival date within the period.
    pub first_arrival: Date,
    pub last_arrival: Date,
    /// Distinct kinds of arrival records, in [`ArrivalKind`] order.
    pub kinds: Vec<ArrivalKind>,
    /// Distinct origins the records name (each covered by the queried region), ascending.
    pub origins: Vec<Region>,
    pub stay: Stay,
}

struct Acc {
    first: Date,
    last: Date,
    kinds: [bool; ArrivalKind::ALL.len()],
    origins: BTreeSet<Region>,
}

/// Everyone with an arrival from a region `origin` covers dated in `period`, sorted by stay
/// place (see [`Stay::cmp_place`]) and then pseudonym.
pub async fn exposed(
    query: &Query,
    zone: Zone,
    origin: Region,
    period: Period,
) -> Result<Vec<ExposedPerson>, InflowError> {
    let arrivals = arrivals_from(query, zone, origin, period).await?;
    let mut acc: HashMap<i64, Acc> = HashMap::new();
    for a in arrivals {
        let e = acc.entry(a.person).or_insert_with(|| Acc {
            first: a.date,
            last: a.date,
            kinds: Default::default(),
            origins: BTreeSet::new(),
        });
        e.first = e.first.min(a.date);
        e.last = e.last.max(a.date);
        e.kinds[a.kind.index()] = true;
        e.origins.extend(a.from);
    }
    let who: HashSet<i64> = acc.keys().copied().collect();
    let mut stays = stays(query, &who).await?;
    let mut out: Vec<ExposedPerson> = acc
        .into_iter()
        .map(|(person, a)| ExposedPerson {
            person,
            first_arrival: a.first,
            last_arrival: a.last,
            kinds: ArrivalKind::ALL
                .into_iter()
                .filter(|k| a.kinds[k.index()])
                .collect(),
            origins: a.origins.into_iter().collect(),
            stay: stays.remove(&person).unwrap_or(Stay::UNKNOWN),
        })
        .collect();
    out.sort_by(|a, b| a.stay.cmp_place(&b.stay).then(a.person.cmp(&b.person)));
    Ok(out)
}

/// Persons staying in one community (`None`: the record names none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommunityCount {
    pub community: Option<String>,
    pub persons: usize,
}

/// Persons staying in one county (`None`: stay unknown), and per community.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StayCount {
    pub region: Option<Region>,
    pub persons: usize,
    pub communities: Vec<CommunityCount>,
}

/// Counts per stay county and community, in place order (see [`Stay::cmp_place`]).
pub fn by_stay<'a>(stays: impl IntoIterator<Item = &'a Stay>) -> Vec<StayCount> {
    let mut places: Vec<&Stay> = stays.into_iter().collect();
    places.sort_by(|a, b| a.cmp_place(b));
    let mut out: Vec<StayCount> = Vec::new();
    for s in places {
        match out.last_mut() {
            Some(c) if c.region == s.region => {
                c.persons += 1;
                match c.communities.last_mut() {
                    Some(m) if m.community == s.community => m.persons += 1,
                    _ => c.communities.push(CommunityCount {
                        community: s.community.clone(),
                        persons: 1,
                    }),
                }
            }
            _ => out.push(StayCount {
                region: s.region,
                persons: 1,
                communities: vec![CommunityCount {
                    community: s.community.clone(),
                    persons: 1,
                }],
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StaySource;

    fn at(region: u32, community: Option<&str>) -> Stay {
        Stay {
            region: Region::new(region),
            community: community.map(str::to_string),
            source: StaySource::Registration,
        }
    }

    #[test]
    fn counts_group_by_county_then_community() {
        let stays = [
            at(330302, Some("B")),
            Stay::UNKNOWN,
            at(330302, Some("A")),
            at(330106, None),
            at(330302, Some("B")),
            Stay {
                source: StaySource::Home,
                ..at(330302, Some("A"))
            },
        ];
        let c = by_stay(&stays);
        let flat: Vec<_> = c
            .iter()
            .map(|s| {
                (
                    s.region.map(|r| r.to_string()),
                    s.persons,
                    s.communities
                        .iter()
                        .map(|m| (m.community.clone(), m.persons))
                        .collect::<Vec<_>>(),
                )
            })
            .collect();
        assert_eq!(
            flat,
            [
                (Some("330106".to_string()), 1, vec![(None, 1)]),
                (
                    Some("330302".to_string()),
                    4,
                    vec![(Some("A".to_string()), 2), (Some("B".to_string()), 2)]
                ),
                (None, 1, vec![(None, 1)]),
            ]
        );
        assert!(by_stay(&[]).is_empty());
    }
}
