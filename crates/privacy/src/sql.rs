//! What a role's SQL session may see: every stored row, the rows of the persons in its scope,
//! or the de-identified tables (quasi-identifiers generalised until every combination is
//! shared by at least [`K`] persons). The rules are data, applied by the `query` crate when it
//! builds the role's tables; nothing here looks at a statement's text.

use model::{Kind, Level};

use crate::policy::Role;

/// The smallest group a de-identified combination of a person's attributes may describe.
pub const K: usize = 5;

/// Which tables a role's SQL session is built from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SqlView {
    /// Every stored row as stored (person ids as pseudonyms): an admin.
    Stored,
    /// The stored rows of the persons in the account's scope only (and every row of the kinds
    /// that name no person): an epidemiologist, who may see identities within their region.
    InScope,
    /// The de-identified tables ([`analyst_column`], [`LADDER`]), narrowed to the account's
    /// scope when it has one: every role that may not see identities.
    Deidentified,
}

/// The SQL view of `role`. Roles the policy table does not allow SQL never get this far.
pub fn sql_view(role: Role) -> SqlView {
    match role {
        Role::Admin => SqlView::Stored,
        Role::Epidemiologist => SqlView::InScope,
        _ => SqlView::Deidentified,
    }
}

/// What a de-identified table shows of one stored column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnRule {
    /// As stored.
    Keep,
    /// Left out.
    Drop,
    /// An instant cut to the start of its hour.
    Hour,
    /// The value where at least [`K`] persons share it (among the rows the session sees), else
    /// NULL: free text and the ids of small groups (an employer, a venue).
    Common,
    /// One of the quasi-identifiers of `persons`, generalised by [`LADDER`].
    Generalised,
}

/// The rule for `column` of `kind` in a de-identified session. Kinds that name no person are
/// kept whole (but for `_rid`); every column of a personal kind is listed here by name, and a
/// column this table does not know is left out, so a column added to a kind later stays hidden
/// until someone decides.
pub fn analyst_column(kind: Kind, column: &str) -> ColumnRule {
    use ColumnRule::*;
    if column == "_rid" {
        // A row's source and line: a file sorted by ID number would leak its order.
        return Drop;
    }
    if kind.spec().column("person_id").is_none() {
        return Keep;
    }
    match (kind, column) {
        (_, "person_id") => Keep,
        (Kind::Persons, "birth_date" | "sex" | "home_region" | "community_id") => Generalised,
        (Kind::Persons, _) => Drop, // household_id: a handful of people
        (Kind::Travel, "seat") => Drop, // one person on a service
        (
            Kind::Travel,
            "mode" | "service_no" | "service_date" | "car" | "from_station" | "from_region"
            | "depart_time" | "to_station" | "to_region" | "arrive_time",
        ) => Keep,
        (Kind::StationScans, "time") => Hour,
        (Kind::StationScans, "station" | "region" | "direction") => Keep,
        (Kind::Checkpoint, "pass_id") => Drop, // one vehicle's occupants
        (Kind::Checkpoint, "time") => Hour,
        (Kind::Checkpoint, "purpose") => Common,
        (
            Kind::Checkpoint,
            "role" | "checkpoint_id" | "region" | "origin_region" | "destination_region",
        ) => Keep,
        (Kind::Checkins, "time_in" | "time_out") => Hour,
        (Kind::Checkins, "venue_id") => Common,
        (Kind::SelfReports, "time") => Hour,
        (Kind::SelfReports, "symptoms") => Common,
        (Kind::SelfReports, "temperature_c" | "visited_regions") => Keep,
        (Kind::Registrations, "stay_community") => Drop, // a community-level place
        (Kind::Registrations, "arrival_date" | "from_region" | "stay_region") => Keep,
        (Kind::LabResults, "sample_time" | "reported_time") => Hour,
        (Kind::LabResults, "result" | "diagnosis" | "onset_date") => Keep,
        (Kind::Employment, "enterprise_id") => Common,
        (Kind::JobSeekers, "skill") => Common,
        (Kind::JobSeekers, "region" | "available_from") => Keep,
        // An application names an employer and a handful of its staff: like employment.
        (Kind::Applications, "enterprise_id" | "application_id") => Common,
        (Kind::Applications, "start_date") => Keep,
        (Kind::Applications, "submitted_time") => Hour,
        _ => Drop,
    }
}

/// One step of generalising a person's quasi-identifiers: which are shown, and the region at
/// which level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rung {
    /// The decade of birth (`1980` for 1980–1989) instead of the birth date.
    pub birth_decade: bool,
    pub sex: bool,
    /// The home region rolled up to this level, or none.
    pub region: Option<Level>,
    pub community: bool,
}

/// The generalisation of `persons` for de-identified sessions, finest first. Each person gets
/// the first rung at which at least [`K`] persons (of those still unplaced) share their
/// combination; whoever is left after the last rung is shown with nothing but their pseudonym,
/// and when fewer than [`K`] are left, persons from the largest groups join them (or, in a
/// population smaller than [`K`], no `persons` row is shown at all).
pub const LADDER: &[Rung] = &[
    Rung {
        birth_decade: true,
        sex: true,
        region: Some(Level::County),
        community: true,
    },
    Rung {
        birth_decade: true,
        sex: true,
        region: Some(Level::County),
        community: false,
    },
    Rung {
        birth_decade: true,
        sex: true,
        region: Some(Level::Prefecture),
        community: false,
    },
    Rung {
        birth_decade: true,
        sex: true,
        region: Some(Level::Province),
        community: false,
    },
    Rung {
        birth_decade: false,
        sex: false,
        region: Some(Level::Province),
        community: false,
    },
    Rung {
        birth_decade: false,
        sex: false,
        region: None,
        community: false,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_personal_column_has_a_decided_rule() {
        // A rule of Drop by default is safe, but every column the contract has today is listed
        // on purpose: this fails when a kind gains a column nobody decided about.
        let decided_drops = [
            (Kind::Persons, "household_id"),
            (Kind::Travel, "seat"),
            (Kind::Checkpoint, "pass_id"),
            (Kind::Registrations, "stay_community"),
        ];
        for &kind in Kind::ALL {
            for c in kind.spec().columns {
                if c.storage == model::Storage::Vault {
                    continue;
                }
                let rule = analyst_column(kind, c.name);
                if rule == ColumnRule::Drop {
                    assert!(
                        decided_drops.contains(&(kind, c.name)),
                        "{kind}.{} has no rule",
                        c.name
                    );
                }
            }
            assert_eq!(analyst_column(kind, "_rid"), ColumnRule::Drop);
        }
    }

    #[test]
    fn roles_get_their_views_and_the_ladder_ends_in_nothing() {
        assert_eq!(sql_view(Role::Admin), SqlView::Stored);
        assert_eq!(sql_view(Role::Epidemiologist), SqlView::InScope);
        assert_eq!(sql_view(Role::Analyst), SqlView::Deidentified);
        assert_eq!(sql_view(Role::CommunityWorker), SqlView::Deidentified);
        assert!(LADDER[0].community && LADDER[0].birth_decade);
        let last = LADDER.last().unwrap();
        assert!(!last.birth_decade && !last.sex && !last.community && last.region.is_none());
    }
}
