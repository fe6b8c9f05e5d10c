//! Masking of identities as contract §5 shows them: names `张*`, phones `138****5678`, ID
//! numbers `420106********1234`. The one place masking is written: `model` only formats an id.

use model::PersonId;

/// An ID number with its 8 middle characters (the birth date) hidden: the first six (the
/// region of registration) and the last four stay. Anything shorter than 10 characters is
/// hidden entirely.
pub fn mask_id(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() < 10 {
        return "*".repeat(chars.len().max(1));
    }
    let n = chars.len();
    let mut out: String = chars[..6].iter().collect();
    out.push_str(&"*".repeat(n - 10));
    out.extend(&chars[n - 4..]);
    out
}

/// A person's ID number as shown to someone not allowed to see it (contract §5): [`mask_id`]
/// of its 18 characters, `420106********1234`.
pub fn mask_person_id(id: PersonId) -> String {
    mask_id(std::str::from_utf8(&id.to_bytes()).expect("ASCII"))
}

/// A name with every character after the first hidden: `张三` → `张*`, `欧阳娜娜` → `欧***`,
/// `Li Wei` → `L*****`. An empty name stays empty.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.trim().chars();
    match chars.next() {
        None => String::new(),
        Some(first) => {
            let rest = chars.count().max(1);
            let mut out = String::with_capacity(rest + 4);
            out.push(first);
            out.push_str(&"*".repeat(rest));
            out
        }
    }
}

/// A phone number with its middle hidden: the first three and last four digits stay for
/// numbers of 11 digits or more (`13812345678` → `138****5678`), only the last two for
/// shorter ones; a `+86` prefix and separators are dropped first.
pub fn mask_phone(phone: &str) -> String {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    let digits = if phone.trim_start().starts_with("+86") && digits.len() > 11 {
        digits[2..].to_string()
    } else {
        digits
    };
    let n = digits.len();
    if n >= 11 {
        format!("{}{}{}", &digits[..3], "*".repeat(n - 7), &digits[n - 4..])
    } else if n > 2 {
        format!("{}{}", "*".repeat(n - 2), &digits[n - 2..])
    } else {
        "*".repeat(n.max(1))
    }
}

/// `text` with every run that could hold a person id masked, so the audit log's record of a
/// request never holds an ID number: a run of 14 or more digits (with a check character `X`
/// after it, if any) keeps its first six and last four characters. That covers an 18-character
/// id, the old 15-digit one, and an id inside a longer run of digits (a prefix or suffix added
/// to slip past an exact-length match).
pub fn mask_ids(text: &str) -> String {
    mask_runs(text, false)
}

/// [`mask_ids`], and mobile numbers too (a run of exactly 11 digits starting with 1, masked as
/// [`mask_phone`] does): for text written to the audit log, where no personal value may land.
pub fn mask_personal(text: &str) -> String {
    mask_runs(text, true)
}

fn mask_runs(text: &str, phones: bool) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            let c = text[i..].chars().next().expect("in bounds");
            out.push(c);
            i += c.len_utf8();
            continue;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let digits = i - start;
        if digits >= 14 {
            if i < b.len() && (b[i] == b'X' || b[i] == b'x') {
                i += 1;
            }
            out.push_str(&mask_id(&text[start..i]));
        } else if phones && digits == 11 && b[start] == b'1' {
            out.push_str(&mask_phone(&text[start..i]));
        } else {
            out.push_str(&text[start..i]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_contracts_examples() {
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_id("420106199001011234"), "420106********1234");
        let id: PersonId = "11010519491231002X".parse().unwrap();
        assert_eq!(mask_person_id(id), "110105********002X");
    }

    #[test]
    fn edges() {
        assert_eq!(mask_name("欧阳娜娜"), "欧***");
        assert_eq!(mask_name("张"), "张*");
        assert_eq!(mask_name(""), "");
        assert_eq!(mask_phone("+86 138-1234-5678"), "138****5678");
        assert_eq!(mask_phone("0577-88881234"), "057*****1234");
        assert_eq!(mask_phone("88881234"), "******34");
        assert_eq!(mask_phone("12"), "**");
        assert_eq!(mask_id("11010519491231002X"), "110105********002X");
        assert_eq!(mask_id("short"), "*****");
    }

    #[test]
    fn ids_in_requests_are_masked() {
        assert_eq!(
            mask_ids("GET /api/v1/persons/420106199001010028/code?as_of=2020-02-01"),
            "GET /api/v1/persons/420106********0028/code?as_of=2020-02-01"
        );
        assert_eq!(
            mask_ids("x=11010519491231002X&y=1"),
            "x=110105********002X&y=1"
        );
        assert_eq!(
            mask_ids("SELECT * FROM travel WHERE person_id = pseudonym('420106199001010028')"),
            "SELECT * FROM travel WHERE person_id = pseudonym('420106********0028')"
        );
        // Short runs are left alone.
        assert_eq!(
            mask_ids("张三 420106 2020-01-25 1234567890123"),
            "张三 420106 2020-01-25 1234567890123"
        );
        // Regression: an id inside a longer run of digits was left in clear.
        assert_eq!(mask_ids("4201061990010100151"), "420106*********0151");
        assert_eq!(
            mask_ids("/x/0420106199001010015/"),
            "/x/042010*********0015/"
        );
        // The old 15-digit ids.
        assert_eq!(mask_ids("id 420106900101001"), "id 420106*****1001");
    }

    #[test]
    fn personal_text_loses_ids_and_mobile_numbers() {
        assert_eq!(
            mask_personal("community 13812345678: id 420106199001010028, 2020-01-25, 23456789012"),
            "community 138****5678: id 420106********0028, 2020-01-25, 23456789012"
        );
        assert_eq!(
            mask_personal("the upload is larger than 2147483648 bytes"),
            "the upload is larger than 2147483648 bytes"
        );
    }

    proptest! {
        #[test]
        fn masking_requests_never_panics_and_never_leaves_an_id(s in ".{0,60}", id in "[1-6][0-9]{16}[0-9X]") {
            let _ = mask_ids(&s);
            let text = format!("{s}/{id}/");
            prop_assert!(!mask_ids(&text).contains(&id));
            // Nor when digits are glued to either side of it.
            let glued = format!("{s}7{id}3");
            prop_assert!(!mask_ids(&glued).contains(&id[6..14]));
            prop_assert!(!mask_personal(&glued).contains(&id[6..14]));
        }

        /// A masked ID never shows the birth date, and keeps its length.
        #[test]
        fn masked_ids_hide_the_middle(id in "[0-9]{17}[0-9X]") {
            let m = mask_id(&id);
            prop_assert_eq!(m.len(), 18);
            prop_assert_eq!(&m[6..14], "********");
            prop_assert_eq!(&m[..6], &id[..6]);
        }

        /// A masked phone shows at most seven digits of an 11-digit number.
        #[test]
        fn masked_phones_hide_four_digits(p in "1[3-9][0-9]{9}") {
            let m = mask_phone(&p);
            prop_assert_eq!(&m[3..7], "****");
            prop_assert_eq!(&m[..3], &p[..3]);
            prop_assert_eq!(&m[7..], &p[7..]);
        }

        /// Masking never panics on any text.
        #[test]
        fn any_text(s in ".{0,40}") {
            let _ = (mask_id(&s), mask_name(&s), mask_phone(&s));
        }
    }
}
