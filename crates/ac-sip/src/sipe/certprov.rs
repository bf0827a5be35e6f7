//! The Certificate Provisioning web service client (Lync / Skype for Business "CertProv",
//! `https://<pool>/CertProv/CertProvisioningService.svc`, the URL DHCP option 43 builds,
//! manual 2.1.1.1): `GetAndPublishCert`, a WS-Trust 1.3 `RequestSecurityToken` carrying a
//! PKCS #10 request for a key pair made on the phone; the answer's
//! `RequestSecurityTokenResponse/RequestedSecurityToken/BinarySecurityToken` is the issued
//! X.509 certificate that TLS-DSK ([`super::tlsdsk`]) then presents.
//!
//! Sources: the [MS-OCAUTHWS] text itself was not at hand here. The request follows the
//! `GetAndPublishCert` element pidgin-sipe sends (read as reference only: DeviceId and
//! Entity attributes, TokenType X509v3, RequestType Issue, a `BinarySecurityToken` of
//! ValueType `...AuthWebServices.xsd#PKCS10`, `wstep:RequestID`) and the response path
//! pidgin-sipe reads; the envelope is SOAP 1.2 with WS-Addressing `Action`; faults are SOAP
//! 1.2 `Fault` (Code/Value, Subcode/Value, Reason/Text). How credentials ride is ours where
//! the spec was not available: user name + password and extension + PIN as a WS-Security
//! 1.0 `UsernameToken` (PasswordText, the transport being HTTPS), an OAuth access token as
//! an HTTP `Authorization: Bearer` header. A real server takes user credentials through a
//! web ticket (NTLM/Kerberos-authenticated HTTP): not implemented.
//!
//! Everything is sans-IO: [`HttpRequest`] / [`HttpResponse`] are built and parsed here and
//! carried by the owner. Bodies go through [`super::xml::parse`] (size and node limits, no
//! DTD); bad input is a [`CertProvError`].

use base64::Engine as _;

use crate::sipe::xml::{self, XmlError};

pub const NS_SOAP: &str = "http://www.w3.org/2003/05/soap-envelope";
pub const NS_WSA: &str = "http://www.w3.org/2005/08/addressing";
pub const NS_AUTH: &str = "http://schemas.microsoft.com/OCS/AuthWebServices/";
pub const NS_WST: &str = "http://docs.oasis-open.org/ws-sx/ws-trust/200512/";
pub const NS_WSTEP: &str = "http://schemas.microsoft.com/windows/pki/2009/01/enrollment";
pub const NS_WSSE: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
pub const ACTION: &str = "http://schemas.microsoft.com/OCS/AuthWebServices/GetAndPublishCert";
pub const TOKEN_X509: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3";
pub const REQUEST_ISSUE: &str = "http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue";
pub const VALUE_PKCS10: &str = "http://schemas.microsoft.com/OCS/AuthWebServices.xsd#PKCS10";
pub const ENCODING_B64: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd#Base64Binary";
pub const PASSWORD_TEXT: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText";

/// Largest DER blob (CSR or certificate) accepted.
pub const MAX_DER: usize = 16 * 1024;
/// Largest HTTP head accepted.
pub const MAX_HTTP_HEAD: usize = 16 * 1024;

/// Why certificate provisioning failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertProvError {
    #[error("{0}")]
    Xml(#[from] XmlError),
    #[error("bad base64 in <{0}>")]
    Base64(&'static str),
    #[error("SOAP fault {code}: {reason}")]
    Fault { code: String, reason: String },
    #[error("HTTP status {0}")]
    Http(u16),
    #[error("bad HTTP message: {0}")]
    HttpSyntax(&'static str),
    #[error("certificate: {0}")]
    Certificate(String),
    #[error("key pair / CSR: {0}")]
    Key(String),
}

pub type Result<T> = std::result::Result<T, CertProvError>;

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// What the phone signs in with (manual 2.2.5.4-2.2.5.7).
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// Sign-in address / user name and password.
    User { user: String, password: String },
    /// Extension (phone number) and PIN.
    Pin { extension: String, pin: String },
    /// An OAuth 2.0 access token (device code sign-in).
    Bearer(String),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::User { user, .. } => write!(f, "User({user}, ..)"),
            Credentials::Pin { extension, .. } => write!(f, "Pin({extension}, ..)"),
            Credentials::Bearer(_) => f.write_str("Bearer(..)"),
        }
    }
}

