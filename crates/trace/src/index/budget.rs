//! The memory an index build may use: set by the operator (`--memory 2GiB`, `FANGYI_MEMORY`),
//! else a quarter of the machine's memory (at least [`MemoryBudget::DEFAULT_FLOOR`]).

use std::fmt;
use std::str::FromStr;

/// Bytes an index build may hold at once (its sort runs, dictionaries and merge buffers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct MemoryBudget(u64);

/// The environment variable an operator sets the budget with.
pub const MEMORY_ENV: &str = "FANGYI_MEMORY";

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;
const TIB: u64 = 1 << 40;

impl MemoryBudget {
    /// The smallest budget accepted: below it the fixed buffers alone would not fit.
    pub const MIN: MemoryBudget = MemoryBudget(MIB);
    /// The least default, on a machine whose quarter is smaller.
    pub const DEFAULT_FLOOR: MemoryBudget = MemoryBudget(256 * MIB);

    /// A budget of `bytes` (at least [`MemoryBudget::MIN`]).
    pub fn bytes(bytes: u64) -> MemoryBudget {
        MemoryBudget(bytes.max(Self::MIN.0))
    }

    pub fn get(self) -> u64 {
        self.0
    }

    /// A quarter of the machine's memory (`MemTotal` of `/proc/meminfo`), at least
    /// [`MemoryBudget::DEFAULT_FLOOR`]; the floor where the machine does not say.
    pub fn machine_default() -> MemoryBudget {
        let total = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|s| mem_total(&s));
        MemoryBudget(total.map_or(0, |t| t / 4).max(Self::DEFAULT_FLOOR.0))
    }

    /// `FANGYI_MEMORY` if set, else [`MemoryBudget::machine_default`]; a malformed value is an
    /// error naming the variable.
    pub fn from_env() -> Result<MemoryBudget, String> {
        match std::env::var(MEMORY_ENV) {
            Ok(v) if !v.trim().is_empty() => v.parse().map_err(|e| format!("{MEMORY_ENV}: {e}")),
            _ => Ok(Self::machine_default()),
        }
    }

    /// A part of the budget: `num/den` of it, at least `floor` bytes.
    pub(crate) fn share(self, num: u64, den: u64, floor: u64) -> u64 {
        (self.0 / den * num).max(floor)
    }
}

/// `MemTotal` in bytes.
fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kb.checked_mul(KIB)
}

impl FromStr for MemoryBudget {
    type Err = String;

    /// `2GiB`, `512MiB`, `1.5GB`, `800M`, `1073741824`: binary units (KiB, MiB, GiB, TiB, and
    /// K, M, G, T) count in 1024s, decimal ones (KB, MB, GB, TB) in 1000s; no unit is bytes.
    fn from_str(s: &str) -> Result<MemoryBudget, String> {
        let t = s.trim();
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let unit = unit.trim();
        let scale = match unit.to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kib" => KIB,
            "m" | "mib" => MIB,
            "g" | "gib" => GIB,
            "t" | "tib" => TIB,
            "kb" => 1_000,
            "mb" => 1_000_000,
            "gb" => 1_000_000_000,
            "tb" => 1_000_000_000_000,
            _ => {
                return Err(format!(
                    "{s:?}: unknown unit {unit:?} (a size such as 2GiB, 512MiB or 1.5GB)"
                ));
            }
        };
        let n: f64 = num
            .parse()
            .map_err(|_| format!("{s:?}: not a size (such as 2GiB, 512MiB or 1.5GB)"))?;
        let bytes = n * scale as f64;
        if !bytes.is_finite() || bytes > u64::MAX as f64 / 2.0 {
            return Err(format!("{s:?}: too large"));
        }
        let bytes = bytes as u64;
        if bytes < Self::MIN.0 {
            return Err(format!("{s:?}: below the least budget, 1MiB"));
        }
        Ok(MemoryBudget(bytes))
    }
}

impl fmt::Display for MemoryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        if b.is_multiple_of(GIB) {
            write!(f, "{}GiB", b / GIB)
        } else if b.is_multiple_of(MIB) {
            write!(f, "{}MiB", b / MIB)
        } else if b >= GIB {
            write!(f, "{:.1}GiB", b as f64 / GIB as f64)
        } else {
            write!(f, "{:.1}MiB", b as f64 / MIB as f64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sizes() {
        let p = |s: &str| s.parse::<MemoryBudget>().map(MemoryBudget::get);
        assert_eq!(p("2GiB"), Ok(2 * GIB));
        assert_eq!(p("2gib"), Ok(2 * GIB));
        assert_eq!(p("512MiB"), Ok(512 * MIB));
        assert_eq!(p("512M"), Ok(512 * MIB));
        assert_eq!(p("1.5GB"), Ok(1_500_000_000));
        assert_eq!(p(" 3 G "), Ok(3 * GIB));
        assert_eq!(p("1048576"), Ok(MIB));
        assert_eq!(p("1TiB"), Ok(TIB));
        for bad in [
            "",
            "GiB",
            "2 parsecs",
            "-1GiB",
            "1e3MiB",
            "0",
            "1KiB",
            "1.2.3M",
            "99999999999TiB",
            "NaN",
            "inf",
        ] {
            assert!(p(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn shows_sizes() {
        assert_eq!(MemoryBudget(2 * GIB).to_string(), "2GiB");
        assert_eq!(MemoryBudget(512 * MIB).to_string(), "512MiB");
        assert_eq!(MemoryBudget(1_500_000_000).to_string(), "1.4GiB");
        for s in ["2GiB", "512MiB", "1MiB"] {
            assert_eq!(s.parse::<MemoryBudget>().unwrap().to_string(), s);
        }
    }

    #[test]
    fn machine_default_is_a_quarter_with_a_floor() {
        assert_eq!(
            mem_total("MemTotal:       24683792 kB\n"),
            Some(24683792 * KIB)
        );
        assert_eq!(mem_total("MemFree: 1 kB\n"), None);
        assert_eq!(mem_total("MemTotal: lots kB\n"), None);
        assert!(MemoryBudget::machine_default() >= MemoryBudget::DEFAULT_FLOOR);
    }
}
