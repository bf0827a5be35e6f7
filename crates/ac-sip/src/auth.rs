//! HTTP Digest authentication for SIP (RFC 3261 section 22, RFC 2617, RFC 7616 with SHA-256
//! as RFC 8760 applies it to SIP): challenge parsing, credential computation and parsing.

use std::borrow::Cow;
use std::fmt::Write as _;

use md5::Md5;
use sha2::{Digest, Sha256};

use crate::error::{ParseError, Result};
use crate::lex::{is_token, is_ws, quote, quoted_string, split_commas, unquote};

fn herr(reason: &'static str) -> ParseError {
    ParseError::Header {
        header: "authentication",
        reason,
    }
}

/// A challenge (WWW-Authenticate / Proxy-Authenticate) or credentials (Authorization /
/// Proxy-Authorization) / Authentication-Info: a scheme and `name=value` parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthParams<'a> {
    /// `Digest`, `NTLM`, `Kerberos`, `TLS-DSK`, ... (empty for Authentication-Info).
    pub scheme: &'a str,
    /// Values unquoted.
    pub params: Vec<(&'a str, Cow<'a, str>)>,
}

impl<'a> AuthParams<'a> {
    /// `scheme LWS auth-param *(COMMA auth-param)`.
    pub fn parse(v: &'a str) -> Result<AuthParams<'a>> {
        let v = v.trim_matches(is_ws);
        let sp = v
            .find(is_ws)
            .ok_or(herr("no parameters after the scheme"))?;
        let scheme = &v[..sp];
        if scheme.is_empty() || !scheme.chars().all(is_token) {
            return Err(herr("bad scheme"));
        }
        Ok(AuthParams {
            scheme,
            params: Self::parse_list(&v[sp..])?,
        })
    }

    /// Authentication-Info: parameters only (RFC 3261 section 20.6).
    pub fn parse_info(v: &'a str) -> Result<AuthParams<'a>> {
        Ok(AuthParams {
            scheme: "",
            params: Self::parse_list(v)?,
        })
    }

    fn parse_list(v: &'a str) -> Result<Vec<(&'a str, Cow<'a, str>)>> {
        let mut out = Vec::new();
        for p in split_commas(v) {
            if p.is_empty() {
                continue;
            }
            let (n, val) = p.split_once('=').ok_or(herr("auth-param without '='"))?;
            let n = n.trim_matches(is_ws);
            let val = val.trim_matches(is_ws);
            if n.is_empty() || !n.chars().all(is_token) {
                return Err(herr("bad auth-param name"));
            }
            let val = if val.starts_with('"') {
                let (rest, q) =
                    quoted_string(val).map_err(|_| herr("unterminated quoted value"))?;
                if !rest.is_empty() {
                    return Err(herr("junk after a quoted value"));
                }
                unquote(q)
            } else {
                if val.is_empty()
                    || !val
                        .chars()
                        .all(|c| is_token(c) || c == '/' || c == ':' || c == '=')
                {
                    return Err(herr("bad auth-param value"));
                }
                Cow::Borrowed(val)
            };
            if out
                .iter()
                .any(|(x, _): &(&str, Cow<'_, str>)| x.eq_ignore_ascii_case(n))
            {
                return Err(herr("duplicate auth-param"));
            }
            out.push((n, val));
        }
        Ok(out)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }

    pub fn is_digest(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("Digest")
    }
}

/// Digest algorithms (RFC 7616 section 3.3, RFC 8760).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Md5,
    Md5Sess,
    Sha256,
    Sha256Sess,
}

impl Algorithm {
    pub fn parse(s: Option<&str>) -> Option<Algorithm> {
        Some(match s {
            None => Algorithm::Md5,
            Some(a) if a.eq_ignore_ascii_case("MD5") => Algorithm::Md5,
            Some(a) if a.eq_ignore_ascii_case("MD5-sess") => Algorithm::Md5Sess,
            Some(a) if a.eq_ignore_ascii_case("SHA-256") => Algorithm::Sha256,
            Some(a) if a.eq_ignore_ascii_case("SHA-256-sess") => Algorithm::Sha256Sess,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
        }
    }

    /// Prefer SHA-256 over MD5 when a server offers both (RFC 8760 section 2.4).
    pub fn strength(self) -> u8 {
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => 1,
            Algorithm::Sha256 | Algorithm::Sha256Sess => 2,
        }
    }

    fn h(self, data: &str) -> String {
        let bytes: Vec<u8> = match self {
            Algorithm::Md5 | Algorithm::Md5Sess => Md5::digest(data.as_bytes()).to_vec(),
            Algorithm::Sha256 | Algorithm::Sha256Sess => Sha256::digest(data.as_bytes()).to_vec(),
        };
        let mut s = String::with_capacity(bytes.len() * 2);
        for b in bytes {
            let _ = write!(s, "{b:02x}");
        }
        s
    }

    fn sess(self) -> bool {
        matches!(self, Algorithm::Md5Sess | Algorithm::Sha256Sess)
    }
}

/// What the client needs to answer a challenge.
#[derive(Debug, Clone)]
pub struct DigestInput<'a> {
    pub username: &'a str,
    pub password: &'a str,
    pub method: &'a str,
    /// The Request-URI as sent.
    pub uri: &'a str,
    pub body: &'a [u8],
    /// Client nonce (random, from the caller: the core reads no entropy).
    pub cnonce: &'a str,
    /// Nonce count for this nonce, from 1.
    pub nc: u32,
}

/// The `response` value and the qop used (RFC 2617 section 3.2.2.1, RFC 7616 3.4.1).
pub fn digest_response(
    ch: &AuthParams<'_>,
    i: &DigestInput<'_>,
) -> Result<(String, Option<&'static str>)> {
    let alg = Algorithm::parse(ch.get("algorithm")).ok_or(herr("unsupported digest algorithm"))?;
    let realm = ch.get("realm").ok_or(herr("challenge without realm"))?;
    let nonce = ch.get("nonce").ok_or(herr("challenge without nonce"))?;
    let qops: Vec<&str> = ch
        .get("qop")
        .map(|q| q.split(',').map(|s| s.trim_matches(is_ws)).collect())
        .unwrap_or_default();
    let qop = if qops.iter().any(|q| q.eq_ignore_ascii_case("auth")) {
        Some("auth")
    } else if qops.iter().any(|q| q.eq_ignore_ascii_case("auth-int")) {
        Some("auth-int")
    } else if qops.is_empty() {
        None
    } else {
        return Err(herr("no supported qop"));
    };
    // RFC 2617 3.2.2.2: the -sess variants mix in the cnonce, which is only sent with a qop.
    if alg.sess() && qop.is_none() {
        return Err(herr("-sess algorithm without qop"));
    }
    let mut ha1 = alg.h(&format!("{}:{realm}:{}", i.username, i.password));
    if alg.sess() {
        ha1 = alg.h(&format!("{ha1}:{nonce}:{}", i.cnonce));
    }
    let ha2 = if qop == Some("auth-int") {
        let hb = match alg {
            Algorithm::Md5 | Algorithm::Md5Sess => {
                Md5::digest(i.body).iter().fold(String::new(), |mut s, b| {
                    let _ = write!(s, "{b:02x}");
                    s
                })
            }
            _ => Sha256::digest(i.body)
                .iter()
                .fold(String::new(), |mut s, b| {
                    let _ = write!(s, "{b:02x}");
                    s
                }),
        };
        alg.h(&format!("{}:{}:{hb}", i.method, i.uri))
    } else {
        alg.h(&format!("{}:{}", i.method, i.uri))
    };
    let resp = match qop {
        Some(q) => alg.h(&format!(
            "{ha1}:{nonce}:{:08x}:{}:{q}:{ha2}",
            i.nc, i.cnonce
        )),
        None => alg.h(&format!("{ha1}:{nonce}:{ha2}")),
    };
    Ok((resp, qop))
}

/// The Authorization / Proxy-Authorization value answering `ch`.
pub fn authorization(ch: &AuthParams<'_>, i: &DigestInput<'_>) -> Result<String> {
    if !ch.is_digest() {
        return Err(herr("not a Digest challenge"));
    }
    let (resp, qop) = digest_response(ch, i)?;
    let alg = Algorithm::parse(ch.get("algorithm")).ok_or(herr("unsupported digest algorithm"))?;
    let mut s = format!(
        "Digest username={},realm={},nonce={},uri={},response={},algorithm={}",
        quote(i.username),
        quote(ch.get("realm").unwrap_or_default()),
        quote(ch.get("nonce").unwrap_or_default()),
        quote(i.uri),
        quote(&resp),
        alg.name()
    );
    if let Some(q) = qop {
        let _ = write!(s, ",qop={q},nc={:08x},cnonce={}", i.nc, quote(i.cnonce));
    }
    if let Some(o) = ch.get("opaque") {
        let _ = write!(s, ",opaque={}", quote(o));
    }
    Ok(s)
}

/// What a client should do after a 401/407 ([`DigestClient::on_challenge`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeOutcome {
    /// Send the request again: [`DigestClient::header`] now answers the challenge.
    Retry,
    /// No usable Digest challenge, no credentials, or the same nonce was already answered
    /// (not stale): the credentials are wrong (RFC 3261 22.2: do not loop).
    GiveUp,
}

/// Digest state of one client of non-REGISTER requests (SUBSCRIBE, PUBLISH): the strongest
/// challenge offered (RFC 8760 2.4), the nonce count, and the nonce last answered.
#[derive(Debug, Clone, Default)]
pub struct DigestClient {
    pub username: String,
    pub password: String,
    challenge: Option<(String, bool, u32)>,
    answered_nonce: Option<String>,
}

impl DigestClient {
    pub fn new(username: &str, password: &str) -> DigestClient {
        DigestClient {
            username: username.to_string(),
            password: password.to_string(),
            ..DigestClient::default()
        }
    }