/// A WS-Security UsernameToken as the request carries it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct UsernameToken {
    pub username: String,
    pub password: String,
}

/// The `GetAndPublishCert` request (checked view for the double, emitter for the phone).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct GetAndPublishCert {
    /// `{uuid}` of the device.
    pub device_id: String,
    /// Who the certificate is for: the sign-in address or the extension.
    pub entity: String,
    /// PKCS #10 DER.
    pub csr: Vec<u8>,
    pub request_id: String,
    /// WS-Security header credentials, when present.
    pub token: Option<UsernameToken>,
    /// `wsa:To`.
    pub to: String,
}

fn elem<'a, 'i>(
    n: roxmltree::Node<'a, 'i>,
    ns: &str,
    name: &str,
) -> Option<roxmltree::Node<'a, 'i>> {
    n.children().find(|c| {
        c.is_element() && c.tag_name().name() == name && c.tag_name().namespace() == Some(ns)
    })
}

fn need<'a, 'i>(
    n: roxmltree::Node<'a, 'i>,
    ns: &str,
    name: &'static str,
) -> Result<roxmltree::Node<'a, 'i>> {
    elem(n, ns, name).ok_or(CertProvError::Xml(XmlError::Missing(name)))
}

fn body_of<'a, 'i>(doc: &'a roxmltree::Document<'i>) -> Result<roxmltree::Node<'a, 'i>> {
    let env = doc.root_element();
    if env.tag_name().name() != "Envelope" || env.tag_name().namespace() != Some(NS_SOAP) {
        return Err(XmlError::Root(env.tag_name().name().into(), "Envelope").into());
    }
    need(env, NS_SOAP, "Body")
}

fn der_text(n: roxmltree::Node<'_, '_>, what: &'static str) -> Result<Vec<u8>> {
    let t: String = xml::text(n)
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    if t.len() > MAX_DER * 4 / 3 + 4 {
        return Err(XmlError::Value(what).into());
    }
    let d = b64().decode(t).map_err(|_| CertProvError::Base64(what))?;
    if d.is_empty() {
        return Err(XmlError::Value(what).into());
    }
    Ok(d)
}

fn esc(s: &str) -> String {
    xml::escape(s)
}

impl GetAndPublishCert {
    pub fn parse(body: &[u8]) -> Result<GetAndPublishCert> {
        let doc = xml::parse(body)?;
        let env = doc.root_element();
        let b = body_of(&doc)?;
        let header = elem(env, NS_SOAP, "Header");
        let token = header
            .and_then(|h| elem(h, NS_WSSE, "Security"))
            .and_then(|s| elem(s, NS_WSSE, "UsernameToken"))
            .map(|u| -> Result<UsernameToken> {
                Ok(UsernameToken {
                    username: xml::text(need(u, NS_WSSE, "Username")?),
                    password: xml::text(need(u, NS_WSSE, "Password")?),
                })
            })
            .transpose()?;
        let to = header
            .and_then(|h| elem(h, NS_WSA, "To"))
            .map(xml::text)
            .unwrap_or_default();
        let g = need(b, NS_AUTH, "GetAndPublishCert")?;
        let attr = |n: &'static str| {
            g.attribute(n)
                .map(str::to_string)
                .ok_or(CertProvError::Xml(XmlError::Attribute(
                    "GetAndPublishCert",
                    n,
                )))
        };
        let rst = need(g, NS_WST, "RequestSecurityToken")?;
        if xml::text(need(rst, NS_WST, "RequestType")?) != REQUEST_ISSUE {
            return Err(XmlError::Value("RequestType").into());
        }
        let bst = need(rst, NS_WSSE, "BinarySecurityToken")?;
        if bst.attribute("ValueType") != Some(VALUE_PKCS10) {
            return Err(XmlError::Value("BinarySecurityToken").into());
        }
        Ok(GetAndPublishCert {
            device_id: attr("DeviceId")?,
            entity: attr("Entity")?,
            csr: der_text(bst, "BinarySecurityToken")?,
            request_id: elem(rst, NS_WSTEP, "RequestID")
                .map(xml::text)
                .unwrap_or_default(),
            token,
            to,
        })
    }

    pub fn emit(&self) -> String {
        let mut s = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n<s:Envelope xmlns:s=\"{NS_SOAP}\" xmlns:a=\"{NS_WSA}\"><s:Header><a:Action s:mustUnderstand=\"1\">{ACTION}</a:Action><a:To s:mustUnderstand=\"1\">{}</a:To>",
            esc(&self.to)
        );
        if let Some(t) = &self.token {
            s.push_str(&format!(
                "<wsse:Security s:mustUnderstand=\"1\" xmlns:wsse=\"{NS_WSSE}\"><wsse:UsernameToken><wsse:Username>{}</wsse:Username><wsse:Password Type=\"{PASSWORD_TEXT}\">{}</wsse:Password></wsse:UsernameToken></wsse:Security>",
                esc(&t.username),
                esc(&t.password)
            ));
        }
        s.push_str(&format!(
            "</s:Header><s:Body><GetAndPublishCert xmlns=\"{NS_AUTH}\" xmlns:wst=\"{NS_WST}\" xmlns:wsse=\"{NS_WSSE}\" xmlns:wstep=\"{NS_WSTEP}\" DeviceId=\"{}\" Entity=\"{}\"><wst:RequestSecurityToken><wst:TokenType>{TOKEN_X509}</wst:TokenType><wst:RequestType>{REQUEST_ISSUE}</wst:RequestType><wsse:BinarySecurityToken ValueType=\"{VALUE_PKCS10}\" EncodingType=\"{ENCODING_B64}\">{}</wsse:BinarySecurityToken><wstep:RequestID>{}</wstep:RequestID></wst:RequestSecurityToken></GetAndPublishCert></s:Body></s:Envelope>",
            esc(&self.device_id),
            esc(&self.entity),
            b64().encode(&self.csr),
            esc(&self.request_id)
        ));
        s
    }
}

