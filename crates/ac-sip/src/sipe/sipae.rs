//! [MS-SIPAE] security associations over NTLM: the WWW-Authenticate / Authorization /
//! Authentication-Info parameters, the signed buffer of section 3.2.5.1, and the client and
//! server ends of an association (sans-IO: randomness comes in from the caller).
//!
//! The exchange (section 3.2.2, NTLM in connectionless mode):
//! 1. REGISTER without credentials -> 401/407 `NTLM realm=.., targetname=.., version=..`.
//! 2. REGISTER with `gssapi-data=""` -> 401/407 with `opaque` and the CHALLENGE_MESSAGE.
//! 3. REGISTER with the AUTHENTICATE_MESSAGE, signed (`crand`, `cnum`, `response`) ->
//!    200 with `Authentication-Info: NTLM rspauth=.., srand=.., snum=..`.
//! 4. Every later request is signed; every response carrying Authentication-Info is
//!    verified.

use base64::Engine as _;

use crate::auth::AuthParams;
use crate::lex::quote;
use crate::msg::{HeaderName, Message};
use crate::sipe::ntlm::{self, ClientContext, ClientInput, ServerChallenge};

/// The realm Skype for Business / Lync / OCS servers announce.
pub const REALM: &str = "SIP Communications Service";

/// The NTLM SeqNum our implementation passes to the message signature functions, at both
/// ends and for every message. [MS-NLMP] 3.4.4: "In the case of connectionless NTLM
/// authentication, the SeqNum parameter SHOULD be specified by the application"; [MS-SIPAE]
/// does not name a value, and orders messages by the `cnum` / `snum` inside the signed
/// buffer (3.2.5.1) instead. We use the constant 100 at both ends; pidgin-sipe, an
/// independent implementation, verifies the server double's signatures made with it
/// (tests/sipe_pidgin.rs).
pub const SIP_NTLM_SEQ: u32 = 100;

