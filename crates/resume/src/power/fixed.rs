//! The power index's arithmetic in integers: kWh kept in milli-kWh (watt-hours), baselines in
//! micro-kWh, θ in millionths, sums in `i128` — so a share's rounding is decided exactly and
//! the answer is the same whatever order the readings were added in.

use std::fmt;

/// θ's denominator: θ is kept in millionths.
const THETA_SCALE: i128 = 1_000_000;

/// The share of its baseline an enterprise must use on a day to count as resumed (contract
/// §8.3's θ), kept exactly as its decimal text says, to the millionth.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Theta(i64);

impl Theta {
    /// The contract's default, 0.30.
    pub const DEFAULT: Theta = Theta(300_000);

    /// A decimal between 0 and 1 with at most six decimals (`0.3`, `0.25`, `1`).
    pub fn parse(text: &str) -> Result<Theta, String> {
        let t = text.trim();
        let bad = || format!("theta {t}: expected a decimal from 0 to 1, at most 6 decimals");
        let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
        if whole.is_empty() && frac.is_empty()
            || frac.len() > 6
            || !whole
                .bytes()
                .chain(frac.bytes())
                .all(|b| b.is_ascii_digit())
            || whole.len() > 1
        {
            return Err(bad());
        }
        let w: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| bad())?
        };
        let mut f: i64 = 0;
        for (i, b) in frac.bytes().enumerate() {
            f += i64::from(b - b'0') * 10i64.pow(5 - i as u32);
        }
        let micros = w * 1_000_000 + f;
        if micros > 1_000_000 {
            return Err(bad());
        }
        Ok(Theta(micros))
    }

    /// θ in millionths.
    pub fn micros(self) -> i64 {
        self.0
    }

    /// θ as a number (for display).
    pub fn value(self) -> f64 {
        self.0 as f64 / 1e6
    }
}

impl fmt::Display for Theta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let frac = format!("{:06}", self.0 % 1_000_000);
        let frac = frac.trim_end_matches('0');
        if frac.is_empty() {
            write!(f, "{}", self.0 / 1_000_000)
        } else {
            write!(f, "{}.{frac}", self.0 / 1_000_000)
        }
    }
}

/// A stored reading in whole watt-hours (milli-kWh): the stored number times 1,000, rounded
/// half up (away from zero, the same for a reading, never negative). A reading given with more
/// than three decimals is rounded here, once, before anything is added; `None` for a value the
/// kind never lets in (negative, not finite).
#[inline]
pub fn milli_kwh(kwh: f64) -> Option<i64> {
    if !(kwh >= 0.0 && kwh.is_finite()) {
        return None;
    }
    Some((kwh * 1000.0).round() as i64)
}

/// `num / den` rounded half up (both non-negative, `den` > 0).
#[inline]
pub fn round_half_up(num: i128, den: i128) -> i128 {
    debug_assert!(num >= 0 && den > 0);
    (2 * num + den) / (2 * den)
}

/// An enterprise's baseline in micro-kWh: the mean of its `days` readings (their sum in
/// milli-kWh), rounded half up to the micro-kWh. Positive whenever the sum is, for up to 2,000
/// days.
#[inline]
pub fn baseline_micro(sum_milli: i64, days: u32) -> i128 {
    round_half_up(i128::from(sum_milli) * 1000, i128::from(days.max(1)))
}

/// Whether a day's reading (milli-kWh) is at least θ × the baseline (micro-kWh), exactly.
#[inline]
pub fn resumed(milli: i64, baseline_micro: i128, theta: Theta) -> bool {
    i128::from(milli) * 1000 * THETA_SCALE >= i128::from(theta.0) * baseline_micro
}

/// A set's shares and index, each an integer of its last decimal: shares in ten-thousandths,
/// the index in hundredths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shares {
    pub firms_e4: i64,
    pub power_e4: i64,
    pub index_e2: i64,
}

