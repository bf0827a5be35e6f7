//! HTML form bodies: `application/x-www-form-urlencoded` and `multipart/form-data`
//! (RFC 7578 over RFC 2046 5.1), parsed with limits and emitted back.
//!
//! Both parsers are checked by the `web_form` fuzz target (parse -> emit -> re-parse gives
//! the same fields) and by property tests.

use crate::http::percent_decode;

/// Most fields of one form.
pub const MAX_FIELDS: usize = 4096;
/// Most parts of one multipart body.
pub const MAX_PARTS: usize = 64;
/// Longest header line of a part.
const MAX_PART_HEADER: usize = 1024;
/// Most header lines of a part.
const MAX_PART_HEADERS: usize = 8;
/// Longest part name, file name or part content type (so that an emitted part header always
/// fits [`MAX_PART_HEADER`]).
const MAX_PARAM: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("bad percent escape in a form field")]
    Escape,
    #[error("form field is not UTF-8 text")]
    NotUtf8,
    #[error("more than {0} form fields")]
    TooManyFields(usize),
    #[error("not a multipart/form-data content type with a valid boundary")]
    Boundary,
    #[error("malformed multipart body: {0}")]
    Multipart(&'static str),
}

/// Parses an urlencoded body or query string into (name, value) pairs, in order. Empty
/// pieces (`a&&b`) are skipped; a piece without `=` is a name with an empty value.
pub fn parse_urlencoded(s: &[u8]) -> Result<Vec<(String, String)>, FormError> {
    let mut out = Vec::new();
    for piece in s.split(|&b| b == b'&') {
        if piece.is_empty() {
            continue;
        }
        if out.len() == MAX_FIELDS {
            return Err(FormError::TooManyFields(MAX_FIELDS));
        }
        let (n, v) = match piece.iter().position(|&b| b == b'=') {
            Some(i) => (&piece[..i], &piece[i + 1..]),
            None => (piece, &b""[..]),
        };
        out.push((decode(n)?, decode(v)?));
    }
    Ok(out)
}

fn decode(s: &[u8]) -> Result<String, FormError> {
    let b = percent_decode(s, true).ok_or(FormError::Escape)?;
    String::from_utf8(b).map_err(|_| FormError::NotUtf8)
}

