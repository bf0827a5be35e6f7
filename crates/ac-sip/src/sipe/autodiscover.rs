//! AutoDiscover ([MS-OCDISCWS]) for the sign-in: the phone finds its SIP home server from
//! the user's SIP domain (manual 2.2.5.8, `lync/sign_in/auto_discovery_enabled`); when
//! AutoDiscover is disabled or unsuccessful it falls back to DNS SRV ([`crate::resolve`]).
//!
//! Sans-IO: [`Autodiscover::start`] queues the first GET, the driver sends
//! [`Autodiscover::poll_request`]s and hands back [`Autodiscover::handle_response`] (or
//! [`Autodiscover::handle_transport_error`]); [`Autodiscover::poll_timeout`] /
//! [`Autodiscover::handle_timeout`] bound every request; [`Autodiscover::poll_event`] ends
//! with [`AutodiscoverEvent::Found`] or [`AutodiscoverEvent::Fallback`].
//!
//! What the module follows:
//! * [MS-OCDISCWS] 3.1.5.2 Root: a GET to the Root resource answers 200 with a `Root`
//!   element holding either one `Redirect` link (follow it) or the child resources'
//!   links, among them `User`. HTTP Root resources MUST answer with a `Redirect`, so plain
//!   HTTP is only an entry point here: every link we follow must be `https`.
//! * 3.1.5.3 User: the client MUST take the User URL from the Root's `Link` href; 401
//!   without credentials, 404 for an unknown user, 200 with a `User` element holding one
//!   `Redirect` link or the user's links and `SipAccess` entries.
//! * 2.2.5.5 tokens (`Redirect`, `User`, `Domain`, `Internal/...`, `External/...`).
//! * The entry URLs `https://lyncdiscoverinternal.<domain>` then
//!   `https://lyncdiscover.<domain>` are the DNS names Lync Server 2013 "Understanding
//!   Autodiscover" publishes; the element names of the `User` answer
//!   (`SipServerInternalAccess`/`SipServerExternalAccess` with `fqdn` and `port`) come from
//!   that document's example, as the schema (2.2.4) was not readable here.
//! * Ours: the redirect limit (10, like Exchange's AutoDiscover advice), the per-request
//!   timeout, the `sipuri` query without the `sip:` scheme, TLS as the transport of the
//!   home server found.

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

use thiserror::Error;

use super::oauth::{split_url, HttpRequest, HttpResponse};
use super::xml::{self, XmlError};
use crate::transaction::Transport;

/// The media type of AutoDiscover documents (the Accept header of every request).
pub const ACCEPT: &str = "application/vnd.microsoft.rtc.autodiscover+xml; v=1";
/// Links followed (Root -> User and Redirects) before giving up. Ours.
pub const MAX_HOPS: usize = 10;
/// How long one request may take. Ours.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Most links in one document (3.1.5.3 lists six kinds besides Redirect). Ours; with
/// [`MAX_VALUE`] it keeps our emission (worst case six bytes per character escaped)
/// under [`xml::MAX_BODY`].
pub const MAX_LINKS: usize = 16;
/// Longest href, token or AccessLocation accepted, in bytes.
pub const MAX_VALUE: usize = 1024;

/// Why a document was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DocumentError {
    #[error(transparent)]
    Xml(#[from] XmlError),
    #[error("more than {MAX_LINKS} links")]
    TooManyLinks,
    #[error("neither <Root> nor <User> under <AutodiscoverResponse>")]
    NoResource,
    #[error("bad value in <{0}>")]
    Value(&'static str),
}

/// A `Link` (2.2.5.5 token, 2.2.5.3 href).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub token: String,
    pub href: String,
}

/// A SIP access entry: `fqdn` and `port` attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipAccess {
    pub fqdn: String,
    pub port: u16,
}

/// Which resource a document describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    Root,
    User,
}

/// An `AutodiscoverResponse` document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// `AccessLocation` (`Internal`/`External`), when present.
    pub access_location: Option<String>,
    pub kind: ResourceKind,
    pub links: Vec<Link>,
    /// `SipServerInternalAccess` (User documents).
    pub sip_internal: Option<SipAccess>,
    /// `SipServerExternalAccess` (User documents).
    pub sip_external: Option<SipAccess>,
}

