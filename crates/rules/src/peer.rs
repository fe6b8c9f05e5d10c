//! Peer attestations: what a person's home province said of them (`peer_attestation`, a rule of
//! its own beside the rule set, folded in the way `override` is). A province where a migrant
//! worker arrives asks the home province for the worker's current code; the answer, signed by
//! the home province's issuer key and verified against the trust list before it gets here,
//! carries only a color, the rule *groups* behind it and a `valid_until`. While the as-of day is
//! on or before its end, the code is at least that color, and the reason names the province.
//!
//! Unlike an override, an attestation can only add: the local rules still apply, and the code
//! is the more severe of the two. When the home province did not answer, the reason says the
//! home data is unavailable (green: it changes no color) so a checkpoint knows the code was
//! judged on local data alone.

use std::collections::HashMap;

use model::{Color, Date};

use crate::Reason;

/// The id `peer_attestation` reasons carry.
pub const PEER_ATTESTATION: &str = "peer_attestation";

/// What the `peer_attestation` rule does, in one line (for `fangyi rules show`).
pub const PEER_ATTESTATION_DESCRIPTION: &str = "peer_attestation (built in, beside every rule \
set): a person's home province attested a color, verified against the trust list; the code is \
at least that color through the attestation's end date, the province named in the reason";

/// A home province's signed answer about one person, as received and verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerAttestation {
    /// The person's store pseudonym (here, in the arrival province).
    pub person: i64,
    /// The home province's region code (the signer's `iss`).
    pub province: String,
    pub color: Color,
    /// The rule groups behind the color (`case`, `contact`, `fever`, `arrival`, …), never the
    /// records.
    pub groups: Vec<String>,
    /// The last day (inclusive) the attested color holds: its `valid_until`, or, when it has
    /// none, the last day of the signed answer's own validity.
    pub until: Date,
}

impl PeerAttestation {
    pub fn in_force(&self, as_of: Date) -> bool {
        as_of <= self.until
    }

    fn reason(&self) -> Reason {
        let groups = if self.groups.is_empty() {
            String::new()
        } else {
            format!(" (rule groups: {})", self.groups.join(", "))
        };
        Reason {
            rule: PEER_ATTESTATION.to_string(),
            detail: format!(
                "home province {} attested {}{groups} until {}",
                self.province,
                self.color.as_str(),
                self.until
            ),
            valid_until: Some(self.until),
            color: self.color,
        }
    }
}

/// A home province that did not answer for a person (down, slow, or refusing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerUnavailable {
    pub person: i64,
    pub province: String,
    /// The day the last attempt failed; the note holds that day only (the next attempt decides).
    pub on: Date,
}

/// Every attestation a deployment holds, by person.
#[derive(Clone, Debug, Default)]
pub struct PeerAttestations {
    attested: HashMap<i64, Vec<PeerAttestation>>,
    unavailable: HashMap<i64, Vec<PeerUnavailable>>,
    digest: String,
}

impl<'a> From<&'a PeerAttestations> for std::borrow::Cow<'a, PeerAttestations> {
    fn from(p: &'a PeerAttestations) -> Self {
        std::borrow::Cow::Borrowed(p)
    }
}

impl From<PeerAttestations> for std::borrow::Cow<'_, PeerAttestations> {
    fn from(p: PeerAttestations) -> Self {
        std::borrow::Cow::Owned(p)
    }
}

impl PeerAttestations {
    pub fn none() -> PeerAttestations {
        PeerAttestations::default()
    }