/// Why a SIPE authentication step failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SipaeError {
    #[error("no NTLM challenge or credentials in the message")]
    NoNtlm,
    #[error("missing auth parameter {0}")]
    Missing(&'static str),
    #[error("bad auth parameter {0}")]
    Bad(&'static str),
    #[error("the message lacks {0}, needed for its signature")]
    Field(&'static str),
    #[error("NTLM: {0}")]
    Ntlm(#[from] ntlm::NtlmError),
    #[error("Authentication-Info is for another security association")]
    OtherSa,
    #[error("snum {got} replayed (last {last})")]
    Replay { got: u32, last: u32 },
    #[error("message signature does not verify")]
    BadSignature,
}

pub type Result<T> = std::result::Result<T, SipaeError>;

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// The raw URI of a name-addr / addr-spec header value, as written (section 3.2.5.1: the
/// values are used "with the same syntax and case ... as they appear in the message").
pub fn raw_uri(v: &str) -> &str {
    if let Some(lt) = v.find('<') {
        if let Some(gt) = v[lt..].find('>') {
            return &v[lt + 1..lt + gt];
        }
    }
    let v = v.trim();
    v.split(';').next().unwrap_or(v).trim()
}

/// The `tag` parameter of a From / To value, as written.
pub fn raw_tag(v: &str) -> &str {
    let after = match v.rfind('>') {
        Some(gt) => &v[gt + 1..],
        None => v,
    };
    for p in after.split(';').skip(1) {
        if let Some((n, val)) = p.split_once('=') {
            if n.trim().eq_ignore_ascii_case("tag") {
                return val.trim();
            }
        }
    }
    ""
}

/// Which end signs: the client (crand/cnum) or the server (srand/snum).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SigInput<'a> {
    pub protocol: &'a str,
    /// crand or srand, 8 hex digits as sent.
    pub rand: &'a str,
    /// cnum or snum, decimal as sent.
    pub num: &'a str,
    pub realm: &'a str,
    pub targetname: &'a str,
    /// The authentication protocol version (`version=`): 4 adds the To URI and the
    /// P-Asserted-Identity / P-Preferred-Identity values.
    pub version: u32,
}

/// The buffer that is signed ([MS-SIPAE] 3.2.5.1 for what the client sends, 3.2.5.2 for
/// what it verifies): each value in angle brackets, in this order: protocol, crand/srand,
/// cnum/snum, realm, targetname, Call-ID, CSeq number, CSeq method, From URI, From tag,
/// [version 4: To URI], To tag, [version 4: P-Asserted-Identity, P-Preferred-Identity],
/// Expires, and the status code for responses.
pub fn signature_buffer(m: &Message<'_>, s: &SigInput<'_>) -> Result<String> {
    let call_id = m
        .first(HeaderName::CallId)
        .ok_or(SipaeError::Field("Call-ID"))?;
    let cseq = m.first(HeaderName::CSeq).ok_or(SipaeError::Field("CSeq"))?;
    let (num, method) = cseq
        .trim()
        .split_once([' ', '\t'])
        .ok_or(SipaeError::Field("CSeq"))?;
    let from = m.first(HeaderName::From).ok_or(SipaeError::Field("From"))?;
    let to = m.first(HeaderName::To).ok_or(SipaeError::Field("To"))?;
    let mut parts: Vec<&str> = vec![
        s.protocol,
        s.rand,
        s.num,
        s.realm,
        s.targetname,
        call_id.trim(),
        num.trim(),
        method.trim(),
        raw_uri(from),
        raw_tag(from),
    ];
    if s.version >= 4 {
        parts.push(raw_uri(to));
    }
    parts.push(raw_tag(to));
    if s.version >= 4 {
        parts.push(
            m.first(HeaderName::PAssertedIdentity)
                .map(raw_uri)
                .unwrap_or(""),
        );
        parts.push(
            m.first(HeaderName::PPreferredIdentity)
                .map(raw_uri)
                .unwrap_or(""),
        );
    }
    parts.push(m.first(HeaderName::Expires).map(str::trim).unwrap_or(""));
    let code = m.status().map(|c| c.to_string());
    if let Some(c) = &code {
        parts.push(c);
    }
    let mut out = String::new();
    for p in parts {
        out.push('<');
        out.push_str(p);
        out.push('>');
    }
    Ok(out)
}

fn hex16(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

/// A parsed NTLM challenge (WWW-Authenticate / Proxy-Authenticate value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NtlmChallenge {
    pub realm: String,
    pub targetname: String,
    pub version: u32,
    pub opaque: Option<String>,
    /// The CHALLENGE_MESSAGE, when the server sent one.
    pub gssapi_data: Option<Vec<u8>>,
}

impl NtlmChallenge {
    pub fn parse(v: &str) -> Result<NtlmChallenge> {
        let p = AuthParams::parse(v).map_err(|_| SipaeError::Bad("challenge"))?;
        if !p.scheme.eq_ignore_ascii_case("NTLM") {
            return Err(SipaeError::NoNtlm);
        }
        let gssapi_data = match p.get("gssapi-data") {
            Some(g) if !g.is_empty() => Some(
                b64()
                    .decode(g)
                    .map_err(|_| SipaeError::Bad("gssapi-data"))?,
            ),
            _ => None,
        };
        Ok(NtlmChallenge {
            realm: p.get("realm").ok_or(SipaeError::Missing("realm"))?.into(),
            targetname: p
                .get("targetname")
                .ok_or(SipaeError::Missing("targetname"))?
                .into(),
            version: match p.get("version") {
                Some(v) => v.parse().map_err(|_| SipaeError::Bad("version"))?,
                None => 2,
            },
            opaque: p.get("opaque").map(str::to_string),
            gssapi_data,
        })
    }

    pub fn emit(&self) -> String {
        let mut s = String::from("NTLM ");
        if let Some(o) = &self.opaque {
            s.push_str(&format!("opaque={}, ", quote(o)));
        }
        if let Some(g) = &self.gssapi_data {
            s.push_str(&format!("gssapi-data={}, ", quote(&b64().encode(g))));
        }
        s.push_str(&format!(
            "realm={}, targetname={}, version={}",
            quote(&self.realm),
            quote(&self.targetname),
            self.version
        ));
        s
    }
}

/// The `Authorization` credentials of [MS-SIPAE] 2.2.2 (NTLM).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NtlmCredentials {
    pub realm: String,
    pub targetname: String,
    pub version: u32,
    pub opaque: Option<String>,
    /// `Some(empty)` for the first, empty `gssapi-data=""`.
    pub gssapi_data: Option<Vec<u8>>,
    pub crand: Option<String>,
    pub cnum: Option<String>,
    pub response: Option<String>,
}

impl NtlmCredentials {
    pub fn parse(v: &str) -> Result<NtlmCredentials> {
        let p = AuthParams::parse(v).map_err(|_| SipaeError::Bad("credentials"))?;
        if !p.scheme.eq_ignore_ascii_case("NTLM") {
            return Err(SipaeError::NoNtlm);
        }
        Ok(NtlmCredentials {
            realm: p.get("realm").ok_or(SipaeError::Missing("realm"))?.into(),
            targetname: p
                .get("targetname")
                .ok_or(SipaeError::Missing("targetname"))?
                .into(),
            version: p
                .get("version")
                .map(|v| v.parse().map_err(|_| SipaeError::Bad("version")))
                .transpose()?
                .unwrap_or(2),
            opaque: p.get("opaque").map(str::to_string),
            gssapi_data: p
                .get("gssapi-data")
                .map(|g| b64().decode(g).map_err(|_| SipaeError::Bad("gssapi-data")))
                .transpose()?,
            crand: p.get("crand").map(str::to_string),
            cnum: p.get("cnum").map(str::to_string),
            response: p.get("response").map(str::to_string),
        })
    }

    pub fn emit(&self) -> String {
        let mut s = format!(
            "NTLM qop=\"auth\", realm={}, targetname={}, version={}",
            quote(&self.realm),
            quote(&self.targetname),
            self.version
        );
        if let Some(o) = &self.opaque {
            s.push_str(&format!(", opaque={}", quote(o)));
        }
        if let Some(g) = &self.gssapi_data {
            s.push_str(&format!(", gssapi-data={}", quote(&b64().encode(g))));
        }
        for (n, v) in [
            ("crand", &self.crand),
            ("cnum", &self.cnum),
            ("response", &self.response),
        ] {
            if let Some(v) = v {
                s.push_str(&format!(", {n}={}", quote(v)));
            }
        }
        s
    }
}

/// `Authentication-Info` of a signed server message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NtlmAuthInfo {
    pub realm: String,
    pub targetname: String,
    pub opaque: Option<String>,
    pub rspauth: String,
    pub srand: String,
    pub snum: String,
}