fn check_value(s: &str, what: &'static str) -> Result<(), DocumentError> {
    if s.is_empty() || s.len() > MAX_VALUE {
        return Err(DocumentError::Value(what));
    }
    Ok(())
}

fn is_fqdn(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

fn access(n: roxmltree::Node<'_, '_>, what: &'static str) -> Result<SipAccess, DocumentError> {
    let fqdn = n
        .attribute("fqdn")
        .ok_or(XmlError::Attribute(what, "fqdn"))?
        .trim()
        .to_ascii_lowercase();
    if !is_fqdn(&fqdn) {
        return Err(DocumentError::Value(what));
    }
    let port: u16 = n
        .attribute("port")
        .ok_or(XmlError::Attribute(what, "port"))?
        .trim()
        .parse()
        .map_err(|_| DocumentError::Value(what))?;
    if port == 0 {
        return Err(DocumentError::Value(what));
    }
    Ok(SipAccess { fqdn, port })
}

impl Document {
    /// Checked parse on the bounded, DTD-free XML parse of [`xml::parse`]. Elements and
    /// attributes we do not know are ignored.
    pub fn parse(body: &[u8]) -> Result<Document, DocumentError> {
        let doc = xml::parse(body)?;
        let root = doc.root_element();
        if root.tag_name().name() != "AutodiscoverResponse" {
            return Err(XmlError::Root(
                root.tag_name().name().chars().take(64).collect(),
                "AutodiscoverResponse",
            )
            .into());
        }
        let access_location = root.attribute("AccessLocation").map(str::to_string);
        if let Some(a) = &access_location {
            if a.len() > MAX_VALUE {
                return Err(DocumentError::Value("AutodiscoverResponse"));
            }
        }
        let (kind, res) = match (xml::child(root, "Root"), xml::child(root, "User")) {
            (Some(r), None) => (ResourceKind::Root, r),
            (None, Some(u)) => (ResourceKind::User, u),
            _ => return Err(DocumentError::NoResource),
        };
        let mut d = Document {
            access_location,
            kind,
            links: Vec::new(),
            sip_internal: None,
            sip_external: None,
        };
        for c in res.children().filter(|c| c.is_element()) {
            match c.tag_name().name() {
                "Link" => {
                    if d.links.len() == MAX_LINKS {
                        return Err(DocumentError::TooManyLinks);
                    }
                    let token = c
                        .attribute("token")
                        .ok_or(XmlError::Attribute("Link", "token"))?;
                    let href = c
                        .attribute("href")
                        .ok_or(XmlError::Attribute("Link", "href"))?;
                    check_value(token, "Link")?;
                    check_value(href, "Link")?;
                    d.links.push(Link {
                        token: token.to_string(),
                        href: href.to_string(),
                    });
                }
                "SipServerInternalAccess" if kind == ResourceKind::User => {
                    d.sip_internal = Some(access(c, "SipServerInternalAccess")?);
                }
                "SipServerExternalAccess" if kind == ResourceKind::User => {
                    d.sip_external = Some(access(c, "SipServerExternalAccess")?);
                }
                _ => {}
            }
        }
        Ok(d)
    }

    /// Canonical text.
    pub fn emit(&self) -> String {
        let mut s =
            String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<AutodiscoverResponse");
        if let Some(a) = &self.access_location {
            s.push_str(&format!(" AccessLocation=\"{}\"", xml::escape(a)));
        }
        let name = match self.kind {
            ResourceKind::Root => "Root",
            ResourceKind::User => "User",
        };
        s.push_str(&format!(">\n  <{name}>\n"));
        if let Some(a) = &self.sip_internal {
            s.push_str(&format!(
                "    <SipServerInternalAccess fqdn=\"{}\" port=\"{}\"/>\n",
                xml::escape(&a.fqdn),
                a.port
            ));
        }
        if let Some(a) = &self.sip_external {
            s.push_str(&format!(
                "    <SipServerExternalAccess fqdn=\"{}\" port=\"{}\"/>\n",
                xml::escape(&a.fqdn),
                a.port
            ));
        }
        for l in &self.links {
            s.push_str(&format!(
                "    <Link token=\"{}\" href=\"{}\"/>\n",
                xml::escape(&l.token),
                xml::escape(&l.href)
            ));
        }
        s.push_str(&format!("  </{name}>\n</AutodiscoverResponse>\n"));
        s
    }

    /// The href of the first link with `token` (compared without case).
    pub fn link(&self, token: &str) -> Option<&str> {
        self.links
            .iter()
            .find(|l| l.token.eq_ignore_ascii_case(token))
            .map(|l| l.href.as_str())
    }
}

/// The SIP home server found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HomeServer {
    pub host: String,
    pub port: u16,
    pub transport: Transport,
}