/// Encodes one component: unreserved characters as they are, space as `+`, the rest `%XX`.
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Emits pairs as an urlencoded body.
pub fn emit_urlencoded(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(n, v)| format!("{}={}", encode_component(n), encode_component(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// One part of a multipart body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub name: String,
    /// The file name of a file field (browsers send `""` when no file was chosen).
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

impl Part {
    /// The part's data as text.
    pub fn text(&self) -> Option<&str> {
        std::str::from_utf8(&self.data).ok()
    }
}

/// The boundary of a `multipart/form-data` content type (RFC 2046 5.1.1: 1-70 `bchars`).
pub fn boundary(content_type: &str) -> Result<String, FormError> {
    let mut it = content_type.split(';');
    let mime = it.next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("multipart/form-data") {
        return Err(FormError::Boundary);
    }
    for p in it {
        let Some((k, v)) = p.split_once('=') else {
            continue;
        };
        if k.trim().eq_ignore_ascii_case("boundary") {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|x| x.strip_suffix('"'))
                .unwrap_or(v);
            if valid_boundary(v) {
                return Ok(v.to_string());
            }
        }
    }
    Err(FormError::Boundary)
}

fn valid_boundary(b: &str) -> bool {
    (1..=70).contains(&b.len())
        && !b.ends_with(' ')
        && b.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"'()+_,-./:=? ".contains(&c))
}

/// Parses a multipart/form-data body.
pub fn parse_multipart(body: &[u8], boundary: &str) -> Result<Vec<Part>, FormError> {
    if !valid_boundary(boundary) {
        return Err(FormError::Boundary);
    }
    let first = format!("--{boundary}");
    let delim = format!("\r\n--{boundary}");
    let finder = memchr::memmem::Finder::new(delim.as_bytes());
    // Browsers start with the delimiter; a preamble is not accepted.
    let mut rest = body
        .strip_prefix(first.as_bytes())
        .ok_or(FormError::Multipart(
            "body does not start with the boundary",
        ))?;
    let mut parts = Vec::new();
    loop {
        if let Some(after) = rest.strip_prefix(b"--") {
            // Close delimiter; an epilogue after CRLF is ignored.
            if after.is_empty() || after.starts_with(b"\r\n") {
                return Ok(parts);
            }
            return Err(FormError::Multipart("junk after the close delimiter"));
        }
        rest = rest
            .strip_prefix(b"\r\n")
            .ok_or(FormError::Multipart("delimiter not followed by CRLF"))?;
        if parts.len() == MAX_PARTS {
            return Err(FormError::Multipart("too many parts"));
        }
        let (part, after) = parse_part_headers(rest)?;
        let end = finder
            .find(after)
            .ok_or(FormError::Multipart("part without a following delimiter"))?;
        parts.push(Part {
            data: after[..end].to_vec(),
            ..part
        });
        rest = &after[end + delim.len()..];
    }
}

fn parse_part_headers(mut s: &[u8]) -> Result<(Part, &[u8]), FormError> {
    let mut part = Part {
        name: String::new(),
        filename: None,
        content_type: None,
        data: Vec::new(),
    };
    let mut have_disposition = false;
    for _ in 0..=MAX_PART_HEADERS {
        let nl = s
            .iter()
            .take(MAX_PART_HEADER + 2)
            .position(|&b| b == b'\n')
            .ok_or(FormError::Multipart("part header line too long or cut"))?;
        let line = s[..nl]
            .strip_suffix(b"\r")
            .ok_or(FormError::Multipart("part header without CRLF"))?;
        s = &s[nl + 1..];
        if line.is_empty() {
            if !have_disposition {
                return Err(FormError::Multipart("part without Content-Disposition"));
            }
            return Ok((part, s));
        }
        let line = std::str::from_utf8(line).map_err(|_| FormError::NotUtf8)?;
        let (name, value) = line
            .split_once(':')
            .ok_or(FormError::Multipart("malformed part header"))?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-disposition") {
            if have_disposition {
                return Err(FormError::Multipart("two Content-Disposition headers"));
            }
            have_disposition = true;
            parse_disposition(value, &mut part)?;
        } else if name.eq_ignore_ascii_case("content-type") {
            if value.len() > MAX_PARAM {
                return Err(FormError::Multipart("part Content-Type too long"));
            }
            part.content_type = Some(value.to_string());
        }
        // Other part headers are ignored (RFC 7578 4.8).
    }
    Err(FormError::Multipart("too many part headers"))
}

/// `form-data; name="x"; filename="y"`. Quoted strings end at the next `"`: browsers
/// percent-encode `"` and line breaks in names (HTML's multipart encoding), so no escapes.
fn parse_disposition(v: &str, part: &mut Part) -> Result<(), FormError> {
    let (kind, mut rest) = v.split_once(';').unwrap_or((v, ""));
    if !kind.trim().eq_ignore_ascii_case("form-data") {
        return Err(FormError::Multipart("Content-Disposition is not form-data"));
    }
    let mut have_name = false;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ';']);
        if rest.is_empty() {
            break;
        }
        let eq = rest
            .find('=')
            .ok_or(FormError::Multipart("disposition parameter without ="))?;
        let key = rest[..eq].trim().to_ascii_lowercase();
        let after = &rest[eq + 1..];
        let (val, next) = if let Some(q) = after.strip_prefix('"') {
            let end = q
                .find('"')
                .ok_or(FormError::Multipart("unterminated quoted string"))?;
            (&q[..end], &q[end + 1..])
        } else {
            let end = after.find(';').unwrap_or(after.len());
            let v = after[..end].trim();
            if v.contains('"') {
                return Err(FormError::Multipart("quote inside an unquoted value"));
            }
            (v, &after[end..])
        };
        if val.len() > MAX_PARAM {
            return Err(FormError::Multipart("part name or file name too long"));
        }
        match key.as_str() {
            "name" => {
                part.name = val.to_string();
                have_name = true;
            }
            "filename" => part.filename = Some(val.to_string()),
            _ => {}
        }
        rest = next;
    }
    if !have_name {
        return Err(FormError::Multipart("part without a name"));
    }
    Ok(())
}

