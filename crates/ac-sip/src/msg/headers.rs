//! Typed header values (RFC 3261 section 20 and the extensions of the manual's Table D-6,
//! plus Microsoft's ms-keep-alive and ms-diagnostics). Each type borrows from the header
//! value and has a `Display` that emits it canonically.

use std::borrow::Cow;
use std::fmt;

use crate::error::{ParseError, Result};
use crate::lex::{self, decimal, is_token, is_ws, params, quoted_string, sws, token, unquote};
use crate::msg::Method;
use crate::uri::Uri;

fn herr(header: &'static str, reason: &'static str) -> ParseError {
    ParseError::Header { header, reason }
}

/// Header parameters: `;name[=value]`, values as written (quotes kept).
pub type Params<'a> = Vec<(&'a str, Option<&'a str>)>;

/// Looks up a parameter (names are case-insensitive), value unquoted.
pub fn param<'a>(p: &[(&'a str, Option<&'a str>)], name: &str) -> Option<Option<Cow<'a, str>>> {
    p.iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.map(unquote))
}

fn write_params(f: &mut fmt::Formatter<'_>, p: &[(&str, Option<&str>)]) -> fmt::Result {
    for (n, v) in p {
        write!(f, ";{n}")?;
        if let Some(v) = v {
            write!(f, "={v}")?;
        }
    }
    Ok(())
}

fn all_params<'a>(rest: &'a str, header: &'static str) -> Result<Params<'a>> {
    let (r, p) = params(rest).map_err(|_| herr(header, "bad parameter"))?;
    if !r.trim_matches(is_ws).is_empty() {
        return Err(herr(header, "junk after parameters"));
    }
    Ok(p)
}

/// CSeq (RFC 3261 section 20.16): sequence number (< 2^31) and method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CSeq<'a> {
    pub seq: u32,
    pub method: Method<'a>,
}

impl<'a> CSeq<'a> {
    pub fn parse(v: &'a str) -> Result<CSeq<'a>> {
        let v = v.trim_matches(is_ws);
        let split = v.find(is_ws).ok_or(herr("CSeq", "no method"))?;
        let seq = decimal::<u32>(&v[..split])
            .filter(|s| *s < 1 << 31)
            .ok_or(herr("CSeq", "sequence number not below 2^31"))?;
        let m = v[split..].trim_matches(is_ws);
        if m.is_empty() || !m.chars().all(is_token) {
            return Err(herr("CSeq", "bad method"));
        }
        Ok(CSeq {
            seq,
            method: Method::from_token(m),
        })
    }
}

impl fmt::Display for CSeq<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

/// `name-addr` / `addr-spec` with header parameters: From, To, Contact, Route,
/// Record-Route, Refer-To, Referred-By, P-Asserted-Identity, Diversion, Remote-Party-ID...
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr<'a> {
    /// A display name as written: a quoted string (quotes kept) or tokens.
    pub display: Option<&'a str>,
    pub uri: Uri<'a>,
    /// The URI was in `<...>`.
    pub angle: bool,
    pub params: Params<'a>,
}

