//! A Call Park Service double for tests ([MS-SIPAPP]; the real one runs on a Skype for
//! Business pool), sans-IO. It holds a [`Phone`] for its media legs (the parked call, the
//! retriever's call) and its own transactions for the parker-CPS control dialogs.
//!
//! - An INVITE with a `park-request` body: a free orbit is chosen (none: 503 with
//!   ms-diagnostics 35002 "No more available orbits", [MS-OCER] 7.25; a body it cannot
//!   read: 400 with 35009, another version: 400 with 35008), the parkee gets an INVITE
//!   with Replaces; once that call is up the parker gets the 200 of 3.1.5.2 (Contact with
//!   `isCps`, `park-response` with version 1.0, the request-id, the orbit and the
//!   ms-parked-call string) and the auto-ringback timer starts. The parkee refusing the
//!   INVITE with Replaces answers the parker with 480 and 35007.
//! - A call to an orbit (the retriever): answered, then the retriever is transferred to the
//!   parkee with REFER and Replaces naming the CPS-parkee dialog (RFC 3515/3891), so the
//!   retriever's INVITE takes the CPS's place at the parkee. The parker is told with an
//!   `unpark-notification` (reason `retrieved`, ours, target the retriever) and BYE. An
//!   orbit with no parked call: 404.
//! - The auto-ringback timer: the parkee is transferred to the parker (REFER to the
//!   parker's Contact). A failed transfer restarts the timer until the attempts run out
//!   (3.1.5.10), then the parkee's call is ended and the parker gets reason `drop` and BYE
//!   (ms-diagnostics 35014). A successful one tells the parker (reason `ringback`, ours).
//! - The parkee hanging up: INFO with reason `hang-up` to the parker, then BYE with 35014
//!   (3.1.5.5). The BYE always waits for the INFO's answer so they arrive in order.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::call::{CallEvent, CallRef, Phone, PhoneConfig};
use crate::dialog::Dialog;
use crate::msg::{response_to, HeaderName, Message, MessageBuf, Method, NameAddr};
use crate::sipe::park::{
    ParkRequest, ParkResponse, UnparkNotification, UnparkReason, CONTENT_TYPE, VERSION,
};
use crate::transaction::{Transactions, Transmit, Transport, TxEvent, TxId};

/// The double's settings.
#[derive(Debug, Clone)]
pub struct CpsConfig {
    /// The media legs' UA (its `contact` is the CPS's Contact).
    pub phone: PhoneConfig,
    /// The orbits it hands out, in order.
    pub orbits: Vec<String>,
    /// Auto-ringback timer (3.1.5.2: started once park completes).
    pub ringback_after: Duration,
    /// Auto-ringback attempts before the call is dropped (3.1.5.10 leaves the number to
    /// the implementation).
    pub max_ringbacks: u32,
}