/// Why AutoDiscover gave up: each means "fall back to DNS SRV" (manual 2.2.5.8).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AutodiscoverFailure {
    #[error("AutoDiscover disabled by lync/sign_in/auto_discovery_enabled")]
    Disabled,
    #[error("SIP address has no domain")]
    NoDomain,
    #[error("no AutoDiscover service answered")]
    NoService,
    #[error("HTTP status {0} from {1}")]
    Status(u16, String),
    #[error("bad document from {0}: {1}")]
    BadDocument(String, DocumentError),
    #[error("more than {MAX_HOPS} links followed")]
    HopLimit,
    #[error("redirect loop at {0}")]
    Loop(String),
    #[error("refused to follow a link that is not https: {0}")]
    Insecure(String),
    #[error("document from {0} has neither a User link nor a Redirect")]
    NoUserLink(String),
    #[error("User document has no SIP access entry")]
    NoSipAccess,
    #[error("request to {0} timed out or failed")]
    Transport(String),
}

/// What the client reports (once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AutodiscoverEvent {
    Found(HomeServer),
    Fallback(AutodiscoverFailure),
}

/// Client settings.
#[derive(Debug, Clone)]
pub struct AutodiscoverConfig {
    /// `lync/sign_in/auto_discovery_enabled`.
    pub enabled: bool,
    /// The user's SIP address (`user@domain`, with or without `sip:`).
    pub sip_address: String,
    /// Authorization header value sent to User resources (3.1.5.3 answers 401 without).
    pub authorization: Option<String>,
    /// Also try the plain HTTP Root entry points after the https ones (3.1.5.2 allows
    /// HTTP Root resources, which only redirect).
    pub try_http: bool,
    pub request_timeout: Duration,
}

impl AutodiscoverConfig {
    /// Settings for `sip_address` with `lync/sign_in/auto_discovery_enabled` read from
    /// `value`, or its default in [`ac_cfg::schema`] when the file does not set it.
    pub fn new(sip_address: &str, value: Option<&str>) -> AutodiscoverConfig {
        AutodiscoverConfig {
            enabled: Self::enabled(value),
            sip_address: sip_address.to_string(),
            authorization: None,
            try_http: true,
            request_timeout: REQUEST_TIMEOUT,
        }
    }

    /// Whether `lync/sign_in/auto_discovery_enabled` (manual 2.2.5.8) is on.
    pub fn enabled(value: Option<&str>) -> bool {
        let v = match value {
            Some(v) => v.to_string(),
            None => match ac_cfg::schema::Schema::get()
                .lookup("lync/sign_in/auto_discovery_enabled", None)
            {
                ac_cfg::schema::Lookup::Found(d, i) => {
                    d.default_for(None, i.as_slice()).to_string()
                }
                _ => "1".to_string(),
            },
        };
        v.trim() != "0"
    }
}

/// The user part and domain of a SIP address (`sip:` optional).
fn address(s: &str) -> Option<(String, String)> {
    let s = s.trim();
    let s = s
        .strip_prefix("sip:")
        .or_else(|| s.strip_prefix("SIP:"))
        .unwrap_or(s);
    let (user, domain) = s.rsplit_once('@')?;
    let domain = domain.to_ascii_lowercase();
    if user.is_empty() || !is_fqdn(&domain) {
        return None;
    }
    Some((user.to_string(), domain))
}