impl<'a> NameAddr<'a> {
    pub fn parse(v: &'a str) -> Result<NameAddr<'a>> {
        const H: &str = "name-addr";
        let v = v.trim_matches(is_ws);
        // display-name: quoted-string or *(token LWS), then "<".
        let (display, rest) = if v.starts_with('"') {
            let (r, q) = quoted_string(v).map_err(|_| herr(H, "unterminated display name"))?;
            (Some(q), r.trim_start_matches(is_ws))
        } else if let Some(lt) = v.find('<') {
            let d = v[..lt].trim_matches(is_ws);
            if d.is_empty() {
                (None, &v[lt..])
            } else {
                if !d
                    .split(is_ws)
                    .filter(|t| !t.is_empty())
                    .all(|t| t.chars().all(is_token))
                {
                    return Err(herr(
                        H,
                        "display name is neither tokens nor a quoted string",
                    ));
                }
                (Some(d), &v[lt..])
            }
        } else {
            (None, v)
        };
        if let Some(r) = rest.strip_prefix('<') {
            let gt = r.find('>').ok_or(herr(H, "no closing >"))?;
            let u = r[..gt].trim_matches(is_ws);
            // RFC 3261 25.1: LAQUOT addr-spec RAQUOT, white space allowed around it only
            // through SWS of the quotes; inside the URI there is none (RFC 4475 3.1.2.7 has
            // "< sip:... >" which is invalid).
            if u.len() != r[..gt].len() {
                return Err(herr(H, "white space inside <...>"));
            }
            let uri = Uri::parse(u)?;
            let params = all_params(&r[gt + 1..], H)?;
            return Ok(NameAddr {
                display,
                uri,
                angle: true,
                params,
            });
        }
        if display.is_some() {
            return Err(herr(H, "display name without <URI>"));
        }
        // addr-spec: the URI ends at ';' (header parameters follow) or white space.
        let end = rest.find([';', ' ', '\t']).unwrap_or(rest.len());
        let uri = Uri::parse(&rest[..end])?;
        if matches!(&uri, Uri::Sip(s) if !s.headers.is_empty()) || rest[..end].contains('?') {
            return Err(herr(H, "URI with headers or '?' outside <...>"));
        }
        let params = all_params(&rest[end..], H)?;
        Ok(NameAddr {
            display,
            uri,
            angle: false,
            params,
        })
    }

    /// The display name, unquoted.
    pub fn display_name(&self) -> Option<Cow<'a, str>> {
        self.display.map(|d| {
            if d.starts_with('"') {
                unquote(d)
            } else {
                Cow::Borrowed(d)
            }
        })
    }

    pub fn tag(&self) -> Option<Cow<'a, str>> {
        param(&self.params, "tag").flatten()
    }

    pub fn param(&self, name: &str) -> Option<Option<Cow<'a, str>>> {
        param(&self.params, name)
    }
}

impl fmt::Display for NameAddr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(d) = self.display {
            write!(f, "{d} ")?;
        }
        if self.angle || self.display.is_some() {
            write!(f, "<{}>", self.uri)?;
        } else {
            write!(f, "{}", self.uri)?;
        }
        write_params(f, &self.params)
    }
}

/// A Contact value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contact<'a> {
    /// `Contact: *` (REGISTER removing every binding, RFC 3261 10.2.2).
    Star,
    Addr(NameAddr<'a>),
}

impl<'a> Contact<'a> {
    pub fn parse(v: &'a str) -> Result<Contact<'a>> {
        if v.trim_matches(is_ws) == "*" {
            return Ok(Contact::Star);
        }
        let na = NameAddr::parse(v)?;
        // RFC 3261 20.10: q is a qvalue 0..1 with up to 3 decimals; expires is delta-seconds.
        if let Some(Some(q)) = na.param("q") {
            let ok = q.split_once('.').map_or(q == "0" || q == "1", |(a, b)| {
                (a == "0" && b.len() <= 3 && b.bytes().all(|c| c.is_ascii_digit()))
                    || (a == "1" && b.len() <= 3 && b.bytes().all(|c| c == b'0'))
            });
            if !ok {
                return Err(herr("Contact", "bad q value"));
            }
        }
        Ok(Contact::Addr(na))
    }

    /// `expires` parameter (absent: `None`). A value that is not a number is invalid.
    pub fn expires(&self) -> Option<u32> {
        match self {
            Contact::Star => None,
            Contact::Addr(a) => a
                .param("expires")
                .flatten()
                .and_then(|e| decimal::<u64>(&e).map(|v| v.min(u32::MAX as u64) as u32)),
        }
    }
}

impl fmt::Display for Contact<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Contact::Star => f.write_str("*"),
            Contact::Addr(a) => a.fmt(f),
        }
    }
}

/// Via (RFC 3261 section 20.42).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via<'a> {
    pub protocol: &'a str,
    pub version: &'a str,
    pub transport: &'a str,
    pub host: &'a str,
    pub port: Option<u16>,
    pub params: Params<'a>,
}

