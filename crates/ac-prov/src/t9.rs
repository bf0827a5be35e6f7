//! T9 contact search (manual 3.5.4, `lync/contact_search_t9_enabled`): one key press per
//! letter on the ITU-T E.161 keypad; a contact matches when a word of its name starts with
//! the letters of the pressed keys, or one of its numbers contains the digits.

use ac_cfg::companion::Contact;

/// The E.161 key of a character (letters folded to ASCII first), or `None`.
pub fn key_of(c: char) -> Option<u8> {
    let c = fold(c).to_ascii_lowercase();
    Some(match c {
        '0'..='9' => c as u8 - b'0',
        'a'..='c' => 2,
        'd'..='f' => 3,
        'g'..='i' => 4,
        'j'..='l' => 5,
        'm'..='o' => 6,
        'p'..='s' => 7,
        't'..='v' => 8,
        'w'..='z' => 9,
        _ => return None,
    })
}

/// Latin letters with diacritics to their base letter (the common Western European and
/// Central European ones on the phone's languages).
fn fold(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ą' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => {
            'a'
        }
        'ç' | 'č' | 'ć' | 'Ç' | 'Č' | 'Ć' => 'c',
        'ď' | 'Ď' => 'd',
        'è' | 'é' | 'ê' | 'ë' | 'ě' | 'ę' | 'È' | 'É' | 'Ê' | 'Ë' | 'Ě' => 'e',
        'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => 'i',
        'ł' | 'ľ' | 'Ł' | 'Ľ' => 'l',
        'ñ' | 'ń' | 'ň' | 'Ñ' | 'Ń' | 'Ň' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ő' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' => 'o',
        'ř' | 'Ř' => 'r',
        'š' | 'ś' | 'ß' | 'Š' | 'Ś' => 's',
        'ť' | 'Ť' => 't',
        'ù' | 'ú' | 'û' | 'ü' | 'ů' | 'ű' | 'Ù' | 'Ú' | 'Û' | 'Ü' => 'u',
        'ý' | 'ÿ' | 'Ý' => 'y',
        'ž' | 'ź' | 'ż' | 'Ž' | 'Ź' | 'Ż' => 'z',
        c => c,
    }
}

/// The key sequence of a word.
pub fn keys(word: &str) -> Vec<u8> {
    word.chars().filter_map(key_of).collect()
}

/// Whether `name` matches the pressed `digits` (a word starts with them).
pub fn name_matches(name: &str, digits: &[u8]) -> bool {
    if digits.is_empty() {
        return true;
    }
    name.split(|c: char| c.is_whitespace() || matches!(c, ',' | '.' | '-' | '(' | ')'))
        .any(|w| keys(w).starts_with(digits))
}

/// Whether a number contains the pressed digits.
pub fn number_matches(number: &str, digits: &[u8]) -> bool {
    let n: Vec<u8> = number
        .chars()
        .filter(char::is_ascii_digit)
        .map(|c| c as u8 - b'0')
        .collect();
    !digits.is_empty() && n.windows(digits.len()).any(|w| w == digits)
}

/// Parses the pressed keys (`0`-`9`; anything else is ignored).
pub fn parse_keys(pressed: &str) -> Vec<u8> {
    pressed
        .chars()
        .filter(char::is_ascii_digit)
        .map(|c| c as u8 - b'0')
        .collect()
}

/// Contacts matching `pressed`, name matches first, each group in the directory's order.
pub fn search<'a>(contacts: &'a [Contact], pressed: &str) -> Vec<&'a Contact> {
    let d = parse_keys(pressed);
    let by_name = contacts.iter().filter(|c| name_matches(&c.name, &d));
    let by_number = contacts.iter().filter(|c| {
        !name_matches(&c.name, &d)
            && [&c.office, &c.home, &c.mobile]
                .iter()
                .any(|n| number_matches(n, &d))
    });
    by_name.chain(by_number).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(name: &str, office: &str) -> Contact {
        Contact {
            name: name.into(),
            office: office.into(),
            home: String::new(),
            mobile: String::new(),
        }
    }

    #[test]
    fn keypad() {
        assert_eq!(keys("Mike"), [6, 4, 5, 3]);
        assert_eq!(keys("Zoë"), [9, 6, 3]);
        assert_eq!(keys("O'Neil"), [6, 6, 3, 4, 5]);
    }

    #[test]
    fn search_names_then_numbers() {
        let dir = vec![
            c("Black, Mike", "2001"),
            c("Jensen, Babs", "2002"),
            c("Müller, Jürgen", "+49 30 6453"),
            c("Nobody", "5552"),
        ];
        let names = |p: &str| {
            search(&dir, p)
                .iter()
                .map(|c| c.name.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(names("6453"), ["Black, Mike", "Müller, Jürgen"]);
        assert_eq!(names("252"), ["Black, Mike"]);
        assert_eq!(names("222"), ["Jensen, Babs"]);
        assert_eq!(names("5874"), ["Müller, Jürgen"]);
        assert_eq!(names("555"), ["Nobody"]);
        assert_eq!(names("2001"), ["Black, Mike"]);
        assert!(names("999999").is_empty());
        assert_eq!(names("").len(), 4);
    }
}