fn query_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'@' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The entry URLs in the order tried: internal then external over https, then (when
/// allowed) the same over http.
pub fn entry_urls(sip_address: &str, try_http: bool) -> Option<Vec<String>> {
    let (user, domain) = address(sip_address)?;
    let q = query_escape(&format!("{user}@{domain}"));
    let mut v = Vec::new();
    let schemes: &[&str] = if try_http {
        &["https", "http"]
    } else {
        &["https"]
    };
    for scheme in schemes {
        for name in ["lyncdiscoverinternal", "lyncdiscover"] {
            v.push(format!("{scheme}://{name}.{domain}/?sipuri={q}"));
        }
    }
    Some(v)
}

/// The URL without its query, lowercased scheme and host (for loop detection).
fn url_key(url: &str) -> String {
    match split_url(url) {
        Some((host, path)) => {
            let scheme = if url.starts_with("https") {
                "https"
            } else {
                "http"
            };
            format!("{scheme}://{}{}", host.to_ascii_lowercase(), path)
        }
        None => url.to_string(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Asking an entry point (failures move on to the next one).
    Entry,
    /// Following a link from a Root document.
    Root,
    /// Asking a User resource (credentials sent).
    User,
}

/// The AutoDiscover client, sans-IO.
pub struct Autodiscover {
    cfg: AutodiscoverConfig,
    entries: VecDeque<String>,
    /// Whether the current chain began at the internal entry point.
    internal: bool,
    stage: Stage,
    visited: HashSet<String>,
    hops: usize,
    current: Option<(String, Instant)>,
    out: VecDeque<HttpRequest>,
    events: VecDeque<AutodiscoverEvent>,
    last_failure: Option<AutodiscoverFailure>,
    done: bool,
    requests: usize,
}

impl Autodiscover {
    pub fn new(cfg: AutodiscoverConfig) -> Autodiscover {
        Autodiscover {
            cfg,
            entries: VecDeque::new(),
            internal: false,
            stage: Stage::Entry,
            visited: HashSet::new(),
            hops: 0,
            current: None,
            out: VecDeque::new(),
            events: VecDeque::new(),
            last_failure: None,
            done: false,
            requests: 0,
        }
    }

    /// Begins discovery: the first GET, or straight to the fallback when disabled.
    pub fn start(&mut self, now: Instant) {
        if !self.cfg.enabled {
            self.finish(AutodiscoverEvent::Fallback(AutodiscoverFailure::Disabled));
            return;
        }
        match entry_urls(&self.cfg.sip_address, self.cfg.try_http) {
            Some(v) => {
                self.entries = v.into();
                self.next_entry(now);
            }
            None => self.finish(AutodiscoverEvent::Fallback(AutodiscoverFailure::NoDomain)),
        }
    }

    /// Requests sent so far.
    pub fn requests(&self) -> usize {
        self.requests
    }

    pub fn is_done(&self) -> bool {
        self.done
    }

    pub fn poll_request(&mut self) -> Option<HttpRequest> {
        self.out.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<AutodiscoverEvent> {
        self.events.pop_front()
    }

    /// The deadline of the request outstanding.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.current.as_ref().map(|(_, d)| *d)
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some((url, d)) = &self.current {
            if now >= *d {
                let url = url.clone();
                self.fail(now, AutodiscoverFailure::Transport(url));
            }
        }
    }

    /// The request outstanding could not be sent or answered (DNS, TCP, TLS).
    pub fn handle_transport_error(&mut self, now: Instant) {
        if let Some((url, _)) = &self.current {
            let url = url.clone();
            self.fail(now, AutodiscoverFailure::Transport(url));
        }
    }

    /// The answer to the request outstanding.
    pub fn handle_response(&mut self, now: Instant, resp: &HttpResponse) {
        let Some((url, _)) = self.current.take() else {
            return;
        };
        if resp.status != 200 {
            self.fail(now, AutodiscoverFailure::Status(resp.status, url));
            return;
        }
        let doc = match Document::parse(&resp.body) {
            Ok(d) => d,
            Err(e) => {
                self.fail(now, AutodiscoverFailure::BadDocument(url, e));
                return;
            }
        };
        // 3.1.5.2 / 3.1.5.3: a Redirect link names the next hop, in Root and User alike.
        if let Some(next) = doc.link("Redirect") {
            let next = next.to_string();
            let stage = if doc.kind == ResourceKind::User {
                Stage::User
            } else {
                Stage::Root
            };
            self.follow(now, next, stage);
            return;
        }
        match doc.kind {
            ResourceKind::Root => match doc.link("User") {
                // 3.1.5.3: the User URL MUST come from the Root's Link href.
                Some(u) => {
                    let u = u.to_string();
                    self.follow(now, u, Stage::User)
                }
                None => self.fail(now, AutodiscoverFailure::NoUserLink(url)),
            },
            ResourceKind::User => {
                let (first, second) = if self.internal {
                    (&doc.sip_internal, &doc.sip_external)
                } else {
                    (&doc.sip_external, &doc.sip_internal)
                };
                match first.as_ref().or(second.as_ref()) {
                    Some(a) => self.finish(AutodiscoverEvent::Found(HomeServer {
                        host: a.fqdn.clone(),
                        port: a.port,
                        transport: Transport::Tls,
                    })),
                    None => self.fail(now, AutodiscoverFailure::NoSipAccess),
                }
            }
        }
    }

    fn follow(&mut self, now: Instant, url: String, stage: Stage) {
        if self.hops == MAX_HOPS {
            self.finish(AutodiscoverEvent::Fallback(AutodiscoverFailure::HopLimit));
            return;
        }
        // 3.1.5.2: only HTTP Root resources answer over HTTP, and only with a Redirect;
        // what we follow must be https.
        if !url.starts_with("https://") || split_url(&url).is_none() {
            self.finish(AutodiscoverEvent::Fallback(AutodiscoverFailure::Insecure(
                url.chars().take(256).collect(),
            )));
            return;
        }
        if !self.visited.insert(url_key(&url)) {
            self.finish(AutodiscoverEvent::Fallback(AutodiscoverFailure::Loop(
                url.chars().take(256).collect(),
            )));
            return;
        }
        self.hops += 1;
        self.stage = stage;
        self.send(now, url);
    }

    fn next_entry(&mut self, now: Instant) {
        match self.entries.pop_front() {
            Some(url) => {
                self.internal = url.contains("://lyncdiscoverinternal.");
                self.stage = Stage::Entry;
                self.hops = 0;
                self.visited.clear();
                self.visited.insert(url_key(&url));
                self.send(now, url);
            }
            None => {
                let f = self
                    .last_failure
                    .take()
                    .unwrap_or(AutodiscoverFailure::NoService);
                self.finish(AutodiscoverEvent::Fallback(f));
            }
        }
    }

    fn send(&mut self, now: Instant, url: String) {
        let mut headers = vec![("Accept".to_string(), ACCEPT.to_string())];
        if self.stage == Stage::User {
            if let Some(a) = &self.cfg.authorization {
                headers.push(("Authorization".to_string(), a.clone()));
            }
        }
        self.out.push_back(HttpRequest {
            method: "GET".into(),
            url: url.clone(),
            headers,
            body: Vec::new(),
        });
        self.requests += 1;
        self.current = Some((url, now + self.cfg.request_timeout));
    }

    /// A step failed: at an entry point, try the next one; later in a chain, give up.
    fn fail(&mut self, now: Instant, f: AutodiscoverFailure) {
        self.current = None;
        if self.stage == Stage::Entry {
            // Keep the most telling reason: an answer beats silence.
            let silent = matches!(f, AutodiscoverFailure::Transport(_));
            if self.last_failure.is_none() || !silent {
                self.last_failure = Some(f);
            }
            self.next_entry(now);
        } else {
            self.finish(AutodiscoverEvent::Fallback(f));
        }
    }

    fn finish(&mut self, e: AutodiscoverEvent) {
        if self.done {
            return;
        }
        self.current = None;
        self.out.clear();
        self.done = true;
        self.events.push_back(e);
    }
}
