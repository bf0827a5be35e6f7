//! [MS-SIPAE] security associations over TLS-DSK: a TLS handshake carried base64-encoded
//! in the `gssapi-data` of REGISTER / 401 exchanges (no TLS record ever reaches a socket),
//! a client certificate from the Certificate Provisioning service ([`super::certprov`]),
//! signing keys derived from the TLS session, and the message signatures over the same
//! signed buffer as NTLM's ([MS-SIPAE] 3.2.5.1, [`super::sipae::signature_buffer`]).
//!
//! The exchange (REGISTER on the left, the server's answer on the right):
//! 1. no credentials -> 401 `TLS-DSK realm=.., targetname=.., version=.., sts-uri=..`
//!    (`sts-uri`: where to get a certificate when the phone has none).
//! 2. `gssapi-data=<ClientHello>` -> 401 `opaque=.., gssapi-data=<ServerHello,
//!    Certificate, [ServerKeyExchange], CertificateRequest, ServerHelloDone>`.
//! 3. `gssapi-data=<Certificate, ClientKeyExchange, CertificateVerify, ChangeCipherSpec,
//!    Finished>` -> 401 `gssapi-data=<ChangeCipherSpec, Finished>`.
//! 4. signed (`crand`, `cnum`, `response`) -> 200 with `Authentication-Info: TLS-DSK
//!    rspauth=.., srand=.., snum=..`; every later request signed, every response verified.
//!
//! Keys ([MS-SIPAE] 3.2.5.1 as pidgin-sipe implements it, read as reference only):
//! `key_material = PRF(master_secret, "client EAP encryption", client_random +
//! server_random)`, 128 bytes (the EAP-TLS key block of RFC 2716 / RFC 5216); the client
//! signing key is bytes 64..96, the server's 96..128. That PRF is exactly the RFC 5705
//! exporter without context, which rustls offers as `export_keying_material`, so the keys
//! come from rustls and nothing of TLS is hand-rolled here. The signature is an HMAC with
//! the hash of the cipher suite's MAC (HMAC-SHA1 for the `*_SHA` suites Lync servers
//! negotiate). rustls speaks TLS 1.2 at the oldest (no TLS 1.0, whose PRF is MD5+SHA-1)
//! and only AEAD suites (no record MAC), so both of our ends use TLS 1.2 with HMAC-SHA1
//! signatures: a server that insists on TLS 1.0 cannot be signed in to with this module.

use std::io::{Cursor, Read as _};
use std::sync::Arc;

use base64::Engine as _;
use hmac::{Hmac, Mac as _};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use crate::auth::AuthParams;
use crate::lex::quote;
use crate::msg::{HeaderName, Message};
use crate::sipe::sipae::{signature_buffer, SigInput};

/// The scheme name of the header values.
pub const SCHEME: &str = "TLS-DSK";
/// The exporter label ([MS-SIPAE] 3.2.5.1, the EAP-TLS key derivation label).
pub const KEY_LABEL: &[u8] = b"client EAP encryption";
/// Length of the exported key block and of each signing key.
pub const KEY_BLOCK_LEN: usize = 128;
pub const KEY_LEN: usize = 32;
/// Bound on one `gssapi-data` blob (a TLS flight with a certificate chain).
pub const MAX_GSSAPI: usize = 64 * 1024;

type HmacSha1 = Hmac<sha1::Sha1>;

