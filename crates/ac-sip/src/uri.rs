//! URIs: SIP and SIPS (RFC 3261 section 19.1, grammar in 25.1), tel (RFC 3966), and any other
//! absolute URI kept as text. Zero-copy views over the input with decoding accessors, and
//! emit (`Display`) that reproduces the input of a canonical URI.

use std::borrow::Cow;
use std::fmt;

use crate::error::{ParseError, Result};
use crate::lex::{is_unreserved, starts_with_ci, unescape};

/// A URI of any scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uri<'a> {
    Sip(SipUri<'a>),
    Tel(TelUri<'a>),
    /// Another absolute URI (`scheme:rest`), e.g. `http:`, `mailto:`, `urn:`.
    Other {
        scheme: &'a str,
        rest: &'a str,
    },
}

/// `sip:` / `sips:` URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipUri<'a> {
    pub secure: bool,
    /// Escaped as written.
    pub user: Option<&'a str>,
    pub password: Option<&'a str>,
    pub host: &'a str,
    pub port: Option<u16>,
    /// `;name[=value]`, escaped as written.
    pub params: Vec<(&'a str, Option<&'a str>)>,
    /// `?name=value&...`, escaped as written.
    pub headers: Vec<(&'a str, &'a str)>,
}

/// `tel:` URI (RFC 3966 section 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelUri<'a> {
    /// `+` and digits (global) or digits/`*#ABCD` (local), visual separators kept.
    pub number: &'a str,
    pub params: Vec<(&'a str, Option<&'a str>)>,
}

fn is_user_char(c: char) -> bool {
    is_unreserved(c) || matches!(c, '&' | '=' | '+' | '$' | ',' | ';' | '?' | '/' | '%')
}

fn is_password_char(c: char) -> bool {
    is_unreserved(c) || matches!(c, '&' | '=' | '+' | '$' | ',' | '%')
}

fn is_param_char(c: char) -> bool {
    is_unreserved(c) || matches!(c, '[' | ']' | '/' | ':' | '&' | '+' | '$' | '%')
}

fn is_hnv_char(c: char) -> bool {
    is_unreserved(c) || matches!(c, '[' | ']' | '/' | '?' | ':' | '+' | '$' | '%')
}

/// `%HH` sequences all well formed.
fn escapes_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let mut k = 0;
    while k < b.len() {
        if b[k] == b'%' {
            if k + 2 >= b.len() || !b[k + 1].is_ascii_hexdigit() || !b[k + 2].is_ascii_hexdigit() {
                return false;
            }
            k += 3;
        } else {
            k += 1;
        }
    }
    true
}