impl NtlmAuthInfo {
    pub fn parse(v: &str) -> Result<NtlmAuthInfo> {
        let p = AuthParams::parse(v).map_err(|_| SipaeError::Bad("Authentication-Info"))?;
        if !p.scheme.eq_ignore_ascii_case("NTLM") {
            return Err(SipaeError::NoNtlm);
        }
        let g = |n: &'static str| -> Result<String> {
            p.get(n).map(str::to_string).ok_or(SipaeError::Missing(n))
        };
        Ok(NtlmAuthInfo {
            realm: g("realm")?,
            targetname: g("targetname")?,
            opaque: p.get("opaque").map(str::to_string),
            rspauth: g("rspauth")?,
            srand: g("srand")?,
            snum: g("snum")?,
        })
    }

    pub fn emit(&self) -> String {
        let mut s = format!(
            "NTLM rspauth={}, srand={}, snum={}",
            quote(&self.rspauth),
            quote(&self.srand),
            quote(&self.snum)
        );
        if let Some(o) = &self.opaque {
            s.push_str(&format!(", opaque={}", quote(o)));
        }
        s.push_str(&format!(
            ", qop=\"auth\", targetname={}, realm={}",
            quote(&self.targetname),
            quote(&self.realm)
        ));
        s
    }
}