/// RFC 3261 section 8.1.1.7: branches of RFC 3261 transactions start with this cookie.
pub const MAGIC_COOKIE: &str = "z9hG4bK";

impl<'a> Via<'a> {
    pub fn parse(v: &'a str) -> Result<Via<'a>> {
        const H: &str = "Via";
        let slash = |i: &'a str| -> Result<&'a str> {
            let (i, _) = sws(i).map_err(|_| herr(H, "sent-protocol"))?;
            let i = i
                .strip_prefix('/')
                .ok_or(herr(H, "sent-protocol needs '/'"))?;
            Ok(sws(i).map_err(|_| herr(H, "sent-protocol"))?.0)
        };
        let i = v.trim_matches(is_ws);
        let (i, protocol) = token(i).map_err(|_| herr(H, "protocol name"))?;
        let i = slash(i)?;
        let (i, version) = token(i).map_err(|_| herr(H, "protocol version"))?;
        let i = slash(i)?;
        let (i, transport) = token(i).map_err(|_| herr(H, "transport"))?;
        let (i, ws) = sws(i).map_err(|_| herr(H, "sent-by"))?;
        if ws.is_empty() {
            return Err(herr(H, "no white space before sent-by"));
        }
        let (i, host) = lex::host(i).map_err(|_| herr(H, "sent-by host"))?;
        let (i, port) = match i.trim_start_matches(is_ws).strip_prefix(':') {
            Some(r) => {
                let r = r.trim_start_matches(is_ws);
                let n = r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len());
                let p = decimal::<u16>(&r[..n]).ok_or(herr(H, "bad port"))?;
                (&r[n..], Some(p))
            }
            None => (i, None),
        };
        let params = all_params(i, H)?;
        Ok(Via {
            protocol,
            version,
            transport,
            host,
            port,
            params,
        })
    }

    pub fn branch(&self) -> Option<Cow<'a, str>> {
        param(&self.params, "branch").flatten()
    }

    pub fn received(&self) -> Option<Cow<'a, str>> {
        param(&self.params, "received").flatten()
    }

    /// `rport` (RFC 3581): `Some(None)` when present without a value.
    pub fn rport(&self) -> Option<Option<u16>> {
        param(&self.params, "rport").map(|v| v.and_then(|p| decimal::<u16>(&p)))
    }

    /// `host[:port]`, the sent-by.
    pub fn sent_by(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{p}", self.host),
            None => self.host.to_string(),
        }
    }
}

impl fmt::Display for Via<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{} {}",
            self.protocol, self.version, self.transport, self.host
        )?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write_params(f, &self.params)
    }
}

/// `type/subtype;params` (Content-Type, Accept elements).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaType<'a> {
    pub mtype: &'a str,
    pub subtype: &'a str,
    pub params: Params<'a>,
}

impl<'a> MediaType<'a> {
    pub fn parse(v: &'a str) -> Result<MediaType<'a>> {
        const H: &str = "media type";
        let i = v.trim_matches(is_ws);
        let (i, mtype) = token(i).map_err(|_| herr(H, "type"))?;
        let (i, _) = sws(i).map_err(|_| herr(H, "/"))?;
        let i = i.strip_prefix('/').ok_or(herr(H, "no '/'"))?;
        let (i, _) = sws(i).map_err(|_| herr(H, "/"))?;
        let (i, subtype) = token(i).map_err(|_| herr(H, "subtype"))?;
        let params = all_params(i, H)?;
        Ok(MediaType {
            mtype,
            subtype,
            params,
        })
    }

    pub fn is(&self, t: &str, s: &str) -> bool {
        self.mtype.eq_ignore_ascii_case(t) && self.subtype.eq_ignore_ascii_case(s)
    }
}

impl fmt::Display for MediaType<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.mtype, self.subtype)?;
        write_params(f, &self.params)
    }
}

/// A token with parameters: Event, Subscription-State, Session-Expires, Retry-After (its
/// comment aside), Content-Disposition, Privacy, Reason, Replaces/Join (call-id word).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenParams<'a> {
    pub value: &'a str,
    pub params: Params<'a>,
}

