//! Prices as exact numbers: a price in micro-yuan (a stored decimal rounded to six places, more
//! than any price list gives), a unit price as the fraction price / units, compared by cross
//! multiplication in 128 bits. So `2.45 / 7` is exactly a baseline of `0.35`, where binary
//! floating point would call it a rise.

use std::cmp::Ordering;

/// Micro-yuan per yuan.
pub const MICRO: i64 = 1_000_000;

/// A stored price (a non-negative decimal of at most 10⁹ yuan) in micro-yuan.
pub fn micro(cny: f64) -> i64 {
    (cny * MICRO as f64).round() as i64
}

/// A non-negative fraction `num / den` (den ≥ 1): a unit price in micro-yuan, or a median.
#[derive(Clone, Copy, Debug)]
pub struct Ratio {
    pub num: i128,
    pub den: i128,
}

impl Ratio {
    pub fn new(num: i64, den: i64) -> Ratio {
        debug_assert!(den >= 1);
        Ratio {
            num: num.into(),
            den: den.into(),
        }
    }

    /// The mean of two fractions (an even count's median).
    pub fn mean(a: Ratio, b: Ratio) -> Ratio {
        Ratio {
            num: a.num * b.den + b.num * a.den,
            den: 2 * a.den * b.den,
        }
    }

    /// Micro-yuan, rounded half up (a unit price or a median as a whole number).
    pub fn micro(self) -> i128 {
        (2 * self.num + self.den) / (2 * self.den)
    }

    /// Yuan, rounded half up to six decimals.
    pub fn cny(self) -> f64 {
        self.micro() as f64 / MICRO as f64
    }

    /// `self > other × factor / scale`, exactly.
    pub fn exceeds(self, other: Ratio, factor: i64, scale: i64) -> bool {
        self.num * other.den * i128::from(scale) > other.num * self.den * i128::from(factor)
    }
}

impl PartialEq for Ratio {
    fn eq(&self, other: &Ratio) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Ratio {}

impl PartialOrd for Ratio {
    fn partial_cmp(&self, other: &Ratio) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ratio {
    fn cmp(&self, other: &Ratio) -> Ordering {
        (self.num * other.den).cmp(&(other.num * self.den))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_prices_compare_exactly() {
        let unit = Ratio::new(micro(2.45), 7);
        let base = Ratio::new(micro(0.35), 1);
        assert_eq!(unit, base);
        assert!(!unit.exceeds(base, 1, 1));
        assert!(Ratio::new(micro(2.46), 7).exceeds(base, 1, 1));
        // 2.45 / 7 in binary floating point is above 0.35.
        assert!(std::hint::black_box(2.45_f64) / 7.0 > 0.35);
        assert_eq!(Ratio::new(micro(25.5), 50).cny(), 0.51);
        assert_eq!(Ratio::new(2, 3).cny(), 0.000001);
        assert_eq!(
            Ratio::mean(Ratio::new(1, 1), Ratio::new(2, 1)).cny(),
            0.000002
        );
    }

    #[test]
    fn the_extremes_fit() {
        // The largest price over the most units against a median of two such: no overflow
        // (a debug build would panic) at the largest k a rules file allows.
        let big = Ratio::new(micro(1e9), 1_000_000);
        let m = Ratio::mean(big, Ratio::new(micro(1e9), 999_999));
        assert!(!big.exceeds(m, 10_000 * 10_000, 10_000));
        assert!(m.exceeds(big, 10_000, 10_000));
        let base = Ratio::new(micro(1e9), 1);
        assert!(!big.exceeds(base, 1_000_000 + 100_000_000, 1_000_000));
    }
}
