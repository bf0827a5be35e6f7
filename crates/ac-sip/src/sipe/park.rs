//! Call park and retrieve (manual 4.2) as [MS-SIPAPP] specifies it for the Call Park
//! Service (CPS): the `application/ms-call-park+xml` bodies and the parker's side, sans-IO.
//!
//! The parker sends the CPS an INVITE whose body is a `park-request` naming the call to
//! park. The CPS sends the parkee an INVITE with Replaces (RFC 3891) for that call, so the
//! parkee's call with the parker is replaced by one with the CPS (the parkee ends its leg
//! with the parker with BYE), and then answers the parker's INVITE with a 200 whose Contact
//! carries the `isCps` feature tag and whose body is a `park-response` with the orbit
//! (3.1.5.2). The parker shows the orbit; anyone retrieves the call by dialling it. The
//! parker-CPS dialog stays up: the CPS reports the end of the park on it with an INFO
//! carrying an `unpark-notification` (3.1.5.5: reason `hang-up` when the parkee hangs up;
//! 3.1.5.10: `drop` when the auto-ringback attempts ran out) and then BYE.
//!
//! What was readable of [MS-SIPAPP] here is 3.1.5.2, 3.1.5.5 and 3.1.5.10 (the element
//! and attribute names `park-request`, `park-response`, `unpark-notification`, `version`
//! = "1.0", `request-id`, `orbit`, `ms-parked-call`, `reason`, `target`, and the reason
//! values `hang-up` and `drop`) and the [MS-OCER] 7.25 ms-diagnostics codes 35000-35017.
//! Section 2's schema was not readable, so: the children of `park-request` (`parkee`: the
//! URI the CPS sends its INVITE to; `replaces`: the RFC 3891 Replaces value for the parkee)
//! are ours, bodies are written without a namespace (any namespace is accepted), and the
//! reason value `retrieved` is ours.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use thiserror::Error;

use crate::dialog::Dialog;
use crate::msg::{response_to, HeaderName, Message, MessageBuf, Method};
use crate::sipe::xml::{self, escape, XmlError};
use crate::transaction::{Timers, Transactions, Transmit, Transport, TxEvent, TxId};

/// The Content-Type of the bodies ([MS-SIPAPP] 3.1.5.2, 3.1.5.5).
pub const CONTENT_TYPE: &str = "application/ms-call-park+xml";
/// The only version the bodies carry (3.1.5.2, 3.1.5.5: "1.0").
pub const VERSION: &str = "1.0";
/// Largest string value kept from a body.
const MAX_VALUE: usize = 2048;

fn attr(n: roxmltree::Node<'_, '_>, el: &'static str, name: &'static str) -> xml::Result<String> {
    let v = n
        .attribute(name)
        .ok_or(XmlError::Attribute(el, name))?
        .trim()
        .to_string();
    if v.is_empty() || v.len() > MAX_VALUE {
        return Err(XmlError::Value(el));
    }
    Ok(v)
}

fn value(n: roxmltree::Node<'_, '_>, name: &'static str) -> xml::Result<Option<String>> {
    match xml::child(n, name) {
        None => Ok(None),
        Some(c) => {
            let t = xml::text(c);
            if t.is_empty() || t.len() > MAX_VALUE {
                return Err(XmlError::Value(name));
            }
            Ok(Some(t))
        }
    }
}

fn required(n: roxmltree::Node<'_, '_>, name: &'static str) -> xml::Result<String> {
    value(n, name)?.ok_or(XmlError::Missing(name))
}

fn root<'a, 'i>(
    doc: &'a roxmltree::Document<'i>,
    name: &'static str,
) -> xml::Result<roxmltree::Node<'a, 'i>> {
    let r = doc.root_element();
    if r.tag_name().name() != name {
        return Err(XmlError::Root(r.tag_name().name().to_string(), name));
    }
    Ok(r)
}

/// The parker's `park-request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParkRequest {
    pub version: String,
    /// Chosen by the parker; the CPS echoes it (3.1.5.2).
    pub request_id: String,
    /// Where the CPS sends its INVITE with Replaces (the parkee's Contact). Ours.
    pub parkee: String,
    /// The Replaces value (RFC 3891: `call-id;to-tag=<parkee's>;from-tag=<parker's>`)
    /// naming the parker-parkee dialog as the parkee sees it. Ours.
    pub replaces: String,
}