impl<'a> TokenParams<'a> {
    pub fn parse(v: &'a str) -> Result<TokenParams<'a>> {
        let i = v.trim_matches(is_ws);
        let end = i.find([';', ' ', '\t']).unwrap_or(i.len());
        let value = &i[..end];
        if value.is_empty() || !value.chars().all(lex::is_word) {
            return Err(herr("token", "empty or bad value"));
        }
        let params = all_params(&i[end..], "token")?;
        Ok(TokenParams { value, params })
    }

    pub fn param(&self, name: &str) -> Option<Option<Cow<'a, str>>> {
        param(&self.params, name)
    }
}

impl fmt::Display for TokenParams<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.value)?;
        write_params(f, &self.params)
    }
}

/// RAck (RFC 3262 section 7.2): response-num CSeq-num Method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RAck<'a> {
    pub rseq: u32,
    pub cseq: u32,
    pub method: Method<'a>,
}

impl<'a> RAck<'a> {
    pub fn parse(v: &'a str) -> Result<RAck<'a>> {
        let mut it = v.split(is_ws).filter(|s| !s.is_empty());
        let (Some(a), Some(b), Some(m), None) = (it.next(), it.next(), it.next(), it.next()) else {
            return Err(herr("RAck", "not three fields"));
        };
        if !m.chars().all(is_token) {
            return Err(herr("RAck", "bad method"));
        }
        Ok(RAck {
            rseq: decimal(a).ok_or(herr("RAck", "response-num"))?,
            cseq: decimal(b).ok_or(herr("RAck", "CSeq-num"))?,
            method: Method::from_token(m),
        })
    }
}

impl fmt::Display for RAck<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.rseq, self.cseq, self.method)
    }
}

/// ms-diagnostics / ms-diagnostics-public ([MS-SIPRE] section 2.2.3.1 / [MS-OCER]):
/// `1000;reason="Final handling of the transaction";source="..."`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsDiagnostics<'a> {
    pub code: u32,
    pub params: Params<'a>,
}

impl<'a> MsDiagnostics<'a> {
    pub fn parse(v: &'a str) -> Result<MsDiagnostics<'a>> {
        let i = v.trim_matches(is_ws);
        let end = i.find([';', ' ', '\t']).unwrap_or(i.len());
        let code = decimal::<u32>(&i[..end]).ok_or(herr("ms-diagnostics", "no code"))?;
        Ok(MsDiagnostics {
            code,
            params: all_params(&i[end..], "ms-diagnostics")?,
        })
    }

    pub fn reason(&self) -> Option<Cow<'a, str>> {
        param(&self.params, "reason").flatten()
    }
}

/// ms-keep-alive ([MS-SIPRE] section 2.2.3.3): `UAS; tcp=no; hop-hop=yes; end-end=no;
/// timeout=300`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsKeepAlive<'a> {
    /// `UAS` or `UAC`.
    pub role: &'a str,
    pub params: Params<'a>,
}