/// Why a TLS-DSK step failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DskError {
    #[error("no TLS-DSK challenge or credentials in the message")]
    NoDsk,
    #[error("missing auth parameter {0}")]
    Missing(&'static str),
    #[error("bad auth parameter {0}")]
    Bad(&'static str),
    #[error("the message lacks {0}, needed for its signature")]
    Field(&'static str),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("handshake: {0}")]
    Handshake(&'static str),
    #[error("Authentication-Info is for another security association")]
    OtherSa,
    #[error("{got} replayed (last {last})")]
    Replay { got: u32, last: u32 },
    #[error("message signature does not verify")]
    BadSignature,
}

pub type Result<T> = std::result::Result<T, DskError>;

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

fn hex(b: &[u8]) -> String {
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

/// The parameters of a `TLS-DSK` WWW-Authenticate, Authorization or Authentication-Info
/// value ([MS-SIPAE] 2.2.1-2.2.3). Which ones are present says which of the three it is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DskParams {
    pub realm: String,
    pub targetname: String,
    pub version: u32,
    pub opaque: Option<String>,
    pub gssapi_data: Option<Vec<u8>>,
    /// Challenge: the Certificate Provisioning service URL.
    pub sts_uri: Option<String>,
    pub crand: Option<String>,
    pub cnum: Option<String>,
    pub response: Option<String>,
    pub rspauth: Option<String>,
    pub srand: Option<String>,
    pub snum: Option<String>,
}

impl DskParams {
    pub fn parse(v: &str) -> Result<DskParams> {
        let p = AuthParams::parse(v).map_err(|_| DskError::Bad("TLS-DSK value"))?;
        if !p.scheme.eq_ignore_ascii_case(SCHEME) {
            return Err(DskError::NoDsk);
        }
        let s = |n: &str| p.get(n).map(str::to_string);
        let gssapi_data = match p.get("gssapi-data") {
            Some(g) if g.len() > MAX_GSSAPI * 4 / 3 + 4 => {
                return Err(DskError::Bad("gssapi-data"))
            }
            Some(g) => Some(b64().decode(g).map_err(|_| DskError::Bad("gssapi-data"))?),
            None => None,
        };
        Ok(DskParams {
            realm: s("realm").ok_or(DskError::Missing("realm"))?,
            targetname: s("targetname").ok_or(DskError::Missing("targetname"))?,
            version: match p.get("version") {
                Some(v) => v.parse().map_err(|_| DskError::Bad("version"))?,
                None => 3,
            },
            opaque: s("opaque"),
            gssapi_data,
            sts_uri: s("sts-uri"),
            crand: s("crand"),
            cnum: s("cnum"),
            response: s("response"),
            rspauth: s("rspauth"),
            srand: s("srand"),
            snum: s("snum"),
        })
    }

    /// The canonical form: `TLS-DSK` and the present parameters in a fixed order
    /// (`qop="auth"` on credentials and Authentication-Info, as NTLM's carry it).
    pub fn emit(&self) -> String {
        let mut s = String::from("TLS-DSK ");
        let mut parts: Vec<String> = Vec::new();
        if self.crand.is_some() || self.rspauth.is_some() || self.gssapi_data.is_some() {
            parts.push("qop=\"auth\"".into());
        }
        parts.push(format!("realm={}", quote(&self.realm)));
        parts.push(format!("targetname={}", quote(&self.targetname)));
        parts.push(format!("version={}", self.version));
        let opt = [
            ("opaque", &self.opaque),
            ("sts-uri", &self.sts_uri),
            ("crand", &self.crand),
            ("cnum", &self.cnum),
            ("response", &self.response),
            ("rspauth", &self.rspauth),
            ("srand", &self.srand),
            ("snum", &self.snum),
        ];
        for (n, v) in opt {
            if let Some(v) = v {
                parts.push(format!("{n}={}", quote(v)));
            }
        }
        if let Some(g) = &self.gssapi_data {
            parts.push(format!("gssapi-data={}", quote(&b64().encode(g))));
        }
        s.push_str(&parts.join(", "));
        s
    }
}

/// The two signing keys of an association.
#[derive(Clone, PartialEq, Eq)]
pub struct DskKeys {
    pub client: [u8; KEY_LEN],
    pub server: [u8; KEY_LEN],
}

impl std::fmt::Debug for DskKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DskKeys(..)")
    }
}

impl DskKeys {
    /// Splits the 128-byte exported key block: client key = 3rd 32 bytes, server key = 4th.
    pub fn from_block(block: &[u8; KEY_BLOCK_LEN]) -> DskKeys {
        let mut client = [0u8; KEY_LEN];
        let mut server = [0u8; KEY_LEN];
        client.copy_from_slice(&block[64..96]);
        server.copy_from_slice(&block[96..128]);
        DskKeys { client, server }
    }
}

/// HMAC-SHA1 of the signed buffer under `key` (hex, as `response` / `rspauth` carry it).
pub fn sign(key: &[u8; KEY_LEN], buffer: &[u8]) -> String {
    let mut m = <HmacSha1 as hmac::Mac>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(buffer);
    hex(&m.finalize().into_bytes())
}

/// Constant-time check of a hex signature.
pub fn verify_sig(key: &[u8; KEY_LEN], buffer: &[u8], sig_hex: &str) -> Result<()> {
    let sig = unhex(sig_hex).ok_or(DskError::Bad("signature"))?;
    let mut m = <HmacSha1 as hmac::Mac>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(buffer);
    m.verify_slice(&sig).map_err(|_| DskError::BadSignature)
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The phone's TLS configuration for TLS-DSK: TLS 1.2, the server verified against `roots`,
/// our certificate chain and key (from Certificate Provisioning), no resumption.
pub fn client_config(
    roots: &[CertificateDer<'static>],
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<rustls::ClientConfig>> {
    let mut store = rustls::RootCertStore::empty();
    for r in roots {
        store
            .add(r.clone())
            .map_err(|e| DskError::Tls(e.to_string()))?;
    }
    let mut c = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS12])
        .map_err(|e| DskError::Tls(e.to_string()))?
        .with_root_certificates(store)
        .with_client_auth_cert(chain, key)
        .map_err(|e| DskError::Tls(e.to_string()))?;
    c.resumption = rustls::client::Resumption::disabled();
    Ok(Arc::new(c))
}

/// The server's (double's) TLS configuration: TLS 1.2, client certificates required and
/// verified against `client_roots` (the Certificate Provisioning CA).
pub fn server_config(
    client_roots: &[CertificateDer<'static>],
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<rustls::ServerConfig>> {
    let mut store = rustls::RootCertStore::empty();
    for r in client_roots {
        store
            .add(r.clone())
            .map_err(|e| DskError::Tls(e.to_string()))?;
    }
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(store), provider())
            .build()
            .map_err(|e| DskError::Tls(e.to_string()))?;
    let c = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS12])
        .map_err(|e| DskError::Tls(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| DskError::Tls(e.to_string()))?;
    Ok(Arc::new(c))
}

/// Feeds one `gssapi-data` flight into a connection and collects what it answers.
fn pump<D>(conn: &mut rustls::ConnectionCommon<D>, input: &[u8]) -> Result<Vec<u8>> {
    if input.len() > MAX_GSSAPI {
        return Err(DskError::Bad("gssapi-data"));
    }
    let mut rd = Cursor::new(input);
    while (rd.position() as usize) < input.len() {
        let n = conn
            .read_tls(&mut rd)
            .map_err(|e| DskError::Tls(e.to_string()))?;
        conn.process_new_packets()
            .map_err(|e| DskError::Tls(e.to_string()))?;
        if n == 0 {
            break;
        }
    }
    let mut out = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut out)
            .map_err(|e| DskError::Tls(e.to_string()))?;
    }
    // Application data never rides in gssapi-data; anything readable is a protocol error.
    let mut sink = [0u8; 1];
    if let Ok(n) = conn.reader().read(&mut sink) {
        if n > 0 {
            return Err(DskError::Handshake("application data inside the handshake"));
        }
    }
    Ok(out)
}