/// What the double saw, for tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CpsEvent {
    ParkRequested { orbit: String },
    Parked { orbit: String },
    ParkRefused { code: u16, diagnostics: u32 },
    RetrieveRequested { orbit: String },
    RetrieveRefused { orbit: String },
    Retrieved { orbit: String },
    Ringback { orbit: String, attempt: u32 },
    Unparked { orbit: String, reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Stage {
    /// INVITE with Replaces sent to the parkee.
    Replacing,
    /// Parked; the auto-ringback fires at this time.
    Parked(Instant),
    /// A retriever called: answered, then REFERred to the parkee.
    Retrieving(CallRef),
    /// The parkee was REFERred to the parker.
    RingingBack,
    Done,
}

#[derive(Debug)]
struct Park {
    orbit: String,
    request_id: String,
    parked_call: String,
    /// The parker's INVITE, its server transaction and our To tag.
    control_req: Vec<u8>,
    control_tx: TxId,
    tag: String,
    control: Option<Dialog>,
    parkee_call: CallRef,
    stage: Stage,
    ringbacks: u32,
    /// The retriever's call, once one dialled the orbit, and who it is.
    retriever: Option<CallRef>,
    retriever_uri: Option<String>,
    /// An INFO to the parker waiting for its answer; the BYE (with its ms-diagnostics)
    /// follows.
    info_tx: Option<(TxId, Option<&'static str>)>,
}

/// The Call Park Service double.
#[derive(Debug)]
pub struct CpsDouble {
    cfg: CpsConfig,
    phone: Phone,
    tx: Transactions,
    parks: Vec<Park>,
    events: VecDeque<CpsEvent>,
    seq: u64,
}

impl CpsDouble {
    pub fn new(cfg: CpsConfig, seed: u64) -> CpsDouble {
        let phone = Phone::new(cfg.phone.clone(), seed ^ 0xC95);
        let tx = Transactions::new(cfg.phone.timers);
        CpsDouble {
            cfg,
            phone,
            tx,
            parks: Vec::new(),
            events: VecDeque::new(),
            seq: seed,
        }
    }

    fn token(&mut self) -> String {
        self.seq = self.seq.wrapping_add(0x9E3779B97F4A7C15);
        let mut z = self.seq;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
        format!("{:016x}", z ^ (z >> 31))
    }

    fn transport(&self) -> Transport {
        self.cfg.phone.transport
    }

    fn via(&mut self) -> String {
        let branch = self.token();
        format!(
            "SIP/2.0/{} {};branch=z9hG4bK{};rport",
            self.transport().via_name(),
            self.cfg.phone.via_host,
            branch
        )
    }

    pub fn poll_event(&mut self) -> Option<CpsEvent> {
        self.events.pop_front()
    }

    /// Orbits holding a parked call.
    pub fn parked_orbits(&self) -> Vec<String> {
        self.parks
            .iter()
            .filter(|p| p.stage != Stage::Done)
            .map(|p| p.orbit.clone())
            .collect()
    }

    fn is_control(&self, m: &Message<'_>) -> bool {
        let Ok(cid) = m.call_id() else {
            return false;
        };
        // Every park's dialog, finished ones too (the answers to the last INFO and BYE).
        if self.parks.iter().any(|p| {
            Message::parse(&p.control_req)
                .ok()
                .is_some_and(|r| r.call_id().ok() == Some(cid))
        }) {
            return true;
        }
        m.method() == Some(Method::Invite)
            && m.first(HeaderName::ContentType).is_some_and(|c| {
                c.split(';')
                    .next()
                    .is_some_and(|t| t.trim().eq_ignore_ascii_case(CONTENT_TYPE))
            })
    }

    pub fn handle_message(&mut self, now: Instant, source: SocketAddr, data: &[u8]) {
        let control = Message::parse(data).is_ok_and(|m| self.is_control(&m));
        if control {
            self.tx.handle_message(now, self.transport(), source, data);
        } else {
            self.phone
                .handle_message(now, self.transport(), source, data);
        }
        self.drain(now);
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.tx.handle_timeout(now);
        self.phone.handle_timeout(now);
        let due: Vec<usize> = self
            .parks
            .iter()
            .enumerate()
            .filter(|(_, p)| matches!(p.stage, Stage::Parked(t) if now >= t))
            .map(|(i, _)| i)
            .collect();
        for i in due {
            self.ringback(now, i);
        }
        self.drain(now);
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.tx
            .poll_transmit()
            .or_else(|| self.phone.poll_transmit())
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let timers = self.parks.iter().filter_map(|p| match p.stage {
            Stage::Parked(t) => Some(t),
            _ => None,
        });
        [self.tx.poll_timeout(), self.phone.poll_timeout()]
            .into_iter()
            .flatten()
            .chain(timers)
            .min()
    }

    fn drain(&mut self, now: Instant) {
        loop {
            let mut any = false;
            while let Some(e) = self.tx.poll_event() {
                any = true;
                self.on_control(now, e);
            }
            while let Some(e) = self.phone.poll_event() {
                any = true;
                self.on_phone(now, e);
            }
            if !any {
                return;
            }
        }
    }

    // ----- the parker-CPS control dialogs -----

    fn refuse(
        &mut self,
        now: Instant,
        tx: TxId,
        m: &Message<'_>,
        code: u16,
        diag: u32,
        reason: &str,
    ) {
        let tag = self.token();
        let mut r = response_to(m, code, Some(&tag));
        r.push(
            HeaderName::MsDiagnostics,
            format!("{diag};reason=\"{reason}\""),
        );
        let _ = self.tx.respond(now, tx, r.to_bytes());
        self.events.push_back(CpsEvent::ParkRefused {
            code,
            diagnostics: diag,
        });
    }

    fn on_control(&mut self, now: Instant, e: TxEvent) {
        match e {
            TxEvent::Request { tx, data, .. } => {
                let Ok(m) = Message::parse(&data) else {
                    return;
                };
                match m.method() {
                    Some(Method::Invite) => self.on_park_invite(now, tx, &m, &data),
                    Some(Method::Bye) => {
                        // The parker left the control dialog: the call stays parked, the
                        // parker just hears no more about it.
                        let i = self.parks.iter().position(|p| {
                            p.control.as_ref().is_some_and(|d| d.matches_request(&m))
                        });
                        let tag = i.map(|i| self.parks[i].tag.clone()).unwrap_or_default();
                        let code = if i.is_some() { 200 } else { 481 };
                        if let Some(i) = i {
                            self.parks[i].control = None;
                        }
                        let r = response_to(&m, code, Some(&tag));
                        let _ = self.tx.respond(now, tx, r.to_bytes());
                    }
                    _ => {
                        let mut r = response_to(&m, 405, None);
                        r.push(HeaderName::Allow, "INVITE, ACK, BYE, INFO");
                        let _ = self.tx.respond(now, tx, r.to_bytes());
                    }
                }
            }
            TxEvent::Response { tx, data } => {
                let code = Message::parse(&data).ok().and_then(|m| m.status());
                if code.is_some_and(|c| c >= 200) {
                    self.info_answered(now, tx);
                }
            }
            TxEvent::Timeout { tx } | TxEvent::TransportError { tx } => self.info_answered(now, tx),
            _ => {}
        }
    }

    fn on_park_invite(&mut self, now: Instant, tx: TxId, m: &Message<'_>, data: &[u8]) {
        let req = match ParkRequest::parse(m.body) {
            Ok(r) => r,
            Err(_) => return self.refuse(now, tx, m, 400, 35009, "Bad request"),
        };
        if req.version != VERSION {
            return self.refuse(now, tx, m, 400, 35008, "Version not understood");
        }
        let busy: Vec<&str> = self
            .parks
            .iter()
            .filter(|p| p.stage != Stage::Done)
            .map(|p| p.orbit.as_str())
            .collect();
        let Some(orbit) = self
            .cfg
            .orbits
            .iter()
            .find(|o| !busy.contains(&o.as_str()))
            .cloned()
        else {
            return self.refuse(now, tx, m, 503, 35002, "No more available orbits");
        };
        let parkee_call = match self.phone.invite_with(
            now,
            &req.parkee,
            vec![(HeaderName::Replaces, req.replaces.clone())],
        ) {
            Ok(c) => c,
            Err(_) => return self.refuse(now, tx, m, 480, 35007, "Invite with replaces error"),
        };
        let tag = self.token();
        let parked_call = format!("parked-{}", self.token());
        self.events.push_back(CpsEvent::ParkRequested {
            orbit: orbit.clone(),
        });
        self.parks.push(Park {
            orbit,
            request_id: req.request_id,
            parked_call,
            control_req: data.to_vec(),
            control_tx: tx,
            tag,
            control: None,
            parkee_call,
            stage: Stage::Replacing,
            ringbacks: 0,
            retriever: None,
            retriever_uri: None,
            info_tx: None,
        });
    }

    /// 3.1.5.2: the parkee's call is replaced: 200 to the parker with the park-response.
    fn park_complete(&mut self, now: Instant, i: usize) {
        let contact = self.cfg.phone.contact.clone();
        let p = &mut self.parks[i];
        let Ok(m) = Message::parse(&p.control_req) else {
            return;
        };
        let mut r = response_to(&m, 200, Some(&p.tag));
        r.push(HeaderName::Contact, format!("<{contact}>;isCps"));
        let body = ParkResponse {
            version: VERSION.into(),
            request_id: p.request_id.clone(),
            orbit: p.orbit.clone(),
            parked_call: p.parked_call.clone(),
        }
        .emit();
        r.set_body(CONTENT_TYPE, body.into_bytes());
        p.control = Dialog::uas(&m, &p.tag).ok();
        // The auto-ringback timer starts once park completes (3.1.5.2).
        p.stage = Stage::Parked(now + self.cfg.ringback_after);
        let orbit = p.orbit.clone();
        let tx = p.control_tx;
        let _ = self.tx.respond(now, tx, r.to_bytes());
        self.events.push_back(CpsEvent::Parked { orbit });
    }

    /// Sends the parker an unpark-notification; the BYE follows its answer.
    fn unpark(
        &mut self,
        now: Instant,
        i: usize,
        reason: UnparkReason,
        target: Option<String>,
        diag: Option<&'static str>,
    ) {
        let via = self.via();
        let contact = self.cfg.phone.contact.clone();
        let transport = self.transport();
        let p = &mut self.parks[i];
        p.stage = Stage::Done;
        self.events.push_back(CpsEvent::Unparked {
            orbit: p.orbit.clone(),
            reason: reason.as_str().to_string(),
        });
        let Some(d) = p.control.as_mut() else {
            return;
        };
        let mut b = d.request(Method::Info, &via, &contact);
        let body = UnparkNotification {
            version: VERSION.into(),
            request_id: p.request_id.clone(),
            reason,
            target,
        }
        .emit();
        b.set_body(CONTENT_TYPE, body.into_bytes());
        let Some(dest) = d.next_hop() else {
            return;
        };
        if let Ok(tx) = self.tx.send_request(now, transport, dest, b.to_bytes()) {
            self.parks[i].info_tx = Some((tx, diag));
        }
    }

    /// The INFO was answered (or timed out): now the BYE on the control dialog.
    fn info_answered(&mut self, now: Instant, tx: TxId) {
        let Some(i) = self
            .parks
            .iter()
            .position(|p| p.info_tx.is_some_and(|(t, _)| t == tx))
        else {
            return;
        };
        let diag = self.parks[i].info_tx.take().and_then(|(_, d)| d);
        let via = self.via();
        let transport = self.transport();
        let Some(mut d) = self.parks[i].control.take() else {
            return;
        };
        let mut b: MessageBuf = d.request(Method::Bye, &via, "");
        if let Some(reason) = diag {
            // 3.1.5.5 / 3.1.5.10: this BYE SHOULD carry ms-diagnostics 35014.
            b.push(
                HeaderName::MsDiagnostics,
                format!("35014;reason=\"{reason}\""),
            );
        }
        if let Some(dest) = d.next_hop() {
            let _ = self.tx.send_request(now, transport, dest, b.to_bytes());
        }
    }

    // ----- the media legs -----

    fn park_of_call(&self, call: CallRef) -> Option<usize> {
        self.parks
            .iter()
            .position(|p| p.stage != Stage::Done && p.parkee_call == call)
    }

    fn park_of_retriever(&self, call: CallRef) -> Option<usize> {
        self.parks
            .iter()
            .position(|p| p.stage == Stage::Retrieving(call))
    }

    fn ringback(&mut self, now: Instant, i: usize) {
        let Some(target) = self.parks[i]
            .control
            .as_ref()
            .map(|d| d.remote_target.clone())
        else {
            // The parker left: nobody to ring back; keep the call parked a while more.
            self.parks[i].stage = Stage::Parked(now + self.cfg.ringback_after);
            return;
        };
        let p = &mut self.parks[i];
        p.ringbacks += 1;
        p.stage = Stage::RingingBack;
        let (call, orbit, attempt) = (p.parkee_call, p.orbit.clone(), p.ringbacks);
        self.events.push_back(CpsEvent::Ringback { orbit, attempt });
        if self.phone.transfer(now, call, &target).is_err() {
            self.ringback_failed(now, i);
        }
    }

    /// 3.1.5.10: another attempt later, or drop the call.
    fn ringback_failed(&mut self, now: Instant, i: usize) {
        if self.parks[i].ringbacks < self.cfg.max_ringbacks {
            self.parks[i].stage = Stage::Parked(now + self.cfg.ringback_after);
            return;
        }
        let call = self.parks[i].parkee_call;
        let _ = self.phone.hangup(now, call);
        self.unpark(
            now,
            i,
            UnparkReason::Drop,
            None,
            Some("Terminating dialog with parker"),
        );
    }

    fn orbit_of_call(&self, call: CallRef) -> Option<String> {
        let d = self.phone.dialog(call)?;
        let na = NameAddr::parse(&d.local_uri).ok()?;
        match &na.uri {
            crate::uri::Uri::Sip(u) => u.user.map(str::to_string),
            _ => None,
        }
    }

    fn on_phone(&mut self, now: Instant, e: CallEvent) {
        match e {
            CallEvent::Incoming { call, caller, .. } => {
                let orbit = self.orbit_of_call(call).unwrap_or_default();
                let i = self
                    .parks
                    .iter()
                    .position(|p| p.orbit == orbit && matches!(p.stage, Stage::Parked(_)));
                match i {
                    Some(i) => {
                        self.parks[i].stage = Stage::Retrieving(call);
                        self.parks[i].retriever = Some(call);
                        self.parks[i].retriever_uri = Some(match caller.display {
                            Some(d) => format!("\"{d}\" <{}>", caller.uri),
                            None => format!("<{}>", caller.uri),
                        });
                        self.events.push_back(CpsEvent::RetrieveRequested { orbit });
                        let _ = self.phone.answer(now, call);
                    }
                    None => {
                        self.events.push_back(CpsEvent::RetrieveRefused { orbit });
                        let _ = self.phone.reject(now, call, 404);
                    }
                }
            }
            CallEvent::Answered { call } => {
                if let Some(i) = self
                    .park_of_call(call)
                    .filter(|i| self.parks[*i].stage == Stage::Replacing)
                {
                    self.park_complete(now, i);
                } else if let Some(i) = self.park_of_retriever(call) {
                    // Transfer the retriever to the parkee, replacing our call with it.
                    let parkee = self.parks[i].parkee_call;
                    if self.phone.transfer_attended(now, call, parkee).is_err() {
                        let _ = self.phone.hangup(now, call);
                        self.parks[i].stage = Stage::Parked(now + self.cfg.ringback_after);
                    }
                }
            }
            CallEvent::Failed { call, .. } => {
                if let Some(i) = self
                    .park_of_call(call)
                    .filter(|i| self.parks[*i].stage == Stage::Replacing)
                {
                    // The parkee's call could not be replaced.
                    let p = &mut self.parks[i];
                    p.stage = Stage::Done;
                    let (tx, req) = (p.control_tx, p.control_req.clone());
                    if let Ok(m) = Message::parse(&req) {
                        self.refuse(now, tx, &m, 480, 35007, "Invite with replaces error");
                    }
                }
            }
            CallEvent::TransferProgress { call, code } if code >= 200 => {
                self.transfer_done(now, call, (200..300).contains(&code));
            }
            CallEvent::TransferFailed { call, .. } => self.transfer_done(now, call, false),
            CallEvent::Ended { call, .. } => {
                if let Some(i) = self.park_of_call(call) {
                    match self.parks[i].stage.clone() {
                        Stage::Retrieving(_) => {
                            // The retriever's INVITE with Replaces took our place.
                            let target = self.parks[i].retriever_uri.clone();
                            let orbit = self.parks[i].orbit.clone();
                            self.events.push_back(CpsEvent::Retrieved { orbit });
                            self.unpark(now, i, UnparkReason::Retrieved, target, None);
                        }
                        Stage::RingingBack => {
                            // Ended after the parker took the parkee's call (we hung up).
                            let target = self.parks[i]
                                .control
                                .as_ref()
                                .map(|d| d.remote_target.clone());
                            self.unpark(
                                now,
                                i,
                                UnparkReason::Other("ringback".into()),
                                target,
                                None,
                            );
                        }
                        Stage::Done => {}
                        _ => {
                            // 3.1.5.5: the parkee hung up.
                            self.unpark(
                                now,
                                i,
                                UnparkReason::HangUp,
                                None,
                                Some("Terminating dialog with parker"),
                            );
                        }
                    }
                } else if let Some(i) = self
                    .park_of_retriever(call)
                    .filter(|i| self.parks[*i].retriever == Some(call))
                {
                    // The retriever went away before its transfer finished: back to parked.
                    // (After a successful transfer we hang up ourselves and the parkee's
                    // BYE for the Replaces, maybe still on its way, finishes the park.)
                    self.parks[i].retriever = None;
                    self.parks[i].stage = Stage::Parked(now + self.cfg.ringback_after);
                }
            }
            CallEvent::Request { tx, data, .. } => {
                if let Ok(m) = Message::parse(&data) {
                    let mut r = response_to(&m, 405, None);
                    r.push(
                        HeaderName::Allow,
                        "INVITE, ACK, BYE, CANCEL, REFER, NOTIFY, INFO",
                    );
                    let _ = self.phone.respond(now, tx, r.to_bytes());
                }
            }
            _ => {}
        }
    }

    fn transfer_done(&mut self, now: Instant, call: CallRef, ok: bool) {
        if let Some(i) = self.parks.iter().position(|p| p.retriever == Some(call)) {
            // The transferor's part is over either way (RFC 5589): end our call with the
            // retriever. On success the parkee's BYE (for the Replaces) finishes the park
            // (it may come before or after this NOTIFY).
            let _ = self.phone.hangup(now, call);
            self.parks[i].retriever = None;
            if !ok && self.parks[i].stage == Stage::Retrieving(call) {
                self.parks[i].stage = Stage::Parked(now + self.cfg.ringback_after);
            }
        } else if let Some(i) = self
            .park_of_call(call)
            .filter(|i| self.parks[*i].stage == Stage::RingingBack)
        {
            if ok {
                // The parkee is connected to the parker: end our call with the parkee.
                let _ = self.phone.hangup(now, call);
            } else {
                self.ringback_failed(now, i);
            }
        }
    }
}