/// Contract §8.3 for one set of indexed enterprises: `resumed` of `indexed` resumed, using
/// `kwh_milli` that day, of baselines summing to `baseline_micro`. Each figure is rounded half
/// up from the exact shares (the index from the unrounded ones).
pub fn shares(resumed: u64, indexed: u64, kwh_milli: i128, baseline_micro: i128) -> Shares {
    assert!(indexed > 0 && baseline_micro > 0, "an indexed set");
    let (r, i) = (i128::from(resumed), i128::from(indexed));
    let kwh_micro = kwh_milli * 1000;
    let firms_e4 = round_half_up(r * 10_000, i);
    let power_e4 = round_half_up(kwh_micro * 10_000, baseline_micro);
    // 100 × (½ p + ½ f) in hundredths = 5,000 × (kwh/B + r/I) = 5,000 (kwh·I + r·B) / (B·I).
    let index_e2 = round_half_up(
        5_000 * (kwh_micro * i + r * baseline_micro),
        baseline_micro * i,
    );
    Shares {
        firms_e4: firms_e4 as i64,
        power_e4: power_e4 as i64,
        index_e2: index_e2 as i64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_published_example() {
        // 2020-02-10: 64,590 of 333,427 firms resumed, using 31.47 % of the baseline: 25.42.
        let indexed = 333_427u64;
        let baseline = i128::from(indexed) * 1_000_000; // 1 kWh each
        let kwh = 104_929_477; // milli-kWh: 31.47 % of 333,427 kWh
        let s = shares(64_590, indexed, kwh, baseline);
        assert_eq!(s.power_e4, 3147);
        assert_eq!(s.firms_e4, 1937);
        assert_eq!(s.index_e2, 2542);
    }

    #[test]
    fn halves_round_up_exactly() {
        // 1 of 8 = 0.125 → firms 0.125 (4 decimals: 1250); index from 0.125 and 0: 6.25.
        let s = shares(1, 8, 0, 1_000_000);
        assert_eq!((s.firms_e4, s.power_e4, s.index_e2), (1250, 0, 625));
        // 1 of 16 = 0.0625 → 625; index 3.125 → 3.13 (half up, not to even).
        let s = shares(1, 16, 0, 1);
        assert_eq!((s.firms_e4, s.index_e2), (625, 313));
        // 1 of 20,000 = 0.00005 → 0.0001, 1 of 20,001 → 0.
        assert_eq!(shares(1, 20_000, 0, 1).firms_e4, 1);
        assert_eq!(shares(1, 20_001, 0, 1).firms_e4, 0);
        // Power: 0.00005 of the baseline, exactly.
        assert_eq!(shares(0, 1, 1, 20_000_000).power_e4, 1);
        assert_eq!(shares(0, 1, 1, 20_000_001).power_e4, 0);
    }

    #[test]
    fn the_index_uses_the_unrounded_shares() {
        // Firms 0.12345 → 0.1235, power 0: the index is 50 × 0.12345 = 6.1725 → 6.17, where
        // the rounded share would give 6.175 → 6.18.
        let s = shares(12_345, 100_000, 0, 1);
        assert_eq!(s.firms_e4, 1235);
        assert_eq!(s.index_e2, 617);
    }

    #[test]
    fn milli_kwh_rounds_once_half_up() {
        assert_eq!(milli_kwh(12.3456), Some(12_346));
        assert_eq!(milli_kwh(0.0005), Some(1));
        assert_eq!(milli_kwh(1e12), Some(1_000_000_000_000_000));
        assert_eq!(milli_kwh(-1.0), None);
        assert_eq!(milli_kwh(f64::NAN), None);
    }

    #[test]
    fn theta_is_its_decimal_text() {
        assert_eq!(Theta::parse("0.3").unwrap(), Theta::DEFAULT);
        assert_eq!(Theta::parse(".30").unwrap(), Theta::DEFAULT);
        assert_eq!(Theta::parse("1").unwrap().micros(), 1_000_000);
        assert_eq!(Theta::parse("0.000001").unwrap().micros(), 1);
        assert_eq!(Theta::DEFAULT.to_string(), "0.3");
        for bad in [
            "",
            ".",
            "1.5",
            "2",
            "-0.1",
            "0.1234567",
            "0,3",
            "1e-1",
            "00.3",
        ] {
            assert!(Theta::parse(bad).is_err(), "{bad}");
        }
        // A reading of exactly θ × baseline is resumed (≥), one Wh less is not.
        let b = baseline_micro(10_000, 1); // 10 kWh
        assert!(resumed(3_000, b, Theta::DEFAULT));
        assert!(!resumed(2_999, b, Theta::DEFAULT));
        // A mean of 1/3 kWh: 333.333… Wh → 333,333 µkWh.
        assert_eq!(baseline_micro(1_000, 3), 333_333);
        assert_eq!(baseline_micro(2_000, 3), 666_667);
    }
}