fn export(e: std::result::Result<[u8; KEY_BLOCK_LEN], rustls::Error>) -> Result<DskKeys> {
    let block = e.map_err(|e| DskError::Tls(e.to_string()))?;
    Ok(DskKeys::from_block(&block))
}

/// Where the client's association stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DskState {
    /// Handshake flights go out in `gssapi-data`.
    Handshaking,
    /// Keys derived; requests are signed.
    Established,
}

/// The client end of a TLS-DSK association ([MS-SIPAE] 3.2).
#[derive(Debug)]
pub struct ClientDskSa {
    pub realm: String,
    pub targetname: String,
    pub version: u32,
    pub opaque: Option<String>,
    pub proxy: bool,
    tls: rustls::ClientConnection,
    /// The next flight to send in `gssapi-data`.
    pending: Option<Vec<u8>>,
    keys: Option<DskKeys>,
    cnum: u32,
    last_snum: u32,
}

impl ClientDskSa {
    /// From the first challenge: the ClientHello is ready to go out.
    pub fn new(ch: &DskParams, config: Arc<rustls::ClientConfig>, proxy: bool) -> Result<Self> {
        let name =
            ServerName::try_from(ch.targetname.clone()).map_err(|_| DskError::Bad("targetname"))?;
        let mut tls = rustls::ClientConnection::new(config, name)
            .map_err(|e| DskError::Tls(e.to_string()))?;
        let mut hello = Vec::new();
        while tls.wants_write() {
            tls.write_tls(&mut hello)
                .map_err(|e| DskError::Tls(e.to_string()))?;
        }
        Ok(ClientDskSa {
            realm: ch.realm.clone(),
            targetname: ch.targetname.clone(),
            version: ch.version.max(3),
            opaque: None,
            proxy,
            tls,
            pending: Some(hello),
            keys: None,
            cnum: 0,
            last_snum: 0,
        })
    }