impl ParkRequest {
    pub fn parse(body: &[u8]) -> xml::Result<ParkRequest> {
        let doc = xml::parse(body)?;
        let r = root(&doc, "park-request")?;
        Ok(ParkRequest {
            version: attr(r, "park-request", "version")?,
            request_id: attr(r, "park-request", "request-id")?,
            parkee: required(r, "parkee")?,
            replaces: required(r, "replaces")?,
        })
    }

    pub fn emit(&self) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n<park-request version=\"{}\" request-id=\"{}\"><parkee>{}</parkee><replaces>{}</replaces></park-request>",
            escape(&self.version),
            escape(&self.request_id),
            escape(&self.parkee),
            escape(&self.replaces)
        )
    }
}

/// The CPS's `park-response` (3.1.5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParkResponse {
    /// MUST be "1.0".
    pub version: String,
    /// MUST match the park-request's.
    pub request_id: String,
    /// The orbit the call was parked at: what the user dials to retrieve it.
    pub orbit: String,
    /// The CPS's string identifying the parked call.
    pub parked_call: String,
}

impl ParkResponse {
    pub fn parse(body: &[u8]) -> xml::Result<ParkResponse> {
        let doc = xml::parse(body)?;
        let r = root(&doc, "park-response")?;
        Ok(ParkResponse {
            version: attr(r, "park-response", "version")?,
            request_id: attr(r, "park-response", "request-id")?,
            orbit: required(r, "orbit")?,
            parked_call: required(r, "ms-parked-call")?,
        })
    }

    pub fn emit(&self) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n<park-response version=\"{}\" request-id=\"{}\"><orbit>{}</orbit><ms-parked-call>{}</ms-parked-call></park-response>",
            escape(&self.version),
            escape(&self.request_id),
            escape(&self.orbit),
            escape(&self.parked_call)
        )
    }
}

/// Why the park ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnparkReason {
    /// The parkee hung up (3.1.5.5).
    HangUp,
    /// The auto-ringback attempts ran out and there was no fallback (3.1.5.10).
    Drop,
    /// Somebody retrieved the call (ours).
    Retrieved,
    /// Any other value, as written.
    Other(String),
}

impl UnparkReason {
    pub fn as_str(&self) -> &str {
        match self {
            UnparkReason::HangUp => "hang-up",
            UnparkReason::Drop => "drop",
            UnparkReason::Retrieved => "retrieved",
            UnparkReason::Other(s) => s,
        }
    }

    fn from_value(s: &str) -> UnparkReason {
        match s {
            "hang-up" => UnparkReason::HangUp,
            "drop" => UnparkReason::Drop,
            "retrieved" => UnparkReason::Retrieved,
            o => UnparkReason::Other(o.to_string()),
        }
    }
}

/// The CPS's `unpark-notification` (3.1.5.5, 3.1.5.10), in an INFO on the parker-CPS
/// dialog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnparkNotification {
    pub version: String,
    pub request_id: String,
    pub reason: UnparkReason,
    /// Where the parkee went; MUST NOT be present for hang-up and drop.
    pub target: Option<String>,
}

impl UnparkNotification {
    pub fn parse(body: &[u8]) -> xml::Result<UnparkNotification> {
        let doc = xml::parse(body)?;
        let r = root(&doc, "unpark-notification")?;
        let reason = UnparkReason::from_value(&required(r, "reason")?);
        let target = value(r, "target")?;
        // 3.1.5.5 / 3.1.5.10: the target element MUST NOT be present with these reasons.
        if target.is_some() && matches!(reason, UnparkReason::HangUp | UnparkReason::Drop) {
            return Err(XmlError::Value("target"));
        }
        Ok(UnparkNotification {
            version: attr(r, "unpark-notification", "version")?,
            request_id: attr(r, "unpark-notification", "request-id")?,
            reason,
            target,
        })
    }

    pub fn emit(&self) -> String {
        let target = self
            .target
            .as_ref()
            .map(|t| format!("<target>{}</target>", escape(t)))
            .unwrap_or_default();
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n<unpark-notification version=\"{}\" request-id=\"{}\"><reason>{}</reason>{target}</unpark-notification>",
            escape(&self.version),
            escape(&self.request_id),
            escape(self.reason.as_str()),
        )
    }
}

