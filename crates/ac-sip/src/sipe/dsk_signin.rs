//! Skype for Business sign-in with a certificate: Certificate Provisioning
//! ([`super::certprov`]) with extension + PIN, user credentials or an OAuth token, then
//! REGISTER with a TLS-DSK security association ([`super::tlsdsk`]), sans-IO like
//! [`super::register::SipeRegistration`]: the owner POSTs what [`DskSignIn::poll_http`]
//! yields and feeds the answer to [`DskSignIn::handle_http_response`], sends what
//! [`DskSignIn::poll_request`] yields as a REGISTER client transaction and feeds the final
//! response to [`DskSignIn::handle_response`].
//!
//! * Which credentials may be offered follows `lync/sign_in/method` (the order of the
//!   options, manual 2.2.5.4) and `lync/sign_in/pin_code_only` (manual 2.2.5.6: only
//!   extension + PIN), defaults from [`ac_cfg::schema`].
//! * The Certificate Provisioning URL is the configured one (DHCP option 43, manual
//!   2.1.1.1; `ac_prov::dhcp` builds it) or else the `sts-uri` of the server's TLS-DSK
//!   challenge. With extension + PIN the phone does not know its SIP URI before: it takes
//!   it from the issued certificate.
//! * Re-authentication before expiry: the certificate is renewed when 80 % of its
//!   lifetime (notAfter - notBefore, so a phone clock that is still wrong does not
//!   matter) has passed, and the association is then set up anew with the new
//!   certificate. REGISTER refreshes at 90 % of the granted expiry inside the association.
//! * Refused credentials (a SOAP fault or HTTP 401/403 from the service, or a fresh
//!   challenge after our signed REGISTER) end in the manual's "Invalid address, username
//!   or password" (8.1) without automatic retry (retrying a wrong PIN could lock the
//!   account); other failures retry after `retry_after`. A renewal that fails while
//!   registered is reported and leaves the registration standing (retried after
//!   `retry_after` unless the credentials were refused).

use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::msg::{HeaderName, Message, MessageBuf, Method};
use crate::sipe::certprov::{self, CertProvResponse, Credentials, HttpRequest, HttpResponse};
use crate::sipe::diagnostics;
use crate::sipe::tlsdsk::{client_config, ClientDskSa, DskParams, DskState};

/// One sign-in option of the phone's screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInMethod {
    /// Sign-in address, user name and password.
    UserCredentials,
    /// Extension (phone number) and PIN.
    ExtensionPin,
}

/// `lync/sign_in/method` and `lync/sign_in/pin_code_only`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignInPolicy {
    /// `NUMBER_AND_PIN`: the PIN option comes first.
    pub pin_first: bool,
    /// Only extension + PIN.
    pub pin_code_only: bool,
}

impl SignInPolicy {
    /// From the two parameters' values as a configuration file writes them.
    pub fn from_values(method: &str, pin_code_only: &str) -> SignInPolicy {
        SignInPolicy {
            pin_first: method.trim() == "NUMBER_AND_PIN",
            pin_code_only: pin_code_only.trim() == "1",
        }
    }

    /// The defaults from [`ac_cfg::schema`].
    pub fn from_schema() -> SignInPolicy {
        let d = |key: &str| -> &'static str {
            match ac_cfg::schema::Schema::get().lookup(key, None) {
                ac_cfg::schema::Lookup::Found(d, i) => d.default_for(None, i.as_slice()),
                _ => "",
            }
        };
        SignInPolicy::from_values(d("lync/sign_in/method"), d("lync/sign_in/pin_code_only"))
    }

    /// The options the phone offers, in screen order.
    pub fn offered(&self) -> Vec<SignInMethod> {
        match (self.pin_code_only, self.pin_first) {
            (true, _) => vec![SignInMethod::ExtensionPin],
            (false, true) => vec![SignInMethod::ExtensionPin, SignInMethod::UserCredentials],
            (false, false) => vec![SignInMethod::UserCredentials, SignInMethod::ExtensionPin],
        }
    }

    /// Whether `c` may be used. An OAuth token (online sign-in) counts as user
    /// credentials: manual 2.2.5.6 leaves only extension + PIN with `pin_code_only`.
    pub fn allows(&self, c: &Credentials) -> bool {
        let m = match c {
            Credentials::Pin { .. } => SignInMethod::ExtensionPin,
            _ => SignInMethod::UserCredentials,
        };
        self.offered().contains(&m)
    }
}