    pub fn state(&self) -> DskState {
        if self.keys.is_some() {
            DskState::Established
        } else {
            DskState::Handshaking
        }
    }

    /// A 401 during the handshake: its `gssapi-data` is the server's next flight.
    pub fn handle_challenge(&mut self, ch: &DskParams) -> Result<()> {
        if ch.realm != self.realm || ch.targetname != self.targetname {
            return Err(DskError::OtherSa);
        }
        let data = ch
            .gssapi_data
            .as_deref()
            .ok_or(DskError::Missing("gssapi-data"))?;
        if ch.opaque.is_some() {
            self.opaque = ch.opaque.clone();
        }
        let out = pump(&mut *self.tls, data)?;
        if self.tls.is_handshaking() {
            if out.is_empty() {
                return Err(DskError::Handshake(
                    "the server's flight asks for no answer",
                ));
            }
            self.pending = Some(out);
        } else {
            // The server's Finished verified: derive the signing keys (RFC 5705 exporter).
            self.keys = Some(export(self.tls.export_keying_material(
                [0u8; KEY_BLOCK_LEN],
                KEY_LABEL,
                None,
            ))?);
            self.pending = None;
        }
        Ok(())
    }

    /// The credentials for a request built without them: the pending handshake flight, or
    /// once established a signature over `m` (`crand` from the caller's entropy).
    pub fn credentials(&mut self, m: &Message<'_>, crand: u32) -> Result<String> {
        let mut c = DskParams {
            realm: self.realm.clone(),
            targetname: self.targetname.clone(),
            version: self.version,
            opaque: self.opaque.clone(),
            ..Default::default()
        };
        let Some(keys) = &self.keys else {
            c.gssapi_data = Some(
                self.pending
                    .clone()
                    .ok_or(DskError::Handshake("nothing to send"))?,
            );
            return Ok(c.emit());
        };
        self.cnum = self.cnum.wrapping_add(1);
        let crand = format!("{crand:08x}");
        let cnum = self.cnum.to_string();
        let buf = signature_buffer(
            m,
            &SigInput {
                protocol: SCHEME,
                rand: &crand,
                num: &cnum,
                realm: &self.realm,
                targetname: &self.targetname,
                version: self.version,
            },
        )
        .map_err(|_| DskError::Field("a signed header"))?;
        c.response = Some(sign(&keys.client, buf.as_bytes()));
        c.crand = Some(crand);
        c.cnum = Some(cnum);
        Ok(c.emit())
    }

