//! Person ids (GB 11643 resident identity numbers) and enterprise ids (GB 32100 unified
//! social credit codes), parsed once with their check characters and never re-validated.

use std::fmt;

use crate::{Date, FieldError};

/// ISO 7064 MOD 11-2 weights of the first 17 digits.
const PERSON_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// Check character by `sum mod 11`.
const PERSON_CHECK: [u8; 11] = *b"10X98765432";

/// A valid PRC resident identity number. Holds the 17 leading digits as a number; the check
/// character follows from them, so every value of this type prints a valid 18-character id.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PersonId(u64);

/// The largest 17-digit number plus one: the domain of [`PersonId::number`].
pub const PERSON_NUMBER_LIMIT: u64 = 100_000_000_000_000_000;

impl PersonId {
    /// Parses and checks an 18-character id; a lowercase `x` is read as `X`.
    pub fn parse(b: &[u8]) -> Result<PersonId, FieldError> {
        if b.len() != 18 {
            return Err(FieldError::new(format!(
                "must be 18 characters, found {}",
                b.len()
            )));
        }
        let mut n = 0u64;
        let mut sum = 0u32;
        for (i, &c) in b[..17].iter().enumerate() {
            if !c.is_ascii_digit() {
                return Err(FieldError::new(format!(
                    "character {} is not a digit",
                    i + 1
                )));
            }
            let d = u32::from(c - b'0');
            n = n * 10 + u64::from(d);
            sum += d * PERSON_WEIGHTS[i];
        }
        let expected = PERSON_CHECK[(sum % 11) as usize];
        let found = b[17].to_ascii_uppercase();
        if found != expected {
            // The expected character is not named: with the masked id it narrows the digits.
            return Err(FieldError::new(
                "check character does not match the other 17 digits (GB 11643 MOD 11-2)",
            ));
        }
        let id = PersonId(n);
        if id.birth_date().is_none() {
            return Err(FieldError::new("digits 7-14 are not a valid birth date"));
        }
        Ok(id)
    }

    /// Builds an id from its parts (birth region code, birth date, 3-digit sequence number;
    /// an odd sequence number is a man). `None` when a part is out of range.
    pub fn from_parts(region: u32, birth: Date, seq: u32) -> Option<PersonId> {
        let (y, m, d) = birth.ymd();
        if !(100_000..=999_999).contains(&region) || seq > 999 || !(1850..=2099).contains(&y) {
            return None;
        }
        let n = u64::from(region) * 100_000_000_000
            + (y as u64 * 10_000 + u64::from(m) * 100 + u64::from(d)) * 1000
            + u64::from(seq);
        Some(PersonId(n))
    }

    /// Rebuilds an id from its 17-digit number, checking the birth date.
    pub fn from_number(n: u64) -> Option<PersonId> {
        let id = PersonId(n);
        (n < PERSON_NUMBER_LIMIT && id.birth_date().is_some()).then_some(id)
    }

    /// The 17 leading digits as a number (the input of the keyed pseudonym).
    pub fn number(self) -> u64 {
        self.0
    }

    /// The 6-digit region of birth registration (digits 1–6).
    pub fn birth_region(self) -> u32 {
        (self.0 / 100_000_000_000) as u32
    }

    /// Digits 7–14 as the number `YYYYMMDD` (compare with [`Date`]s cheaply).
    pub fn birth_yyyymmdd(self) -> u32 {
        ((self.0 / 1000) % 100_000_000) as u32
    }

    pub fn birth_date(self) -> Option<Date> {
        let ymd = (self.0 / 1000) % 100_000_000;
        let y = (ymd / 10_000) as i32;
        if !(1850..=2099).contains(&y) {
            return None;
        }
        Date::from_ymd(y, (ymd / 100 % 100) as u32, (ymd % 100) as u32)
    }

    /// Digit 17 is odd for men and even for women.
    pub fn is_male(self) -> bool {
        self.0 % 2 == 1
    }

    pub fn check_char(self) -> u8 {
        let mut n = self.0;
        let mut sum = 0u32;
        for i in (0..17).rev() {
            sum += (n % 10) as u32 * PERSON_WEIGHTS[i];
            n /= 10;
        }
        PERSON_CHECK[(sum % 11) as usize]
    }

    /// The 18 ASCII characters of the id.
    pub fn to_bytes(self) -> [u8; 18] {
        let mut out = [0u8; 18];
        let mut n = self.0;
        for i in (0..17).rev() {
            out[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
        out[17] = self.check_char();
        out
    }
}

impl fmt::Display for PersonId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(std::str::from_utf8(&self.to_bytes()).expect("ASCII"))
    }
}

impl fmt::Debug for PersonId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PersonId({self})")
    }
}

impl std::str::FromStr for PersonId {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PersonId::parse(s.trim().as_bytes())
    }
}

/// The GB 32100 character set; a character's value is its index.
const USCC_CHARSET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

fn uscc_value(c: u8) -> Option<u32> {
    USCC_CHARSET.iter().position(|&x| x == c).map(|p| p as u32)
}

fn uscc_check(body: &[u8]) -> Option<u8> {
    let mut sum = 0u32;
    for (i, &c) in body.iter().enumerate() {
        sum += uscc_value(c)? * USCC_WEIGHTS[i];
    }
    let check = (31 - sum % 31) % 31;
    Some(USCC_CHARSET[check as usize])
}

/// A valid unified social credit code, stored as its 18 uppercase ASCII characters.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EnterpriseId([u8; 18]);