#[derive(Debug, Clone)]
pub struct DskConfig {
    /// `sip:alice@contoso.com`; `None` to take it from the issued certificate (PIN).
    pub aor: Option<String>,
    pub registrar: String,
    pub contact: String,
    pub via_host: String,
    pub via_transport: String,
    pub epid: String,
    pub instance: String,
    pub expires: u32,
    pub user_agent: String,
    pub retry_after: Duration,
    pub credentials: Credentials,
    pub policy: SignInPolicy,
    /// The Certificate Provisioning URL (DHCP option 43), else the challenge's `sts-uri`.
    pub certprov_url: Option<String>,
    /// `{uuid}` for `DeviceId`.
    pub device_id: String,
    /// Trust roots for the SIP server's TLS certificate.
    pub roots: Vec<CertificateDer<'static>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DskSignInState {
    Idle,
    Provisioning,
    SigningIn,
    Registered { expires: u32 },
    Failed { code: u16, reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DskEvent {
    /// A certificate arrived (first or renewed): its SIP URI and lifetime in seconds.
    Certificate {
        sip_uri: String,
        lifetime: u64,
    },
    Registered {
        expires: u32,
    },
    Failed {
        code: u16,
        reason: String,
    },
}

struct Cert {
    chain: Vec<CertificateDer<'static>>,
    key: Vec<u8>,
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
}

pub struct DskSignIn {
    cfg: DskConfig,
    ids: Ids,
    aor: Option<String>,
    call_id: String,
    from_tag: String,
    cseq: u32,
    state: DskSignInState,
    cert: Option<Cert>,
    pending_key: Option<rcgen::KeyPair>,
    sts_uri: Option<String>,
    sa: Option<ClientDskSa>,
    http_out: Option<HttpRequest>,
    http_busy: bool,
    sip_out: Option<Vec<u8>>,
    refresh_at: Option<Instant>,
    retry_at: Option<Instant>,
    renew_at: Option<Instant>,
    /// A renewal is under way while registered: its failure keeps the registration.
    renewing: bool,
    events: Vec<DskEvent>,
}

impl std::fmt::Debug for DskSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DskSignIn")
            .field("state", &self.state)
            .field("aor", &self.aor)
            .finish()
    }
}

fn refresh_delay(expires: u32) -> Duration {
    let e = expires as u64;
    let margin = (e / 10).max(5).min(e / 2);
    Duration::from_secs(e - margin)
}

impl DskSignIn {
    /// `seed` from the system's entropy (Call-ID, tags, `crand`; the key pairs come from
    /// ring's system RNG through rcgen).
    pub fn new(cfg: DskConfig, seed: u64) -> DskSignIn {
        let mut ids = Ids(seed);
        let call_id = format!("{:016x}{:016x}", ids.next(), ids.next());
        let from_tag = format!("{:010x}", ids.next() & 0xff_ffff_ffff);
        DskSignIn {
            aor: cfg.aor.clone(),
            cfg,
            ids,
            call_id,
            from_tag,
            cseq: 0,
            state: DskSignInState::Idle,
            cert: None,
            pending_key: None,
            sts_uri: None,
            sa: None,
            http_out: None,
            http_busy: false,
            sip_out: None,
            refresh_at: None,
            retry_at: None,
            renew_at: None,
            renewing: false,
            events: Vec::new(),
        }
    }

