//! Keyed pseudonyms of person ids: an 8-round Feistel permutation of the id's 17-digit number
//! over 62 bits, with keyed SipHash-1-3 as the round function (a PRF; eight rounds give a wide
//! margin over the four a Luby-Rackoff permutation needs).
//!
//! Why a permutation and not a truncated hash: it is injective, so two people can never share
//! a pseudonym (a 64-bit hash would merge some pair in a nation-sized population), it fits a
//! positive `Int64` column that joins fast, and the key holder can turn a pseudonym back into
//! the id without a lookup table. Without the key the values are indistinguishable from random.

use std::hash::Hasher;

use model::PersonId;
use siphasher::sip::SipHasher13;

const HALF_BITS: u32 = 31;
const HALF_MASK: u64 = (1 << HALF_BITS) - 1;
const ROUNDS: u8 = 8;

/// Maps person ids to pseudonyms and back.
#[derive(Clone)]
pub struct Pseudonymizer {
    k0: u64,
    k1: u64,
}

impl std::fmt::Debug for Pseudonymizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pseudonymizer(…)")
    }
}

impl Pseudonymizer {
    pub fn new(key: &[u8; 32]) -> Pseudonymizer {
        Pseudonymizer {
            k0: u64::from_le_bytes(key[0..8].try_into().expect("8 bytes")),
            k1: u64::from_le_bytes(key[8..16].try_into().expect("8 bytes")),
        }
    }

    fn round(&self, i: u8, half: u64) -> u64 {
        let mut h = SipHasher13::new_with_keys(self.k0, self.k1);
        h.write_u64(half | (u64::from(i) << 56));
        h.finish() & HALF_MASK
    }

    /// The pseudonym of `id`: a non-negative integer below 2^62.
    pub fn pseudonym(&self, id: PersonId) -> i64 {
        let x = id.number();
        let (mut l, mut r) = (x >> HALF_BITS, x & HALF_MASK);
        for i in 0..ROUNDS {
            (l, r) = (r, l ^ self.round(i, r));
        }
        ((l << HALF_BITS) | r) as i64
    }

    /// The id behind a pseudonym, or `None` for a number no id maps to.
    pub fn reveal(&self, pseudonym: i64) -> Option<PersonId> {
        if !(0..1 << (2 * HALF_BITS)).contains(&pseudonym) {
            return None;
        }
        let y = pseudonym as u64;
        let (mut l, mut r) = (y >> HALF_BITS, y & HALF_MASK);
        for i in (0..ROUNDS).rev() {
            (l, r) = (r ^ self.round(i, l), l);
        }
        PersonId::from_number((l << HALF_BITS) | r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::Date;
    use proptest::prelude::*;

    fn p() -> Pseudonymizer {
        Pseudonymizer::new(&[42; 32])
    }

    #[test]
    fn different_keys_give_unrelated_pseudonyms() {
        let id: PersonId = "11010519491231002X".parse().unwrap();
        let a = p().pseudonym(id);
        let b = Pseudonymizer::new(&[43; 32]).pseudonym(id);
        assert_ne!(a, b);
        assert!((0..1 << 62).contains(&a));
        assert_eq!(p().reveal(a), Some(id));
        assert_ne!(Pseudonymizer::new(&[43; 32]).reveal(a), Some(id));
    }

    #[test]
    fn neighbouring_ids_land_far_apart() {
        let base = PersonId::from_parts(330302, Date(7000), 100).unwrap();
        let next = PersonId::from_parts(330302, Date(7000), 101).unwrap();
        let (a, b) = (p().pseudonym(base), p().pseudonym(next));
        assert!((a ^ b).count_ones() > 10, "{a:x} {b:x}");
    }

    proptest! {
        #[test]
        fn pseudonyms_reveal_their_id(region in 110000u32..=820000, days in -30_000i32..18_000, seq in 0u32..1000) {
            if let Some(id) = PersonId::from_parts(region, Date(days), seq) {
                prop_assert_eq!(p().reveal(p().pseudonym(id)), Some(id));
            }
        }

        #[test]
        fn distinct_ids_never_share_a_pseudonym(seq_a in 0u32..1000, seq_b in 0u32..1000, days in 0i32..18_000) {
            let a = PersonId::from_parts(420106, Date(days), seq_a).unwrap();
            let b = PersonId::from_parts(420106, Date(days), seq_b).unwrap();
            prop_assert_eq!(a == b, p().pseudonym(a) == p().pseudonym(b));
        }
    }
}
