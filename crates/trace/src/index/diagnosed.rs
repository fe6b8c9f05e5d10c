//! The events of the diagnosed by group: what a question about the cases a person met needs,
//! built once per opened index instead of visiting everyone in the person's groups.

use std::collections::HashMap;
use std::ops::Range;

use super::Segment;

/// The events of the *diagnosed* — everyone with a confirmed or asymptomatic lab result in any
/// segment, the only people who can be a case as of any instant — by segment and group, so a
/// question about the cases a person met visits those few events, not everyone in the
/// person's groups. Derived from the segments; kept as long as the [`super::Index`] is.
#[derive(Debug, Default)]
pub(crate) struct Diagnosed {
    /// Per segment: group → positions of the diagnosed persons' events in it, ascending (so
    /// sorted by start, like the group).
    groups: Vec<HashMap<u32, Vec<u32>>>,
    /// The diagnosed, sorted.
    persons: Vec<i64>,
}

impl Diagnosed {
    pub(super) fn build(segments: &[Segment]) -> Diagnosed {
        let mut persons = Vec::new();
        for s in segments {
            s.diagnosed_persons(&mut persons);
        }
        persons.sort_unstable();
        persons.dedup();
        let groups = segments
            .iter()
            .map(|s| {
                let mut by_group: HashMap<u32, Vec<u32>> = HashMap::new();
                for &p in &persons {
                    for &ev in s.events_of(p) {
                        by_group
                            .entry(s.group_of(ev as usize))
                            .or_default()
                            .push(ev);
                    }
                }
                for events in by_group.values_mut() {
                    events.sort_unstable();
                }
                by_group
            })
            .collect();
        Diagnosed { groups, persons }
    }

    /// Positions of the diagnosed persons' events in group `group` of segment `segment` that
    /// lie within `within` (a range of the group's positions), in order.
    pub fn events(&self, segment: usize, group: u32, within: &Range<usize>) -> &[u32] {
        let Some(all) = self.groups.get(segment).and_then(|g| g.get(&group)) else {
            return &[];
        };
        let lo = all.partition_point(|&e| (e as usize) < within.start);
        let hi = all.partition_point(|&e| (e as usize) < within.end);
        &all[lo..hi.max(lo)]
    }

    pub fn contains(&self, person: i64) -> bool {
        self.persons.binary_search(&person).is_ok()
    }
}
