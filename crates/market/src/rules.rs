//! The market rules as data (contract §9): the price tolerance, the outlier factor k, the
//! product → standard table and the medical claim words, read from a TOML file whose defaults
//! ([`DEFAULT_RULES`]) are the contract's. Numbers are kept as exact fixed-point integers, so a
//! rule fires the same way whatever the order of the rows or the threads.

use std::path::Path;

use model::Product;
use serde::Deserialize;

use crate::MarketError;

/// The contract's rules, as `fangyi market rules show` prints them.
pub const DEFAULT_RULES: &str = include_str!("rules.toml");

/// Fixed-point scale of a percentage (1 = 0.0001 %).
pub const PERCENT_SCALE: i64 = 10_000;
/// Fixed-point scale of k (1 = 0.0001).
pub const K_SCALE: i64 = 10_000;
/// The largest tolerance (percent) and k a rules file may give: beyond them nothing fires, and
/// the exact comparisons stay within 128 bits.
const MAX_TOLERANCE_PERCENT: f64 = 10_000.0;
const MAX_K: f64 = 10_000.0;
const MAX_WORDS: usize = 1_000;
const MAX_TEXT: usize = 200;

/// One rule set, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarketRules {
    /// The tolerance above a baseline, in 1/10,000 of a percent.
    pub tolerance_e4: i64,
    /// The outlier factor, in 1/10,000.
    pub k_e4: i64,
    /// Per product (in [`Product::ALL`]'s order): the designation as written, and normalised.
    pub standards: [(String, String); 5],
    /// The claim words as written, and lower-cased for matching.
    pub words: Vec<(String, String)>,
    /// The file's text, as read (for `rules show`).
    pub text: String,
    /// Where it came from: `built-in` or the file's path.
    pub origin: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    price_rise: PriceRise,
    price_outlier: PriceOutlier,
    standards: Standards,
    efficacy_claim: Claims,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceRise {
    tolerance_percent: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceOutlier {
    k: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Standards {
    medical_protective: String,
    surgical: String,
    medical: String,
    respirator: String,
    daily: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Claims {
    words: Vec<String>,
}

impl Default for MarketRules {
    fn default() -> MarketRules {
        MarketRules::parse(DEFAULT_RULES).expect("the embedded rules are valid")
    }
}

impl MarketRules {
    /// Parses and checks a rules file's text; the error says what is wrong, by key.
    pub fn parse(text: &str) -> Result<MarketRules, MarketError> {
        let bad = MarketError::Rules;
        let f: File = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
        let tol = f.price_rise.tolerance_percent;
        if !tol.is_finite() || !(0.0..=MAX_TOLERANCE_PERCENT).contains(&tol) {
            return Err(bad(format!(
                "price_rise.tolerance_percent {tol}: expected 0 to {MAX_TOLERANCE_PERCENT}"
            )));
        }
        let k = f.price_outlier.k;
        if !k.is_finite() || k <= 0.0 || k > MAX_K {
            return Err(bad(format!(
                "price_outlier.k {k}: expected above 0, at most {MAX_K}"
            )));
        }
        let k_e4 = (k * K_SCALE as f64).round() as i64;
        if k_e4 == 0 {
            return Err(bad(format!(
                "price_outlier.k {k}: too small (0.0001 at least)"
            )));
        }
        let s = f.standards;
        let given = [
            s.medical_protective,
            s.surgical,
            s.medical,
            s.respirator,
            s.daily,
        ];
        let mut standards: [(String, String); 5] = Default::default();
        for ((slot, text), product) in standards.iter_mut().zip(given).zip(Product::ALL) {
            let norm = normalise_standard(&text);
            if norm.is_empty() || text.chars().count() > MAX_TEXT {
                return Err(bad(format!(
                    "standards.{product}: expected a designation such as GB 19083"
                )));
            }
            *slot = (text.trim().to_string(), norm);
        }
        if f.efficacy_claim.words.len() > MAX_WORDS {
            return Err(bad(format!(
                "efficacy_claim.words: at most {MAX_WORDS} words"
            )));
        }
        let mut words = Vec::new();
        for w in f.efficacy_claim.words {
            let w = w.trim().to_string();
            if w.is_empty() || w.chars().count() > MAX_TEXT {
                return Err(bad(
                    "efficacy_claim.words: a word is empty or too long".to_string()
                ));
            }
            if !words.iter().any(|(a, _): &(String, String)| *a == w) {
                let lower = w.to_lowercase();
                words.push((w, lower));
            }
        }
        Ok(MarketRules {
            tolerance_e4: (tol * PERCENT_SCALE as f64).round() as i64,
            k_e4,
            standards,
            words,
            text: text.to_string(),
            origin: "built-in".to_string(),
        })
    }

    /// The rules in `path` (read as a settings file: a regular file of at most 1 MiB), or the
    /// built-in ones; errors name the file.
    pub fn load_or_builtin(path: Option<&Path>) -> Result<MarketRules, MarketError> {
        let Some(path) = path else {
            return Ok(MarketRules::default());
        };
        let text = store::read_settings(path)
            .map_err(|e| MarketError::Rules(format!("{}: {e}", path.display())))?;
        let mut rules = MarketRules::parse(&text).map_err(|e| match e {
            MarketError::Rules(m) => MarketError::Rules(format!("{}: {m}", path.display())),
            e => e,
        })?;
        rules.origin = path.display().to_string();
        Ok(rules)
    }

    /// The standard `product` must name, as written and normalised.
    pub fn standard(&self, product: Product) -> (&str, &str) {
        let (a, b) = &self.standards[product as usize];
        (a, b)
    }

    /// The tolerance in percent.
    pub fn tolerance_percent(&self) -> f64 {
        self.tolerance_e4 as f64 / PERCENT_SCALE as f64
    }

    /// k as a number.
    pub fn k(&self) -> f64 {
        self.k_e4 as f64 / K_SCALE as f64
    }

    /// The claim words in `title`, in the rules' order (letters compared without case).
    pub fn claims_in(&self, title: &str) -> Vec<&str> {
        if self.words.is_empty() {
            return Vec::new();
        }
        // Most titles are Chinese and lower case already: lower-casing them (a table search
        // per character and an allocation) was a tenth of a scan.
        let lower: std::borrow::Cow<'_, str> = if title.chars().all(caseless) {
            title.into()
        } else {
            title.to_lowercase().into()
        };
        self.words
            .iter()
            .filter(|(_, w)| lower.contains(w.as_str()))
            .map(|(w, _)| w.as_str())
            .collect()
    }
}

/// Whether lower-casing leaves `c` as it is, judged without the case tables for the characters
/// titles are mostly made of: ASCII but capitals, and U+3000..U+A640 (CJK punctuation, kana,
/// the CJK ideographs, Yi), where no character has a lower case. Others answer `false`, and the
/// title is lower-cased the long way.
fn caseless(c: char) -> bool {
    if c.is_ascii() {
        !c.is_ascii_uppercase()
    } else {
        ('\u{3000}'..'\u{A640}').contains(&c)
    }
}

/// A standard's designation as the rules compare it: upper case, white space (a full-width
/// space too) removed, and a trailing year (`-2016`, also after an en, em or full-width dash, as
/// designations are printed) taken off: `gb/t32610-2016` is `GB/T32610`.
pub fn normalise_standard(s: &str) -> String {
    let mut out: String = s
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_uppercase)
        .collect();
    let chars: Vec<char> = out.chars().collect();
    let n = chars.len();
    if n >= 5
        && chars[n - 4..].iter().all(char::is_ascii_digit)
        && matches!(chars[n - 5], '-' | '–' | '—' | '－')
    {
        out = chars[..n - 5].iter().collect();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_the_contracts() {
        let r = MarketRules::default();
        assert_eq!(r.tolerance_e4, 0);
        assert_eq!(r.k_e4, 3 * K_SCALE);
        let norm: Vec<&str> = Product::ALL.iter().map(|p| r.standard(*p).1).collect();
        assert_eq!(
            norm,
            ["GB19083", "YY0469", "YY/T0969", "GB2626", "GB/T32610"]
        );
        let words: Vec<&str> = r.words.iter().map(|(w, _)| w.as_str()).collect();
        assert_eq!(words, ["医用", "防病毒", "抗病毒", "灭活", "99.99%"]);
    }

    #[test]
    fn standards_are_compared_on_the_whole_designation() {
        assert_eq!(normalise_standard("gb/t32610-2016"), "GB/T32610");
        assert_eq!(normalise_standard(" GB/T 32610 - 2016 "), "GB/T32610");
        assert_eq!(normalise_standard("GB 2626—2006"), "GB2626");
        assert_eq!(normalise_standard("YY 0469-2011"), "YY0469");
        assert_eq!(normalise_standard("yy/t 0969"), "YY/T0969");
        // Only a trailing four-digit year goes: the number itself stays whole.
        assert_eq!(normalise_standard("GB 19083"), "GB19083");
        assert_eq!(normalise_standard("GB 19083-10"), "GB19083-10");
        assert_eq!(normalise_standard("2626"), "2626");
        assert_eq!(normalise_standard("GB　2626"), "GB2626");
        assert_eq!(normalise_standard(""), "");
    }

    #[test]
    fn what_the_fast_path_calls_caseless_lower_cases_to_itself() {
        for c in (0..=0x10FFFF)
            .filter_map(char::from_u32)
            .filter(|c| caseless(*c))
        {
            let mut lower = c.to_lowercase();
            assert_eq!((lower.next(), lower.next()), (Some(c), None), "{c:?}");
        }
        assert!(caseless('口') && caseless('%') && caseless('9'));
        assert!(!caseless('K') && !caseless('Ａ') && !caseless('Σ'));
        // A title with a capital anywhere takes the long way and still matches.
        let r = MarketRules::parse(&DEFAULT_RULES.replace("\"灭活\"", "\"kn95 抗菌\"")).unwrap();
        assert_eq!(r.claims_in("ＫＮ95 KN95 抗菌口罩"), ["kn95 抗菌"]);
        assert_eq!(r.claims_in("医用级 防护口罩"), ["医用"]);
    }

    #[test]
    fn claim_words_are_found_without_case() {
        let r = MarketRules::parse(&DEFAULT_RULES.replace("\"灭活\"", "\"Anti-Virus\"")).unwrap();
        assert_eq!(
            r.claims_in("KN95 ANTI-VIRUS 口罩 99.99%过滤"),
            ["Anti-Virus", "99.99%"]
        );
        assert!(r.claims_in("普通口罩").is_empty());
    }

    #[test]
    fn bad_files_are_refused_by_key() {
        let cases = [
            (
                "tolerance_percent = 0",
                "tolerance_percent = -1",
                "tolerance_percent",
            ),
            ("k = 3", "k = 0", "price_outlier.k"),
            ("k = 3", "k = nan", "price_outlier.k"),
            ("daily = \"GB/T 32610\"", "daily = \" \"", "standards.daily"),
            ("daily = \"GB/T 32610\"", "", "daily"),
            ("k = 3", "k = 3\nfactor = 2", "factor"),
            ("\"灭活\",", "\"\",", "efficacy_claim.words"),
        ];
        for (from, to, says) in cases {
            let text = DEFAULT_RULES.replace(from, to);
            assert_ne!(text, DEFAULT_RULES, "{from}");
            let e = MarketRules::parse(&text).unwrap_err().to_string();
            assert!(e.contains(says), "{to}: {e}");
        }
        assert!(MarketRules::parse("").is_err());
        assert!(MarketRules::parse("not toml [").is_err());
    }

    #[test]
    fn a_rules_file_is_read_by_bound_and_named_in_errors() {
        let dir = tempfile::tempdir().unwrap();
        model::files::testing::refuses_hostile_files(
            dir.path(),
            "market.toml",
            store::MAX_SETTINGS_BYTES,
            |p| {
                MarketRules::load_or_builtin(Some(p))
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            },
        );
        let good = dir.path().join("good.toml");
        std::fs::write(&good, DEFAULT_RULES.replace("k = 3", "k = 4")).unwrap();
        let r = MarketRules::load_or_builtin(Some(&good)).unwrap();
        assert_eq!(
            (r.k_e4, r.origin.as_str()),
            (4 * K_SCALE, good.to_str().unwrap())
        );
        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, DEFAULT_RULES.replace("k = 3", "k = \"3\"")).unwrap();
        let e = MarketRules::load_or_builtin(Some(&bad))
            .unwrap_err()
            .to_string();
        assert!(e.contains("bad.toml"), "{e}");
        assert_eq!(
            MarketRules::load_or_builtin(None).unwrap().origin,
            "built-in"
        );
    }

    #[test]
    fn decimals_are_kept_exactly() {
        let r = MarketRules::parse(
            &DEFAULT_RULES
                .replace("tolerance_percent = 0", "tolerance_percent = 12.5")
                .replace("k = 3", "k = 2.25"),
        )
        .unwrap();
        assert_eq!((r.tolerance_e4, r.k_e4), (125_000, 22_500));
        assert_eq!((r.tolerance_percent(), r.k()), (12.5, 2.25));
    }
}
