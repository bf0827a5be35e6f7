//! Checking a value against its parameter's type, range and enum.

use std::net::IpAddr;

use crate::model::Model;
use crate::schema::{ParamDef, ParamType};

/// Why a value does not fit its parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ValueProblem {
    /// Not of the type at all; the string says what was expected.
    Type(String),
    /// An integer outside the model's range.
    OutOfRange {
        min: Option<i64>,
        max: Option<i64>,
    },
    /// Not one of the enum's values.
    BadEnum,
    /// An enum value in the wrong letter case (accepted, with a warning).
    EnumCase(&'static str),
    TooLong(u32),
}

fn parse_int(v: &str) -> Option<i64> {
    let digits = v.strip_prefix(['-', '+']).unwrap_or(v);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

pub(crate) fn int_value(v: &str) -> Option<i64> {
    parse_int(v)
}

fn is_hostname(v: &str) -> bool {
    v.len() <= 253
        && v.trim_end_matches('.').split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

fn is_time(v: &str) -> bool {
    let b = v.as_bytes();
    if b.len() != 5 || b[2] != b':' {
        return false;
    }
    let h = (b[0].wrapping_sub(b'0'), b[1].wrapping_sub(b'0'));
    let m = (b[3].wrapping_sub(b'0'), b[4].wrapping_sub(b'0'));
    h.0 <= 2 && h.1 <= 9 && h.0 * 10 + h.1 <= 23 && m.0 <= 5 && m.1 <= 9
}

fn is_url(v: &str) -> bool {
    if v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    match v.find("://") {
        // A relative reference (the manual's `speed_dial_list.txt`) is resolved against the
        // provisioning server by the fetcher.
        None => true,
        Some(p) => {
            let scheme = &v[..p];
            !scheme.is_empty()
                && scheme.as_bytes()[0].is_ascii_alphabetic()
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
                && v.len() > p + 3
        }
    }
}

/// `{"base64"}`: a value encrypted as in manual 3.4.2.
pub(crate) fn encrypted_payload(v: &str) -> Option<&str> {
    v.strip_prefix("{\"")?.strip_suffix("\"}")
}

/// Checks `value` for `def` on `model`.
pub(crate) fn check(def: &ParamDef, model: Option<Model>, value: &str) -> Result<(), ValueProblem> {
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(ValueProblem::Type("text without control characters".into()));
    }
    match def.ty {
        ParamType::Bool => match value {
            "0" | "1" => Ok(()),
            _ => Err(ValueProblem::Type("0 (disable) or 1 (enable)".into())),
        },
        ParamType::Int => {
            let n = parse_int(value).ok_or_else(|| ValueProblem::Type("an integer".into()))?;
            let (min, max) = def.range_for(model);
            if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
                return Err(ValueProblem::OutOfRange { min, max });
            }
            Ok(())
        }
        ParamType::Enum => {
            if def.values.contains(&value) {
                Ok(())
            } else if let Some(v) = def.values.iter().find(|v| v.eq_ignore_ascii_case(value)) {
                Err(ValueProblem::EnumCase(v))
            } else {
                Err(ValueProblem::BadEnum)
            }
        }
        ParamType::String | ParamType::List => check_len(def, value),
        ParamType::Password => {
            if value.starts_with("{\"") {
                let ok = encrypted_payload(value).is_some_and(|p| {
                    use base64::Engine as _;
                    base64::engine::general_purpose::STANDARD
                        .decode(p)
                        .is_ok_and(|b| !b.is_empty() && b.len() % 8 == 0)
                });
                if !ok {
                    return Err(ValueProblem::Type(
                        "a password, or {\"base64\"} from `ac-cfgtool encrypt -s` (3DES blocks)"
                            .into(),
                    ));
                }
            }
            check_len(def, value)
        }
        ParamType::Ip => {
            if value.is_empty() || value.parse::<IpAddr>().is_ok() {
                Ok(())
            } else {
                Err(ValueProblem::Type("an IPv4 or IPv6 address".into()))
            }
        }
        ParamType::Host => {
            if value.is_empty() || value.parse::<IpAddr>().is_ok() || is_hostname(value) {
                Ok(())
            } else {
                Err(ValueProblem::Type("an IP address or a host name".into()))
            }
        }
        ParamType::Url => {
            if value.is_empty() || is_url(value) {
                check_len(def, value)
            } else {
                Err(ValueProblem::Type(
                    "a URL (scheme://host/path) without spaces".into(),
                ))
            }
        }
        ParamType::Time => {
            if is_time(value) {
                Ok(())
            } else {
                Err(ValueProblem::Type("a time HH:MM (00:00-23:59)".into()))
            }
        }
    }
}

fn check_len(def: &ParamDef, value: &str) -> Result<(), ValueProblem> {
    match def.max_len {
        Some(max) if value.chars().count() > max as usize => Err(ValueProblem::TooLong(max)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_checks() {
        assert_eq!(parse_int("-5"), Some(-5));
        assert_eq!(parse_int("+5"), Some(5));
        assert_eq!(parse_int("5x"), None);
        assert_eq!(parse_int("-"), None);
        assert_eq!(parse_int("99999999999999999999999"), None);
        assert!(is_time("00:00") && is_time("23:59"));
        assert!(!is_time("24:00") && !is_time("12:60") && !is_time("1:00"));
        assert!(is_hostname("pool.example.com") && !is_hostname("a..b") && !is_hostname("a b"));
        assert!(is_url("https://x/y") && is_url("speed.txt") && !is_url("://x") && !is_url("a b"));
        assert_eq!(encrypted_payload("{\"abc=\"}"), Some("abc="));
    }
}
