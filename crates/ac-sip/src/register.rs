//! Registration client (RFC 3261 section 10), sans-IO: REGISTER with Digest authentication
//! (RFC 2617 / RFC 7616, MD5 and SHA-256), refresh before expiry, 423 Interval Too Brief,
//! unregistration, retry after failures. One [`Registration`] per line.
//!
//! The owner sends what [`Registration::poll_request`] yields as a client transaction and
//! feeds back the final response ([`Registration::handle_response`]) or the transaction's
//! failure ([`Registration::handle_failure`]).

use std::time::{Duration, Instant};

use crate::auth::{authorization, Algorithm, AuthParams, DigestInput};
use crate::msg::{Contact, HeaderName, Message, MessageBuf, Method};
use crate::uri::Uri;

/// What a line registers.
#[derive(Debug, Clone)]
pub struct RegistrationConfig {
    /// Address of record, `sip:alice@example.com`.
    pub aor: String,
    /// Request-URI: the registrar's domain, `sip:example.com` (RFC 3261 10.2).
    pub registrar: String,
    /// Our contact URI, `sip:alice@192.0.2.5:5060;transport=tcp`.
    pub contact: String,
    /// Via sent-by and transport token, e.g. (`192.0.2.5:5060`, `UDP`).
    pub via_host: String,
    pub via_transport: String,
    pub username: String,
    pub password: String,
    /// Requested registration lifetime, seconds.
    pub expires: u32,
    pub user_agent: String,
    /// Wait after a failure before trying again.
    pub retry_after: Duration,
    /// Extra Route header (outbound proxy with `;lr`), if any.
    pub route: Option<String>,
}

/// Where the registration stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegState {
    Idle,
    Registering,
    Registered { expires: u32 },
    Unregistering,
    Unregistered,
    Failed { code: u16, reason: String },
}

/// Reported to the owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegEvent {
    Registered {
        expires: u32,
    },
    Unregistered,
    /// Final failure of one attempt (a retry is scheduled unless it was an unregister).
    Failed {
        code: u16,
        reason: String,
    },
}

/// Small deterministic generator for tags, branches and cnonces; the owner seeds it from
/// the system's entropy (the core reads none).
#[derive(Debug, Clone)]
struct Ids(u64);

impl Ids {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9E3779B97F4A7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
        z ^ (z >> 31)
    }

    fn token(&mut self) -> String {
        format!("{:016x}", self.next())
    }
}

#[derive(Debug, Clone)]
struct Challenge {
    value: String,
    proxy: bool,
    nc: u32,
}

#[derive(Debug)]
pub struct Registration {
    cfg: RegistrationConfig,
    ids: Ids,
    call_id: String,
    from_tag: String,
    cseq: u32,
    state: RegState,
    /// The expiry to ask for next (raised by 423).
    want_expires: u32,
    challenge: Option<Challenge>,
    /// Credentials were already sent for the current nonce (a second 401 means the
    /// password is wrong, unless stale=true).
    answered_nonce: Option<String>,
    outgoing: Option<Vec<u8>>,
    in_flight: bool,
    unregistering: bool,
    refresh_at: Option<Instant>,
    retry_at: Option<Instant>,
    events: Vec<RegEvent>,
}

/// Refresh a little before the granted expiry: at 90 %, at least 5 s early (a common
/// phone behaviour; RFC 3261 leaves the margin to the UA).
fn refresh_delay(expires: u32) -> Duration {
    let e = expires as u64;
    let margin = (e / 10).max(5).min(e / 2);
    Duration::from_secs(e - margin)
}

impl Registration {
    pub fn new(cfg: RegistrationConfig, seed: u64) -> Registration {
        let mut ids = Ids(seed);
        let call_id = format!("{}@ac-sip", ids.token());
        let from_tag = ids.token();
        let want_expires = cfg.expires;
        Registration {
            cfg,
            ids,
            call_id,
            from_tag,
            cseq: 0,
            state: RegState::Idle,
            want_expires,
            challenge: None,
            answered_nonce: None,
            outgoing: None,
            in_flight: false,
            unregistering: false,
            refresh_at: None,
            retry_at: None,
            events: Vec::new(),
        }
    }

    /// Moves the line to another transport / local address (failover to a target of
    /// another transport, RFC 3263 4.3); the next REGISTER uses them.
    pub fn set_transport(&mut self, via_host: String, via_transport: String, contact: String) {
        self.cfg.via_host = via_host;
        self.cfg.via_transport = via_transport;
        self.cfg.contact = contact;
    }

