//! Character classes and the small grammar pieces of RFC 3261 section 25.1, on nom.

use std::borrow::Cow;

use nom::branch::alt;
use nom::bytes::complete::{tag, take_while, take_while1};
use nom::character::complete::char;
use nom::combinator::{opt, recognize};
use nom::sequence::{delimited, pair, preceded, tuple};
use nom::IResult;

/// `alphanum / mark` (RFC 3261 25.1 `unreserved`).
pub fn is_unreserved(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '!' | '~' | '*' | '\'' | '(' | ')')
}

/// `token` characters.
pub fn is_token(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            '-' | '.' | '!' | '%' | '*' | '_' | '+' | '`' | '\'' | '~'
        )
}

/// `word` characters (Call-ID).
pub fn is_word(c: char) -> bool {
    is_token(c)
        || matches!(
            c,
            '(' | ')' | '<' | '>' | ':' | '\\' | '"' | '/' | '[' | ']' | '?' | '{' | '}'
        )
}

/// ASCII case-insensitive prefix test that never slices inside a UTF-8 sequence.
pub fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

pub fn is_ws(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Optional white space (headers are unfolded before typed parsing).
pub fn sws(i: &str) -> IResult<&str, &str> {
    take_while(is_ws)(i)
}

pub fn token(i: &str) -> IResult<&str, &str> {
    take_while1(is_token)(i)
}

/// `quoted-string` including its quotes (RFC 3261 25.1: qdtext / quoted-pair; a quoted-pair
/// may escape any octet except CR and LF).
pub fn quoted_string(i: &str) -> IResult<&str, &str> {
    let bytes = i.as_bytes();
    if bytes.first() != Some(&b'"') {
        return Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::Char,
        )));
    }
    let mut k = 1;
    while k < bytes.len() {
        match bytes[k] {
            b'"' => return Ok((&i[k + 1..], &i[..k + 1])),
            b'\\' if k + 1 < bytes.len() && bytes[k + 1] != b'\r' && bytes[k + 1] != b'\n' => {
                k += 2
            }
            b'\r' | b'\n' => break,
            _ => k += 1,
        }
    }
    Err(nom::Err::Error(nom::error::Error::new(
        i,
        nom::error::ErrorKind::Char,
    )))
}

/// The content of a quoted string with its quoted-pairs resolved.
pub fn unquote(q: &str) -> Cow<'_, str> {
    let inner = q
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(q);
    if !inner.contains('\\') {
        return Cow::Borrowed(inner);
    }
    let mut out = String::with_capacity(inner.len());
    let mut it = inner.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            if let Some(n) = it.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Quotes `s` as a quoted-string (escaping `"` and `\`).
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// `host` as it may appear in a header parameter value or Via sent-by: hostname, IPv4 or an
/// IPv6 reference.
pub fn host(i: &str) -> IResult<&str, &str> {
    alt((
        recognize(delimited(
            char('['),
            take_while1(|c: char| c.is_ascii_hexdigit() || c == ':' || c == '.'),
            char(']'),
        )),
        take_while1(|c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.'),
    ))(i)
}

/// One `generic-param`: `token [ EQUAL gen-value ]`, gen-value = token / host /
/// quoted-string. Returns the name and the raw value (quotes kept).
pub fn generic_param(i: &str) -> IResult<&str, (&str, Option<&str>)> {
    pair(
        token,
        opt(preceded(
            tuple((sws, tag("="), sws)),
            alt((quoted_string, token, host)),
        )),
    )(i)
}

/// `*( SEMI generic-param )`, tolerant of white space around `;` and `=`.
pub fn params(mut i: &str) -> IResult<&str, Vec<(&str, Option<&str>)>> {
    let mut out = Vec::new();
    loop {
        let (r, _) = sws(i)?;
        let Some(r) = r.strip_prefix(';') else {
            return Ok((i, out));
        };
        let (r, _) = sws(r)?;
        let (r, p) = generic_param(r)?;
        out.push(p);
        i = r;
    }
}

/// Splits a header value on top-level commas (outside quoted strings and `<...>`).
pub fn split_commas(v: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let b = v.as_bytes();
    let (mut start, mut k) = (0, 0);
    let (mut in_q, mut in_angle) = (false, false);
    while k < b.len() {
        match b[k] {
            b'\\' if in_q => k += 1,
            b'"' if !in_angle => in_q = !in_q,
            b'<' if !in_q => in_angle = true,
            b'>' if !in_q => in_angle = false,
            b',' if !in_q && !in_angle => {
                out.push(v[start..k].trim_matches(is_ws));
                start = k + 1;
            }
            _ => {}
        }
        k += 1;
    }
    out.push(v[start..].trim_matches(is_ws));
    out
}

/// Decodes `%HH` escapes (RFC 3261 25.1 `escaped`); invalid escapes are kept literally.
pub fn unescape(s: &str) -> Cow<'_, str> {
    if !s.contains('%') {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut k = 0;
    while k < b.len() {
        if b[k] == b'%' && k + 2 < b.len() {
            let h = |c: u8| (c as char).to_digit(16);
            if let (Some(x), Some(y)) = (h(b[k + 1]), h(b[k + 2])) {
                out.push((x * 16 + y) as u8);
                k += 3;
                continue;
            }
        }
        out.push(b[k]);
        k += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// Parses a decimal integer field with optional leading zeros, refusing overflow.
pub fn decimal<T: TryFrom<u64>>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let t = s.trim_start_matches('0');
    if t.len() > 19 {
        return None;
    }
    let v: u64 = if t.is_empty() { 0 } else { t.parse().ok()? };
    T::try_from(v).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_strings() {
        assert_eq!(
            quoted_string(r#""J Rosenberg \\\"" rest"#),
            Ok((" rest", r#""J Rosenberg \\\"""#))
        );
        assert_eq!(unquote(r#""a\"b\\c""#), r#"a"b\c"#);
        assert!(quoted_string("\"open").is_err());
        assert_eq!(quote(r#"a"b"#), r#""a\"b""#);
    }

    #[test]
    fn params_and_commas() {
        let (r, p) = params(" ; tag = 98asjd8;lr;x=\"q;v\" rest").unwrap();
        assert_eq!(r, " rest");
        assert_eq!(
            p,
            vec![
                ("tag", Some("98asjd8")),
                ("lr", None),
                ("x", Some("\"q;v\""))
            ]
        );
        assert_eq!(
            split_commas(r#""a,b" <sip:x@y;p=1,2>, <sip:z>"#),
            vec![r#""a,b" <sip:x@y;p=1,2>"#, "<sip:z>"]
        );
    }

    #[test]
    fn escapes_and_numbers() {
        assert_eq!(unescape("%75se%72"), "user");
        assert_eq!(unescape("100%"), "100%");
        assert_eq!(unescape("%Z%45"), "%ZE");
        assert_eq!(decimal::<u32>("0009"), Some(9));
        assert_eq!(decimal::<u32>("4294967296"), None);
        assert_eq!(decimal::<u32>("-1"), None);
        assert_eq!(decimal::<u64>("000000000000000000000000000001"), Some(1));
    }
}