fn valid_host(h: &str) -> bool {
    if let Some(v6) = h.strip_prefix('[') {
        let Some(v6) = v6.strip_suffix(']') else {
            return false;
        };
        return v6.parse::<std::net::Ipv6Addr>().is_ok();
    }
    if h.is_empty() || h.len() > 255 {
        return false;
    }
    // hostname = *( domainlabel "." ) toplabel [ "." ]; IPv4address has the same shape.
    let t = h.strip_suffix('.').unwrap_or(h);
    !t.is_empty()
        && t.split('.').all(|l| {
            !l.is_empty()
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

fn split_params(s: &str, ok: fn(char) -> bool) -> Result<Vec<(&str, Option<&str>)>> {
    let mut out = Vec::new();
    for p in s.split(';') {
        let (n, v) = match p.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (p, None),
        };
        if n.is_empty() || !n.chars().all(ok) || !escapes_ok(n) {
            return Err(ParseError::Uri("bad parameter name"));
        }
        if let Some(v) = v {
            if !v.chars().all(ok) || !escapes_ok(v) {
                return Err(ParseError::Uri("bad parameter value"));
            }
        }
        // RFC 3261 19.1.1: a parameter name may appear only once in a URI.
        if out
            .iter()
            .any(|(x, _): &(&str, Option<&str>)| x.eq_ignore_ascii_case(n))
        {
            return Err(ParseError::Uri("duplicate parameter"));
        }
        out.push((n, v));
    }
    Ok(out)
}

impl<'a> SipUri<'a> {
    /// Parses `sip:...` / `sips:...` (the scheme is case-insensitive).
    pub fn parse(s: &'a str) -> Result<SipUri<'a>> {
        let (secure, rest) = if starts_with_ci(s, "sips:") {
            (true, &s[5..])
        } else if starts_with_ci(s, "sip:") {
            (false, &s[4..])
        } else {
            return Err(ParseError::Uri("not a sip: or sips: URI"));
        };
        // userinfo ends at the '@' ('@' is not allowed unescaped anywhere after it).
        let (user, password, rest) = match rest.find('@') {
            Some(at) => {
                let ui = &rest[..at];
                let (u, p) = match ui.find(':') {
                    Some(c) => (&ui[..c], Some(&ui[c + 1..])),
                    None => (ui, None),
                };
                if u.is_empty() || !u.chars().all(is_user_char) || !escapes_ok(u) {
                    return Err(ParseError::Uri("bad user part"));
                }
                if let Some(p) = p {
                    if !p.chars().all(is_password_char) || !escapes_ok(p) {
                        return Err(ParseError::Uri("bad password"));
                    }
                }
                (Some(u), p, &rest[at + 1..])
            }
            None => (None, None, rest),
        };
        let (hostport, rest) = match rest.find([';', '?']) {
            Some(k) => (&rest[..k], &rest[k..]),
            None => (rest, ""),
        };
        let (host, port) = if hostport.starts_with('[') {
            match hostport.find(']') {
                Some(e) => (&hostport[..=e], &hostport[e + 1..]),
                None => return Err(ParseError::Uri("unterminated IPv6 reference")),
            }
        } else {
            match hostport.find(':') {
                Some(c) => (&hostport[..c], &hostport[c..]),
                None => (hostport, ""),
            }
        };
        if !valid_host(host) {
            return Err(ParseError::Uri("bad host"));
        }
        let port = match port {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .and_then(crate::lex::decimal::<u16>)
                    .ok_or(ParseError::Uri("bad port"))?,
            ),
        };
        let (pstr, hstr) = match rest.find('?') {
            Some(q) => (&rest[..q], Some(&rest[q + 1..])),
            None => (rest, None),
        };
        let params = match pstr.strip_prefix(';') {
            Some(p) => split_params(p, is_param_char)?,
            None if pstr.is_empty() => Vec::new(),
            None => return Err(ParseError::Uri("junk after host")),
        };
        let mut headers = Vec::new();
        if let Some(h) = hstr {
            for kv in h.split('&') {
                let (n, v) = kv
                    .split_once('=')
                    .ok_or(ParseError::Uri("bad URI header"))?;
                if n.is_empty()
                    || !n.chars().all(is_hnv_char)
                    || !v.chars().all(is_hnv_char)
                    || !escapes_ok(n)
                    || !escapes_ok(v)
                {
                    return Err(ParseError::Uri("bad URI header"));
                }
                headers.push((n, v));
            }
        }
        Ok(SipUri {
            secure,
            user,
            password,
            host,
            port,
            params,
            headers,
        })
    }

    /// The user part with escapes decoded.
    pub fn user_decoded(&self) -> Option<Cow<'a, str>> {
        self.user.map(unescape)
    }

    /// A URI parameter by name (case-insensitive; an escaped name matches its decoded form,
    /// RFC 3261 19.1.4 / RFC 4475 3.1.1.3), `Some(None)` for a flag. The value is as written.
    pub fn param(&self, name: &str) -> Option<Option<&'a str>> {
        self.params
            .iter()
            .find(|(n, _)| unescape(n).eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    /// `transport` parameter, lower-cased.
    pub fn transport(&self) -> Option<String> {
        self.param("transport")
            .flatten()
            .map(|t| t.to_ascii_lowercase())
    }

    /// RFC 3261 section 19.1.4 comparison: scheme, user (case-sensitive, escapes decoded),
    /// password, host (case-insensitive), port; parameters `user`, `ttl`, `method`, `maddr`
    /// and `transport` must match when either side has them; other parameters only when both
    /// have them; headers must match.
    pub fn equivalent(&self, o: &SipUri<'_>) -> bool {
        if self.secure != o.secure
            || self.user.map(unescape) != o.user.map(unescape)
            || self.password.map(unescape) != o.password.map(unescape)
            || !self.host.eq_ignore_ascii_case(o.host)
            || self.port != o.port
        {
            return false;
        }
        let norm = |v: Option<&str>| v.map(|v| unescape(v).to_ascii_lowercase());
        for (n, v) in &self.params {
            match o.param(n) {
                Some(ov) if norm(*v) != norm(ov) => return false,
                None if ["user", "ttl", "method", "maddr", "transport"]
                    .iter()
                    .any(|k| k.eq_ignore_ascii_case(n)) =>
                {
                    return false
                }
                _ => {}
            }
        }
        for (n, _) in &o.params {
            if self.param(n).is_none()
                && ["user", "ttl", "method", "maddr", "transport"]
                    .iter()
                    .any(|k| k.eq_ignore_ascii_case(n))
            {
                return false;
            }
        }
        let mut a: Vec<(String, String)> = self
            .headers
            .iter()
            .map(|(n, v)| (unescape(n).to_ascii_lowercase(), unescape(v).into_owned()))
            .collect();
        let mut b: Vec<(String, String)> = o
            .headers
            .iter()
            .map(|(n, v)| (unescape(n).to_ascii_lowercase(), unescape(v).into_owned()))
            .collect();
        a.sort();
        b.sort();
        a == b
    }
}

impl fmt::Display for SipUri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.secure { "sips:" } else { "sip:" })?;
        if let Some(u) = self.user {
            f.write_str(u)?;
            if let Some(p) = self.password {
                write!(f, ":{p}")?;
            }
            f.write_str("@")?;
        }
        f.write_str(self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        for (n, v) in &self.params {
            write!(f, ";{n}")?;
            if let Some(v) = v {
                write!(f, "={v}")?;
            }
        }
        for (i, (n, v)) in self.headers.iter().enumerate() {
            write!(f, "{}{n}={v}", if i == 0 { '?' } else { '&' })?;
        }
        Ok(())
    }
}