/// The service's answer.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum CertProvResponse {
    /// The issued certificate (DER) and the request it answers.
    Issued {
        certificate: Vec<u8>,
        request_id: String,
    },
    /// A SOAP fault: `Code/Value` (with `Subcode/Value` after a `/` when present) and
    /// `Reason/Text`.
    Fault { code: String, reason: String },
}

impl CertProvResponse {
    pub fn parse(body: &[u8]) -> Result<CertProvResponse> {
        let doc = xml::parse(body)?;
        let b = body_of(&doc)?;
        if let Some(f) = elem(b, NS_SOAP, "Fault") {
            let code_el = need(f, NS_SOAP, "Code")?;
            let mut code = xml::text(need(code_el, NS_SOAP, "Value")?);
            if let Some(sub) =
                elem(code_el, NS_SOAP, "Subcode").and_then(|s| elem(s, NS_SOAP, "Value"))
            {
                code.push('/');
                code.push_str(&xml::text(sub));
            }
            let reason = elem(f, NS_SOAP, "Reason")
                .and_then(|r| elem(r, NS_SOAP, "Text"))
                .map(xml::text)
                .unwrap_or_default();
            return Ok(CertProvResponse::Fault { code, reason });
        }
        let r = need(b, NS_AUTH, "GetAndPublishCertResponse")?;
        let rstr = need(r, NS_WST, "RequestSecurityTokenResponse")?;
        let tok = need(rstr, NS_WST, "RequestedSecurityToken")?;
        let bst = need(tok, NS_WSSE, "BinarySecurityToken")?;
        Ok(CertProvResponse::Issued {
            certificate: der_text(bst, "BinarySecurityToken")?,
            request_id: elem(rstr, NS_WSTEP, "RequestID")
                .map(xml::text)
                .unwrap_or_default(),
        })
    }

    pub fn emit(&self) -> String {
        match self {
            CertProvResponse::Issued {
                certificate,
                request_id,
            } => format!(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n<s:Envelope xmlns:s=\"{NS_SOAP}\" xmlns:a=\"{NS_WSA}\"><s:Header><a:Action s:mustUnderstand=\"1\">{ACTION}Response</a:Action></s:Header><s:Body><GetAndPublishCertResponse xmlns=\"{NS_AUTH}\"><wst:RequestSecurityTokenResponse xmlns:wst=\"{NS_WST}\" xmlns:wsse=\"{NS_WSSE}\" xmlns:wstep=\"{NS_WSTEP}\"><wst:TokenType>{TOKEN_X509}</wst:TokenType><wst:RequestedSecurityToken><wsse:BinarySecurityToken ValueType=\"{TOKEN_X509}\" EncodingType=\"{ENCODING_B64}\">{}</wsse:BinarySecurityToken></wst:RequestedSecurityToken><wstep:RequestID>{}</wstep:RequestID></wst:RequestSecurityTokenResponse></GetAndPublishCertResponse></s:Body></s:Envelope>",
                b64().encode(certificate),
                esc(request_id)
            ),
            CertProvResponse::Fault { code, reason } => {
                let (value, sub) = match code.split_once('/') {
                    Some((v, s)) => (v, Some(s)),
                    None => (code.as_str(), None),
                };
                let sub = sub
                    .map(|s| format!("<s:Subcode><s:Value>{}</s:Value></s:Subcode>", esc(s)))
                    .unwrap_or_default();
                format!(
                    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n<s:Envelope xmlns:s=\"{NS_SOAP}\"><s:Body><s:Fault><s:Code><s:Value>{}</s:Value>{sub}</s:Code><s:Reason><s:Text xml:lang=\"en-US\">{}</s:Text></s:Reason></s:Fault></s:Body></s:Envelope>",
                    esc(value),
                    esc(reason)
                )
            }
        }
    }
}