    pub fn state(&self) -> &DskSignInState {
        &self.state
    }

    /// The SIP URI signed in (configured, or from the certificate).
    pub fn aor(&self) -> Option<&str> {
        self.aor.as_deref()
    }

    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// The association, once established (other dialogs sign with it).
    pub fn sa_mut(&mut self) -> Option<&mut ClientDskSa> {
        self.sa
            .as_mut()
            .filter(|s| s.state() == DskState::Established)
    }

    pub fn register(&mut self, now: Instant) {
        if !self.cfg.policy.allows(&self.cfg.credentials) {
            self.state = DskSignInState::Failed {
                code: 0,
                reason: "sign-in method not allowed (lync/sign_in/pin_code_only)".into(),
            };
            self.events.push(DskEvent::Failed {
                code: 0,
                reason: "sign-in method not allowed (lync/sign_in/pin_code_only)".into(),
            });
            return;
        }
        self.state = DskSignInState::SigningIn;
        self.start(now);
    }

    fn start(&mut self, now: Instant) {
        self.sa = None;
        if self.cert.is_none() {
            if self.cfg.certprov_url.is_some() || self.sts_uri.is_some() {
                return self.provision(now);
            }
            if self.aor.is_none() {
                return self.fail(
                    now,
                    0,
                    "no Certificate Provisioning URL (DHCP option 43) and no sign-in address"
                        .into(),
                    false,
                );
            }
        }
        self.send();
    }

    fn provision(&mut self, now: Instant) {
        let Some(url) = self.cfg.certprov_url.clone().or(self.sts_uri.clone()) else {
            return self.fail(now, 0, "no Certificate Provisioning URL".into(), false);
        };
        let entity = match &self.cfg.credentials {
            Credentials::Pin { extension, .. } => extension.clone(),
            Credentials::User { user, .. } => user.clone(),
            Credentials::Bearer(_) => self.aor.clone().unwrap_or_default(),
        };
        let req = match certprov::new_cert_request(&entity) {
            Ok(r) => r,
            Err(e) => return self.fail(now, 0, format!("certificate request: {e}"), true),
        };
        let request_id = format!("urn:uuid:{:016x}{:016x}", self.ids.next(), self.ids.next());
        self.http_out = Some(certprov::build_request(
            &url,
            &self.cfg.device_id,
            &entity,
            &req.csr,
            &request_id,
            &self.cfg.credentials,
        ));
        self.http_busy = true;
        self.pending_key = Some(req.key);
        if !matches!(self.state, DskSignInState::Registered { .. }) {
            self.state = DskSignInState::Provisioning;
        }
    }

    /// The Certificate Provisioning request to POST, when one is due.
    pub fn poll_http(&mut self) -> Option<HttpRequest> {
        self.http_out.take()
    }