/// Where the client's association stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaState {
    /// Challenged; the next request carries `gssapi-data=""`.
    Started,
    /// CHALLENGE answered; requests are signed.
    Established,
}

/// The client end of an NTLM security association ([MS-SIPAE] 3.2).
#[derive(Debug)]
pub struct ClientSa {
    pub realm: String,
    pub targetname: String,
    pub version: u32,
    pub opaque: Option<String>,
    pub proxy: bool,
    ctx: Option<ClientContext>,
    /// The AUTHENTICATE_MESSAGE, sent once with the first signed request.
    pending_auth: Option<Vec<u8>>,
    cnum: u32,
    last_snum: u32,
}

impl ClientSa {
    /// From the first challenge (no gssapi-data yet).
    pub fn new(ch: &NtlmChallenge, proxy: bool) -> ClientSa {
        ClientSa {
            realm: ch.realm.clone(),
            targetname: ch.targetname.clone(),
            version: ch.version.max(3),
            opaque: ch.opaque.clone(),
            proxy,
            ctx: None,
            pending_auth: None,
            cnum: 0,
            last_snum: 0,
        }
    }

    pub fn state(&self) -> SaState {
        if self.ctx.is_some() {
            SaState::Established
        } else {
            SaState::Started
        }
    }

    /// The server's second challenge carries the CHALLENGE_MESSAGE: answer it.
    pub fn handle_challenge(&mut self, ch: &NtlmChallenge, input: &ClientInput<'_>) -> Result<()> {
        let data = ch
            .gssapi_data
            .as_deref()
            .ok_or(SipaeError::Missing("gssapi-data"))?;
        let (auth, ctx) = ntlm::authenticate(data, input)?;
        self.opaque = ch.opaque.clone();
        self.ctx = Some(ctx);
        self.pending_auth = Some(auth);
        self.cnum = 0;
        self.last_snum = 0;
        Ok(())
    }

    /// The credentials for a request already built without them: before the challenge
    /// an empty `gssapi-data`, afterwards a signature over `m` (plus, once, the
    /// AUTHENTICATE_MESSAGE). `crand` comes from the caller's entropy.
    pub fn credentials(&mut self, m: &Message<'_>, crand: u32) -> Result<String> {
        let mut c = NtlmCredentials {
            realm: self.realm.clone(),
            targetname: self.targetname.clone(),
            version: self.version,
            opaque: self.opaque.clone(),
            ..Default::default()
        };
        let Some(ctx) = self.ctx.as_mut() else {
            c.gssapi_data = Some(Vec::new());
            return Ok(c.emit());
        };
        if let Some(a) = self.pending_auth.take() {
            c.gssapi_data = Some(a);
        }
        self.cnum = self.cnum.wrapping_add(1);
        let crand = format!("{crand:08x}");
        let cnum = self.cnum.to_string();
        let buf = signature_buffer(
            m,
            &SigInput {
                protocol: "NTLM",
                rand: &crand,
                num: &cnum,
                realm: &self.realm,
                targetname: &self.targetname,
                version: self.version,
            },
        )?;
        let sig = ctx.client.mac(SIP_NTLM_SEQ, buf.as_bytes());
        c.crand = Some(crand);
        c.cnum = Some(cnum);
        c.response = Some(hex16(&sig));
        Ok(c.emit())
    }