impl<'a> TelUri<'a> {
    /// RFC 3966 section 3: `tel:` telephone-subscriber.
    pub fn parse(s: &'a str) -> Result<TelUri<'a>> {
        if !starts_with_ci(s, "tel:") {
            return Err(ParseError::Uri("not a tel: URI"));
        }
        let rest = &s[4..];
        let (number, p) = match rest.find(';') {
            Some(k) => (&rest[..k], Some(&rest[k + 1..])),
            None => (rest, None),
        };
        let visual = |c: char| matches!(c, '-' | '.' | '(' | ')');
        let ok = if let Some(g) = number.strip_prefix('+') {
            g.chars().any(|c| c.is_ascii_digit())
                && g.chars().all(|c| c.is_ascii_digit() || visual(c))
        } else {
            number
                .chars()
                .any(|c| c.is_ascii_hexdigit() || c == '*' || c == '#')
                && number
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() || c == '*' || c == '#' || visual(c))
        };
        if !ok {
            return Err(ParseError::Uri("bad telephone number"));
        }
        let params = match p {
            Some(p) => split_params(p, |c| is_param_char(c) || c == '+')?,
            None => Vec::new(),
        };
        // RFC 3966 section 5.1.5: a local number MUST carry a phone-context.
        if !number.starts_with('+')
            && !params
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("phone-context"))
        {
            return Err(ParseError::Uri("local tel number without phone-context"));
        }
        Ok(TelUri { number, params })
    }

    /// The digits only (visual separators removed), with the leading `+` of a global number.
    pub fn digits(&self) -> String {
        self.number
            .chars()
            .filter(|c| !matches!(c, '-' | '.' | '(' | ')'))
            .collect()
    }
}

impl fmt::Display for TelUri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tel:{}", self.number)?;
        for (n, v) in &self.params {
            write!(f, ";{n}")?;
            if let Some(v) = v {
                write!(f, "={v}")?;
            }
        }
        Ok(())
    }
}