impl<'a> MsKeepAlive<'a> {
    pub fn parse(v: &'a str) -> Result<MsKeepAlive<'a>> {
        let t = TokenParams::parse(v).map_err(|_| herr("ms-keep-alive", "bad value"))?;
        if !t.value.eq_ignore_ascii_case("UAS") && !t.value.eq_ignore_ascii_case("UAC") {
            return Err(herr("ms-keep-alive", "role is not UAS or UAC"));
        }
        Ok(MsKeepAlive {
            role: t.value,
            params: t.params,
        })
    }

    /// `timeout` in seconds.
    pub fn timeout(&self) -> Option<u32> {
        param(&self.params, "timeout")
            .flatten()
            .and_then(|t| decimal(&t))
    }

    fn flag(&self, n: &str) -> Option<bool> {
        param(&self.params, n)
            .flatten()
            .map(|v| v.eq_ignore_ascii_case("yes"))
    }

    pub fn hop_hop(&self) -> Option<bool> {
        self.flag("hop-hop")
    }

    pub fn end_end(&self) -> Option<bool> {
        self.flag("end-end")
    }

    pub fn tcp(&self) -> Option<bool> {
        self.flag("tcp")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cseq() {
        let c = CSeq::parse("0009   INVITE").unwrap();
        assert_eq!((c.seq, c.method), (9, Method::Invite));
        assert!(CSeq::parse("2147483648 INVITE").is_err());
        assert!(CSeq::parse("1").is_err());
        assert!(CSeq::parse("-1 INVITE").is_err());
    }

    #[test]
    fn name_addr_forms() {
        let n = NameAddr::parse(
            r#""J Rosenberg \\\""       <sip:jdrosen@example.com> ; tag = 98asjd8"#,
        )
        .unwrap();
        assert_eq!(n.display_name().as_deref(), Some(r#"J Rosenberg \""#));
        assert_eq!(n.tag().as_deref(), Some("98asjd8"));
        let n =
            NameAddr::parse("sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n").unwrap();
        assert!(!n.angle);
        assert_eq!(n.tag().as_deref(), Some("1918181833n"));
        let n = NameAddr::parse(
            "token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;tag=_token~1'+`*%!-.",
        )
        .unwrap();
        assert_eq!(
            n.display_name().as_deref(),
            Some("token1~` token2'+_ token3*%!.-")
        );
        assert_eq!(
            n.to_string(),
            "token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;tag=_token~1'+`*%!-."
        );
        // RFC 4475 3.1.2.7 / 3.1.2.15.
        assert!(NameAddr::parse("\"Watson, Thomas\" < sip:t.watson@example.org >").is_err());
        assert!(NameAddr::parse("Bell, Alexander <sip:a.g.bell@example.com>").is_err());
        assert!(NameAddr::parse("sip:user@example.com?Route=%3Csip:sip.example.com%3E").is_err());
        assert!(NameAddr::parse("\"open <sip:x@y>").is_err());
    }

    #[test]
    fn via_forms() {
        let v =
            Via::parse("SIP  / 2.0  / TCP     spindle.example.com   ;   branch  =   z9hG4bK9ikj8")
                .unwrap();
        assert_eq!(
            (v.transport, v.host, v.port),
            ("TCP", "spindle.example.com", None)
        );
        assert_eq!(v.branch().as_deref(), Some("z9hG4bK9ikj8"));
        let v = Via::parse(
            "SIP/2.0/UDP [2001:db8::9:1]:5070;branch=z9hG4bKas3-111;rport;received=192.0.2.1",
        )
        .unwrap();
        assert_eq!((v.host, v.port), ("[2001:db8::9:1]", Some(5070)));
        assert_eq!(v.rport(), Some(None));
        assert_eq!(
            v.to_string(),
            "SIP/2.0/UDP [2001:db8::9:1]:5070;branch=z9hG4bKas3-111;rport;received=192.0.2.1"
        );
        assert!(Via::parse("SIP/2.0/UDP").is_err());
        assert!(Via::parse("SIP/2.0/UDP host:99999").is_err());
    }

    #[test]
    fn microsoft_headers() {
        let d = MsDiagnostics::parse(
            r#"1000;reason="Final handling of the transaction";source="sip.contoso.com""#,
        )
        .unwrap();
        assert_eq!(d.code, 1000);
        assert_eq!(
            d.reason().as_deref(),
            Some("Final handling of the transaction")
        );
        let k = MsKeepAlive::parse("UAS; tcp=no; hop-hop=yes; end-end=no; timeout=300").unwrap();
        assert_eq!(
            (k.timeout(), k.hop_hop(), k.tcp()),
            (Some(300), Some(true), Some(false))
        );
        assert!(MsKeepAlive::parse("X; timeout=1").is_err());
        let r = RAck::parse("776656 1 INVITE").unwrap();
        assert_eq!((r.rseq, r.cseq, r.method), (776656, 1, Method::Invite));
        let m = MediaType::parse("multipart/mixed;boundary=7a9cbec02ceef655").unwrap();
        assert!(m.is("Multipart", "MIXED"));
    }
}