/// The user's text for a failed park: the ms-diagnostics codes of [MS-OCER] 7.25 that
/// concern parking. The manual (4.2) gives no texts; these are ours.
pub fn failure_text(code: u16, diagnostics: Option<u32>) -> &'static str {
    match diagnostics {
        Some(35002) => "Park failed: no parking orbit is free",
        Some(35006) => "Park failed: the call is already parked",
        Some(35007) | Some(35016) => "Park failed: the call could not be moved",
        Some(35008) | Some(35009) => "Park failed: the park server did not understand the request",
        Some(35012) => "Park failed: the park server is not taking calls",
        _ => match code {
            408 => "Park failed: no answer from the park server",
            404 | 480 => "Park failed: park server not found",
            _ => "Park failed",
        },
    }
}

/// Why a park could not be started.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParkError {
    #[error("a park is already in progress")]
    Busy,
    #[error("the call has no dialog to park")]
    NoDialog,
    #[error("transaction layer: {0}")]
    Tx(String),
}

/// What the parker is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParkEvent {
    /// The call is parked: show the orbit (the number to dial to retrieve it).
    Parked { orbit: String, parked_call: String },
    /// The park failed (status 408 when the CPS did not answer): show `text`.
    Failed {
        code: u16,
        text: &'static str,
        diagnostics: Option<(u32, String)>,
    },
    /// The CPS reported the end of the park.
    Unparked {
        reason: UnparkReason,
        target: Option<String>,
    },
    /// The parker-CPS dialog ended (the CPS's BYE).
    Ended,
}

/// The parker's configuration (the phone's identity).
#[derive(Debug, Clone)]
pub struct ParkConfig {
    pub aor: String,
    pub contact: String,
    pub via_host: String,
    pub transport: Transport,
    pub timers: Timers,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Idle,
    /// INVITE to the CPS sent.
    Parking {
        tx: TxId,
        request_id: String,
        invite: Vec<u8>,
        dest: SocketAddr,
    },
    /// Parked; the control dialog is up.
    Parked,
}

/// The parker's side of [MS-SIPAPP] call park, sans-IO. It runs its own transactions for
/// the parker-CPS dialog; the device hands it the messages whose Call-ID is that dialog's
/// ([`ParkClient::owns`]) and everything else to its [`crate::call::Phone`].
#[derive(Debug)]
pub struct ParkClient {
    cfg: ParkConfig,
    tx: Transactions,
    seq: u64,
    state: State,
    call_id: Option<String>,
    dialog: Option<Dialog>,
    events: VecDeque<ParkEvent>,
    orbit: Option<String>,
}

impl ParkClient {
    pub fn new(cfg: ParkConfig, seed: u64) -> ParkClient {
        let tx = Transactions::new(cfg.timers);
        ParkClient {
            cfg,
            tx,
            seq: seed,
            state: State::Idle,
            call_id: None,
            dialog: None,
            events: VecDeque::new(),
            orbit: None,
        }
    }

    fn token(&mut self) -> String {
        self.seq = self.seq.wrapping_add(0x9E3779B97F4A7C15);
        let mut z = self.seq;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
        format!("{:016x}", z ^ (z >> 31))
    }

    fn via(&mut self) -> String {
        let branch = self.token();
        format!(
            "SIP/2.0/{} {};branch=z9hG4bK{};rport",
            self.cfg.transport.via_name(),
            self.cfg.via_host,
            branch
        )
    }

    /// The orbit of the current park.
    pub fn orbit(&self) -> Option<&str> {
        self.orbit.as_deref()
    }

    /// Whether `data` belongs to the park (its Call-ID is the parker-CPS dialog's).
    pub fn owns(&self, data: &[u8]) -> bool {
        let Some(id) = &self.call_id else {
            return false;
        };
        Message::parse(data)
            .ok()
            .and_then(|m| m.call_id().ok().map(|c| c == id))
            .unwrap_or(false)
    }

