//! Who is under watch: persons who arrived from a high-risk area within the last days (14 by
//! default) — contract §4's arrivals, all four sources — with where they stay, for the
//! community that watches them until their days are over.

use std::collections::{BTreeMap, HashMap, HashSet};

use inflow::{OriginRisk, Stay};
use model::{Date, Region};

use crate::{AlertError, Sources};

/// One person under watch (a pseudonym; the caller reveals it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Watched {
    pub person: i64,
    /// Their latest arrival from a high-risk area, and from where, how.
    pub arrived: Date,
    pub origin: Region,
    pub kind: &'static str,
    /// The last day of the watch (`arrived` + days − 1).
    pub until: Date,
    pub stay: Stay,
}

/// Persons under watch in one place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchCount {
    /// `None`: staying nowhere the records say.
    pub region: Option<Region>,
    pub community: Option<String>,
    pub persons: u32,
    /// Of them, those whose watch ends within three days.
    pub ending_soon: u32,
}

/// Everyone with an arrival from a high-risk area dated within the `days` ending on `as_of`
/// (known by the end of that day), sorted by stay place, then end of watch, then pseudonym.
pub async fn under_watch(
    src: &Sources<'_>,
    as_of: Date,
    days: u32,
) -> Result<Vec<Watched>, AlertError> {
    let days = days.max(1) as i32;
    let first = as_of.add_days(1 - days);
    let end = as_of.end_of_day(src.zone).millis();
    let mut latest: HashMap<i64, trace::Arrival> = HashMap::new();
    src.index.arrivals_between(first, as_of, &mut |a| {
        if a.time > end {
            return;
        }
        let Some(origin) = Region::new(a.origin) else {
            return;
        };
        if (src.risk)(origin, a.date) != OriginRisk::High {
            return;
        }
        let e = latest.entry(a.person).or_insert(a);
        if (a.date, a.origin) > (e.date, e.origin) {
            *e = a;
        }
    });
    let persons: HashSet<i64> = latest.keys().copied().collect();
    let mut stays = inflow::stays(src.query, &persons).await?;
    let mut out: Vec<Watched> = latest
        .into_values()
        .filter_map(|a| {
            Some(Watched {
                person: a.person,
                arrived: a.date,
                origin: Region::new(a.origin)?,
                kind: a.kind.as_str(),
                until: a.date.add_days(days - 1),
                stay: stays.remove(&a.person).unwrap_or(Stay::UNKNOWN),
            })
        })
        .collect();
    out.sort_by(|a, b| {
        a.stay
            .cmp_place(&b.stay)
            .then(a.until.cmp(&b.until))
            .then(a.person.cmp(&b.person))
    });
    Ok(out)
}

/// The watch list counted per stay region and community, in the list's order.
pub fn watch_counts(list: &[Watched], as_of: Date) -> Vec<WatchCount> {
    let mut counts: BTreeMap<(bool, Option<Region>, bool, Option<String>), WatchCount> =
        BTreeMap::new();
    for w in list {
        let key = (
            w.stay.region.is_none(),
            w.stay.region,
            w.stay.community.is_none(),
            w.stay.community.clone(),
        );
        let c = counts.entry(key).or_insert_with(|| WatchCount {
            region: w.stay.region,
            community: w.stay.community.clone(),
            persons: 0,
            ending_soon: 0,
        });
        c.persons += 1;
        if w.until <= as_of.add_days(2) {
            c.ending_soon += 1;
        }
    }
    counts.into_values().collect()
}