/// Emits parts as a multipart body. Names and file names must not contain `"`, CR or LF
/// (true of every parsed part), and no data may contain the delimiter.
pub fn emit_multipart(parts: &[Part], boundary: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for p in parts {
        out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let mut cd = format!("Content-Disposition: form-data; name=\"{}\"", p.name);
        if let Some(f) = &p.filename {
            cd.push_str(&format!("; filename=\"{f}\""));
        }
        out.extend_from_slice(cd.as_bytes());
        out.extend_from_slice(b"\r\n");
        if let Some(ct) = &p.content_type {
            out.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&p.data);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    out
}

/// A parsed form of either encoding: text fields and file parts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form {
    pub fields: Vec<(String, String)>,
    pub files: Vec<Part>,
}

impl Form {
    /// The first text field named `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first file part named `name` that carries a file.
    pub fn file(&self, name: &str) -> Option<&Part> {
        self.files
            .iter()
            .find(|p| p.name == name && p.filename.as_deref().is_some_and(|f| !f.is_empty()))
    }

    /// Parses a body by its content type.
    pub fn parse(content_type: Option<&str>, body: &[u8]) -> Result<Form, FormError> {
        let ct = content_type.unwrap_or("");
        if ct
            .split(';')
            .next()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("multipart/form-data"))
        {
            let parts = parse_multipart(body, &boundary(ct)?)?;
            let mut form = Form::default();
            for p in parts {
                if p.filename.is_some() {
                    form.files.push(p);
                } else {
                    let v = String::from_utf8(p.data).map_err(|_| FormError::NotUtf8)?;
                    form.fields.push((p.name, v));
                }
            }
            Ok(form)
        } else {
            Ok(Form {
                fields: parse_urlencoded(body)?,
                files: Vec::new(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urlencoded() {
        let f = parse_urlencoded(b"a=1&b=x+y%21&&c&d=%E2%82%AC").unwrap();
        assert_eq!(
            f,
            [
                ("a".into(), "1".into()),
                ("b".into(), "x y!".into()),
                ("c".into(), "".into()),
                ("d".into(), "€".into())
            ]
        );
        assert_eq!(parse_urlencoded(emit_urlencoded(&f).as_bytes()).unwrap(), f);
        assert_eq!(parse_urlencoded(b"a=%2"), Err(FormError::Escape));
        assert_eq!(parse_urlencoded(b"a=%ff"), Err(FormError::NotUtf8));
        let many = "a&".repeat(MAX_FIELDS + 1);
        assert!(matches!(
            parse_urlencoded(many.as_bytes()),
            Err(FormError::TooManyFields(_))
        ));
    }

    #[test]
    fn chrome_multipart() {
        let b = "----WebKitFormBoundaryx8Zq";
        let body = format!(
            "--{b}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nabc\r\n--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"bad.cfg\"\r\nContent-Type: application/octet-stream\r\n\r\nx=1\r\n\r\ny\r\n--{b}--\r\n"
        );
        let ct = format!("multipart/form-data; boundary={b}");
        let form = Form::parse(Some(&ct), body.as_bytes()).unwrap();
        assert_eq!(form.get("csrf"), Some("abc"));
        let f = form.file("file").unwrap();
        assert_eq!(f.filename.as_deref(), Some("bad.cfg"));
        assert_eq!(f.data, b"x=1\r\n\r\ny");
        let parts = parse_multipart(body.as_bytes(), b).unwrap();
        assert_eq!(
            parse_multipart(&emit_multipart(&parts, b), b).unwrap(),
            parts
        );
    }

    #[test]
    fn multipart_refusals() {
        let b = "XyZ";
        for body in [
            "",
            "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nno end",
            "--XyZ\r\nContent-Type: text/plain\r\n\r\nx\r\n--XyZ--",
            "--XyZ\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\nx\r\n--XyZ--",
            "--XyZ\r\nContent-Disposition: form-data; name=\"a\r\n\r\nx\r\n--XyZ--",
            "preamble\r\n--XyZ--",
        ] {
            assert!(parse_multipart(body.as_bytes(), b).is_err(), "{body:?}");
        }
        assert!(boundary("multipart/form-data").is_err());
        assert!(boundary("text/plain; boundary=a").is_err());
        assert_eq!(
            boundary("multipart/form-data; boundary=\"a b\"").unwrap(),
            "a b"
        );
    }
}