    /// The service's answer to the last [`Self::poll_http`] request.
    pub fn handle_http_response(&mut self, now: Instant, resp: &HttpResponse) {
        if !self.http_busy {
            return;
        }
        self.http_busy = false;
        let Some(key) = self.pending_key.take() else {
            return;
        };
        let parsed = CertProvResponse::parse(&resp.body);
        let der = match parsed {
            Ok(CertProvResponse::Issued { certificate, .. }) if resp.status == 200 => certificate,
            Ok(CertProvResponse::Fault { code, reason }) => {
                return self.fail(
                    now,
                    resp.status,
                    format!("{} ({code}: {reason})", diagnostics::INVALID_CREDENTIALS),
                    false,
                )
            }
            _ if matches!(resp.status, 401 | 403) => {
                return self.fail(
                    now,
                    resp.status,
                    diagnostics::INVALID_CREDENTIALS.into(),
                    false,
                )
            }
            Ok(_) => return self.fail(now, resp.status, diagnostics::CANNOT_CONNECT.into(), true),
            Err(e) => {
                return self.fail(
                    now,
                    resp.status,
                    format!(
                        "{} (certificate provisioning: {e})",
                        diagnostics::CANNOT_CONNECT
                    ),
                    true,
                )
            }
        };
        let info = match certprov::inspect(&der) {
            Ok(i) => i,
            Err(e) => return self.fail(now, 0, format!("issued certificate: {e}"), true),
        };
        let Some(sip_uri) = info.sip_uri.clone().or(self.aor.clone()) else {
            return self.fail(now, 0, "the certificate names no SIP URI".into(), true);
        };
        if let Some(a) = &self.aor {
            if !a.eq_ignore_ascii_case(&sip_uri) {
                return self.fail(
                    now,
                    0,
                    format!("the certificate is for {sip_uri}, not {a}"),
                    true,
                );
            }
        }
        self.aor = Some(sip_uri.clone());
        let lifetime = (info.not_after - info.not_before).max(60) as u64;
        self.renew_at = Some(now + Duration::from_secs(lifetime * 4 / 5));
        self.cert = Some(Cert {
            chain: vec![CertificateDer::from(der)],
            key: key.serialize_der(),
        });
        self.events
            .push(DskEvent::Certificate { sip_uri, lifetime });
        // A new certificate: a new association (re-authentication).
        self.sa = None;
        self.send();
    }

    /// The request got no answer (connection refused, timeout, TLS failure).
    pub fn handle_http_failure(&mut self, now: Instant) {
        if self.http_busy {
            self.http_busy = false;
            self.pending_key = None;
            self.fail(now, 408, diagnostics::CANNOT_CONNECT.into(), true);
        }
    }

