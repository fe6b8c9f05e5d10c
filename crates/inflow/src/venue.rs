//! Venues by id: where a check-in place is (region, community) and what it is called, for
//! trails and alerts.

use std::collections::{HashMap, HashSet};

use arrow::array::Array;
use model::Region;
use query::Query;

use crate::InflowError;
use crate::scan::{Columns, for_each_batch};

/// One venue as `venues` describes it (the last ingested row of its id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Venue {
    pub id: String,
    pub name: Option<String>,
    pub kind: Option<String>,
    pub region: Region,
    pub community: Option<String>,
}

/// The venues among `ids` that the store describes. One read of the (small, reference)
/// `venues` table, keeping only the rows asked for.
pub async fn venues(
    query: &Query,
    ids: &HashSet<String>,
) -> Result<HashMap<String, Venue>, InflowError> {
    let mut out: HashMap<String, (i64, Venue)> = HashMap::new();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = "SELECT venue_id, _rid, name, kind, region, community_id FROM venues";
    for_each_batch(query, "venues", sql, Vec::new(), |b| {
        let c = Columns {
            table: "venues",
            batch: b,
        };
        let (id, rid, name, kind) = (c.strings(0)?, c.ints(1)?, c.strings(2)?, c.strings(3)?);
        let (region, community) = (c.strings(4)?, c.strings(5)?);
        for i in 0..b.num_rows() {
            let v = id.value(i);
            if !ids.contains(v) {
                continue;
            }
            let rid = rid.value(i);
            if out.get(v).is_some_and(|(r, _)| *r > rid) {
                continue;
            }
            let Ok(r) = region.value(i).parse::<Region>() else {
                continue;
            };
            let text =
                |a: &arrow::array::StringArray| a.is_valid(i).then(|| a.value(i).to_string());
            out.insert(
                v.to_string(),
                (
                    rid,
                    Venue {
                        id: v.to_string(),
                        name: text(&name),
                        kind: text(&kind),
                        region: r,
                        community: text(&community),
                    },
                ),
            );
        }
        Ok(())
    })
    .await?;
    Ok(out.into_iter().map(|(k, (_, v))| (k, v)).collect())
}