impl<'a> Uri<'a> {
    pub fn parse(s: &'a str) -> Result<Uri<'a>> {
        let colon = s.find(':').ok_or(ParseError::Uri("no scheme"))?;
        let scheme = &s[..colon];
        if scheme.is_empty()
            || !scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            || !scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        {
            return Err(ParseError::Uri("bad scheme"));
        }
        if scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips") {
            return SipUri::parse(s).map(Uri::Sip);
        }
        if scheme.eq_ignore_ascii_case("tel") {
            return TelUri::parse(s).map(Uri::Tel);
        }
        let rest = &s[colon + 1..];
        // absoluteURI: no white space or control characters, not empty.
        if rest.is_empty()
            || rest
                .chars()
                .any(|c| c.is_ascii_control() || c == ' ' || c == '<' || c == '>' || c == '"')
        {
            return Err(ParseError::Uri("bad absolute URI"));
        }
        Ok(Uri::Other { scheme, rest })
    }

    pub fn as_sip(&self) -> Option<&SipUri<'a>> {
        match self {
            Uri::Sip(u) => Some(u),
            _ => None,
        }
    }

    pub fn scheme(&self) -> &str {
        match self {
            Uri::Sip(u) if u.secure => "sips",
            Uri::Sip(_) => "sip",
            Uri::Tel(_) => "tel",
            Uri::Other { scheme, .. } => scheme,
        }
    }
}

impl fmt::Display for Uri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Uri::Sip(u) => u.fmt(f),
            Uri::Tel(u) => u.fmt(f),
            Uri::Other { scheme, rest } => write!(f, "{scheme}:{rest}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_uris() {
        let u = SipUri::parse(
            "sip:alice:secret@[2001:db8::1]:5061;transport=TLS;lr?subject=x&priority=urgent",
        )
        .unwrap();
        assert_eq!(u.user, Some("alice"));
        assert_eq!(u.password, Some("secret"));
        assert_eq!(u.host, "[2001:db8::1]");
        assert_eq!(u.port, Some(5061));
        assert_eq!(u.transport().as_deref(), Some("tls"));
        assert_eq!(u.param("lr"), Some(None));
        assert_eq!(u.headers, vec![("subject", "x"), ("priority", "urgent")]);
        assert_eq!(
            u.to_string(),
            "sip:alice:secret@[2001:db8::1]:5061;transport=TLS;lr?subject=x&priority=urgent"
        );
        // RFC 4475 3.1.1.2: unusual but legal characters in the user part.
        let u = SipUri::parse("sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com").unwrap();
        assert_eq!(
            u.user,
            Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
        );
        assert_eq!(
            u.password,
            Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
        );
        for bad in [
            "sip:",
            "sip:@example.com",
            "sip:a b@example.com",
            "sip:example.com:99999",
            "sip:example.com:",
            "sip:[::1",
            "sip:us%zz@example.com",
            "sip:-bad-.com",
            "http://x",
        ] {
            assert!(SipUri::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn comparison_rfc3261_19_1_4() {
        let eq = |a: &str, b: &str| {
            SipUri::parse(a)
                .unwrap()
                .equivalent(&SipUri::parse(b).unwrap())
        };
        assert!(eq(
            "sip:%61lice@atlanta.com;transport=TCP",
            "sip:alice@AtLanTa.CoM;Transport=tcp"
        ));
        assert!(eq(
            "sip:carol@chicago.com",
            "sip:carol@chicago.com;newparam=5"
        ));
        assert!(eq(
            "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
            "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"
        ));
        assert!(!eq(
            "SIP:ALICE@AtLanTa.CoM;Transport=udp",
            "sip:alice@AtLanTa.CoM;Transport=UDP"
        ));
        assert!(!eq("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"));
        assert!(!eq(
            "sip:bob@biloxi.com",
            "sip:bob@biloxi.com;transport=udp"
        ));
        assert!(!eq(
            "sip:carol@chicago.com;security=on",
            "sip:carol@chicago.com;security=off"
        ));
    }

    #[test]
    fn tel_and_other() {
        let Uri::Tel(t) = Uri::parse("tel:+1-201-555-0123;ext=42").unwrap() else {
            panic!()
        };
        assert_eq!(t.digits(), "+12015550123");
        assert!(Uri::parse("tel:7042;phone-context=example.com").is_ok());
        assert!(Uri::parse("tel:7042").is_err());
        assert!(Uri::parse("tel:+").is_err());
        assert_eq!(Uri::parse("urn:service:sos").unwrap().scheme(), "urn");
        assert!(Uri::parse("noscheme").is_err());
        assert!(Uri::parse("a b:c").is_err());
    }
}