    fn send(&mut self) {
        let Some(aor) = self.aor.clone() else { return };
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
            format!("<{aor}>;tag={};epid={}", self.from_tag, self.cfg.epid),
        );
        b.push(HeaderName::To, format!("<{aor}>"));
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
            let c = Message::parse(&bare)
                .ok()
                .and_then(|m| sa.credentials(&m, crand).ok());
            if let Some(c) = c {
                b.push(sa.header(), c);
            }
        }
        self.sip_out = Some(b.to_bytes());
    }

    pub fn poll_request(&mut self) -> Option<Vec<u8>> {
        self.sip_out.take()
    }

    pub fn poll_event(&mut self) -> Option<DskEvent> {
        (!self.events.is_empty()).then(|| self.events.remove(0))
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.refresh_at, self.retry_at, self.renew_at]
            .into_iter()
            .flatten()
            .min()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        let due = |t: Option<Instant>| t.is_some_and(|t| t <= now);
        if due(self.renew_at) {
            // Renew the certificate before it expires; the association follows.
            self.renew_at = None;
            self.renewing = matches!(self.state, DskSignInState::Registered { .. });
            self.provision(now);
        }
        if due(self.refresh_at) {
            self.refresh_at = None;
            self.send();
        }
        if due(self.retry_at) {
            self.retry_at = None;
            self.state = DskSignInState::SigningIn;
            self.start(now);
        }
    }

    fn fail(&mut self, now: Instant, code: u16, reason: String, retry: bool) {
        if std::mem::take(&mut self.renewing) {
            // The renewal failed while the registration (and its association) stands:
            // report it, keep registered, try again later unless the credentials were
            // refused.
            self.events.push(DskEvent::Failed { code, reason });
            self.renew_at = retry.then(|| now + self.cfg.retry_after);
            return;
        }
        self.state = DskSignInState::Failed {
            code,
            reason: reason.clone(),
        };
        self.sa = None;
        self.refresh_at = None;
        self.events.push(DskEvent::Failed { code, reason });
        self.retry_at = retry.then(|| now + self.cfg.retry_after);
    }

    /// The REGISTER transaction failed without a response.
    pub fn handle_failure(&mut self, now: Instant, code: u16) {
        self.fail(now, code, diagnostics::CANNOT_CONNECT.into(), true);
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
                        return self.fail(
                            now,
                            code,
                            "unsigned response from the server".into(),
                            true,
                        )
                    }
                    Some(Err(e)) => {
                        return self.fail(now, code, format!("server signature: {e}"), true)
                    }
                    None => {
                        return self.fail(
                            now,
                            code,
                            "registered without authentication".into(),
                            true,
                        )
                    }
                }
                let expires = m
                    .contacts()
                    .ok()
                    .and_then(|cs| cs.iter().find_map(|c| c.expires()))
                    .or(m.expires().ok().flatten())
                    .unwrap_or(self.cfg.expires)
                    .max(1);
                self.state = DskSignInState::Registered { expires };
                self.refresh_at = Some(now + refresh_delay(expires));
                self.events.push(DskEvent::Registered { expires });
            }
            401 | 407 => {
                let name = if code == 401 {
                    HeaderName::WwwAuthenticate
                } else {
                    HeaderName::ProxyAuthenticate
                };
                let Some(ch) = m.fields(name).find_map(|v| DskParams::parse(v).ok()) else {
                    return self.fail(now, code, "no TLS-DSK challenge".into(), true);
                };
                if ch.sts_uri.is_some() {
                    self.sts_uri = ch.sts_uri.clone();
                }
                match (&mut self.sa, ch.gssapi_data.is_some()) {
                    (Some(sa), true) if sa.state() == DskState::Handshaking => {
                        if let Err(e) = sa.handle_challenge(&ch) {
                            return self.fail(now, code, format!("TLS-DSK: {e}"), true);
                        }
                        self.send();
                    }
                    (Some(_), _) => {
                        // A fresh challenge after our handshake or signature: refused.
                        self.fail(now, code, diagnostics::INVALID_CREDENTIALS.into(), false);
                    }
                    (None, _) => {
                        let Some(cert) = &self.cert else {
                            return self.provision(now);
                        };
                        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key.clone()));
                        let sa = client_config(&self.cfg.roots, cert.chain.clone(), key).and_then(
                            |c: Arc<rustls::ClientConfig>| ClientDskSa::new(&ch, c, code == 407),
                        );
                        match sa {
                            Ok(sa) => {
                                self.sa = Some(sa);
                                self.send();
                            }
                            Err(e) => self.fail(now, code, format!("TLS-DSK: {e}"), true),
                        }
                    }
                }
            }
            _ => {
                let reason = match diagnostics::notification(&m) {
                    Some(n) => match n.diagnostics {
                        Some((c, r)) if !r.is_empty() => format!("{} ({c}: {r})", n.text),
                        _ => n.text.to_string(),
                    },
                    None => match &m.start {
                        crate::msg::StartLine::Response { reason, .. } => reason.to_string(),
                        _ => String::new(),
                    },
                };
                self.fail(now, code, reason, true);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_from_schema_and_values() {
        // Schema defaults: method DEFAULT (phone number first), pin_code_only 0.
        let p = SignInPolicy::from_schema();
        assert_eq!(
            p.offered(),
            vec![SignInMethod::UserCredentials, SignInMethod::ExtensionPin]
        );
        let pin = Credentials::Pin {
            extension: "1".into(),
            pin: "2".into(),
        };
        let user = Credentials::User {
            user: "a".into(),
            password: "b".into(),
        };
        assert!(p.allows(&pin) && p.allows(&user));
        let p = SignInPolicy::from_values("NUMBER_AND_PIN", "0");
        assert_eq!(p.offered()[0], SignInMethod::ExtensionPin);
        let p = SignInPolicy::from_values("DEFAULT", "1");
        assert_eq!(p.offered(), vec![SignInMethod::ExtensionPin]);
        assert!(p.allows(&pin));
        assert!(!p.allows(&user));
        assert!(!p.allows(&Credentials::Bearer("t".into())));
    }
}
