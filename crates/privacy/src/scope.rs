//! Where an account's reach ends: a region (by the contract's *covers* rule) and, for
//! community workers, one community.

use model::Region;

/// The part of the population an account may see identities of. `Scope::default()` is
/// everyone (an admin, or an account created without a region).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    /// A region code that must cover the person's home (or stay) region.
    pub region: Option<Region>,
    /// A community id (`community_id` in `persons`) the person must live in.
    pub community: Option<String>,
    /// A resident's own account: this person (store pseudonym) and no one else.
    pub person: Option<i64>,
}

/// Where a person lives, as the directory knows it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Residence<'a> {
    pub region: Option<Region>,
    pub community: Option<&'a str>,
    /// The person's store pseudonym, when known.
    pub person: Option<i64>,
}

impl Scope {
    /// Whether a person living at `home` is within this scope. A person the directory does
    /// not know is within the unrestricted scope only.
    pub fn contains(&self, home: Residence<'_>) -> bool {
        let region_ok = match self.region {
            None => true,
            Some(r) => home.region.is_some_and(|h| r.covers(h)),
        };
        let community_ok = match &self.community {
            None => true,
            Some(c) => home.community == Some(c.as_str()),
        };
        let person_ok = self.person.is_none_or(|p| home.person == Some(p));
        region_ok && community_ok && person_ok
    }

    /// Whether a region (a query's area, say) lies within this scope's region. A community
    /// scope is not narrowed here: the engine filters such answers to the community.
    pub fn covers_region(&self, area: Region) -> bool {
        self.region.is_none_or(|r| r.covers(area))
    }

    /// Whether the scope is restricted at all.
    pub fn is_everyone(&self) -> bool {
        self.region.is_none() && self.community.is_none() && self.person.is_none()
    }

    /// `region 330300, community C1`, for messages.
    pub fn describe(&self) -> String {
        if self.person.is_some() {
            return "own data".into();
        }
        match (&self.region, &self.community) {
            (None, None) => "scope (everyone)".into(),
            (Some(r), None) => format!("region {r}"),
            (None, Some(c)) => format!("community {c}"),
            (Some(r), Some(c)) => format!("region {r}, community {c}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(s: &str) -> Region {
        Region::parse(s.as_bytes()).unwrap()
    }

    #[test]
    fn regions_cover_by_prefix_and_communities_match_exactly() {
        let wenzhou = Scope {
            region: Some(region("330300")),
            community: None,
            person: None,
        };
        let lucheng = Residence {
            region: Some(region("330302")),
            community: Some("C1"),
            person: Some(7),
        };
        let wuhan = Residence {
            region: Some(region("420106")),
            community: None,
            person: Some(8),
        };
        assert!(wenzhou.contains(lucheng));
        assert!(!wenzhou.contains(wuhan));
        assert!(!wenzhou.contains(Residence::default()));
        assert!(Scope::default().contains(Residence::default()));
        let c1 = Scope {
            region: Some(region("330302")),
            community: Some("C1".into()),
            person: None,
        };
        assert!(c1.contains(lucheng));
        assert!(!c1.contains(Residence {
            community: Some("C2"),
            ..lucheng
        }));
        assert!(wenzhou.covers_region(region("330302")));
        assert!(!wenzhou.covers_region(region("330000")));
        // A resident's scope is the one person, wherever they live.
        let own = Scope {
            person: Some(7),
            ..Scope::default()
        };
        assert!(own.contains(lucheng));
        assert!(!own.contains(wuhan));
        assert!(!own.contains(Residence::default()));
        assert!(!own.is_everyone());
    }
}
