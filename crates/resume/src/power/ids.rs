//! Enterprise ids interned to dense indexes: an open-addressing table over the 18 bytes of a
//! unified social credit code, so a reading finds its enterprise with one hash of two words and
//! (almost always) one probe — the lookup every reading pays.

/// Bytes of an `enterprise_id` (GB 32100).
pub const ID_LEN: usize = 18;

const EMPTY: u32 = u32::MAX;

/// Ids → dense indexes `0..len`, in the order first interned.
#[derive(Debug)]
pub struct Ids {
    keys: Vec<[u8; ID_LEN]>,
    slots: Vec<u32>,
    mask: usize,
}

/// A hash of the id whose low bits (the slot) depend on every byte: the words are combined
/// and then finished with a full avalanche (MurmurHash3's 64-bit finaliser), since the ids of
/// one county differ only in their last few characters.
#[inline]
fn hash(id: &[u8; ID_LEN]) -> u64 {
    let a = u64::from_le_bytes(id[0..8].try_into().expect("8 bytes"));
    let b = u64::from_le_bytes(id[8..16].try_into().expect("8 bytes"));
    let c = u64::from(u16::from_le_bytes([id[16], id[17]]));
    let mut h = a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.rotate_left(29) ^ c.rotate_left(47);
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

impl Ids {
    pub fn new() -> Ids {
        Ids {
            keys: Vec::new(),
            slots: vec![EMPTY; 16],
            mask: 15,
        }
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// The dense index of `id`, interning it if new.
    pub fn intern(&mut self, id: &[u8; ID_LEN]) -> u32 {
        if (self.keys.len() + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let mut at = hash(id) as usize & self.mask;
        loop {
            match self.slots[at] {
                EMPTY => {
                    let i = self.keys.len() as u32;
                    self.keys.push(*id);
                    self.slots[at] = i;
                    return i;
                }
                i if &self.keys[i as usize] == id => return i,
                _ => at = (at + 1) & self.mask,
            }
        }
    }

    /// The dense index of `id` (any length: only an 18-byte id can be one).
    #[inline]
    pub fn get(&self, id: &[u8]) -> Option<u32> {
        let id: &[u8; ID_LEN] = id.try_into().ok()?;
        let mut at = hash(id) as usize & self.mask;
        loop {
            match self.slots[at] {
                EMPTY => return None,
                i if &self.keys[i as usize] == id => return Some(i),
                _ => at = (at + 1) & self.mask,
            }
        }
    }

    /// The longest run of probes any id needs (for tests of the hash's spread).
    #[cfg(test)]
    fn longest_probe(&self) -> usize {
        self.keys
            .iter()
            .map(|k| {
                let mut at = hash(k) as usize & self.mask;
                let mut n = 1;
                while &self.keys[self.slots[at] as usize] != k {
                    at = (at + 1) & self.mask;
                    n += 1;
                }
                n
            })
            .max()
            .unwrap_or(0)
    }

    fn grow(&mut self) {
        let size = self.slots.len() * 2;
        self.slots = vec![EMPTY; size];
        self.mask = size - 1;
        for (i, k) in self.keys.iter().enumerate() {
            let mut at = hash(k) as usize & self.mask;
            while self.slots[at] != EMPTY {
                at = (at + 1) & self.mask;
            }
            self.slots[at] = i as u32;
        }
    }
}

impl Default for Ids {
    fn default() -> Self {
        Ids::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interns_once_and_finds_every_id() {
        let mut ids = Ids::new();
        let id = |n: u32| -> [u8; ID_LEN] {
            let mut b = *b"91330106MA0000000X";
            b[10..17].copy_from_slice(format!("{n:07}").as_bytes());
            b
        };
        for n in 0..10_000 {
            assert_eq!(ids.intern(&id(n)), n);
        }
        for n in 0..10_000 {
            assert_eq!(ids.intern(&id(n)), n, "again: the same index");
            assert_eq!(ids.get(&id(n)), Some(n));
        }
        assert_eq!(ids.len(), 10_000);
        assert_eq!(ids.get(&id(10_000)), None);
        assert_eq!(ids.get(b"short"), None);
    }

    #[test]
    fn ids_differing_in_their_last_characters_spread_over_the_table() {
        // 300,000 enterprises of one county, numbered in base 31 in the last characters (as
        // `fangyi bench resume` and many registries number them): the first hash left most of
        // the slot bits to the constant prefix, so probes ran to thousands.
        let charset = model::EnterpriseId::charset();
        let mut ids = Ids::new();
        for n in 0..300_000usize {
            let mut id = *b"91330106MA0000000X";
            let mut v = n;
            for b in id[10..17].iter_mut().rev() {
                *b = charset[v % 31];
                v /= 31;
            }
            ids.intern(&id);
        }
        let longest = ids.longest_probe();
        assert!(longest < 64, "longest probe {longest}");
    }
}