    /// Parks the call whose dialog is `call` (ours with the parkee): INVITE to the CPS at
    /// `cps_uri` (sent to `dest`) with a park-request (3.1.5.2's "ms-call-park SIP INVITE").
    pub fn park(
        &mut self,
        now: Instant,
        call: &Dialog,
        cps_uri: &str,
        dest: SocketAddr,
    ) -> Result<(), ParkError> {
        if self.state != State::Idle {
            return Err(ParkError::Busy);
        }
        if call.id.remote_tag.is_empty() {
            return Err(ParkError::NoDialog);
        }
        let request_id = (self.seq % 100_000).to_string();
        // RFC 3891 3: to-tag is the tag of the UA receiving the INVITE with Replaces (the
        // parkee: our remote tag), from-tag the other end's (ours).
        let body = ParkRequest {
            version: VERSION.into(),
            request_id: request_id.clone(),
            parkee: call.remote_target.clone(),
            replaces: format!(
                "{};to-tag={};from-tag={}",
                call.id.call_id, call.id.remote_tag, call.id.local_tag
            ),
        }
        .emit();
        let host = self
            .cfg
            .via_host
            .split(':')
            .next()
            .unwrap_or("ac-sip")
            .to_string();
        let call_id = format!("{}@{host}", self.token());
        let tag = self.token();
        let via = self.via();
        let mut b = MessageBuf::request(Method::Invite, cps_uri);
        b.push(HeaderName::Via, via);
        b.push(HeaderName::MaxForwards, "70");
        b.push(HeaderName::From, format!("<{}>;tag={tag}", self.cfg.aor));
        b.push(HeaderName::To, format!("<{cps_uri}>"));
        b.push(HeaderName::CallId, call_id.clone());
        b.push(HeaderName::CSeq, "1 INVITE");
        b.push(HeaderName::Contact, format!("<{}>", self.cfg.contact));
        b.set_body(CONTENT_TYPE, body.into_bytes());
        let invite = b.to_bytes();
        let tx = self
            .tx
            .send_request(now, self.cfg.transport, dest, invite.clone())
            .map_err(|e| ParkError::Tx(e.to_string()))?;
        self.call_id = Some(call_id);
        self.dialog = None;
        self.orbit = None;
        self.state = State::Parking {
            tx,
            request_id,
            invite,
            dest,
        };
        Ok(())
    }

    /// Ends the parker-CPS dialog (BYE) without touching the parked call.
    pub fn end(&mut self, now: Instant) {
        if let Some(mut d) = self.dialog.take() {
            let via = self.via();
            let bye = d.request(Method::Bye, &via, "").to_bytes();
            if let Some(dest) = d.next_hop() {
                let _ = self.tx.send_request(now, self.cfg.transport, dest, bye);
            }
        }
        self.state = State::Idle;
    }

    pub fn handle_message(&mut self, now: Instant, source: SocketAddr, data: &[u8]) {
        self.tx
            .handle_message(now, self.cfg.transport, source, data);
        self.drain(now);
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.tx.handle_timeout(now);
        self.drain(now);
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.tx.poll_transmit()
    }

    pub fn poll_event(&mut self) -> Option<ParkEvent> {
        self.events.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.tx.poll_timeout()
    }

    fn fail(&mut self, code: u16, diagnostics: Option<(u32, String)>) {
        self.state = State::Idle;
        self.call_id = None;
        self.events.push_back(ParkEvent::Failed {
            code,
            text: failure_text(code, diagnostics.as_ref().map(|d| d.0)),
            diagnostics,
        });
    }

    fn drain(&mut self, now: Instant) {
        while let Some(e) = self.tx.poll_event() {
            match e {
                TxEvent::Response { tx, data } => self.on_response(now, tx, &data),
                TxEvent::Timeout { tx } | TxEvent::TransportError { tx } => {
                    if matches!(&self.state, State::Parking { tx: t, .. } if *t == tx) {
                        self.fail(408, None);
                    }
                }
                TxEvent::Request { tx, data, .. } => self.on_request(now, tx, &data),
                _ => {}
            }
        }
    }