    pub fn new(
        attested: impl IntoIterator<Item = PeerAttestation>,
        unavailable: impl IntoIterator<Item = PeerUnavailable>,
    ) -> PeerAttestations {
        let mut a: Vec<PeerAttestation> = attested.into_iter().collect();
        a.sort_by(|x, y| {
            (x.person, &x.province, x.until, x.color, &x.groups).cmp(&(
                y.person,
                &y.province,
                y.until,
                y.color,
                &y.groups,
            ))
        });
        a.dedup();
        let mut u: Vec<PeerUnavailable> = unavailable.into_iter().collect();
        u.sort_by(|x, y| (x.person, &x.province, x.on).cmp(&(y.person, &y.province, y.on)));
        u.dedup();
        let mut h = blake3::Hasher::new();
        for x in &a {
            h.update(&x.person.to_le_bytes());
            h.update(&(x.province.len() as u64).to_le_bytes());
            h.update(x.province.as_bytes());
            h.update(x.color.as_str().as_bytes());
            h.update(&x.until.0.to_le_bytes());
            for g in &x.groups {
                h.update(&(g.len() as u64).to_le_bytes());
                h.update(g.as_bytes());
            }
        }
        for x in &u {
            h.update(&x.person.to_le_bytes());
            h.update(x.province.as_bytes());
            h.update(&x.on.0.to_le_bytes());
        }
        let digest = if a.is_empty() && u.is_empty() {
            String::new()
        } else {
            h.finalize().to_hex()[..16].to_string()
        };
        let mut attested: HashMap<i64, Vec<PeerAttestation>> = HashMap::new();
        for x in a {
            attested.entry(x.person).or_default().push(x);
        }
        let mut unavailable: HashMap<i64, Vec<PeerUnavailable>> = HashMap::new();
        for x in u {
            unavailable.entry(x.person).or_default().push(x);
        }
        PeerAttestations {
            attested,
            unavailable,
            digest,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.attested.is_empty() && self.unavailable.is_empty()
    }

    /// A fingerprint of them all ("" when there is none), for saved codes to compare.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The reasons of `person` as of `as_of`: an attestation in force with its color and end,
    /// a home province that did not answer that day (green). Most severe first.
    pub fn reasons(&self, person: i64, as_of: Date) -> Vec<Reason> {
        let mut v: Vec<Reason> = self
            .attested
            .get(&person)
            .into_iter()
            .flatten()
            .filter(|a| a.in_force(as_of) && a.color != Color::Green)
            .map(PeerAttestation::reason)
            .collect();
        v.extend(
            self.unavailable
                .get(&person)
                .into_iter()
                .flatten()
                .filter(|u| u.on == as_of)
                .map(|u| Reason {
                    rule: PEER_ATTESTATION.to_string(),
                    detail: format!(
                        "home data unavailable: province {} did not answer; judged on local data, retrying",
                        u.province
                    ),
                    valid_until: None,
                    color: Color::Green,
                }),
        );
        v.sort_by(|a, b| {
            (std::cmp::Reverse(a.color), &a.detail).cmp(&(std::cmp::Reverse(b.color), &b.detail))
        });
        v.dedup();
        v
    }

    /// Everyone with a reason as of `as_of`, sorted (a sweep gathers them besides its own).
    pub fn persons_in_force(&self, as_of: Date) -> Vec<i64> {
        let mut v: Vec<i64> = self
            .attested
            .iter()
            .filter(|(_, l)| {
                l.iter()
                    .any(|a| a.in_force(as_of) && a.color != Color::Green)
            })
            .map(|(&p, _)| p)
            .chain(
                self.unavailable
                    .iter()
                    .filter(|(_, l)| l.iter().any(|u| u.on == as_of))
                    .map(|(&p, _)| p),
            )
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Folds `person`'s attestations into a verdict: the color becomes the more severe of the
    /// two; `valid_until` follows the rule of §4 (the latest end among the reasons of the final
    /// color, `None` when one of them is open-ended). Returns the reasons to list (empty: no
    /// change, and the rule is not named).
    pub fn fold(
        &self,
        person: i64,
        as_of: Date,
        color: &mut Color,
        valid_until: &mut Option<Date>,
    ) -> Vec<Reason> {
        let reasons = self.reasons(person, as_of);
        for r in &reasons {
            if r.color == Color::Green {
                continue;
            }
            if r.color > *color {
                *color = r.color;
                *valid_until = r.valid_until;
            } else if r.color == *color && *color != Color::Green {
                // An open-ended local reason stays open-ended; otherwise the later end wins.
                if let (Some(v), Some(mine)) = (*valid_until, r.valid_until) {
                    *valid_until = Some(v.max(mine));
                }
            }
        }
        reasons
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> Date {
        s.parse().unwrap()
    }

    fn att(person: i64, color: Color, until: &str) -> PeerAttestation {
        PeerAttestation {
            person,
            province: "510100".into(),
            color,
            groups: vec!["fever".into()],
            until: day(until),
        }
    }

    #[test]
    fn an_attested_color_holds_through_its_end_and_names_the_province() {
        let p = PeerAttestations::new([att(7, Color::Yellow, "2020-02-13")], []);
        let (mut color, mut until) = (Color::Green, None);
        let r = p.fold(7, day("2020-02-13"), &mut color, &mut until);
        assert_eq!((color, until), (Color::Yellow, Some(day("2020-02-13"))));
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].rule, PEER_ATTESTATION);
        assert_eq!(
            r[0].detail,
            "home province 510100 attested yellow (rule groups: fever) until 2020-02-13"
        );
        // The day after: nothing.
        let (mut color, mut until) = (Color::Green, None);
        assert!(
            p.fold(7, day("2020-02-14"), &mut color, &mut until)
                .is_empty()
        );
        assert_eq!(color, Color::Green);
        assert_eq!(p.persons_in_force(day("2020-02-13")), [7]);
        assert!(p.persons_in_force(day("2020-02-14")).is_empty());
        // Someone else: untouched.
        assert!(p.reasons(8, day("2020-02-01")).is_empty());
    }

    #[test]
    fn the_more_severe_of_local_and_attested_wins() {
        let p = PeerAttestations::new(
            [
                att(7, Color::Yellow, "2020-02-13"),
                att(8, Color::Red, "2020-02-05"),
            ],
            [],
        );
        // Local red (open-ended) beats an attested yellow, which is still listed.
        let (mut color, mut until) = (Color::Red, None);
        let r = p.fold(7, day("2020-02-01"), &mut color, &mut until);
        assert_eq!((color, until, r.len()), (Color::Red, None, 1));
        // Local yellow until 02-10 and attested yellow until 02-13: the later end.
        let (mut color, mut until) = (Color::Yellow, Some(day("2020-02-10")));
        p.fold(7, day("2020-02-01"), &mut color, &mut until);
        assert_eq!(until, Some(day("2020-02-13")));
        // Open-ended local yellow stays open-ended.
        let (mut color, mut until) = (Color::Yellow, None);
        p.fold(7, day("2020-02-01"), &mut color, &mut until);
        assert_eq!(until, None);
        // Attested red over local yellow: red until the attestation's end.
        let (mut color, mut until) = (Color::Yellow, Some(day("2020-02-20")));
        p.fold(8, day("2020-02-01"), &mut color, &mut until);
        assert_eq!((color, until), (Color::Red, Some(day("2020-02-05"))));
        // An attested green adds nothing, not even a reason.
        let g = PeerAttestations::new([att(9, Color::Green, "2020-02-13")], []);
        assert!(g.reasons(9, day("2020-02-01")).is_empty());
    }

    #[test]
    fn a_home_province_that_did_not_answer_is_said_without_a_color() {
        let p = PeerAttestations::new(
            [],
            [PeerUnavailable {
                person: 7,
                province: "510100".into(),
                on: day("2020-02-01"),
            }],
        );
        let (mut color, mut until) = (Color::Green, None);
        let r = p.fold(7, day("2020-02-01"), &mut color, &mut until);
        assert_eq!((color, until), (Color::Green, None));
        assert_eq!(r.len(), 1);
        assert!(
            r[0].detail.starts_with("home data unavailable"),
            "{}",
            r[0].detail
        );
        assert!(p.reasons(7, day("2020-02-02")).is_empty());
    }

    #[test]
    fn the_fingerprint_follows_the_attestations_not_their_order() {
        let a = att(7, Color::Yellow, "2020-02-13");
        let b = att(8, Color::Red, "2020-02-05");
        assert_eq!(PeerAttestations::none().digest(), "");
        let one = PeerAttestations::new([a.clone(), b.clone()], []);
        let two = PeerAttestations::new([b.clone(), a.clone(), a.clone()], []);
        assert_eq!(one.digest(), two.digest());
        let mut later = b;
        later.until = day("2020-02-06");
        assert_ne!(PeerAttestations::new([a, later], []).digest(), one.digest());
    }
}