/// An HTTP/1.1 request, sans-IO.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct HttpRequest {
    pub method: String,
    /// Absolute URL (`https://host:port/path`).
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// An HTTP/1.1 response, sans-IO.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// `https://host[:port]/path` -> (host, port, path).
pub fn split_url(url: &str) -> Result<(String, u16, String)> {
    let rest = url
        .strip_prefix("https://")
        .ok_or(CertProvError::HttpSyntax("URL is not https"))?;
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || hostport.starts_with('[') => (
            h.to_string(),
            p.parse()
                .map_err(|_| CertProvError::HttpSyntax("URL port"))?,
        ),
        _ => (hostport.to_string(), 443),
    };
    if host.is_empty() {
        return Err(CertProvError::HttpSyntax("URL host"));
    }
    Ok((host, port, path.to_string()))
}

impl HttpRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The wire form (origin-form target, Host, Content-Length).
    pub fn encode(&self) -> Result<Vec<u8>> {
        let (host, port, path) = split_url(&self.url)?;
        let mut s = format!("{} {path} HTTP/1.1\r\nHost: {host}:{port}\r\n", self.method);
        for (n, v) in &self.headers {
            s.push_str(&format!("{n}: {v}\r\n"));
        }
        s.push_str(&format!("Content-Length: {}\r\n\r\n", self.body.len()));
        let mut out = s.into_bytes();
        out.extend_from_slice(&self.body);
        Ok(out)
    }

    /// A complete request from the wire (for the double's HTTPS front): `None` while more
    /// bytes are needed.
    pub fn decode(data: &[u8]) -> Result<Option<(HttpRequest, usize)>> {
        let Some((start, headers, body, used)) = decode_head(data)? else {
            return Ok(None);
        };
        let mut parts = start.split(' ');
        let method = parts.next().unwrap_or_default().to_string();
        let target = parts
            .next()
            .ok_or(CertProvError::HttpSyntax("request line"))?;
        // RFC 9112 3: method is a token, the origin-form target has no whitespace or
        // controls; RFC 9110 7.2: Host is uri-host [":" port].
        if parts.next() != Some("HTTP/1.1")
            || !is_token(&method)
            || !target.starts_with('/')
            || target.bytes().any(|b| b <= b' ' || b == 0x7f)
        {
            return Err(CertProvError::HttpSyntax("request line"));
        }
        let host = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("Host"))
            .map(|(_, v)| v.clone())
            .ok_or(CertProvError::HttpSyntax("no Host"))?;
        if host.is_empty()
            || host
                .bytes()
                .any(|b| b <= b' ' || b == 0x7f || b"/?#@\\".contains(&b))
        {
            return Err(CertProvError::HttpSyntax("Host"));
        }
        Ok(Some((
            HttpRequest {
                method,
                url: format!("https://{host}{target}"),
                headers: headers
                    .into_iter()
                    .filter(|(n, _)| {
                        !n.eq_ignore_ascii_case("Host") && !n.eq_ignore_ascii_case("Content-Length")
                    })
                    .collect(),
                body,
            },
            used,
        )))
    }
}

impl HttpResponse {
    pub fn encode(&self) -> Vec<u8> {
        let reason = match self.status {
            200 => "OK",
            401 => "Unauthorized",
            500 => "Internal Server Error",
            _ => "Status",
        };
        let mut s = format!("HTTP/1.1 {} {reason}\r\n", self.status);
        for (n, v) in &self.headers {
            s.push_str(&format!("{n}: {v}\r\n"));
        }
        s.push_str(&format!("Content-Length: {}\r\n\r\n", self.body.len()));
        let mut out = s.into_bytes();
        out.extend_from_slice(&self.body);
        out
    }

