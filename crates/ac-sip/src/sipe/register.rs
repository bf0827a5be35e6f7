//! Skype for Business sign-in: registration with an [MS-SIPAE] NTLM security association
//! ([MS-SIPRE] REGISTER with epid and +sip.instance), sans-IO and shaped like
//! [`crate::register::Registration`]: the owner sends what [`SipeRegistration::poll_request`]
//! yields as a client transaction and feeds the final response back.
//!
//! Every REGISTER after the handshake is signed; a 2xx that does not carry a verifying
//! server signature is refused (section 3.2.5.2), and a second challenge after the
//! credentials were sent means they were rejected (manual 8.1: "Invalid address, username
//! or password").

use std::time::{Duration, Instant};

use crate::msg::{HeaderName, Message, MessageBuf, Method};
use crate::sipe::ntlm::ClientInput;
use crate::sipe::sipae::{ClientSa, NtlmChallenge, SaState};

/// What a line signs in with.
#[derive(Debug, Clone)]
pub struct SipeConfig {
    /// `sip:alice@contoso.com`.
    pub aor: String,
    /// `sip:contoso.com`.
    pub registrar: String,
    /// Our contact URI (`sip:192.0.2.5:5061;transport=tls`).
    pub contact: String,
    pub via_host: String,
    pub via_transport: String,
    /// NTLM user and domain (`CONTOSO\alice` split), password, workstation name.
    pub user: String,
    pub domain: String,
    pub password: String,
    pub workstation: String,
    /// Endpoint id ([MS-SIPRE] 2.2.3: `epid` on From) and the device's instance UUID.
    pub epid: String,
    pub instance: String,
    pub expires: u32,
    pub user_agent: String,
    pub retry_after: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SipeState {
    Idle,
    SigningIn,
    Registered { expires: u32 },
    Failed { code: u16, reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SipeEvent {
    Registered { expires: u32 },
    Failed { code: u16, reason: String },
}

#[derive(Debug, Clone)]
struct Ids(u64);

impl Ids {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        for c in out.chunks_mut(8) {
            let v = self.next().to_le_bytes();
            c.copy_from_slice(&v[..c.len()]);
        }
        out
    }
}

#[derive(Debug)]
pub struct SipeRegistration {
    cfg: SipeConfig,
    ids: Ids,
    call_id: String,
    from_tag: String,
    cseq: u32,
    state: SipeState,
    sa: Option<ClientSa>,
    /// Set once the AUTHENTICATE went out: a further challenge is a refusal.
    answered: bool,
    /// FILETIME for the NTLMv2 blob, from the owner's wall clock.
    filetime: u64,
    outgoing: Option<Vec<u8>>,
    refresh_at: Option<Instant>,
    retry_at: Option<Instant>,
    events: Vec<SipeEvent>,
}

fn refresh_delay(expires: u32) -> Duration {
    let e = expires as u64;
    let margin = (e / 10).max(5).min(e / 2);
    Duration::from_secs(e - margin)
}

impl SipeRegistration {
    /// `seed` from the system's entropy; `filetime` the wall clock as a Windows FILETIME.
    pub fn new(cfg: SipeConfig, seed: u64, filetime: u64) -> SipeRegistration {
        let mut ids = Ids(seed);
        let call_id = format!("{:016x}{:016x}", ids.next(), ids.next());
        let from_tag = format!("{:010x}", ids.next() & 0xff_ffff_ffff);
        SipeRegistration {
            cfg,
            ids,
            call_id,
            from_tag,
            cseq: 0,
            state: SipeState::Idle,
            sa: None,
            answered: false,
            filetime,
            outgoing: None,
            refresh_at: None,
            retry_at: None,
            events: Vec::new(),
        }
    }

    pub fn state(&self) -> &SipeState {
        &self.state
    }

    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// The security association, once established (other dialogs sign with it).
    pub fn sa_mut(&mut self) -> Option<&mut ClientSa> {
        self.sa
            .as_mut()
            .filter(|s| s.state() == SaState::Established)
    }

    pub fn register(&mut self, _now: Instant) {
        self.state = SipeState::SigningIn;
        self.send();
    }

    fn send(&mut self) {
        self.cseq += 1;
        let mut b = MessageBuf::request(Method::Register, &self.cfg.registrar);
        b.push(
            HeaderName::Via,
            format!(
                "SIP/2.0/{} {};branch=z9hG4bK{:016x}",
                self.cfg.via_transport,
                self.cfg.via_host,
                self.ids.next()
            ),
        );
        b.push(HeaderName::MaxForwards, "70");
        // [MS-SIPRE] 2.2.3: the endpoint id rides on From.
        b.push(
            HeaderName::From,
            format!(
                "<{}>;tag={};epid={}",
                self.cfg.aor, self.from_tag, self.cfg.epid
            ),
        );
        b.push(HeaderName::To, format!("<{}>", self.cfg.aor));
        b.push(HeaderName::CallId, self.call_id.clone());
        b.push(HeaderName::CSeq, format!("{} REGISTER", self.cseq));
        b.push(
            HeaderName::Contact,
            format!(
                "<{}>;methods=\"INVITE, MESSAGE, INFO, SUBSCRIBE, OPTIONS, BYE, CANCEL, NOTIFY, ACK, REFER, BENOTIFY\";proxy=replace;+sip.instance=\"<urn:uuid:{}>\"",
                self.cfg.contact, self.cfg.instance
            ),
        );
        b.push(HeaderName::Expires, self.cfg.expires.to_string());
        b.push(
            HeaderName::Supported,
            "gruu-10, adhoclist, msrtc-event-categories",
        );
        b.push(HeaderName::Supported, "ms-forking");
        b.push(HeaderName::MsKeepAlive, "UAC;hop-hop=yes");
        b.push(HeaderName::Event, "registration");
        if !self.cfg.user_agent.is_empty() {
            b.push(HeaderName::UserAgent, self.cfg.user_agent.clone());
        }
        if let Some(sa) = self.sa.as_mut() {
            let bare = b.to_bytes();
            let crand = self.ids.next() as u32;
            let signed = Message::parse(&bare)
                .ok()
                .and_then(|m| sa.credentials(&m, crand).ok());
            if let Some(c) = signed {
                b.push(sa.header(), c);
            }
        }
        self.outgoing = Some(b.to_bytes());
    }

    pub fn poll_request(&mut self) -> Option<Vec<u8>> {
        self.outgoing.take()
    }

    pub fn poll_event(&mut self) -> Option<SipeEvent> {
        (!self.events.is_empty()).then(|| self.events.remove(0))
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.refresh_at, self.retry_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        let due = |t: Option<Instant>| t.is_some_and(|t| t <= now);
        if due(self.refresh_at) {
            // Refresh inside the existing association (re-authentication happens only
            // when the server challenges again).
            self.refresh_at = None;
            self.send();
        } else if due(self.retry_at) {
            self.retry_at = None;
            self.sa = None;
            self.answered = false;
            self.state = SipeState::SigningIn;
            self.send();
        }
    }

    fn fail(&mut self, now: Instant, code: u16, reason: String) {
        self.state = SipeState::Failed {
            code,
            reason: reason.clone(),
        };
        self.events.push(SipeEvent::Failed { code, reason });
        self.retry_at = Some(now + self.cfg.retry_after);
    }

    /// The transaction failed without a response (timeout, transport error): the manual's
    /// Table 2-9 "Failed to connect to Lync server".
    pub fn handle_failure(&mut self, now: Instant, code: u16) {
        self.fail(now, code, crate::sipe::diagnostics::CANNOT_CONNECT.into());
    }

    pub fn handle_response(&mut self, now: Instant, data: &[u8]) {
        let Ok(m) = Message::parse(data) else {
            return;
        };
        let Some(code) = m.status() else { return };
        if code < 200
            || m.call_id().ok() != Some(self.call_id.as_str())
            || m.cseq().map(|c| c.seq).ok() != Some(self.cseq)
        {
            return;
        }
        match code {
            200..=299 => {
                let verified = self.sa.as_mut().map(|sa| sa.verify(&m));
                match verified {
                    Some(Ok(true)) => {}
                    Some(Ok(false)) => {
                        return self.fail(now, code, "unsigned response from the server".into())
                    }
                    Some(Err(e)) => return self.fail(now, code, format!("server signature: {e}")),
                    None => {
                        return self.fail(now, code, "registered without authentication".into())
                    }
                }
                let expires = m
                    .contacts()
                    .ok()
                    .and_then(|cs| cs.iter().find_map(|c| c.expires()))
                    .or(m.expires().ok().flatten())
                    .unwrap_or(self.cfg.expires)
                    .max(1);
                self.answered = false;
                self.state = SipeState::Registered { expires };
                self.refresh_at = Some(now + refresh_delay(expires));
                self.events.push(SipeEvent::Registered { expires });
            }
            401 | 407 => {
                let name = if code == 401 {
                    HeaderName::WwwAuthenticate
                } else {
                    HeaderName::ProxyAuthenticate
                };
                let Some(ch) = m.fields(name).find_map(|v| NtlmChallenge::parse(v).ok()) else {
                    return self.fail(now, code, "no NTLM challenge".into());
                };
                match (ch.gssapi_data.is_some(), self.answered) {
                    (true, false) => {
                        let sa = self
                            .sa
                            .get_or_insert_with(|| ClientSa::new(&ch, code == 407));
                        let input = ClientInput {
                            user: &self.cfg.user,
                            domain: &self.cfg.domain,
                            password: &self.cfg.password,
                            workstation: &self.cfg.workstation,
                            client_challenge: self.ids.bytes(),
                            random_session_key: self.ids.bytes(),
                            time: self.filetime,
                            v2: true,
                            version: [6, 1, 0xb1, 0x1d, 0, 0, 0, 15],
                        };
                        if let Err(e) = sa.handle_challenge(&ch, &input) {
                            return self.fail(now, code, format!("NTLM: {e}"));
                        }
                        self.answered = true;
                        self.send();
                    }
                    (false, false) => {
                        // First challenge, or the server asks to re-authenticate.
                        self.sa = Some(ClientSa::new(&ch, code == 407));
                        self.send();
                    }
                    (_, true) => {
                        // Challenged again after our credentials: they were refused.
                        self.sa = None;
                        self.answered = false;
                        self.fail(now, code, "Invalid address, username or password".into());
                    }
                }
            }
            _ => {
                // The manual's notification for the failure when it has one (Table 2-9,
                // section 8), with the ms-diagnostics reason after it; else the reason
                // phrase.
                let reason = match crate::sipe::diagnostics::notification(&m) {
                    Some(n) => match n.diagnostics {
                        Some((c, r)) if !r.is_empty() => format!("{} ({c}: {r})", n.text),
                        _ => n.text.to_string(),
                    },
                    None => match &m.start {
                        crate::msg::StartLine::Response { reason, .. } => reason.to_string(),
                        _ => String::new(),
                    },
                };
                self.fail(now, code, reason);
            }
        }
    }
}