    /// The header that carries our credentials.
    pub fn header(&self) -> HeaderName<'static> {
        if self.proxy {
            HeaderName::ProxyAuthorization
        } else {
            HeaderName::Authorization
        }
    }

    /// Verifies a signed message from the server (section 3.2.5.2). Messages without
    /// Authentication-Info are `Ok(false)` (unsigned); a bad signature is an error.
    pub fn verify(&mut self, m: &Message<'_>) -> Result<bool> {
        let info_name = if self.proxy {
            HeaderName::Other("Proxy-Authentication-Info")
        } else {
            HeaderName::AuthenticationInfo
        };
        let Some(v) = m.first(info_name) else {
            return Ok(false);
        };
        let info = NtlmAuthInfo::parse(v)?;
        // Step 1: the SA must match protocol, realm and target.
        if info.realm != self.realm || info.targetname != self.targetname {
            return Err(SipaeError::OtherSa);
        }
        let ctx = self.ctx.as_mut().ok_or(SipaeError::OtherSa)?;
        let snum: u32 = info.snum.parse().map_err(|_| SipaeError::Bad("snum"))?;
        // Replayed or old server sequence numbers are refused.
        if snum <= self.last_snum {
            return Err(SipaeError::Replay {
                got: snum,
                last: self.last_snum,
            });
        }
        let buf = signature_buffer(
            m,
            &SigInput {
                protocol: "NTLM",
                rand: &info.srand,
                num: &info.snum,
                realm: &info.realm,
                targetname: &info.targetname,
                version: self.version,
            },
        )?;
        let sig = unhex(&info.rspauth).ok_or(SipaeError::Bad("rspauth"))?;
        ctx.server
            .verify_mac(SIP_NTLM_SEQ, buf.as_bytes(), &sig)
            .map_err(|_| SipaeError::BadSignature)?;
        self.last_snum = snum;
        Ok(true)
    }
}

/// The server end of one association (used by the test server).
#[derive(Debug)]
pub struct ServerSa {
    pub realm: String,
    pub targetname: String,
    pub version: u32,
    pub opaque: String,
    challenge: ServerChallenge,
    ctx: Option<ClientContext>,
    pub user: Option<String>,
    snum: u32,
    last_cnum: u32,
}

impl ServerSa {
    pub fn new(
        targetname: &str,
        version: u32,
        opaque: u32,
        server_challenge: [u8; 8],
        domain: &str,
    ) -> ServerSa {
        ServerSa {
            realm: REALM.into(),
            targetname: targetname.into(),
            version,
            opaque: format!("{opaque:08X}"),
            challenge: ServerChallenge::new(server_challenge, domain, "SFB-DOUBLE"),
            ctx: None,
            user: None,
            snum: 0,
            last_cnum: 0,
        }
    }

    /// The second challenge: opaque plus the CHALLENGE_MESSAGE.
    pub fn challenge(&self) -> String {
        NtlmChallenge {
            realm: self.realm.clone(),
            targetname: self.targetname.clone(),
            version: self.version,
            opaque: Some(self.opaque.clone()),
            gssapi_data: Some(self.challenge.emit()),
        }
        .emit()
    }

    pub fn established(&self) -> bool {
        self.ctx.is_some()
    }

    /// Takes the AUTHENTICATE_MESSAGE; `password_of` looks the user up.
    pub fn accept(
        &mut self,
        auth: &[u8],
        password_of: impl Fn(&str) -> Option<String>,
    ) -> Result<String> {
        let a = ntlm::Authenticate::parse(auth)?;
        let user = ntlm::from_utf16le(a.user);
        let pw = password_of(&user).ok_or(ntlm::NtlmError::BadResponse)?;
        let (user, _, ctx) = self.challenge.accept(auth, &pw)?;
        self.ctx = Some(ctx);
        self.user = Some(user.clone());
        self.last_cnum = 0;
        Ok(user)
    }