impl EnterpriseId {
    /// Parses and checks an 18-character code; lowercase letters are read as uppercase.
    pub fn parse(b: &[u8]) -> Result<EnterpriseId, FieldError> {
        if b.len() != 18 {
            return Err(FieldError::new(format!(
                "must be 18 characters, found {}",
                b.len()
            )));
        }
        let mut code = [0u8; 18];
        for (i, &c) in b.iter().enumerate() {
            let c = c.to_ascii_uppercase();
            if uscc_value(c).is_none() {
                return Err(FieldError::new(format!(
                    "character {} is not in the GB 32100 set (0-9, A-Y without I O S V Z)",
                    i + 1
                )));
            }
            code[i] = c;
        }
        let expected = uscc_check(&code[..17]).expect("checked above");
        if code[17] != expected {
            return Err(FieldError::new(format!(
                "check character is '{}', expected '{}'",
                char::from(code[17]),
                char::from(expected)
            )));
        }
        Ok(EnterpriseId(code))
    }

    /// Completes 17 characters of the GB 32100 set with their check character.
    pub fn from_body(body: &[u8; 17]) -> Option<EnterpriseId> {
        let check = uscc_check(body)?;
        let mut code = [0u8; 18];
        code[..17].copy_from_slice(body);
        code[17] = check;
        Some(EnterpriseId(code))
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("ASCII")
    }

    /// The character set, for generators.
    pub fn charset() -> &'static [u8; 31] {
        USCC_CHARSET
    }
}

impl fmt::Display for EnterpriseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for EnterpriseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EnterpriseId({})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_valid_person_ids_and_reads_their_parts() {
        // The GB 11643 standard's own example.
        let id = PersonId::parse(b"11010519491231002X").unwrap();
        assert_eq!(id.birth_region(), 110105);
        assert_eq!(id.birth_date().unwrap().to_string(), "1949-12-31");
        assert!(!id.is_male());
        assert_eq!(id.to_string(), "11010519491231002X");
        let lower = PersonId::parse(b"11010519491231002x").unwrap();
        assert_eq!(lower, id);
        let m = PersonId::parse(b"440524188001010014").unwrap();
        assert!(m.is_male());
        assert_eq!(m.birth_date().unwrap().to_string(), "1880-01-01");
    }

    #[test]
    fn refuses_bad_person_ids_with_a_reason() {
        let cases: &[(&[u8], &str)] = &[
            (b"110105194912310021", "check character does not match"),
            (b"11010519491231002", "must be 18 characters, found 17"),
            (b"1101051949123100211", "must be 18 characters, found 19"),
            (b"11010519491231A02X", "character 15 is not a digit"),
            (b"11010519491231002\xff", "check character does not match"),
        ];
        for (input, want) in cases {
            let e = PersonId::parse(input).unwrap_err();
            assert!(
                e.to_string().contains(want),
                "{}: {e}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn a_wrong_birth_date_fails_even_with_the_right_check_character() {
        for body in [
            "11010519491331002",
            "11010519000229002",
            "11010518491231002",
        ] {
            let n: u64 = body.parse().unwrap();
            let mut s = body.as_bytes().to_vec();
            s.push(PersonId(n).check_char());
            let e = PersonId::parse(&s).unwrap_err();
            assert!(e.to_string().contains("birth date"), "{body}: {e}");
        }
    }

    #[test]
    fn enterprise_ids_follow_gb_32100() {
        // A published example code.
        let id = EnterpriseId::parse(b"91350100M000100Y43").unwrap();
        assert_eq!(id.as_str(), "91350100M000100Y43");
        assert_eq!(EnterpriseId::parse(b"91350100m000100y43").unwrap(), id);
        let e = EnterpriseId::parse(b"91350100M000100Y44").unwrap_err();
        assert!(
            e.to_string()
                .contains("check character is '4', expected '3'"),
            "{e}"
        );
        assert!(
            EnterpriseId::parse(b"91350100I000100Y43")
                .unwrap_err()
                .to_string()
                .contains("character 9")
        );
        assert!(EnterpriseId::parse(b"91350100M000100Y4").is_err());
        let built = EnterpriseId::from_body(b"91350100M000100Y4").unwrap();
        assert_eq!(built, id);
    }

    proptest! {
        #[test]
        fn built_person_ids_parse_back(region in 110000u32..=820000, days in -40_000i32..18_000, seq in 0u32..1000) {
            let birth = Date(days);
            if let Some(id) = PersonId::from_parts(region, birth, seq) {
                let parsed = PersonId::parse(&id.to_bytes()).unwrap();
                prop_assert_eq!(parsed, id);
                prop_assert_eq!(parsed.birth_date(), Some(birth));
                prop_assert_eq!(parsed.birth_region(), region);
                prop_assert_eq!(PersonId::from_number(id.number()), Some(id));
            }
        }

        #[test]
        fn any_single_digit_change_is_caught(region in 110000u32..=820000, seq in 0u32..1000, pos in 0usize..17, delta in 1u8..10) {
            let id = PersonId::from_parts(region, Date(7000), seq).unwrap();
            let mut b = id.to_bytes();
            b[pos] = b'0' + (b[pos] - b'0' + delta) % 10;
            prop_assert!(PersonId::parse(&b).is_err());
        }

        #[test]
        fn built_enterprise_ids_parse_back(body in proptest::collection::vec(0usize..31, 17)) {
            let mut b = [0u8; 17];
            for (i, v) in body.iter().enumerate() { b[i] = USCC_CHARSET[*v]; }
            let id = EnterpriseId::from_body(&b).unwrap();
            prop_assert_eq!(EnterpriseId::parse(id.as_str().as_bytes()).unwrap(), id);
        }
    }
}