    fn on_response(&mut self, now: Instant, tx: TxId, data: &[u8]) {
        let State::Parking {
            tx: ptx,
            request_id,
            invite,
            dest,
        } = self.state.clone()
        else {
            return;
        };
        if ptx != tx {
            return;
        }
        let Ok(m) = Message::parse(data) else {
            return;
        };
        let code = m.status().unwrap_or(0);
        if code < 200 {
            return;
        }
        if code >= 300 {
            return self.fail(code, crate::sipe::diagnostics::diagnostics(&m));
        }
        let Ok(req) = Message::parse(&invite) else {
            return;
        };
        let dialog = Dialog::uac(&req, &m);
        // RFC 3261 13.2.2.4: every 2xx is acknowledged, even one we go on to refuse.
        if let Ok(d) = &dialog {
            let via = self.via();
            let ack = d.request_with_seq(Method::Ack, 1, &via, "").to_bytes();
            let to = d.next_hop().unwrap_or(dest);
            self.tx.send_stateless(self.cfg.transport, to, ack);
        }
        // 3.1.5.2: the CPS identifies itself with the isCps feature tag on its Contact and
        // answers with a park-response carrying our request-id and version 1.0.
        let is_cps = m.first(HeaderName::Contact).is_some_and(|c| {
            c.split(';')
                .skip(1)
                .any(|p| p.trim().eq_ignore_ascii_case("isCps"))
        });
        let ct_ok = m.first(HeaderName::ContentType).is_some_and(|c| {
            c.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case(CONTENT_TYPE))
        });
        let resp = if ct_ok {
            ParkResponse::parse(m.body).ok()
        } else {
            None
        };
        match (dialog, resp) {
            (Ok(d), Some(r)) if is_cps && r.request_id == request_id && r.version == VERSION => {
                self.dialog = Some(d);
                self.orbit = Some(r.orbit.clone());
                self.state = State::Parked;
                self.events.push_back(ParkEvent::Parked {
                    orbit: r.orbit,
                    parked_call: r.parked_call,
                });
            }
            (Ok(d), _) => {
                // Not a CPS's park-response: end that dialog and report the failure.
                self.dialog = Some(d);
                self.end(now);
                self.fail(code, None);
            }
            (Err(_), _) => self.fail(code, None),
        }
    }

    fn on_request(&mut self, now: Instant, tx: TxId, data: &[u8]) {
        let Ok(m) = Message::parse(data) else {
            return;
        };
        let tag = self
            .dialog
            .as_ref()
            .map(|d| d.id.local_tag.clone())
            .unwrap_or_default();
        let in_dialog = self.dialog.as_ref().is_some_and(|d| d.matches_request(&m));
        if !in_dialog {
            // RFC 3261 12.2.2: no such dialog.
            let r = response_to(&m, 481, Some(&tag));
            let _ = self.tx.respond(now, tx, r.to_bytes());
            return;
        }
        if let Some(d) = self.dialog.as_mut() {
            if d.handle_request(&m).is_err() {
                let r = response_to(&m, 500, Some(&tag));
                let _ = self.tx.respond(now, tx, r.to_bytes());
                return;
            }
        }
        match m.method() {
            Some(Method::Info) => {
                match UnparkNotification::parse(m.body) {
                    Ok(n) => {
                        let _ =
                            self.tx
                                .respond(now, tx, response_to(&m, 200, Some(&tag)).to_bytes());
                        self.events.push_back(ParkEvent::Unparked {
                            reason: n.reason,
                            target: n.target,
                        });
                    }
                    Err(_) => {
                        // RFC 3261 21.4.13 would be 415 for another type; a bad body is 400.
                        let _ =
                            self.tx
                                .respond(now, tx, response_to(&m, 400, Some(&tag)).to_bytes());
                    }
                }
            }
            Some(Method::Bye) => {
                let _ = self
                    .tx
                    .respond(now, tx, response_to(&m, 200, Some(&tag)).to_bytes());
                self.dialog = None;
                self.state = State::Idle;
                self.events.push_back(ParkEvent::Ended);
            }
            _ => {
                // RFC 3261 21.4.6: a 405 MUST carry Allow.
                let mut r = response_to(&m, 405, Some(&tag));
                r.push(HeaderName::Allow, "ACK, BYE, INFO");
                let _ = self.tx.respond(now, tx, r.to_bytes());
            }
        }
    }
}

/// The URI a phone dials to retrieve a call parked at `orbit` on the CPS at `cps_host`.
pub fn retrieve_uri(orbit: &str, cps_host: &str) -> String {
    format!("sip:{orbit}@{cps_host}")
}