    /// A 401 or 407 response to our request (RFC 3261 22.2).
    pub fn on_challenge(&mut self, m: &crate::msg::Message<'_>) -> ChallengeOutcome {
        use crate::msg::HeaderName;
        let code = m.status().unwrap_or(0);
        let name = match code {
            401 => HeaderName::WwwAuthenticate,
            407 => HeaderName::ProxyAuthenticate,
            _ => return ChallengeOutcome::GiveUp,
        };
        if self.username.is_empty() {
            return ChallengeOutcome::GiveUp;
        }
        let best = m
            .fields(name)
            .filter_map(|v| {
                let p = AuthParams::parse(v).ok()?;
                if !p.is_digest() {
                    return None;
                }
                let alg = Algorithm::parse(p.get("algorithm"))?;
                let stale = p
                    .get("stale")
                    .is_some_and(|s| s.eq_ignore_ascii_case("true"));
                Some((
                    alg.strength(),
                    v.to_string(),
                    p.get("nonce").map(str::to_string),
                    stale,
                ))
            })
            .max_by_key(|x| x.0);
        let Some((_, value, nonce, stale)) = best else {
            return ChallengeOutcome::GiveUp;
        };
        if self.answered_nonce.is_some() && self.answered_nonce == nonce && !stale {
            self.challenge = None;
            self.answered_nonce = None;
            return ChallengeOutcome::GiveUp;
        }
        self.challenge = Some((value, code == 407, 0));
        ChallengeOutcome::Retry
    }