    pub fn state(&self) -> &RegState {
        &self.state
    }

    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// Starts registering now.
    pub fn register(&mut self, _now: Instant) {
        self.unregistering = false;
        self.state = RegState::Registering;
        self.send_register();
    }

    /// Removes our binding (Expires: 0, RFC 3261 10.2.2).
    pub fn unregister(&mut self, _now: Instant) {
        self.unregistering = true;
        self.refresh_at = None;
        self.retry_at = None;
        self.state = RegState::Unregistering;
        self.send_register();
    }

    fn send_register(&mut self) {
        self.cseq += 1;
        let expires = if self.unregistering {
            0
        } else {
            self.want_expires
        };
        let mut b = MessageBuf::request(Method::Register, &self.cfg.registrar);
        b.push(
            HeaderName::Via,
            format!(
                "SIP/2.0/{} {};branch=z9hG4bK{};rport",
                self.cfg.via_transport,
                self.cfg.via_host,
                self.ids.token()
            ),
        );
        b.push(HeaderName::MaxForwards, "70");
        if let Some(r) = &self.cfg.route {
            b.push(HeaderName::Route, r.clone());
        }
        b.push(
            HeaderName::From,
            format!("<{}>;tag={}", self.cfg.aor, self.from_tag),
        );
        b.push(HeaderName::To, format!("<{}>", self.cfg.aor));
        b.push(HeaderName::CallId, self.call_id.clone());
        b.push(HeaderName::CSeq, format!("{} REGISTER", self.cseq));
        b.push(HeaderName::Contact, format!("<{}>", self.cfg.contact));
        b.push(HeaderName::Expires, expires.to_string());
        b.push(HeaderName::Allow, "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, NOTIFY, REFER, PRACK, UPDATE, MESSAGE, SUBSCRIBE");
        if !self.cfg.user_agent.is_empty() {
            b.push(HeaderName::UserAgent, self.cfg.user_agent.clone());
        }
        if let Some(ch) = self.challenge.as_mut() {
            ch.nc += 1;
            let nc = ch.nc;
            let (value, proxy) = (ch.value.clone(), ch.proxy);
            let cnonce = self.ids.token();
            if let Ok(p) = AuthParams::parse(&value) {
                let input = DigestInput {
                    username: &self.cfg.username,
                    password: &self.cfg.password,
                    method: "REGISTER",
                    uri: &self.cfg.registrar,
                    body: b"",
                    cnonce: &cnonce,
                    nc,
                };
                if let Ok(a) = authorization(&p, &input) {
                    let name = if proxy {
                        HeaderName::ProxyAuthorization
                    } else {
                        HeaderName::Authorization
                    };
                    b.push(name, a);
                    self.answered_nonce = p.get("nonce").map(str::to_string);
                }
            }
        }
        self.outgoing = Some(b.to_bytes());
        self.in_flight = true;
    }

    /// The next REGISTER to send (as a new client transaction).
    pub fn poll_request(&mut self) -> Option<Vec<u8>> {
        self.outgoing.take()
    }