    /// Checks a client's signed request.
    pub fn verify_request(&mut self, m: &Message<'_>, c: &NtlmCredentials) -> Result<()> {
        let ctx = self.ctx.as_mut().ok_or(SipaeError::OtherSa)?;
        if c.realm != self.realm || c.targetname != self.targetname {
            return Err(SipaeError::OtherSa);
        }
        let crand = c.crand.as_deref().ok_or(SipaeError::Missing("crand"))?;
        let cnum_s = c.cnum.as_deref().ok_or(SipaeError::Missing("cnum"))?;
        let response = c
            .response
            .as_deref()
            .ok_or(SipaeError::Missing("response"))?;
        let cnum: u32 = cnum_s.parse().map_err(|_| SipaeError::Bad("cnum"))?;
        if cnum <= self.last_cnum {
            return Err(SipaeError::Replay {
                got: cnum,
                last: self.last_cnum,
            });
        }
        let buf = signature_buffer(
            m,
            &SigInput {
                protocol: "NTLM",
                rand: crand,
                num: cnum_s,
                realm: &self.realm,
                targetname: &self.targetname,
                version: self.version,
            },
        )?;
        let sig = unhex(response).ok_or(SipaeError::Bad("response"))?;
        ctx.client
            .verify_mac(SIP_NTLM_SEQ, buf.as_bytes(), &sig)
            .map_err(|_| SipaeError::BadSignature)?;
        self.last_cnum = cnum;
        Ok(())
    }

    /// The Authentication-Info value signing a response built without it.
    pub fn sign_response(&mut self, m: &Message<'_>, srand: u32) -> Result<String> {
        let ctx = self.ctx.as_mut().ok_or(SipaeError::OtherSa)?;
        self.snum += 1;
        let srand = format!("{srand:08X}");
        let snum = self.snum.to_string();
        let buf = signature_buffer(
            m,
            &SigInput {
                protocol: "NTLM",
                rand: &srand,
                num: &snum,
                realm: &self.realm,
                targetname: &self.targetname,
                version: self.version,
            },
        )?;
        let sig = ctx.server.mac(SIP_NTLM_SEQ, buf.as_bytes());
        Ok(NtlmAuthInfo {
            realm: self.realm.clone(),
            targetname: self.targetname.clone(),
            opaque: Some(self.opaque.clone()),
            rspauth: hex16(&sig),
            srand,
            snum,
        }
        .emit())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_parts() {
        assert_eq!(
            raw_uri("\"Alice\"<sip:alice@contoso.com>;tag=4a2b44d131;epid=8248ca9ebb"),
            "sip:alice@contoso.com"
        );
        assert_eq!(
            raw_tag("\"Alice\"<sip:alice@contoso.com>;tag=4a2b44d131;epid=8248ca9ebb"),
            "4a2b44d131"
        );
        assert_eq!(raw_uri("sip:a@b;tag=1"), "sip:a@b");
        assert_eq!(raw_tag("sip:a@b;tag=1"), "1");
        assert_eq!(raw_tag("<sip:a@b>"), "");
    }

    #[test]
    fn header_values_round_trip() {
        let ch = NtlmChallenge {
            realm: REALM.into(),
            targetname: "sfb.contoso.com".into(),
            version: 4,
            opaque: Some("5EED0A01".into()),
            gssapi_data: Some(vec![1, 2, 3]),
        };
        assert_eq!(NtlmChallenge::parse(&ch.emit()).unwrap(), ch);
        let c = NtlmCredentials {
            realm: REALM.into(),
            targetname: "t".into(),
            version: 3,
            opaque: None,
            gssapi_data: Some(vec![]),
            ..Default::default()
        };
        assert_eq!(NtlmCredentials::parse(&c.emit()).unwrap(), c);
        assert!(NtlmChallenge::parse("Digest realm=\"x\", nonce=\"y\"").is_err());
        assert!(NtlmChallenge::parse("NTLM realm=\"x\"").is_err());
        assert!(
            NtlmChallenge::parse("NTLM realm=\"x\", targetname=\"y\", gssapi-data=\"!!\"").is_err()
        );
    }
}