    /// A complete response (Content-Length framed): `None` while more bytes are needed.
    pub fn decode(data: &[u8]) -> Result<Option<(HttpResponse, usize)>> {
        let Some((start, headers, body, used)) = decode_head(data)? else {
            return Ok(None);
        };
        let mut parts = start.splitn(3, ' ');
        if parts.next() != Some("HTTP/1.1") {
            return Err(CertProvError::HttpSyntax("status line"));
        }
        let status = parts
            .next()
            .and_then(|c| c.parse::<u16>().ok())
            .filter(|c| (100..1000).contains(c))
            .ok_or(CertProvError::HttpSyntax("status code"))?;
        Ok(Some((
            HttpResponse {
                status,
                headers: headers
                    .into_iter()
                    .filter(|(n, _)| !n.eq_ignore_ascii_case("Content-Length"))
                    .collect(),
                body,
            },
            used,
        )))
    }
}

type Head = (String, Vec<(String, String)>, Vec<u8>, usize);

/// RFC 9110 5.6.2 `token`.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn decode_head(data: &[u8]) -> Result<Option<Head>> {
    let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") else {
        if data.len() > MAX_HTTP_HEAD {
            return Err(CertProvError::HttpSyntax("head too long"));
        }
        return Ok(None);
    };
    if end > MAX_HTTP_HEAD {
        return Err(CertProvError::HttpSyntax("head too long"));
    }
    let head = std::str::from_utf8(&data[..end]).map_err(|_| CertProvError::HttpSyntax("head"))?;
    let mut lines = head.split("\r\n");
    let start = lines.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    let mut len: Option<usize> = None;
    for l in lines {
        let (n, v) = l
            .split_once(':')
            .ok_or(CertProvError::HttpSyntax("header line"))?;
        let (n, v) = (n.trim().to_string(), v.trim().to_string());
        // RFC 9110 5.1, 5.5: field names are tokens, values have no controls but HTAB.
        if !is_token(&n) || v.bytes().any(|b| (b < b' ' && b != b'\t') || b == 0x7f) {
            return Err(CertProvError::HttpSyntax("header line"));
        }
        if n.eq_ignore_ascii_case("Content-Length") {
            let l: usize = v
                .parse()
                .map_err(|_| CertProvError::HttpSyntax("Content-Length"))?;
            if len.is_some_and(|x| x != l) || l > xml::MAX_BODY {
                return Err(CertProvError::HttpSyntax("Content-Length"));
            }
            len = Some(l);
        } else if n.eq_ignore_ascii_case("Transfer-Encoding") {
            return Err(CertProvError::HttpSyntax("Transfer-Encoding unsupported"));
        }
        headers.push((n, v));
    }
    let len = len.unwrap_or(0);
    let total = end + 4 + len;
    if data.len() < total {
        return Ok(None);
    }
    Ok(Some((start, headers, data[end + 4..total].to_vec(), total)))
}

/// A key pair made on the phone and the PKCS #10 request for it.
pub struct CertRequest {
    pub key: rcgen::KeyPair,
    pub csr: Vec<u8>,
}

impl std::fmt::Debug for CertRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CertRequest(..)")
    }
}

/// A new ECDSA P-256 key pair (ring's system RNG, through rcgen) and its CSR with
/// `CN=<entity>`. ECDSA because ring cannot generate RSA keys; the TLS layer accepts both.
pub fn new_cert_request(entity: &str) -> Result<CertRequest> {
    let key = rcgen::KeyPair::generate().map_err(|e| CertProvError::Key(e.to_string()))?;
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, entity);
    let csr = params
        .serialize_request(&key)
        .map_err(|e| CertProvError::Key(e.to_string()))?;
    Ok(CertRequest {
        csr: csr.der().to_vec(),
        key,
    })
}

