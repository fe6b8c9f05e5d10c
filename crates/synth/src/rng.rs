//! Counter-based randomness: every draw is a hash of (seed, what, who, when), so any person's
//! day can be recomputed anywhere, in any order, on any thread, with the same result.

/// The SplitMix64 finaliser: a cheap, well-mixed 64-bit permutation.
#[inline]
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hash of a seed and up to three words; the building block of every key.
#[inline]
pub fn hash(seed: u64, a: u64, b: u64, c: u64) -> u64 {
    mix(mix(mix(seed ^ a).wrapping_add(b)).wrapping_add(c))
}

/// A small stream of draws from one key.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    #[inline]
    pub fn new(key: u64) -> Rng {
        Rng(key)
    }

    #[inline]
    pub fn at(seed: u64, a: u64, b: u64, c: u64) -> Rng {
        Rng(hash(seed, a, b, c))
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    #[inline]
    pub fn f64(&mut self) -> f64 {
        unit(self.next_u64())
    }

    /// Uniform in [0, n); `n` must be positive.
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    #[inline]
    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.f64();
        let u2 = self.f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Poisson by inversion; fine for the small means used here.
    pub fn poisson(&mut self, mean: f64) -> u32 {
        if mean <= 0.0 {
            return 0;
        }
        let l = (-mean).exp();
        let mut k = 0;
        let mut p = self.f64();
        while p > l && k < 50 {
            p *= self.f64();
            k += 1;
        }
        k
    }

    /// Gamma with integer shape `k` and the given mean (sum of exponentials).
    pub fn erlang(&mut self, k: u32, mean: f64) -> f64 {
        let scale = mean / f64::from(k);
        let mut s = 0.0;
        for _ in 0..k {
            s -= (1.0 - self.f64()).ln();
        }
        s * scale
    }

    /// Index drawn with the given weights (not necessarily normalised).
    pub fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut x = self.f64() * total;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// The top 53 bits of a word as a number in [0, 1).
#[inline]
pub fn unit(x: u64) -> f64 {
    (x >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Labels keeping the streams of different decisions apart.
pub mod tag {
    pub const LAYOUT: u64 = 1000;
    pub const BLOCK: u64 = 8919;
    pub const NAME: u64 = 16838;
    pub const PLAN: u64 = 24757;
    pub const HOUSEHOLD_PLAN: u64 = 32676;
    pub const DAY: u64 = 40595;
    pub const COURSE: u64 = 48514;
    pub const INFECT: u64 = 56433;
    pub const LAB: u64 = 64352;
    pub const ENTERPRISE: u64 = 72271;
    pub const VENUE: u64 = 80190;
    pub const NETWORK: u64 = 88109;
    pub const BAD: u64 = 96028;
    pub const FLU: u64 = 103947;
    pub const POWER: u64 = 111866;
    pub const JOBS: u64 = 119785;
    pub const IMPORT: u64 = 127704;
    pub const APPLICATION: u64 = 135623;
    pub const MARKET: u64 = 143542;
}

/// An affine permutation of [0, n): `i -> (a*i + c) mod n` with `gcd(a, n) = 1`.
#[derive(Clone, Copy, Debug)]
pub struct Affine {
    n: u64,
    a: u64,
    c: u64,
}

impl Affine {
    pub fn new(n: u64, key: u64) -> Affine {
        if n <= 1 {
            return Affine { n, a: 1, c: 0 };
        }
        // A multiplier near the golden ratio of n spreads neighbours far apart.
        let mut a = ((n as f64 * 0.618_033_988_7) as u64).max(1) | 1;
        while gcd(a, n) != 1 {
            a += 1;
        }
        Affine { n, a, c: key % n }
    }

    #[inline]
    pub fn apply(&self, i: u64) -> u64 {
        if self.n <= 1 {
            return 0;
        }
        ((u128::from(self.a) * u128::from(i) + u128::from(self.c)) % u128::from(self.n)) as u64
    }
}

pub fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// A fast hasher for the integer keys of the per-day lookup tables (keys are already mixed).
#[derive(Default, Clone, Copy, Debug)]
pub struct IntHasher(u64);

impl std::hash::Hasher for IntHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = mix(self.0 ^ u64::from(b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = mix(self.0 ^ n);
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

pub type IntMap<K, V> = std::collections::HashMap<K, V, std::hash::BuildHasherDefault<IntHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn affine_is_a_permutation() {
        for n in [1u64, 2, 3, 10, 97, 360, 1000, 4096, 12345] {
            let p = Affine::new(n, 77);
            let mut seen = vec![false; n as usize];
            for i in 0..n {
                let j = p.apply(i) as usize;
                assert!(!seen[j], "n={n} repeats {j}");
                seen[j] = true;
            }
        }
    }

    #[test]
    fn draws_are_in_range() {
        let mut r = Rng::new(5);
        for _ in 0..10_000 {
            let x = r.f64();
            assert!((0.0..1.0).contains(&x));
            assert!(r.below(7) < 7);
        }
    }
}