    pub fn poll_event(&mut self) -> Option<RegEvent> {
        if self.events.is_empty() {
            None
        } else {
            Some(self.events.remove(0))
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.refresh_at, self.retry_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.refresh_at.is_some_and(|t| t <= now) || self.retry_at.is_some_and(|t| t <= now) {
            self.refresh_at = None;
            self.retry_at = None;
            if !self.in_flight {
                if !matches!(self.state, RegState::Registered { .. }) {
                    self.state = RegState::Registering;
                }
                self.send_register();
            }
        }
    }

    fn fail(&mut self, now: Instant, code: u16, reason: String) {
        self.in_flight = false;
        self.state = RegState::Failed {
            code,
            reason: reason.clone(),
        };
        self.events.push(RegEvent::Failed { code, reason });
        if !self.unregistering {
            self.retry_at = Some(now + self.cfg.retry_after);
        }
    }

    /// The transaction ended without a final response (timer F, transport error).
    pub fn handle_failure(&mut self, now: Instant, code: u16) {
        let reason = if code == 408 {
            "Request Timeout"
        } else {
            "Transport Error"
        };
        self.fail(now, code, reason.to_string());
    }

    /// A response to our REGISTER (provisional responses are ignored).
    pub fn handle_response(&mut self, now: Instant, data: &[u8]) {
        let Ok(m) = Message::parse(data) else {
            return;
        };
        let Some(code) = m.status() else {
            return;
        };
        if code < 200 {
            return;
        }
        if m.call_id().ok() != Some(self.call_id.as_str())
            || m.cseq().map(|c| c.seq).ok() != Some(self.cseq)
        {
            return;
        }
        self.in_flight = false;
        let reason = match &m.start {
            crate::msg::StartLine::Response { reason, .. } => reason.to_string(),
            _ => String::new(),
        };
        match code {
            200..=299 => {
                if self.unregistering {
                    self.state = RegState::Unregistered;
                    self.events.push(RegEvent::Unregistered);
                    return;
                }
                // RFC 3261 10.2.4: our binding's expiry is in its Contact's expires
                // parameter, else the Expires header.
                let ours = Uri::parse(&self.cfg.contact).ok();
                let mut granted = None;
                if let Ok(cs) = m.contacts() {
                    for c in &cs {
                        if let (Contact::Addr(a), Some(Uri::Sip(o))) = (c, ours.as_ref()) {
                            if let Uri::Sip(u) = &a.uri {
                                if u.equivalent(o)
                                    || (u.user == o.user
                                        && u.host.eq_ignore_ascii_case(o.host)
                                        && u.port == o.port)
                                {
                                    granted = c.expires();
                                }
                            }
                        }
                    }
                }
                let expires = granted
                    .or(m.expires().ok().flatten())
                    .unwrap_or(self.want_expires)
                    .max(1);
                self.state = RegState::Registered { expires };
                self.refresh_at = Some(now + refresh_delay(expires));
                self.events.push(RegEvent::Registered { expires });
            }
            401 | 407 => {
                let name = if code == 401 {
                    HeaderName::WwwAuthenticate
                } else {
                    HeaderName::ProxyAuthenticate
                };
                // Pick the strongest Digest challenge offered (RFC 8760 section 2.4).
                let best = m
                    .fields(name)
                    .filter_map(|v| {
                        let p = AuthParams::parse(v).ok()?;
                        if !p.is_digest() {
                            return None;
                        }
                        let alg = Algorithm::parse(p.get("algorithm"))?;
                        Some((
                            alg.strength(),
                            v.to_string(),
                            p.get("nonce").map(str::to_string),
                            p.get("stale")
                                .is_some_and(|s| s.eq_ignore_ascii_case("true")),
                        ))
                    })
                    .max_by_key(|x| x.0);
                let Some((_, value, nonce, stale)) = best else {
                    self.fail(now, code, "no usable Digest challenge".into());
                    return;
                };
                // Same nonce already answered and not stale: the credentials are wrong.
                if self.answered_nonce.is_some() && self.answered_nonce == nonce && !stale {
                    self.challenge = None;
                    self.answered_nonce = None;
                    self.fail(now, code, format!("{reason} (credentials refused)"));
                    return;
                }
                self.challenge = Some(Challenge {
                    value,
                    proxy: code == 407,
                    nc: 0,
                });
                self.send_register();
            }
            423 => {
                // RFC 3261 10.2.8: retry with at least Min-Expires.
                match m.min_expires().ok().flatten() {
                    Some(min) if min > self.want_expires => {
                        self.want_expires = min;
                        self.send_register();
                    }
                    _ => self.fail(now, code, reason),
                }
            }
            _ => {
                if let Some(Ok(ra)) = m
                    .first(HeaderName::RetryAfter)
                    .map(crate::msg::TokenParams::parse)
                {
                    if let Some(s) = crate::lex::decimal::<u64>(ra.value) {
                        self.cfg.retry_after = Duration::from_secs(s.clamp(1, 3600));
                    }
                }
                self.fail(now, code, reason);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::verify;
    use crate::msg::response_to;

    fn cfg() -> RegistrationConfig {
        RegistrationConfig {
            aor: "sip:alice@example.com".into(),
            registrar: "sip:example.com".into(),
            contact: "sip:alice@192.0.2.5:5060".into(),
            via_host: "192.0.2.5:5060".into(),
            via_transport: "UDP".into(),
            username: "alice".into(),
            password: "secret".into(),
            expires: 3600,
            user_agent: "ac-phone".into(),
            retry_after: Duration::from_secs(30),
            route: None,
        }
    }

    /// A registrar in a few lines: challenges, checks the password, grants min(expires, 600)
    /// and asks for at least 60 s.
    fn registrar(req: &[u8], password: &str, nonce: &str) -> Vec<u8> {
        let m = Message::parse(req).unwrap();
        let Some(cred) = m.first(HeaderName::Authorization) else {
            let mut r = response_to(&m, 401, Some("srv"));
            r.push(
                HeaderName::WwwAuthenticate,
                format!(
                    "Digest realm=\"example.com\", nonce=\"{nonce}\", qop=\"auth\", algorithm=MD5"
                ),
            );
            r.push(HeaderName::WwwAuthenticate, format!("Digest realm=\"example.com\", nonce=\"{nonce}\", qop=\"auth\", algorithm=SHA-256"));
            return r.to_bytes();
        };
        let c = AuthParams::parse(cred).unwrap();
        assert_eq!(
            c.get("algorithm"),
            Some("SHA-256"),
            "the stronger algorithm is chosen"
        );
        if c.get("nonce") != Some(nonce) || !verify(&c, password, "REGISTER", b"") {
            let mut r = response_to(&m, 401, Some("srv"));
            r.push(HeaderName::WwwAuthenticate, format!("Digest realm=\"example.com\", nonce=\"{nonce}\", qop=\"auth\", algorithm=SHA-256"));
            return r.to_bytes();
        }
        let e = m.expires().unwrap().unwrap();
        if e != 0 && e < 60 {
            let mut r = response_to(&m, 423, Some("srv"));
            r.push(HeaderName::MinExpires, "60");
            return r.to_bytes();
        }
        let mut r = response_to(&m, 200, Some("srv"));
        r.push(
            HeaderName::Contact,
            format!("<sip:alice@192.0.2.5:5060>;expires={}", e.min(600)),
        );
        r.to_bytes()
    }

    #[test]
    fn challenge_register_refresh_unregister() {
        let now = Instant::now();
        let mut r = Registration::new(cfg(), 7);
        r.register(now);
        let first = r.poll_request().unwrap();
        r.handle_response(now, &registrar(&first, "secret", "n1"));
        let second = r.poll_request().expect("answers the challenge");
        assert_eq!(Message::parse(&second).unwrap().cseq().unwrap().seq, 2);
        r.handle_response(now, &registrar(&second, "secret", "n1"));
        assert_eq!(r.poll_event(), Some(RegEvent::Registered { expires: 600 }));
        // Refresh at 90 % of 600 s, with the same Call-ID and a higher CSeq (10.2.4).
        assert_eq!(r.poll_timeout(), Some(now + Duration::from_secs(540)));
        r.handle_timeout(now + Duration::from_secs(540));
        let refresh = r.poll_request().unwrap();
        let m = Message::parse(&refresh).unwrap();
        assert_eq!(m.call_id().unwrap(), r.call_id());
        assert_eq!(m.cseq().unwrap().seq, 3);
        assert!(
            m.first(HeaderName::Authorization).is_some(),
            "credentials reused"
        );
        r.handle_response(now, &registrar(&refresh, "secret", "n1"));
        assert_eq!(r.poll_event(), Some(RegEvent::Registered { expires: 600 }));
        r.unregister(now);
        let un = r.poll_request().unwrap();
        assert_eq!(Message::parse(&un).unwrap().expires().unwrap(), Some(0));
        r.handle_response(now, &registrar(&un, "secret", "n1"));
        assert_eq!(r.poll_event(), Some(RegEvent::Unregistered));
    }

    #[test]
    fn wrong_password_fails_cleanly_and_retries_later() {
        let now = Instant::now();
        let mut c = cfg();
        c.password = "wrong".into();
        let mut r = Registration::new(c, 8);
        r.register(now);
        let a = r.poll_request().unwrap();
        r.handle_response(now, &registrar(&a, "secret", "n2"));
        let b = r.poll_request().unwrap();
        r.handle_response(now, &registrar(&b, "secret", "n2"));
        assert!(r.poll_request().is_none(), "no loop of REGISTERs");
        assert!(matches!(
            r.poll_event(),
            Some(RegEvent::Failed { code: 401, .. })
        ));
        assert_eq!(r.poll_timeout(), Some(now + Duration::from_secs(30)));
    }

    #[test]
    fn interval_too_brief_raises_expires() {
        let now = Instant::now();
        let mut c = cfg();
        c.expires = 30;
        let mut r = Registration::new(c, 9);
        r.register(now);
        let a = r.poll_request().unwrap();
        r.handle_response(now, &registrar(&a, "secret", "n3"));
        let b = r.poll_request().unwrap();
        r.handle_response(now, &registrar(&b, "secret", "n3"));
        let c3 = r.poll_request().expect("retries after 423");
        assert_eq!(Message::parse(&c3).unwrap().expires().unwrap(), Some(60));
        r.handle_response(now, &registrar(&c3, "secret", "n3"));
        assert_eq!(r.poll_event(), Some(RegEvent::Registered { expires: 60 }));
    }
}