/// The request for `creds` (the owner POSTs it to the service URL).
pub fn build_request(
    url: &str,
    device_id: &str,
    entity: &str,
    csr: &[u8],
    request_id: &str,
    creds: &Credentials,
) -> HttpRequest {
    let token = match creds {
        Credentials::User { user, password } => Some(UsernameToken {
            username: user.clone(),
            password: password.clone(),
        }),
        Credentials::Pin { extension, pin } => Some(UsernameToken {
            username: extension.clone(),
            password: pin.clone(),
        }),
        Credentials::Bearer(_) => None,
    };
    let body = GetAndPublishCert {
        device_id: device_id.into(),
        entity: entity.into(),
        csr: csr.to_vec(),
        request_id: request_id.into(),
        token,
        to: url.into(),
    }
    .emit();
    let mut headers = vec![(
        "Content-Type".to_string(),
        format!("application/soap+xml; charset=utf-8; action=\"{ACTION}\""),
    )];
    if let Credentials::Bearer(t) = creds {
        headers.push(("Authorization".into(), format!("Bearer {t}")));
    }
    HttpRequest {
        method: "POST".into(),
        url: url.into(),
        headers,
        body: body.into_bytes(),
    }
}

/// What an issued certificate says about itself.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct IssuedCert {
    /// notAfter, seconds since the Unix epoch.
    pub not_after: i64,
    pub not_before: i64,
    /// The SIP URI (subjectAltName URI, else the CN when it is a `sip:` URI).
    pub sip_uri: Option<String>,
}

/// Reads the validity and the SIP URI of an issued certificate.
pub fn inspect(der: &[u8]) -> Result<IssuedCert> {
    use x509_parser::prelude::*;
    let (_, c) =
        X509Certificate::from_der(der).map_err(|e| CertProvError::Certificate(e.to_string()))?;
    let mut sip_uri = None;
    if let Ok(Some(san)) = c.subject_alternative_name() {
        for n in &san.value.general_names {
            if let GeneralName::URI(u) = n {
                if u.starts_with("sip:") {
                    sip_uri = Some(u.to_string());
                }
            }
        }
    }
    if sip_uri.is_none() {
        sip_uri = c
            .subject()
            .iter_common_name()
            .filter_map(|cn| cn.as_str().ok())
            .find(|cn| cn.starts_with("sip:"))
            .map(str::to_string);
    }
    Ok(IssuedCert {
        not_after: c.validity().not_after.timestamp(),
        not_before: c.validity().not_before.timestamp(),
        sip_uri,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_round_trip_and_faults() {
        let r = CertProvResponse::Issued {
            certificate: vec![0x30, 0x82, 1, 2, 3],
            request_id: "{A0B1}".into(),
        };
        assert_eq!(CertProvResponse::parse(r.emit().as_bytes()).unwrap(), r);
        let f = CertProvResponse::Fault {
            code: "s:Sender/a:FailedAuthentication".into(),
            reason: "PIN <wrong>".into(),
        };
        assert_eq!(CertProvResponse::parse(f.emit().as_bytes()).unwrap(), f);
        assert!(matches!(
            CertProvResponse::parse(b"<x/>"),
            Err(CertProvError::Xml(XmlError::Root(..)))
        ));
    }

    #[test]
    fn request_round_trip() {
        let q = build_request(
            "https://sfb.contoso.com:443/CertProv/CertProvisioningService.svc",
            "{4233FD41-093B-5FD6-B5D2-651ED55969E6}",
            "1234",
            &[0x30, 1, 2],
            "urn:uuid:1",
            &Credentials::Pin {
                extension: "1234".into(),
                pin: "9876".into(),
            },
        );
        let g = GetAndPublishCert::parse(&q.body).unwrap();
        assert_eq!(g.entity, "1234");
        assert_eq!(g.token.as_ref().unwrap().password, "9876");
        assert_eq!(GetAndPublishCert::parse(g.emit().as_bytes()).unwrap(), g);
        let wire = q.encode().unwrap();
        let (back, used) = HttpRequest::decode(&wire).unwrap().unwrap();
        assert_eq!(used, wire.len());
        assert_eq!(back, q);
        assert_eq!(HttpRequest::decode(&wire[..wire.len() - 1]).unwrap(), None);
        // Found by the sipe_certprov_xml fuzz target: a Host with a space and a '/' made a
        // URL whose re-encoded request line did not decode.
        let bad = b"POST /a HTTP/1.1\r\nHost: h/x HTTP/1.1\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(
            HttpRequest::decode(bad),
            Err(CertProvError::HttpSyntax("Host"))
        );
        assert!(HttpRequest::decode(b"P T /a HTTP/1.1\r\nHost: h\r\n\r\n").is_err());
        assert!(HttpRequest::decode(b"POST /a HTTP/1.1\r\nHost: h\r\nX: a\x01\r\n\r\n").is_err());
        assert_eq!(
            split_url("https://[::1]:8443/x").unwrap(),
            ("[::1]".into(), 8443, "/x".into())
        );
    }
}
