//! Masking of identities as contract §5 shows them: names `张*`, phones `138****5678`, ID
//! numbers `420106********1234`.

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

/// `text` with every run that looks like a person id (17 digits and a check character)
/// masked, so the audit log's record of a request never holds an ID number.
pub fn mask_ids(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        let is_id = i + 18 <= b.len()
            && b[i..i + 17].iter().all(u8::is_ascii_digit)
            && (b[i + 17].is_ascii_digit() || b[i + 17] == b'X' || b[i + 17] == b'x')
            && (i == 0 || !b[i - 1].is_ascii_digit())
            && (i + 18 == b.len() || !b[i + 18].is_ascii_digit());
        if is_id {
            out.push_str(&mask_id(&text[i..i + 18]));
            i += 18;
        } else {
            let c = text[i..].chars().next().expect("in bounds");
            out.push(c);
            i += c.len_utf8();
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
            mask_ids("GET /api/v1/persons/420106199001010015/code?as_of=2020-02-01"),
            "GET /api/v1/persons/420106********0015/code?as_of=2020-02-01"
        );
        assert_eq!(
            mask_ids("x=11010519491231002X&y=1"),
            "x=110105********002X&y=1"
        );
        assert_eq!(
            mask_ids("SELECT * FROM travel WHERE person_id = pseudonym('420106199001010015')"),
            "SELECT * FROM travel WHERE person_id = pseudonym('420106********0015')"
        );
        // Not 18 characters of id: left alone.
        assert_eq!(mask_ids("4201061990010100151"), "4201061990010100151");
        assert_eq!(mask_ids("张三 420106"), "张三 420106");
    }

    proptest! {
        #[test]
        fn masking_requests_never_panics_and_never_leaves_an_id(s in ".{0,60}", id in "[1-6][0-9]{16}[0-9X]") {
            let _ = mask_ids(&s);
            let text = format!("{s}/{id}/");
            prop_assert!(!mask_ids(&text).contains(&id));
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