    /// The Authorization / Proxy-Authorization header for a request, once challenged
    /// (later requests reuse the challenge with the next nonce count).
    pub fn header(
        &mut self,
        method: &str,
        uri: &str,
        body: &[u8],
        cnonce: &str,
    ) -> Option<(crate::msg::HeaderName<'static>, String)> {
        use crate::msg::HeaderName;
        let (value, proxy, nc) = self.challenge.as_mut()?;
        *nc += 1;
        let p = AuthParams::parse(value).ok()?;
        let input = DigestInput {
            username: &self.username,
            password: &self.password,
            method,
            uri,
            body,
            cnonce,
            nc: *nc,
        };
        let a = authorization(&p, &input).ok()?;
        self.answered_nonce = p.get("nonce").map(str::to_string);
        Some((
            if *proxy {
                HeaderName::ProxyAuthorization
            } else {
                HeaderName::Authorization
            },
            a,
        ))
    }
}

/// Server side: checks credentials against a password (used by tests and by the BToE and
/// web-admin layers). `method` and `body` are the request's.
pub fn verify(cred: &AuthParams<'_>, password: &str, method: &str, body: &[u8]) -> bool {
    let (Some(user), Some(uri), Some(resp)) =
        (cred.get("username"), cred.get("uri"), cred.get("response"))
    else {
        return false;
    };
    let nc = cred
        .get("nc")
        .and_then(|n| u32::from_str_radix(n, 16).ok())
        .unwrap_or(0);
    let challenge = AuthParams {
        scheme: "Digest",
        params: cred
            .params
            .iter()
            .filter(|(n, _)| {
                ["realm", "nonce", "algorithm", "qop", "opaque"]
                    .iter()
                    .any(|k| k.eq_ignore_ascii_case(n))
            })
            .cloned()
            .collect(),
    };
    let i = DigestInput {
        username: user,
        password,
        method,
        uri,
        body,
        cnonce: cred.get("cnonce").unwrap_or(""),
        nc,
    };
    digest_response(&challenge, &i).is_ok_and(|(r, _)| r.eq_ignore_ascii_case(resp))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 2617 section 3.5 example (HTTP, MD5, qop=auth).
    #[test]
    fn rfc2617_example() {
        let ch = AuthParams::parse(r#"Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#).unwrap();
        let i = DigestInput {
            username: "Mufasa",
            password: "Circle Of Life",
            method: "GET",
            uri: "/dir/index.html",
            body: b"",
            cnonce: "0a4f113b",
            nc: 1,
        };
        let (r, q) = digest_response(&ch, &i).unwrap();
        assert_eq!(r, "6629fae49393a05397450978507c4ef1");
        assert_eq!(q, Some("auth"));
        let a = authorization(&ch, &i).unwrap();
        let cred = AuthParams::parse(&a).unwrap();
        assert!(verify(&cred, "Circle Of Life", "GET", b""));
        assert!(!verify(&cred, "wrong", "GET", b""));
    }

    /// RFC 7616 section 3.9.1 example (SHA-256, qop=auth).
    #[test]
    fn rfc7616_sha256_example() {
        let ch = AuthParams::parse(r#"Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#).unwrap();
        let i = DigestInput {
            username: "Mufasa",
            password: "Circle of Life",
            method: "GET",
            uri: "/dir/index.html",
            body: b"",
            cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
            nc: 1,
        };
        let (r, _) = digest_response(&ch, &i).unwrap();
        assert_eq!(
            r,
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
        // The RFC's MD5 variant of the same exchange.
        let md5 = AuthParams::parse(r#"Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=MD5, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#).unwrap();
        assert_eq!(
            digest_response(&md5, &i).unwrap().0,
            "8ca523f5e9506fed4657c9700eebdbec"
        );
    }

    #[test]
    fn bad_challenges() {
        for bad in [
            "Digest",
            "Digest realm",
            r#"Digest realm="x"#,
            "Digest realm=\"a\"x",
            "Di@gest realm=a",
            "Digest realm=a, realm=b",
        ] {
            assert!(AuthParams::parse(bad).is_err(), "{bad}");
        }
        let ch = AuthParams::parse("Digest realm=a,nonce=b,algorithm=SHA-512-256").unwrap();
        let i = DigestInput {
            username: "u",
            password: "p",
            method: "REGISTER",
            uri: "sip:a",
            body: b"",
            cnonce: "c",
            nc: 1,
        };
        assert!(authorization(&ch, &i).is_err());
        let ntlm = AuthParams::parse(
            r#"NTLM realm="SIP Communications Service", targetname="ocs.contoso.com", version=3"#,
        )
        .unwrap();
        assert_eq!(ntlm.get("targetname"), Some("ocs.contoso.com"));
        assert!(authorization(&ntlm, &i).is_err());
    }
}