    pub fn header(&self) -> HeaderName<'static> {
        if self.proxy {
            HeaderName::ProxyAuthorization
        } else {
            HeaderName::Authorization
        }
    }

    /// The signing keys, once established (for known-answer checks).
    pub fn keys(&self) -> Option<&DskKeys> {
        self.keys.as_ref()
    }

    /// Verifies a signed server message (section 3.2.5.2). Without Authentication-Info
    /// it is `Ok(false)`; a bad or replayed signature is an error.
    pub fn verify(&mut self, m: &Message<'_>) -> Result<bool> {
        let name = if self.proxy {
            HeaderName::Other("Proxy-Authentication-Info")
        } else {
            HeaderName::AuthenticationInfo
        };
        let Some(v) = m.first(name) else {
            return Ok(false);
        };
        let info = DskParams::parse(v)?;
        if info.realm != self.realm || info.targetname != self.targetname {
            return Err(DskError::OtherSa);
        }
        let keys = self.keys.as_ref().ok_or(DskError::OtherSa)?;
        let srand = info.srand.as_deref().ok_or(DskError::Missing("srand"))?;
        let snum_s = info.snum.as_deref().ok_or(DskError::Missing("snum"))?;
        let rspauth = info
            .rspauth
            .as_deref()
            .ok_or(DskError::Missing("rspauth"))?;
        let snum: u32 = snum_s.parse().map_err(|_| DskError::Bad("snum"))?;
        if snum <= self.last_snum {
            return Err(DskError::Replay {
                got: snum,
                last: self.last_snum,
            });
        }
        let buf = signature_buffer(
            m,
            &SigInput {
                protocol: SCHEME,
                rand: srand,
                num: snum_s,
                realm: &info.realm,
                targetname: &info.targetname,
                version: self.version,
            },
        )
        .map_err(|_| DskError::Field("a signed header"))?;
        verify_sig(&keys.server, buf.as_bytes(), rspauth)?;
        self.last_snum = snum;
        Ok(true)
    }
}

/// The server end of one TLS-DSK association (used by the test server).
#[derive(Debug)]
pub struct ServerDskSa {
    pub realm: String,
    pub targetname: String,
    pub version: u32,
    pub opaque: String,
    tls: rustls::ServerConnection,
    keys: Option<DskKeys>,
    snum: u32,
    last_cnum: u32,
}

impl ServerDskSa {
    pub fn new(
        config: Arc<rustls::ServerConfig>,
        targetname: &str,
        version: u32,
        opaque: u32,
    ) -> Result<Self> {
        Ok(ServerDskSa {
            realm: crate::sipe::sipae::REALM.into(),
            targetname: targetname.into(),
            version,
            opaque: format!("{opaque:08X}"),
            tls: rustls::ServerConnection::new(config).map_err(|e| DskError::Tls(e.to_string()))?,
            keys: None,
            snum: 0,
            last_cnum: 0,
        })
    }

    pub fn established(&self) -> bool {
        self.keys.is_some()
    }

    /// One client flight; the answer goes back in the 401's `gssapi-data`. When the client's
    /// Finished verified, the keys are derived and the answer holds ChangeCipherSpec and
    /// Finished.
    pub fn handle_gssapi(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        if self.keys.is_some() {
            return Err(DskError::Handshake("handshake already complete"));
        }
        let out = pump(&mut *self.tls, data)?;
        if !self.tls.is_handshaking() {
            self.keys = Some(export(self.tls.export_keying_material(
                [0u8; KEY_BLOCK_LEN],
                KEY_LABEL,
                None,
            ))?);
        }
        Ok(out)
    }

    /// The client's certificate chain, once the handshake verified it.
    pub fn peer_certificates(&self) -> Option<&[CertificateDer<'static>]> {
        self.tls.peer_certificates()
    }

    pub fn keys(&self) -> Option<&DskKeys> {
        self.keys.as_ref()
    }

    /// Checks a client's signed request.
    pub fn verify_request(&mut self, m: &Message<'_>, c: &DskParams) -> Result<()> {
        let keys = self.keys.as_ref().ok_or(DskError::OtherSa)?;
        if c.realm != self.realm || c.targetname != self.targetname {
            return Err(DskError::OtherSa);
        }
        let crand = c.crand.as_deref().ok_or(DskError::Missing("crand"))?;
        let cnum_s = c.cnum.as_deref().ok_or(DskError::Missing("cnum"))?;
        let response = c.response.as_deref().ok_or(DskError::Missing("response"))?;
        let cnum: u32 = cnum_s.parse().map_err(|_| DskError::Bad("cnum"))?;
        if cnum <= self.last_cnum {
            return Err(DskError::Replay {
                got: cnum,
                last: self.last_cnum,
            });
        }
        let buf = signature_buffer(
            m,
            &SigInput {
                protocol: SCHEME,
                rand: crand,
                num: cnum_s,
                realm: &self.realm,
                targetname: &self.targetname,
                version: self.version,
            },
        )
        .map_err(|_| DskError::Field("a signed header"))?;
        verify_sig(&keys.client, buf.as_bytes(), response)?;
        self.last_cnum = cnum;
        Ok(())
    }

    /// The Authentication-Info value signing a response built without it.
    pub fn sign_response(&mut self, m: &Message<'_>, srand: u32) -> Result<String> {
        let keys = self.keys.as_ref().ok_or(DskError::OtherSa)?;
        self.snum += 1;
        let srand = format!("{srand:08X}");
        let snum = self.snum.to_string();
        let buf = signature_buffer(
            m,
            &SigInput {
                protocol: SCHEME,
                rand: &srand,
                num: &snum,
                realm: &self.realm,
                targetname: &self.targetname,
                version: self.version,
            },
        )
        .map_err(|_| DskError::Field("a signed header"))?;
        Ok(DskParams {
            realm: self.realm.clone(),
            targetname: self.targetname.clone(),
            version: self.version,
            opaque: Some(self.opaque.clone()),
            rspauth: Some(sign(&keys.server, buf.as_bytes())),
            srand: Some(srand),
            snum: Some(snum),
            ..Default::default()
        }
        .emit())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_round_trip() {
        let p = DskParams {
            realm: "SIP Communications Service".into(),
            targetname: "sfb.contoso.com".into(),
            version: 4,
            opaque: Some("0A1B2C3D".into()),
            gssapi_data: Some(vec![0x16, 3, 3, 0, 1, 1]),
            sts_uri: Some("https://sfb.contoso.com/CertProv/CertProvisioningService.svc".into()),
            ..Default::default()
        };
        assert_eq!(DskParams::parse(&p.emit()).unwrap(), p);
        assert_eq!(
            DskParams::parse("NTLM realm=\"a\", targetname=\"b\""),
            Err(DskError::NoDsk)
        );
        assert_eq!(
            DskParams::parse("TLS-DSK realm=\"a\""),
            Err(DskError::Missing("targetname"))
        );
        assert_eq!(
            DskParams::parse("TLS-DSK realm=\"a\", targetname=\"b\", gssapi-data=\"***\""),
            Err(DskError::Bad("gssapi-data"))
        );
    }

    #[test]
    fn key_block_split_and_hmac() {
        let mut block = [0u8; KEY_BLOCK_LEN];
        for (i, b) in block.iter_mut().enumerate() {
            *b = i as u8;
        }
        let k = DskKeys::from_block(&block);
        assert_eq!(k.client[0], 64);
        assert_eq!(k.server[31], 127);
        // sign/verify agree; another buffer or key fails.
        let s = sign(&k.client, b"<TLS-DSK><1><2>");
        assert_eq!(s.len(), 40);
        assert!(verify_sig(&k.client, b"<TLS-DSK><1><2>", &s).is_ok());
        assert_eq!(
            verify_sig(&k.client, b"<TLS-DSK><1><3>", &s),
            Err(DskError::BadSignature)
        );
        assert_eq!(
            verify_sig(&k.server, b"x", "zz"),
            Err(DskError::Bad("signature"))
        );
    }
}
