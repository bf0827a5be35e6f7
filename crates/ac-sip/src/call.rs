//! INVITE sessions (calls), sans-IO: the UAC and UAS cores of RFC 3261 sections 13-15 on top
//! of the transaction layer, with reliable provisional responses and PRACK (RFC 3262),
//! CANCEL (9), re-INVITE and UPDATE (14, RFC 3311) for hold/resume (RFC 3264 8.4), session
//! timers (RFC 4028), redirects (3xx, 8.1.3.4), digest challenges to INVITE, 491 glare with
//! the back-off of 14.1, forked 2xx answers (13.2.2.4), and BYE from either side.
//!
//! [`Phone`] owns a [`Transactions`] and every [`Call`](CallRef). It is driven by
//! [`Phone::handle_message`] (bytes from a transport), the user's commands ([`Phone::invite`],
//! [`Phone::ring`], [`Phone::answer`], [`Phone::reject`], [`Phone::hangup`], [`Phone::hold`],
//! [`Phone::resume`]) and [`Phone::handle_timeout`]; it yields [`Transmit`]s, [`CallEvent`]s and
//! its next deadline. It reads no clock and opens no socket. Requests it does not handle
//! itself (REFER, NOTIFY, SUBSCRIBE, MESSAGE) come out as [`CallEvent::Request`] for other
//! modules, which answer with [`Phone::respond`].

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::auth::{authorization, AuthParams, DigestInput};
use crate::dialog::{uri_addr, Dialog, DialogState};
use crate::msg::{response_to, HeaderName, Message, MessageBuf, Method, RAck, TokenParams};
use crate::offer_answer::{LocalMedia, MediaSession, Negotiated};
use crate::sdp::{Direction, Session};
use crate::transaction::{Timers, Transactions, Transmit, Transport, TxEvent, TxId};
use crate::uas::{precheck, UasPolicy};

/// How the phone presents itself.
#[derive(Debug, Clone)]
pub struct PhoneConfig {
    /// Address of record, `sip:alice@example.com`.
    pub aor: String,
    pub display_name: Option<String>,
    /// Our contact URI, `sip:alice@192.0.2.5:5060`.
    pub contact: String,
    /// Via sent-by, `192.0.2.5:5060`.
    pub via_host: String,
    pub transport: Transport,
    /// Every request out of a dialog goes here (and in-dialog ones without a usable route).
    pub outbound_proxy: Option<SocketAddr>,
    /// Digest credentials for 401/407 to INVITE (empty user: none).
    pub username: String,
    pub password: String,
    pub user_agent: String,
    /// Send 18x reliably (RFC 3262) when the caller supports 100rel.
    pub use_100rel: bool,
    /// Session interval to ask for (RFC 4028), seconds; `None`: no session timer of ours.
    pub session_expires: Option<u32>,
    /// Our Min-SE (RFC 4028 5: at least 90).
    pub min_se: u32,
    /// Answer a new INVITE with 486 while another call exists (manual 3.3.12 Busy on Busy).
    pub busy_on_busy: bool,
    /// Send 180 Ringing at once on a new INVITE.
    pub auto_ringing: bool,
    pub timers: Timers,
    /// Media template; call `n` uses `rtp_port + 2 * (n % 64)`.
    pub media: LocalMedia,
}

/// A call handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallRef(pub u64);

/// Who the caller is: P-Asserted-Identity, else Remote-Party-ID, else From.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerId {
    pub display: Option<String>,
    pub uri: String,
    /// The header it came from.
    pub source: &'static str,
}

/// What the phone reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallEvent {
    /// A new incoming call.
    Incoming {
        call: CallRef,
        caller: CallerId,
        /// Alert-Info asked to answer at once (`info=alert-autoanswer`, `answer-after=0`).
        auto_answer: bool,
        /// A Replaces header (RFC 3891): the call it replaces, as `call-id;to-tag;from-tag`.
        replaces: Option<String>,
    },
    /// A provisional response to our INVITE.
    Progress { call: CallRef, code: u16 },
    /// The call is up (we got the 2xx, or our 2xx was acknowledged).
    Answered { call: CallRef },
    /// The media changed (first answer, hold, resume, re-offer).
    Media {
        call: CallRef,
        negotiated: Box<Negotiated>,
    },
    /// The peer put us on hold (sendonly/inactive offer) or resumed.
    RemoteHold { call: CallRef, held: bool },
    /// Our re-INVITE or UPDATE was refused (the session stays as it was; 491 is retried).
    ReofferFailed { call: CallRef, code: u16 },
    /// A session refresh (RFC 4028) went through.
    Refreshed { call: CallRef },
    /// Our INVITE failed with a final response (or timed out: 408).
    Failed {
        call: CallRef,
        code: u16,
        reason: String,
    },
    /// The call ended: BYE (code 200), CANCEL (487), session expiry or no ACK (408).
    Ended {
        call: CallRef,
        by_peer: bool,
        code: u16,
    },
    /// We are the transferee (RFC 3515): the peer of `call` asked us to call `target`;
    /// `new_call` is that call (with Replaces for an attended transfer).
    TransferRequested {
        call: CallRef,
        new_call: CallRef,
        target: String,
        replaces: bool,
    },
    /// We are the transferor: the transferee reports how its call goes (NOTIFY with a
    /// message/sipfrag status line, RFC 3515 2.4.5); `code` >= 200 is the outcome.
    TransferProgress { call: CallRef, code: u16 },
    /// Our REFER was refused (or timed out: 408).
    TransferFailed { call: CallRef, code: u16 },
    /// We are the transfer target: `new_call` (INVITE with Replaces, RFC 3891) took the
    /// place of `old`, which we ended with BYE.
    Replaced { old: CallRef, new_call: CallRef },
    /// An INFO in a call whose body is not DTMF.
    Info { call: CallRef, body: String },
    /// A key press sent by the peer in an INFO (application/dtmf-relay or application/dtmf).
    Dtmf {
        call: CallRef,
        key: char,
        duration_ms: Option<u32>,
    },
    /// The final response to our DTMF INFO (408 when it timed out).
    InfoAnswered { call: CallRef, code: u16 },
    /// A MESSAGE (RFC 3428) with a text/plain body, in a call or outside one; it was
    /// answered 200.
    Message {
        call: Option<CallRef>,
        from: String,
        text: String,
    },
    /// A response to a request sent with [`Phone::send_request`] (REGISTER, REFER, ...).
    Response { tx: TxId, data: Vec<u8> },
    /// A request sent with [`Phone::send_request`] got no final response (timer F/B or a
    /// transport error): 408.
    TxFailed { tx: TxId },
    /// A request the phone does not handle itself; answer it with [`Phone::respond`].
    Request {
        tx: TxId,
        call: Option<CallRef>,
        source: SocketAddr,
        data: Vec<u8>,
    },
}

/// Where a call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallState {
    /// UAC: INVITE sent, no provisional yet.
    Calling,
    /// UAC: a provisional arrived.
    Proceeding,
    /// UAS: INVITE received, not answered.
    Ringing,
    /// UAS: 2xx sent, waiting for the ACK.
    Answered,
    Confirmed,
    /// BYE sent.
    Terminating,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Uac,
    Uas,
}

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("no such call")]
    NoCall,
    #[error("the call is not in a state that allows this ({0:?})")]
    State(CallState),
    #[error("no route to {0} (give an outbound proxy or an IP-literal URI)")]
    NoRoute(String),
    #[error("an offer is already outstanding (RFC 3264 4)")]
    OfferPending,
    #[error("transaction layer: {0}")]
    Tx(String),
    #[error("{0:?} is not a DTMF key")]
    BadKey(char),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Invite,
    Cancel,
    Bye,
    /// BYE of the extra dialog of a forked 2xx (its outcome is not reported).
    ForkBye,
    ReInvite,
    Update,
    Prack,
    /// REFER (RFC 3515) we sent on a call.
    Refer,
    /// NOTIFY of the implicit refer subscription (RFC 3515 2.4.4).
    Notify,
    /// INFO carrying DTMF.
    Info,
}

#[derive(Debug, Clone)]
struct Reliable {
    bytes: Vec<u8>,
    rseq: u32,
    next: Instant,
    interval: Duration,
    give_up: Instant,
    has_sdp: bool,
}

#[derive(Debug, Clone)]
struct SessionTimer {
    interval: u32,
    we_refresh: bool,
    refresh_at: Option<Instant>,
    expire_at: Option<Instant>,
}

#[derive(Debug)]
struct Call {
    role: Role,
    state: CallState,
    call_id: String,
    local_tag: String,
    /// UAC: the Request-URI and To of the INVITE.
    target: String,
    to_value: String,
    invite_seq: u32,
    invite: Option<Vec<u8>>,
    invite_tx: Option<TxId>,
    offer_body: Option<String>,
    dialog: Option<Dialog>,
    early: Vec<Dialog>,
    media: MediaSession,
    /// UAS: the INVITE and its server transaction.
    req: Option<Vec<u8>>,
    server_tx: Option<TxId>,
    peer_100rel: bool,
    peer_timer: bool,
    /// UAS: the SDP we put in a reliable 18x or the 2xx (answer, or our offer).
    local_sdp: Option<String>,
    /// UAS: our 2xx carries an offer; the answer comes in the ACK (RFC 3261 13.2.1).
    offer_in_2xx: bool,
    rel: Option<Reliable>,
    rseq: u32,
    answer_after_prack: bool,
    last_rseq: Option<u32>,
    /// Our re-INVITE / UPDATE in progress.
    reinvite: Option<(TxId, Purpose, u32)>,
    /// A re-INVITE of the peer we answered and whose ACK we wait for.
    incoming_reinvite: Option<TxId>,
    glare_at: Option<Instant>,
    timer: Option<SessionTimer>,
    /// Session-Expires we ask for on the INVITE (422 raises it).
    want_se: Option<u32>,
    cancel_wanted: bool,
    cancel_sent: bool,
    last_ack: Option<(String, Vec<u8>)>,
    redirects: u8,
    auth_tries: u8,
    peer_held: bool,
    /// Extra headers of our INVITE (Referred-By, Replaces when we are a transferee).
    extra: Vec<(HeaderName<'static>, String)>,
    /// We are the transferee: this call was placed for a REFER on that call, whose
    /// implicit subscription gets the NOTIFYs (RFC 3515 2.4.4).
    notify_to: Option<CallRef>,
    /// The NOTIFY CSeq space of a refer subscription we serve on this call.
    refer_served: bool,
}

/// Small deterministic generator (tags, branches, back-off); seeded by the owner.
#[derive(Debug, Clone)]
struct Ids(u64);

impl Ids {
    fn next(&mut self) -> u64 {
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

/// The calls of one line.
#[derive(Debug)]
pub struct Phone {
    cfg: PhoneConfig,
    tx: Transactions,
    ids: Ids,
    next_call: u64,
    calls: HashMap<CallRef, Call>,
    owners: HashMap<TxId, (CallRef, Purpose)>,
    events: VecDeque<CallEvent>,
    policy: UasPolicy,
    /// Transfers whose call failed, to report to the transferor (old call, code, reason).
    failed_transfers: Vec<(CallRef, u16, String)>,
    /// Calls by Call-ID (in-dialog requests find their call without a scan).
    by_call_id: HashMap<String, Vec<CallRef>>,
    /// Deadlines of the calls' own timers (reliable 18x, glare retry, session timer);
    /// stale entries are skipped when they come due.
    deadlines: BinaryHeap<Reverse<(Instant, CallRef)>>,
}

fn body_is_sdp(m: &Message<'_>) -> bool {
    !m.body.is_empty()
        && m.content_type()
            .ok()
            .flatten()
            .is_some_and(|t| t.is("application", "sdp"))
}

fn has_tag(m: &Message<'_>, name: HeaderName<'static>, tag: &str) -> bool {
    m.tokens(name).iter().any(|t| t.eq_ignore_ascii_case(tag))
}

fn reason_of(m: &Message<'_>) -> String {
    match &m.start {
        crate::msg::StartLine::Response { reason, .. } => reason.to_string(),
        _ => String::new(),
    }
}

/// `Session-Expires: delta;refresher=uac|uas` (RFC 4028 4).
fn session_expires(m: &Message<'_>) -> Option<(u32, Option<String>)> {
    let v = m.first(HeaderName::SessionExpires)?;
    let t = TokenParams::parse(v).ok()?;
    let secs = crate::lex::decimal::<u32>(t.value)?;
    let refresher = t
        .param("refresher")
        .flatten()
        .map(|r| r.to_ascii_lowercase());
    Some((secs, refresher))
}

fn caller_id(m: &Message<'_>) -> CallerId {
    for (h, name) in [
        (HeaderName::PAssertedIdentity, "P-Asserted-Identity"),
        (HeaderName::RemotePartyId, "Remote-Party-ID"),
        (HeaderName::From, "From"),
    ] {
        if let Some(v) = m.values(h).into_iter().next() {
            if let Ok(na) = crate::msg::NameAddr::parse(v) {
                return CallerId {
                    display: na.display_name().map(|d| d.into_owned()),
                    uri: na.uri.to_string(),
                    source: name,
                };
            }
        }
    }
    CallerId {
        display: None,
        uri: String::new(),
        source: "none",
    }
}

fn auto_answer(m: &Message<'_>) -> bool {
    m.fields(HeaderName::AlertInfo).any(|v| {
        let l = v.to_ascii_lowercase();
        l.contains("alert-autoanswer") || l.contains("answer-after=0") || l.contains("auto answer")
    })
}

/// Escapes a URI header value (RFC 3261 19.1.1 / 25.1: hnv-unreserved and unreserved kept).
fn escape_header(v: &str) -> String {
    let mut out = String::with_capacity(v.len() * 3);
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()[]/?:+$".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Phone {
    pub fn new(cfg: PhoneConfig, seed: u64) -> Phone {
        Phone {
            tx: Transactions::new(cfg.timers),
            cfg,
            ids: Ids(seed),
            next_call: 1,
            calls: HashMap::new(),
            owners: HashMap::new(),
            events: VecDeque::new(),
            policy: UasPolicy::default(),
            failed_transfers: Vec::new(),
            by_call_id: HashMap::new(),
            deadlines: BinaryHeap::new(),
        }
    }

    pub fn config(&self) -> &PhoneConfig {
        &self.cfg
    }

    pub fn state(&self, call: CallRef) -> Option<CallState> {
        self.calls.get(&call).map(|c| c.state)
    }

    pub fn role(&self, call: CallRef) -> Option<Role> {
        self.calls.get(&call).map(|c| c.role)
    }

    pub fn calls(&self) -> Vec<CallRef> {
        let mut v: Vec<CallRef> = self.calls.keys().copied().collect();
        v.sort();
        v
    }

    /// The dialog of a call (for REFER / Replaces users).
    pub fn dialog(&self, call: CallRef) -> Option<&Dialog> {
        self.calls.get(&call).and_then(|c| c.dialog.as_ref())
    }

    pub fn on_hold(&self, call: CallRef) -> bool {
        self.calls.get(&call).is_some_and(|c| c.media.on_hold())
    }

    /// The session interval and whether we refresh, when a session timer runs.
    pub fn session_timer(&self, call: CallRef) -> Option<(u32, bool)> {
        self.calls
            .get(&call)
            .and_then(|c| c.timer.as_ref())
            .map(|t| (t.interval, t.we_refresh))
    }

    fn via(&mut self) -> String {
        format!(
            "SIP/2.0/{} {};branch=z9hG4bK{};rport",
            self.cfg.transport.via_name(),
            self.cfg.via_host,
            self.ids.token()
        )
    }

    fn our_from(&self) -> String {
        match &self.cfg.display_name {
            Some(d) => format!("{} <{}>", crate::lex::quote(d), self.cfg.aor),
            None => format!("<{}>", self.cfg.aor),
        }
    }

    fn allow(&self) -> String {
        self.policy.allow.join(", ")
    }

    fn dest_in_dialog(&self, d: &Dialog) -> Option<SocketAddr> {
        d.next_hop().or(self.cfg.outbound_proxy)
    }

    fn start_tx(
        &mut self,
        now: Instant,
        call: CallRef,
        purpose: Purpose,
        dest: SocketAddr,
        bytes: Vec<u8>,
    ) -> Result<TxId, CallError> {
        let id = self
            .tx
            .send_request(now, self.cfg.transport, dest, bytes)
            .map_err(|e| CallError::Tx(e.to_string()))?;
        self.owners.insert(id, (call, purpose));
        Ok(id)
    }

    // ----- commands -----

    /// Calls `target` (a SIP URI): INVITE with our offer.
    pub fn invite(&mut self, now: Instant, target: &str) -> Result<CallRef, CallError> {
        self.invite_with(now, target, Vec::new())
    }

    /// [`Phone::invite`] with extra headers (Referred-By, Replaces, Join, Alert-Info...).
    pub fn invite_with(
        &mut self,
        now: Instant,
        target: &str,
        extra: Vec<(HeaderName<'static>, String)>,
    ) -> Result<CallRef, CallError> {
        let dest = self
            .cfg
            .outbound_proxy
            .or_else(|| uri_addr(target))
            .ok_or_else(|| CallError::NoRoute(target.to_string()))?;
        let call = CallRef(self.next_call);
        self.next_call += 1;
        let mut local = self.cfg.media.clone();
        local.rtp_port = local.rtp_port.wrapping_add(2 * (call.0 % 64) as u16);
        local.session_id = self.ids.next() >> 20;
        let mut media = MediaSession::new(local);
        let offer = media.create_offer().emit();
        let host = self.cfg.via_host.split(':').next().unwrap_or("ac-sip");
        let c = Call {
            role: Role::Uac,
            state: CallState::Calling,
            call_id: format!("{}@{host}", self.ids.token()),
            local_tag: self.ids.token(),
            target: target.to_string(),
            to_value: format!("<{target}>"),
            invite_seq: 0,
            invite: None,
            invite_tx: None,
            offer_body: Some(offer),
            dialog: None,
            early: Vec::new(),
            media,
            req: None,
            server_tx: None,
            peer_100rel: false,
            peer_timer: false,
            local_sdp: None,
            offer_in_2xx: false,
            rel: None,
            rseq: 0,
            answer_after_prack: false,
            last_rseq: None,
            reinvite: None,
            incoming_reinvite: None,
            glare_at: None,
            timer: None,
            want_se: self.cfg.session_expires,
            cancel_wanted: false,
            cancel_sent: false,
            last_ack: None,
            redirects: 0,
            auth_tries: 0,
            peer_held: false,
            extra,
            notify_to: None,
            refer_served: false,
        };
        self.by_call_id
            .entry(c.call_id.clone())
            .or_default()
            .push(call);
        self.calls.insert(call, c);
        if let Err(e) = self.send_invite(now, call, dest, None) {
            self.remove_call(call);
            return Err(e);
        }
        Ok(call)
    }

    /// (Re)sends the initial INVITE with the next CSeq (after a redirect or a challenge).
    fn send_invite(
        &mut self,
        now: Instant,
        call: CallRef,
        dest: SocketAddr,
        auth: Option<(HeaderName<'static>, String)>,
    ) -> Result<(), CallError> {
        let via = self.via();
        let from = self.our_from();
        let contact = self.cfg.contact.clone();
        let Some(c) = self.calls.get_mut(&call) else {
            return Err(CallError::NoCall);
        };
        c.invite_seq += 1;
        let mut b = MessageBuf::request(Method::Invite, &c.target);
        b.push(HeaderName::Via, via);
        b.push(HeaderName::MaxForwards, "70");
        b.push(HeaderName::From, format!("{from};tag={}", c.local_tag));
        b.push(HeaderName::To, c.to_value.clone());
        b.push(HeaderName::CallId, c.call_id.clone());
        b.push(HeaderName::CSeq, format!("{} INVITE", c.invite_seq));
        b.push(HeaderName::Contact, format!("<{contact}>"));
        if let Some(se) = c.want_se {
            // RFC 4028 7.1: the UAC asks for an interval; the UAS chooses the refresher.
            b.push(HeaderName::SessionExpires, se.to_string());
            b.push(HeaderName::MinSe, self.cfg.min_se.to_string());
        }
        if let Some((h, v)) = auth {
            b.push(h, v);
        }
        for (h, v) in &c.extra {
            b.push(*h, v.clone());
        }
        let body = c.offer_body.clone().unwrap_or_default();
        b.push(HeaderName::Allow, self.policy.allow.join(", "));
        b.push(HeaderName::Supported, "100rel, timer, replaces, norefersub");
        if !self.cfg.user_agent.is_empty() {
            b.push(HeaderName::UserAgent, self.cfg.user_agent.clone());
        }
        b.set_body("application/sdp", body.into_bytes());
        let bytes = b.to_bytes();
        c.invite = Some(bytes.clone());
        c.state = CallState::Calling;
        let id = self.start_tx(now, call, Purpose::Invite, dest, bytes)?;
        if let Some(c) = self.calls.get_mut(&call) {
            c.invite_tx = Some(id);
        }
        Ok(())
    }

    fn uas_response(&mut self, call: CallRef, code: u16) -> Option<MessageBuf> {
        let contact = self.cfg.contact.clone();
        let allow = self.allow();
        let ua = self.cfg.user_agent.clone();
        let c = self.calls.get(&call)?;
        let req = c.req.as_ref()?;
        let m = Message::parse(req).ok()?;
        let mut r = response_to(&m, code, Some(&c.local_tag));
        if (101..300).contains(&code) {
            // RFC 3261 12.1.1: Record-Route is copied into dialog-creating responses.
            for v in m.fields(HeaderName::RecordRoute) {
                r.push(HeaderName::RecordRoute, v);
            }
            r.push(HeaderName::Contact, format!("<{contact}>"));
        }
        if code >= 200 {
            r.push(HeaderName::Allow, allow);
            r.push(HeaderName::Supported, "100rel, timer, replaces, norefersub");
        }
        if !ua.is_empty() {
            r.push(HeaderName::UserAgent, ua);
        }
        Some(r)
    }

    /// Sends 180 Ringing; reliably (RFC 3262) when we and the caller both do 100rel, and
    /// then with the answer to an offer in the INVITE (RFC 3262 5).
    pub fn ring(&mut self, now: Instant, call: CallRef) -> Result<(), CallError> {
        let c = self.calls.get(&call).ok_or(CallError::NoCall)?;
        if c.state != CallState::Ringing || c.role != Role::Uas {
            return Err(CallError::State(c.state));
        }
        let reliable = self.cfg.use_100rel && c.peer_100rel && c.rel.is_none();
        let mut r = self.uas_response(call, 180).ok_or(CallError::NoCall)?;
        let t1 = self.cfg.timers.t1;
        let c = self.calls.get_mut(&call).ok_or(CallError::NoCall)?;
        if reliable {
            c.rseq += 1;
            r.push(HeaderName::Require, "100rel");
            r.push(HeaderName::RSeq, c.rseq.to_string());
            let has_sdp = c.local_sdp.is_some() && !c.offer_in_2xx;
            if has_sdp {
                r.set_body(
                    "application/sdp",
                    c.local_sdp.clone().unwrap_or_default().into_bytes(),
                );
            }
            let bytes = r.to_bytes();
            c.rel = Some(Reliable {
                bytes: bytes.clone(),
                rseq: c.rseq,
                next: now + t1,
                interval: t1,
                give_up: now + 64 * t1,
                has_sdp,
            });
            let tx = c.server_tx.ok_or(CallError::NoCall)?;
            self.tx
                .respond(now, tx, bytes)
                .map_err(|e| CallError::Tx(e.to_string()))?;
            self.schedule(call);
        } else {
            let tx = c.server_tx.ok_or(CallError::NoCall)?;
            self.tx
                .respond(now, tx, r.to_bytes())
                .map_err(|e| CallError::Tx(e.to_string()))?;
        }
        Ok(())
    }

    fn timer_header(&self, c: &Call) -> Option<String> {
        c.timer.as_ref().map(|t| {
            let refresher = match (c.role, t.we_refresh) {
                (Role::Uas, true) | (Role::Uac, false) => "uas",
                _ => "uac",
            };
            format!("{};refresher={refresher}", t.interval)
        })
    }

    /// Answers an incoming call with 200 and our answer (or offer).
    pub fn answer(&mut self, now: Instant, call: CallRef) -> Result<(), CallError> {
        let c = self.calls.get_mut(&call).ok_or(CallError::NoCall)?;
        if c.state != CallState::Ringing {
            return Err(CallError::State(c.state));
        }
        // RFC 3262 3: no 2xx while a reliable 18x with a session description is unacknowledged.
        if c.rel.as_ref().is_some_and(|r| r.has_sdp) {
            c.answer_after_prack = true;
            return Ok(());
        }
        self.send_2xx(now, call)
    }

    fn send_2xx(&mut self, now: Instant, call: CallRef) -> Result<(), CallError> {
        let mut r = self.uas_response(call, 200).ok_or(CallError::NoCall)?;
        let c = self.calls.get_mut(&call).ok_or(CallError::NoCall)?;
        if c.local_sdp.is_none() && c.offer_in_2xx {
            c.local_sdp = Some(c.media.create_offer().emit());
        }
        let sdp = c.local_sdp.clone().unwrap_or_default();
        c.rel = None;
        c.answer_after_prack = false;
        let se = self.timer_header(self.calls.get(&call).ok_or(CallError::NoCall)?);
        let c = self.calls.get_mut(&call).ok_or(CallError::NoCall)?;
        if let Some(se) = se {
            r.push(HeaderName::SessionExpires, se);
            if c.peer_timer {
                r.push(HeaderName::Require, "timer");
            }
        }
        r.set_body("application/sdp", sdp.into_bytes());
        c.state = CallState::Answered;
        if let Some(d) = c.dialog.as_mut() {
            d.state = DialogState::Confirmed;
        }
        let tx = c.server_tx.ok_or(CallError::NoCall)?;
        self.tx
            .respond(now, tx, r.to_bytes())
            .map_err(|e| CallError::Tx(e.to_string()))?;
        self.arm_timer(now, call);
        Ok(())
    }

    /// Refuses an incoming call (486 Busy Here, 603 Decline, ...).
    pub fn reject(&mut self, now: Instant, call: CallRef, code: u16) -> Result<(), CallError> {
        let c = self.calls.get(&call).ok_or(CallError::NoCall)?;
        if c.state != CallState::Ringing {
            return Err(CallError::State(c.state));
        }
        let tx = c.server_tx.ok_or(CallError::NoCall)?;
        let r = self.uas_response(call, code).ok_or(CallError::NoCall)?;
        self.tx
            .respond(now, tx, r.to_bytes())
            .map_err(|e| CallError::Tx(e.to_string()))?;
        self.remove_call(call);
        self.events.push_back(CallEvent::Ended {
            call,
            by_peer: false,
            code,
        });
        Ok(())
    }

    /// Redirects an unanswered incoming call: 302 Moved Temporarily with `target` as the
    /// Contact (RFC 3261 21.3.3; the phone's call forwarding).
    pub fn redirect(&mut self, now: Instant, call: CallRef, target: &str) -> Result<(), CallError> {
        let c = self.calls.get(&call).ok_or(CallError::NoCall)?;
        if c.state != CallState::Ringing {
            return Err(CallError::State(c.state));
        }
        let tx = c.server_tx.ok_or(CallError::NoCall)?;
        let mut r = self.uas_response(call, 302).ok_or(CallError::NoCall)?;
        r.push(HeaderName::Contact, format!("<{target}>"));
        self.tx
            .respond(now, tx, r.to_bytes())
            .map_err(|e| CallError::Tx(e.to_string()))?;
        self.remove_call(call);
        self.events.push_back(CallEvent::Ended {
            call,
            by_peer: false,
            code: 302,
        });
        Ok(())
    }

    /// Ends a call: CANCEL before the answer (once a provisional arrived, RFC 3261 9.1),
    /// 603 to an unanswered incoming call, BYE after.
    pub fn hangup(&mut self, now: Instant, call: CallRef) -> Result<(), CallError> {
        let c = self.calls.get_mut(&call).ok_or(CallError::NoCall)?;
        match (c.role, c.state) {
            (Role::Uac, CallState::Calling) => {
                c.cancel_wanted = true;
                Ok(())
            }
            (Role::Uac, CallState::Proceeding) => {
                c.cancel_wanted = true;
                self.send_cancel(now, call)
            }
            (Role::Uas, CallState::Ringing) => self.reject(now, call, 603),
            (_, CallState::Terminating) => Ok(()),
            _ => self.send_bye(now, call),
        }
    }

    fn send_cancel(&mut self, now: Instant, call: CallRef) -> Result<(), CallError> {
        let c = self.calls.get_mut(&call).ok_or(CallError::NoCall)?;
        if c.cancel_sent {
            return Ok(());
        }
        let inv = c.invite.clone().ok_or(CallError::NoCall)?;
        let m = Message::parse(&inv).map_err(|e| CallError::Tx(e.to_string()))?;
        // RFC 3261 9.1: Request-URI, Call-ID, To, From, CSeq number and the top Via (same
        // branch) of the INVITE; Route likewise.
        let mut b = MessageBuf::request(Method::Cancel, &c.target);
        for h in &m.headers {
            let k = h.kind();
            match k {
                HeaderName::Via | HeaderName::Route | HeaderName::From | HeaderName::To => {
                    b.push(k, h.value.as_ref());
                    if k == HeaderName::Via {
                        // Only the top Via.
                    }
                }
                HeaderName::CallId => {
                    b.push(k, h.value.as_ref());
                }
                _ => {}
            }
        }
        b.push(HeaderName::CSeq, format!("{} CANCEL", c.invite_seq));
        b.push(HeaderName::MaxForwards, "70");
        c.cancel_sent = true;
        let dest = self
            .cfg
            .outbound_proxy
            .or_else(|| uri_addr(&self.calls[&call].target))
            .ok_or(CallError::NoRoute(String::new()))?;
        self.start_tx(now, call, Purpose::Cancel, dest, b.to_bytes())?;
        Ok(())
    }

    fn send_bye(&mut self, now: Instant, call: CallRef) -> Result<(), CallError> {
        let via = self.via();
        let contact = self.cfg.contact.clone();
        let c = self.calls.get_mut(&call).ok_or(CallError::NoCall)?;
        let d = c.dialog.as_mut().ok_or(CallError::State(c.state))?;
        let mut b = d.request(Method::Bye, &via, &contact);
        // RFC 3326: why the call ends.
        b.push(HeaderName::Reason, "SIP;cause=200;text=\"Call completed\"");
        c.state = CallState::Terminating;
        c.timer = None;
        c.rel = None;
        let dest = self
            .dest_in_dialog(self.calls[&call].dialog.as_ref().ok_or(CallError::NoCall)?)
            .ok_or(CallError::NoRoute(String::new()))?;
        self.start_tx(now, call, Purpose::Bye, dest, b.to_bytes())?;
        Ok(())
    }

    /// Puts the call on hold (re-INVITE with sendonly, RFC 3264 8.4).
    pub fn hold(&mut self, now: Instant, call: CallRef) -> Result<(), CallError> {
        self.set_hold(now, call, true)
    }

    pub fn resume(&mut self, now: Instant, call: CallRef) -> Result<(), CallError> {
        self.set_hold(now, call, false)
    }

    fn set_hold(&mut self, now: Instant, call: CallRef, hold: bool) -> Result<(), CallError> {
        let c = self.calls.get_mut(&call).ok_or(CallError::NoCall)?;
        if c.state != CallState::Confirmed {
            return Err(CallError::State(c.state));
        }
        c.media.set_hold(hold);
        if c.reinvite.is_some() || c.incoming_reinvite.is_some() {
            // Sent when the exchange in progress ends (the glare timer re-offers).
            c.glare_at = Some(now);
            self.schedule(call);
            return Ok(());
        }
        self.send_reinvite(now, call, Purpose::ReInvite)
    }

    /// Sends a re-INVITE (or UPDATE) with a new offer (hold, resume, session refresh).
    fn send_reinvite(
        &mut self,
        now: Instant,
        call: CallRef,
        purpose: Purpose,
    ) -> Result<(), CallError> {
        let via = self.via();
        let contact = self.cfg.contact.clone();
        let allow = self.allow();
        let ua = self.cfg.user_agent.clone();
        let c = self.calls.get_mut(&call).ok_or(CallError::NoCall)?;
        if c.reinvite.is_some() {
            return Err(CallError::OfferPending);
        }
        let se = c.timer.as_ref().map(|t| {
            let refresher = match (c.role, t.we_refresh) {
                (Role::Uas, true) | (Role::Uac, false) => "uas",
                _ => "uac",
            };
            format!("{};refresher={refresher}", t.interval)
        });
        let offer = c.media.create_offer().emit();
        let d = c.dialog.as_mut().ok_or(CallError::State(c.state))?;
        let method = if purpose == Purpose::Update {
            Method::Update
        } else {
            Method::Invite
        };
        let mut b = d.request(method, &via, &contact);
        let seq = d.local_seq;
        b.push(HeaderName::Allow, allow);
        b.push(HeaderName::Supported, "100rel, timer, replaces, norefersub");
        if let Some(se) = se {
            b.push(HeaderName::SessionExpires, se);
        }
        if !ua.is_empty() {
            b.push(HeaderName::UserAgent, ua);
        }
        b.set_body("application/sdp", offer.into_bytes());
        let dest = self
            .dest_in_dialog(self.calls[&call].dialog.as_ref().ok_or(CallError::NoCall)?)
            .ok_or(CallError::NoRoute(String::new()))?;
        let id = self.start_tx(now, call, purpose, dest, b.to_bytes())?;
        if let Some(c) = self.calls.get_mut(&call) {
            c.reinvite = Some((id, purpose, seq));
        }
        Ok(())
    }

    /// Blind transfer (RFC 3515, manual 3.3.7/3.3.9): REFER the peer of `call` to `target`
    /// with Referred-By (RFC 3892). Progress comes as [`CallEvent::TransferProgress`].
    pub fn transfer(&mut self, now: Instant, call: CallRef, target: &str) -> Result<(), CallError> {
        let via = self.via();
        let contact = self.cfg.contact.clone();
        let referred_by = format!("<{}>", self.cfg.aor);
        let c = self.calls.get_mut(&call).ok_or(CallError::NoCall)?;
        if c.state != CallState::Confirmed {
            return Err(CallError::State(c.state));
        }
        let d = c.dialog.as_mut().ok_or(CallError::State(c.state))?;
        let mut b = d.request(Method::Refer, &via, &contact);
        b.push(HeaderName::ReferTo, format!("<{target}>"));
        b.push(HeaderName::ReferredBy, referred_by);
        let dest = self
            .dest_in_dialog(self.calls[&call].dialog.as_ref().ok_or(CallError::NoCall)?)
            .ok_or(CallError::NoRoute(String::new()))?;
        self.start_tx(now, call, Purpose::Refer, dest, b.to_bytes())?;
        Ok(())
    }

    /// Attended (consultative) transfer: REFER the peer of `call` to the peer of `consult`
    /// with a Replaces header (RFC 3891) naming the consultation dialog, so the transfer
    /// target swaps its call with us for the call from the transferee.
    pub fn transfer_attended(
        &mut self,
        now: Instant,
        call: CallRef,
        consult: CallRef,
    ) -> Result<(), CallError> {
        let c = self.calls.get(&consult).ok_or(CallError::NoCall)?;
        let d = c.dialog.as_ref().ok_or(CallError::State(c.state))?;
        let uri = crate::msg::NameAddr::parse(&d.remote_uri)
            .map(|n| n.uri.to_string())
            .map_err(|e| CallError::Tx(e.to_string()))?;
        // RFC 3891 3: to-tag is the target's tag, from-tag ours, in the consultation dialog.
        let replaces = format!(
            "{};to-tag={};from-tag={}",
            d.id.call_id, d.id.remote_tag, d.id.local_tag
        );
        let target = format!("{uri}?Replaces={}", escape_header(&replaces));
        self.transfer(now, call, &target)
    }

    fn send_refer_notify(&mut self, now: Instant, call: CallRef, status: &str, terminated: bool) {
        let via = self.via();
        let contact = self.cfg.contact.clone();
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let Some(d) = c.dialog.as_mut() else {
            return;
        };
        // RFC 3515 2.4.4/2.4.5: NOTIFYs in the REFER's dialog, Event: refer, a sipfrag body
        // with the status line of the transferee's INVITE.
        let mut b = d.request(Method::Notify, &via, &contact);
        b.push(HeaderName::Event, "refer");
        b.push(
            HeaderName::SubscriptionState,
            if terminated {
                "terminated;reason=noresource"
            } else {
                "active;expires=60"
            },
        );
        b.set_body(
            "message/sipfrag;version=2.0",
            format!("{status}\r\n").into_bytes(),
        );
        let d = d.clone();
        if let Some(dest) = self.dest_in_dialog(&d) {
            let _ = self.start_tx(now, call, Purpose::Notify, dest, b.to_bytes());
        }
    }

    /// The outcome of a call placed for a REFER goes to the transferor (RFC 3515 2.4.5).
    fn report_transfer(&mut self, now: Instant, call: CallRef, code: u16, reason: &str) {
        let Some(old) = self.calls.get_mut(&call).and_then(|c| c.notify_to.take()) else {
            return;
        };
        self.send_refer_notify(now, old, &format!("SIP/2.0 {code} {reason}"), true);
    }

    /// Sends a key press in an INFO on the call's dialog (application/dtmf-relay or
    /// application/dtmf); the outcome comes back as [`CallEvent::InfoAnswered`].
    pub fn send_dtmf_info(
        &mut self,
        now: Instant,
        call: CallRef,
        dtmf: crate::dtmf::Dtmf,
        format: crate::dtmf::DtmfFormat,
    ) -> Result<(), CallError> {
        if !crate::dtmf::Dtmf::valid_key(dtmf.key) {
            return Err(CallError::BadKey(dtmf.key));
        }
        let via = self.via();
        let contact = self.cfg.contact.clone();
        let c = self.calls.get_mut(&call).ok_or(CallError::NoCall)?;
        if c.state != CallState::Confirmed {
            return Err(CallError::State(c.state));
        }
        let d = c.dialog.as_mut().ok_or(CallError::State(c.state))?;
        let mut b = d.request(Method::Info, &via, &contact);
        b.set_body(format.content_type(), dtmf.emit(format).into_bytes());
        let d = d.clone();
        let dest = self
            .dest_in_dialog(&d)
            .ok_or(CallError::NoRoute(String::new()))?;
        self.start_tx(now, call, Purpose::Info, dest, b.to_bytes())?;
        Ok(())
    }

    /// Sends a request built by another module on a call's dialog or outside any dialog
    /// (REFER, NOTIFY, SUBSCRIBE...), as a client transaction.
    pub fn send_request(
        &mut self,
        now: Instant,
        dest: SocketAddr,
        bytes: Vec<u8>,
    ) -> Result<TxId, CallError> {
        self.tx
            .send_request(now, self.cfg.transport, dest, bytes)
            .map_err(|e| CallError::Tx(e.to_string()))
    }

    /// The answer of another module to a [`CallEvent::Request`].
    pub fn respond(&mut self, now: Instant, tx: TxId, bytes: Vec<u8>) -> Result<(), CallError> {
        self.tx
            .respond(now, tx, bytes)
            .map_err(|e| CallError::Tx(e.to_string()))
    }

    // ----- session timers (RFC 4028) -----

    fn arm_timer(&mut self, now: Instant, call: CallRef) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if let Some(t) = c.timer.as_mut() {
            let iv = Duration::from_secs(t.interval as u64);
            if t.we_refresh {
                // RFC 4028 10: refresh at half the interval.
                t.refresh_at = Some(now + iv / 2);
                t.expire_at = None;
            } else {
                // RFC 4028 10: BYE if no refresh by interval - min(32, interval/3).
                let margin = Duration::from_secs((t.interval as u64 / 3).min(32));
                t.expire_at = Some(now + iv - margin);
                t.refresh_at = None;
            }
        }
        self.schedule(call);
    }

    // ----- input -----

    /// Bytes from a transport.
    pub fn handle_message(
        &mut self,
        now: Instant,
        transport: Transport,
        source: SocketAddr,
        data: &[u8],
    ) {
        self.tx.handle_message(now, transport, source, data);
        self.drain(now);
    }

    /// A transport could not reach `dest`.
    pub fn handle_transport_error(&mut self, now: Instant, dest: SocketAddr) {
        self.tx.handle_transport_error(now, dest);
        self.drain(now);
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.tx.handle_timeout(now);
        self.drain(now);
        let mut ids: Vec<CallRef> = Vec::new();
        while let Some(Reverse((t, call))) = self.deadlines.peek().copied() {
            if t > now {
                break;
            }
            self.deadlines.pop();
            if !ids.contains(&call) {
                ids.push(call);
            }
        }
        for &call in &ids {
            // Reliable provisional retransmission (RFC 3262 3).
            let mut resend = None;
            let mut give_up = false;
            if let Some(c) = self.calls.get_mut(&call) {
                if let Some(r) = c.rel.as_mut() {
                    if r.give_up <= now {
                        give_up = true;
                    } else if r.next <= now {
                        r.interval *= 2;
                        r.next = now + r.interval;
                        resend = Some((c.server_tx, r.bytes.clone()));
                    }
                }
            }
            if let Some((Some(tx), bytes)) = resend {
                let _ = self.tx.respond(now, tx, bytes);
            }
            if give_up {
                // RFC 3262 3: no PRACK in 64*T1: reject the INVITE with a 5xx.
                if let Some(c) = self.calls.get_mut(&call) {
                    c.rel = None;
                    c.state = CallState::Ringing;
                }
                let _ = self.reject(now, call, 504);
                continue;
            }
            let Some(c) = self.calls.get_mut(&call) else {
                continue;
            };
            if c.glare_at.is_some_and(|t| t <= now)
                && c.reinvite.is_none()
                && c.incoming_reinvite.is_none()
                && c.state == CallState::Confirmed
            {
                c.glare_at = None;
                let _ = self.send_reinvite(now, call, Purpose::ReInvite);
                continue;
            }
            let Some(c) = self.calls.get_mut(&call) else {
                continue;
            };
            let (refresh, expire) = match &c.timer {
                Some(t) => (
                    t.refresh_at.is_some_and(|x| x <= now),
                    t.expire_at.is_some_and(|x| x <= now),
                ),
                None => (false, false),
            };
            if refresh && c.state == CallState::Confirmed {
                if let Some(t) = c.timer.as_mut() {
                    t.refresh_at = None;
                }
                if c.reinvite.is_none() {
                    let _ = self.send_reinvite(now, call, Purpose::ReInvite);
                }
            } else if expire {
                // RFC 4028 10: the session expired.
                let _ = self.send_bye(now, call);
                self.finish(call, false, 408);
            }
        }
        for call in ids {
            self.schedule(call);
        }
        self.drain(now);
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.tx.poll_transmit()
    }

    pub fn poll_event(&mut self) -> Option<CallEvent> {
        self.events.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let t = self.tx.poll_timeout();
        match (t, self.deadlines.peek().map(|r| r.0 .0)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Reports the end of a call and forgets it (a BYE in flight stays owned by its
    /// transaction and is not reported again).
    fn finish(&mut self, call: CallRef, by_peer: bool, code: u16) {
        if self.remove_call(call).is_some() {
            self.events.push_back(CallEvent::Ended {
                call,
                by_peer,
                code,
            });
        }
    }

    fn drain(&mut self, now: Instant) {
        while let Some(e) = self.tx.poll_event() {
            match e {
                TxEvent::Request {
                    tx,
                    source,
                    transport: _,
                    data,
                } => self.on_request(now, tx, source, data),
                TxEvent::Ack { data, .. } => self.on_ack(now, &data),
                TxEvent::Cancelled { invite } => {
                    let hit = self
                        .calls
                        .iter()
                        .find(|(_, c)| c.server_tx == Some(invite) && c.state == CallState::Ringing)
                        .map(|(k, _)| *k);
                    if let Some(call) = hit {
                        if let Some(r) = self.uas_response(call, 487) {
                            let _ = self.tx.respond(now, invite, r.to_bytes());
                        }
                        self.finish(call, true, 487);
                    }
                }
                TxEvent::Response { tx, data } => self.on_response(now, tx, &data),
                TxEvent::Timeout { tx } | TxEvent::TransportError { tx } => {
                    match self.owners.remove(&tx) {
                        Some((call, p)) => self.on_failure(now, call, p),
                        None => self.events.push_back(CallEvent::TxFailed { tx }),
                    }
                }
                TxEvent::AckTimeout { tx } => {
                    // RFC 3261 13.3.1.4: no ACK for our 2xx: end the call with BYE.
                    let hit = self
                        .calls
                        .iter()
                        .find(|(_, c)| c.server_tx == Some(tx) || c.incoming_reinvite == Some(tx))
                        .map(|(k, _)| *k);
                    if let Some(call) = hit {
                        let _ = self.send_bye(now, call);
                        self.finish(call, false, 408);
                    }
                }
                TxEvent::Terminated { tx } => {
                    self.owners.remove(&tx);
                }
                TxEvent::Dropped { .. } => {}
            }
        }
        for (old, code, reason) in std::mem::take(&mut self.failed_transfers) {
            self.send_refer_notify(now, old, &format!("SIP/2.0 {code} {reason}"), true);
        }
    }

    fn on_failure(&mut self, now: Instant, call: CallRef, p: Purpose) {
        match p {
            Purpose::Invite => self.fail(call, 408, "Request Timeout".into()),
            Purpose::Bye => self.finish(call, false, 408),
            Purpose::Refer => self
                .events
                .push_back(CallEvent::TransferFailed { call, code: 408 }),
            Purpose::Info => self
                .events
                .push_back(CallEvent::InfoAnswered { call, code: 408 }),
            Purpose::ReInvite | Purpose::Update => {
                // RFC 3261 14.1: a re-INVITE that times out ends the dialog.
                let _ = self.send_bye(now, call);
                self.finish(call, false, 408);
            }
            _ => {}
        }
    }

    fn find_dialog_call(&self, m: &Message<'_>) -> Option<CallRef> {
        let refs = self.by_call_id.get(m.call_id().ok()?)?;
        refs.iter().copied().find(|r| {
            self.calls
                .get(r)
                .and_then(|c| c.dialog.as_ref())
                .is_some_and(|d| d.matches_request(m))
        })
    }

    fn remove_call(&mut self, call: CallRef) -> Option<Call> {
        let c = self.calls.remove(&call)?;
        if let Some(v) = self.by_call_id.get_mut(&c.call_id) {
            v.retain(|r| *r != call);
            if v.is_empty() {
                self.by_call_id.remove(&c.call_id);
            }
        }
        Some(c)
    }

    /// Puts a call's next own deadline on the heap.
    fn schedule(&mut self, call: CallRef) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let mut t: Option<Instant> = None;
        let mut min = |x: Option<Instant>| {
            if let Some(x) = x {
                t = Some(t.map_or(x, |y| y.min(x)));
            }
        };
        if let Some(r) = &c.rel {
            min(Some(r.next.min(r.give_up)));
        }
        min(c.glare_at);
        if let Some(s) = &c.timer {
            min(s.refresh_at);
            min(s.expire_at);
        }
        if let Some(t) = t {
            self.deadlines.push(Reverse((t, call)));
        }
    }

    fn on_ack(&mut self, now: Instant, data: &[u8]) {
        let Ok(m) = Message::parse(data) else {
            return;
        };
        let Some(call) = self.find_dialog_call(&m) else {
            return;
        };
        let is_sdp = body_is_sdp(&m);
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let mut ev = Vec::new();
        if c.state == CallState::Answered {
            c.state = CallState::Confirmed;
            ev.push(CallEvent::Answered { call });
            if c.offer_in_2xx && is_sdp {
                c.offer_in_2xx = false;
                if let Ok(s) = Session::parse_bytes(m.body) {
                    if let Ok(n) = c.media.apply_answer(&s) {
                        ev.push(CallEvent::Media {
                            call,
                            negotiated: Box::new(n),
                        });
                    }
                }
            }
        } else if c.incoming_reinvite.take().is_some() && is_sdp && c.media.offer_pending() {
            if let Ok(s) = Session::parse_bytes(m.body) {
                if let Ok(n) = c.media.apply_answer(&s) {
                    ev.push(CallEvent::Media {
                        call,
                        negotiated: Box::new(n),
                    });
                }
            }
        }
        // The answered re-INVITE is over; a hold/resume queued behind it may go now.
        if let Some(c) = self.calls.get_mut(&call) {
            c.incoming_reinvite = None;
        }
        self.events.extend(ev);
        let _ = now;
    }

    fn respond_to(&mut self, now: Instant, tx: TxId, m: &Message<'_>, code: u16, tag: &str) {
        let mut r = response_to(m, code, Some(tag));
        if code == 491 || code == 500 {
            // RFC 3261 14.2: Retry-After with a random 0-10 s for the 500.
            if code == 500 {
                r.push(HeaderName::RetryAfter, (self.ids.next() % 10).to_string());
            }
        }
        if let Some(ua) = Some(self.cfg.user_agent.clone()).filter(|u| !u.is_empty()) {
            r.push(HeaderName::UserAgent, ua);
        }
        let _ = self.tx.respond(now, tx, r.to_bytes());
    }

    fn on_request(&mut self, now: Instant, tx: TxId, source: SocketAddr, data: Vec<u8>) {
        let Ok(m) = Message::parse(&data) else {
            return;
        };
        let tag = self.ids.token();
        if let Some(r) = precheck(&m, &self.policy, &tag) {
            let _ = self.tx.respond(now, tx, r.to_bytes());
            return;
        }
        let method = m.method().unwrap_or(Method::Options);
        let has_to_tag = m.to().ok().and_then(|t| t.tag()).is_some();
        let call = if has_to_tag {
            self.find_dialog_call(&m)
        } else {
            None
        };
        match method {
            Method::Invite if !has_to_tag => self.on_new_invite(now, tx, &m, data.clone()),
            Method::Invite | Method::Update => match call {
                Some(call) => self.on_reoffer(now, tx, call, &m, method),
                None => self.respond_to(now, tx, &m, 481, &tag),
            },
            Method::Bye => match call {
                Some(call) => {
                    let local = self.calls[&call].local_tag.clone();
                    let ringing = self.calls[&call].state == CallState::Ringing;
                    self.respond_to(now, tx, &m, 200, &local);
                    if ringing {
                        if let Some(r) = self.uas_response(call, 487) {
                            if let Some(stx) = self.calls[&call].server_tx {
                                let _ = self.tx.respond(now, stx, r.to_bytes());
                            }
                        }
                    }
                    self.finish(call, true, 200);
                }
                None => self.respond_to(now, tx, &m, 481, &tag),
            },
            Method::Prack => self.on_prack(now, tx, call, &m),
            Method::Options => {
                let local = call
                    .and_then(|c| self.calls.get(&c))
                    .map(|c| c.local_tag.clone())
                    .unwrap_or(tag);
                let mut r = response_to(&m, 200, Some(&local));
                r.push(HeaderName::Allow, self.allow());
                r.push(HeaderName::Accept, "application/sdp");
                r.push(HeaderName::Supported, "100rel, timer, replaces, norefersub");
                let _ = self.tx.respond(now, tx, r.to_bytes());
            }
            Method::Refer if call.is_some() => {
                self.on_refer(now, tx, call.unwrap_or(CallRef(0)), &m);
            }
            Method::Notify
                if call.is_some()
                    && m.first(HeaderName::Event)
                        .and_then(|e| TokenParams::parse(e).ok())
                        .is_some_and(|e| e.value.eq_ignore_ascii_case("refer")) =>
            {
                let call = call.unwrap_or(CallRef(0));
                let local = self.calls[&call].local_tag.clone();
                self.respond_to(now, tx, &m, 200, &local);
                let code = std::str::from_utf8(m.body)
                    .ok()
                    .and_then(|b| b.lines().next())
                    .and_then(|l| l.strip_prefix("SIP/2.0 "))
                    .and_then(|l| l.get(..3))
                    .and_then(|c| c.parse::<u16>().ok());
                if let Some(code) = code {
                    self.events
                        .push_back(CallEvent::TransferProgress { call, code });
                }
            }
            Method::Info if call.is_some() => {
                let call = call.unwrap_or(CallRef(0));
                let local = self.calls[&call].local_tag.clone();
                let format = m
                    .first(HeaderName::ContentType)
                    .and_then(crate::dtmf::DtmfFormat::from_content_type);
                match format.map(|f| crate::dtmf::Dtmf::parse(f, m.body)) {
                    Some(Ok(d)) => {
                        self.respond_to(now, tx, &m, 200, &local);
                        self.events.push_back(CallEvent::Dtmf {
                            call,
                            key: d.key,
                            duration_ms: d.duration_ms,
                        });
                    }
                    // A DTMF body we cannot read: 400 (RFC 3261 21.4.1).
                    Some(Err(_)) => self.respond_to(now, tx, &m, 400, &local),
                    None => {
                        self.respond_to(now, tx, &m, 200, &local);
                        self.events.push_back(CallEvent::Info {
                            call,
                            body: String::from_utf8_lossy(m.body).into_owned(),
                        });
                    }
                }
            }
            // RFC 3428 7: a MESSAGE is answered 200 when the body was delivered to the user.
            Method::Message
                if m.content_type()
                    .ok()
                    .flatten()
                    .is_some_and(|t| t.is("text", "plain")) =>
            {
                let local = call
                    .and_then(|c| self.calls.get(&c))
                    .map(|c| c.local_tag.clone())
                    .unwrap_or(tag);
                if m.body.len() > 64 * 1024 {
                    // RFC 3428 7: over-long pagers get 413.
                    self.respond_to(now, tx, &m, 413, &local);
                    return;
                }
                let Ok(text) = std::str::from_utf8(m.body) else {
                    self.respond_to(now, tx, &m, 400, &local);
                    return;
                };
                self.respond_to(now, tx, &m, 200, &local);
                let from = m.from().ok().map(|f| f.uri.to_string()).unwrap_or_default();
                self.events.push_back(CallEvent::Message {
                    call,
                    from,
                    text: text.to_string(),
                });
            }
            // A MESSAGE body the phone cannot show (its type passed the 8.2.3 check as one the
            // stack reads elsewhere, such as application/pidf+xml): 415 naming text/plain.
            Method::Message => {
                let local = call
                    .and_then(|c| self.calls.get(&c))
                    .map(|c| c.local_tag.clone())
                    .unwrap_or(tag);
                let mut r = response_to(&m, 415, Some(&local));
                r.push(HeaderName::Accept, "text/plain");
                let _ = self.tx.respond(now, tx, r.to_bytes());
            }
            _ => {
                if let (Some(call), Some(c)) = (call, call.and_then(|c| self.calls.get_mut(&c))) {
                    if let Some(d) = c.dialog.as_mut() {
                        if d.handle_request(&m).is_err() {
                            let lt = c.local_tag.clone();
                            self.respond_to(now, tx, &m, 500, &lt);
                            return;
                        }
                    }
                    let _ = call;
                }
                self.events.push_back(CallEvent::Request {
                    tx,
                    call,
                    source,
                    data,
                });
            }
        }
    }

    /// A REFER in a call (RFC 3515): we are the transferee.
    fn on_refer(&mut self, now: Instant, tx: TxId, call: CallRef, m: &Message<'_>) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let local = c.local_tag.clone();
        if let Some(d) = c.dialog.as_mut() {
            if d.handle_request(m).is_err() {
                self.respond_to(now, tx, m, 500, &local);
                return;
            }
        }
        // RFC 3515 2.4.1: exactly one Refer-To.
        let refer_to = m
            .first(HeaderName::ReferTo)
            .and_then(|v| crate::msg::NameAddr::parse(v).ok());
        let Some(na) = refer_to else {
            self.respond_to(now, tx, m, 400, &local);
            return;
        };
        let (target, replaces) = match &na.uri {
            crate::uri::Uri::Sip(u) => {
                let mut u = u.clone();
                let rep = u
                    .headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case("Replaces"))
                    .map(|(_, v)| crate::lex::unescape(v).into_owned());
                u.headers.clear();
                (u.to_string(), rep)
            }
            other => (other.to_string(), None),
        };
        self.respond_to(now, tx, m, 202, &local);
        // RFC 3892: the INVITE carries the Referred-By of the REFER (else its From).
        let referred_by = m
            .first(HeaderName::ReferredBy)
            .or(m.first(HeaderName::From))
            .unwrap_or("")
            .to_string();
        if let Some(c) = self.calls.get_mut(&call) {
            c.refer_served = true;
        }
        self.send_refer_notify(now, call, "SIP/2.0 100 Trying", false);
        let mut extra = vec![(HeaderName::ReferredBy, referred_by)];
        if let Some(r) = &replaces {
            extra.push((HeaderName::Replaces, r.clone()));
        }
        match self.invite_with(now, &target, extra) {
            Ok(new_call) => {
                if let Some(c) = self.calls.get_mut(&new_call) {
                    c.notify_to = Some(call);
                }
                self.events.push_back(CallEvent::TransferRequested {
                    call,
                    new_call,
                    target,
                    replaces: replaces.is_some(),
                });
            }
            Err(_) => self.send_refer_notify(now, call, "SIP/2.0 503 Service Unavailable", true),
        }
    }

    /// The call an INVITE's Replaces header (RFC 3891 3) names: Call-ID, to-tag (ours),
    /// from-tag (theirs).
    fn replaced_call(&self, v: &str) -> Option<CallRef> {
        // Replaces = callid *(SEMI replaces-param); callid = word ["@" word].
        let mut it = v.split(';').map(|p| p.trim());
        let call_id = it.next().filter(|c| !c.is_empty())?;
        let (mut to, mut from) = (None, None);
        for p in it {
            match p.split_once('=') {
                Some((n, v)) if n.trim().eq_ignore_ascii_case("to-tag") => to = Some(v.trim()),
                Some((n, v)) if n.trim().eq_ignore_ascii_case("from-tag") => from = Some(v.trim()),
                _ => {}
            }
        }
        let (to, from) = (to?, from?);
        self.calls
            .iter()
            .find(|(_, c)| {
                c.dialog.as_ref().is_some_and(|d| {
                    d.id.call_id == call_id
                        && d.id.local_tag == to
                        && d.id.remote_tag == from
                        && c.state == CallState::Confirmed
                })
            })
            .map(|(k, _)| *k)
    }

    fn on_new_invite(&mut self, now: Instant, tx: TxId, m: &Message<'_>, data: Vec<u8>) {
        let tag = self.ids.token();
        let replaced = match m.first(HeaderName::Replaces) {
            Some(v) => match self.replaced_call(v) {
                Some(c) => Some(c),
                None => {
                    // RFC 3891 3: no such dialog.
                    self.respond_to(now, tx, m, 481, &tag);
                    return;
                }
            },
            None => None,
        };
        if self.cfg.busy_on_busy && !self.calls.is_empty() && replaced.is_none() {
            self.respond_to(now, tx, m, 486, &tag);
            return;
        }
        // RFC 4028 8.1: an interval below our Min-SE is refused with 422.
        let se = session_expires(m);
        if let Some((secs, _)) = se {
            if secs < self.cfg.min_se {
                let mut r = response_to(m, 422, Some(&tag));
                r.push(HeaderName::MinSe, self.cfg.min_se.to_string());
                let _ = self.tx.respond(now, tx, r.to_bytes());
                return;
            }
        }
        let call = CallRef(self.next_call);
        self.next_call += 1;
        let mut local = self.cfg.media.clone();
        local.rtp_port = local.rtp_port.wrapping_add(2 * (call.0 % 64) as u16);
        local.session_id = self.ids.next() >> 20;
        let mut media = MediaSession::new(local);
        let mut local_sdp = None;
        let mut negotiated = None;
        let offer_in_2xx = !body_is_sdp(m);
        if !offer_in_2xx {
            let answer = Session::parse_bytes(m.body)
                .map_err(|_| ())
                .and_then(|o| media.answer(&o).map_err(|_| ()));
            match answer {
                Ok((a, n)) => {
                    local_sdp = Some(a.emit());
                    negotiated = Some(n);
                }
                Err(()) => {
                    // RFC 3261 13.3.1.3 / 21.4.26.
                    self.respond_to(now, tx, m, 488, &tag);
                    return;
                }
            }
        }
        let dialog = match Dialog::uas(m, &tag) {
            Ok(mut d) => {
                d.state = DialogState::Early;
                d
            }
            Err(_) => {
                self.respond_to(now, tx, m, 400, &tag);
                return;
            }
        };
        let peer_100rel = has_tag(m, HeaderName::Supported, "100rel")
            || has_tag(m, HeaderName::Require, "100rel");
        let peer_timer = has_tag(m, HeaderName::Supported, "timer");
        // RFC 4028 9: the UAS picks the refresher: the caller's choice, else the caller
        // when it supports timers, else us.
        let timer = match (se, self.cfg.session_expires) {
            (Some((secs, refresher)), _) => {
                let uac_refreshes = match refresher.as_deref() {
                    Some("uas") => false,
                    Some("uac") => true,
                    _ => peer_timer,
                };
                Some(SessionTimer {
                    interval: secs,
                    we_refresh: !uac_refreshes,
                    refresh_at: None,
                    expire_at: None,
                })
            }
            (None, Some(ours)) if peer_timer => Some(SessionTimer {
                interval: ours.max(self.cfg.min_se),
                we_refresh: false,
                refresh_at: None,
                expire_at: None,
            }),
            (None, Some(ours)) => Some(SessionTimer {
                interval: ours.max(self.cfg.min_se),
                we_refresh: true,
                refresh_at: None,
                expire_at: None,
            }),
            (None, None) => None,
        };
        let replaces = m.first(HeaderName::Replaces).map(str::to_string);
        let c = Call {
            role: Role::Uas,
            state: CallState::Ringing,
            call_id: m.call_id().map(str::to_string).unwrap_or_default(),
            local_tag: tag,
            target: String::new(),
            to_value: String::new(),
            invite_seq: m.cseq().map(|c| c.seq).unwrap_or(0),
            invite: None,
            invite_tx: None,
            offer_body: None,
            dialog: Some(dialog),
            early: Vec::new(),
            media,
            req: Some(data),
            server_tx: Some(tx),
            peer_100rel,
            peer_timer,
            local_sdp,
            offer_in_2xx,
            rel: None,
            rseq: (self.ids.next() % 1000) as u32,
            answer_after_prack: false,
            last_rseq: None,
            reinvite: None,
            incoming_reinvite: None,
            glare_at: None,
            timer,
            want_se: None,
            cancel_wanted: false,
            cancel_sent: false,
            last_ack: None,
            redirects: 0,
            auth_tries: 0,
            peer_held: false,
            extra: Vec::new(),
            notify_to: None,
            refer_served: false,
        };
        self.by_call_id
            .entry(c.call_id.clone())
            .or_default()
            .push(call);
        self.calls.insert(call, c);
        self.events.push_back(CallEvent::Incoming {
            call,
            caller: caller_id(m),
            auto_answer: auto_answer(m),
            replaces,
        });
        if let Some(n) = negotiated {
            self.events.push_back(CallEvent::Media {
                call,
                negotiated: Box::new(n),
            });
        }
        if let Some(old) = replaced {
            // RFC 3891 3: the new call takes the old one's place: answer it, end the old.
            let _ = self.answer(now, call);
            let _ = self.hangup(now, old);
            self.events.push_back(CallEvent::Replaced {
                old,
                new_call: call,
            });
        } else if self.cfg.auto_ringing {
            let _ = self.ring(now, call);
        }
    }

    fn on_prack(&mut self, now: Instant, tx: TxId, call: Option<CallRef>, m: &Message<'_>) {
        let tag = self.ids.token();
        let rack = m.first(HeaderName::RAck).and_then(|v| RAck::parse(v).ok());
        let hit = call.zip(rack).and_then(|(call, r)| {
            let c = self.calls.get(&call)?;
            let rel = c.rel.as_ref()?;
            (rel.rseq == r.rseq && r.cseq == c.invite_seq).then_some(call)
        });
        let Some(call) = hit else {
            // RFC 3262 4: a PRACK matching no unacknowledged reliable response: 481.
            self.respond_to(now, tx, m, 481, &tag);
            return;
        };
        let local = self.calls[&call].local_tag.clone();
        self.respond_to(now, tx, m, 200, &local);
        let answer_now = match self.calls.get_mut(&call) {
            Some(c) => {
                c.rel = None;
                c.answer_after_prack
            }
            None => false,
        };
        if answer_now {
            let _ = self.send_2xx(now, call);
        }
    }

    /// A re-INVITE or UPDATE from the peer (RFC 3261 14.2, RFC 3311).
    fn on_reoffer(
        &mut self,
        now: Instant,
        tx: TxId,
        call: CallRef,
        m: &Message<'_>,
        method: Method<'_>,
    ) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let local = c.local_tag.clone();
        if let Some(d) = c.dialog.as_mut() {
            if d.handle_request(m).is_err() {
                self.respond_to(now, tx, m, 500, &local);
                return;
            }
        }
        // RFC 3261 14.2 / RFC 3311 5.2: an offer of ours is outstanding: 491 (glare).
        if c.reinvite.is_some() || c.media.offer_pending() {
            self.respond_to(now, tx, m, 491, &local);
            return;
        }
        if c.incoming_reinvite.is_some() {
            self.respond_to(now, tx, m, 500, &local);
            return;
        }
        let is_sdp = body_is_sdp(m);
        let mut ev = Vec::new();
        let body = if is_sdp {
            let offered = Session::parse_bytes(m.body).ok();
            let peer_dir = offered
                .as_ref()
                .and_then(|o| (!o.media.is_empty()).then(|| o.direction_of(0)));
            match offered.map(|o| c.media.answer(&o)) {
                Some(Ok((a, n))) => {
                    let held = matches!(peer_dir, Some(Direction::SendOnly | Direction::Inactive))
                        || n.remote_rtp.is_none();
                    if held != c.peer_held {
                        c.peer_held = held;
                        ev.push(CallEvent::RemoteHold { call, held });
                    }
                    ev.push(CallEvent::Media {
                        call,
                        negotiated: Box::new(n),
                    });
                    Some(a.emit())
                }
                _ => {
                    self.respond_to(now, tx, m, 488, &local);
                    return;
                }
            }
        } else if method == Method::Invite {
            // No offer in the re-INVITE: ours goes in the 2xx, the answer in the ACK.
            Some(c.media.create_offer().emit())
        } else {
            None
        };
        // RFC 4028 9: a refresh sets the interval again.
        if let Some((secs, refresher)) = session_expires(m) {
            let peer_refreshes = match (c.role, refresher.as_deref()) {
                (Role::Uas, Some("uac")) | (Role::Uac, Some("uas")) => true,
                (_, Some(_)) => false,
                _ => c.timer.as_ref().is_none_or(|t| !t.we_refresh),
            };
            c.timer = Some(SessionTimer {
                interval: secs.max(self.cfg.min_se),
                we_refresh: !peer_refreshes,
                refresh_at: None,
                expire_at: None,
            });
        }
        let mut r = response_to(m, 200, Some(&local));
        r.push(HeaderName::Contact, format!("<{}>", self.cfg.contact));
        r.push(HeaderName::Allow, self.allow());
        r.push(HeaderName::Supported, "100rel, timer, replaces, norefersub");
        let c = &self.calls[&call];
        if let Some(se) = self.timer_header(c) {
            r.push(HeaderName::SessionExpires, se);
            r.push(HeaderName::Require, "timer");
        }
        if let Some(b) = body {
            r.set_body("application/sdp", b.into_bytes());
        }
        let _ = self.tx.respond(now, tx, r.to_bytes());
        if method == Method::Invite {
            if let Some(c) = self.calls.get_mut(&call) {
                c.incoming_reinvite = Some(tx);
            }
        }
        self.arm_timer(now, call);
        if self.calls[&call].timer.is_some() {
            ev.push(CallEvent::Refreshed { call });
        }
        self.events.extend(ev);
    }

    fn on_response(&mut self, now: Instant, tx: TxId, data: &[u8]) {
        let Some(&(call, purpose)) = self.owners.get(&tx) else {
            self.events.push_back(CallEvent::Response {
                tx,
                data: data.to_vec(),
            });
            return;
        };
        let Ok(m) = Message::parse(data) else {
            return;
        };
        let code = m.status().unwrap_or(0);
        if code >= 200 && !(purpose == Purpose::Invite && (200..300).contains(&code)) {
            self.owners.remove(&tx);
        }
        match purpose {
            Purpose::Invite => self.on_invite_response(now, call, &m, data),
            Purpose::ReInvite | Purpose::Update => {
                self.on_reinvite_response(now, call, tx, purpose, &m)
            }
            // The code of the BYE's final response (200, or why the peer refused it).
            Purpose::Bye if code >= 200 => self.finish(call, false, code),
            Purpose::Refer if code >= 300 => {
                self.events
                    .push_back(CallEvent::TransferFailed { call, code });
            }
            Purpose::Info if code >= 200 => {
                self.events
                    .push_back(CallEvent::InfoAnswered { call, code });
            }
            Purpose::Cancel
            | Purpose::Prack
            | Purpose::ForkBye
            | Purpose::Bye
            | Purpose::Refer
            | Purpose::Info
            | Purpose::Notify => {}
        }
    }

    fn send_ack(&mut self, call: CallRef, d: &Dialog, seq: u32, body: Option<String>) {
        let via = self.via();
        let mut ack = d.request_with_seq(Method::Ack, seq, &via, "");
        if let Some(b) = body {
            ack.set_body("application/sdp", b.into_bytes());
        }
        let bytes = ack.to_bytes();
        if let Some(dest) = self.dest_in_dialog(d) {
            self.tx
                .send_stateless(self.cfg.transport, dest, bytes.clone());
        }
        if let Some(c) = self.calls.get_mut(&call) {
            c.last_ack = Some((d.id.remote_tag.clone(), bytes));
        }
    }

    fn on_invite_response(&mut self, now: Instant, call: CallRef, m: &Message<'_>, data: &[u8]) {
        let code = m.status().unwrap_or(0);
        let Some(c) = self.calls.get_mut(&call) else {
            // A 2xx for a call we gave up: nothing to do (the transaction ACKs non-2xx).
            return;
        };
        let Some(inv) = c.invite.clone() else {
            return;
        };
        let Ok(req) = Message::parse(&inv) else {
            return;
        };
        let to_tag = m.to().ok().and_then(|t| t.tag()).map(|t| t.into_owned());
        match code {
            100 => {
                if c.state == CallState::Calling {
                    c.state = CallState::Proceeding;
                }
                if c.cancel_wanted {
                    let _ = self.send_cancel(now, call);
                }
            }
            101..=199 => {
                if c.state == CallState::Calling {
                    c.state = CallState::Proceeding;
                }
                let mut prack = None;
                let mut media_ev = None;
                if let Some(tag) = &to_tag {
                    let pos = c.early.iter().position(|d| &d.id.remote_tag == tag);
                    let idx = match pos {
                        Some(i) => {
                            c.early[i].update_from_response(m);
                            Some(i)
                        }
                        None => Dialog::uac(&req, m).ok().map(|d| {
                            c.early.push(d);
                            c.early.len() - 1
                        }),
                    };
                    let rseq = m
                        .first(HeaderName::RSeq)
                        .and_then(|v| crate::lex::decimal::<u32>(v.trim()));
                    if let (Some(i), Some(rseq), true) =
                        (idx, rseq, has_tag(m, HeaderName::Require, "100rel"))
                    {
                        // RFC 3262 4: in order only; a retransmission is not acknowledged again.
                        let fresh = c.last_rseq.is_none_or(|l| rseq == l.wrapping_add(1));
                        if fresh {
                            c.last_rseq = Some(rseq);
                            if body_is_sdp(m) && c.media.offer_pending() {
                                if let Ok(s) = Session::parse_bytes(m.body) {
                                    if let Ok(n) = c.media.apply_answer(&s) {
                                        media_ev = Some(n);
                                    }
                                }
                            }
                            prack = Some((c.early[i].clone(), rseq, c.invite_seq));
                        }
                    }
                }
                if let Some(n) = media_ev {
                    self.events.push_back(CallEvent::Media {
                        call,
                        negotiated: Box::new(n),
                    });
                }
                if let Some((mut d, rseq, iseq)) = prack {
                    let via = self.via();
                    let contact = self.cfg.contact.clone();
                    let mut b = d.request(Method::Prack, &via, &contact);
                    b.push(HeaderName::RAck, format!("{rseq} {iseq} INVITE"));
                    if let Some(c) = self.calls.get_mut(&call) {
                        if let Some(e) = c.early.iter_mut().find(|e| e.id == d.id) {
                            e.local_seq = d.local_seq;
                        }
                    }
                    if let Some(dest) = self.dest_in_dialog(&d) {
                        let _ = self.start_tx(now, call, Purpose::Prack, dest, b.to_bytes());
                    }
                }
                self.events.push_back(CallEvent::Progress { call, code });
                let c = &self.calls[&call];
                if c.cancel_wanted && !c.cancel_sent {
                    let _ = self.send_cancel(now, call);
                }
            }
            200..=299 => {
                let Some(tag) = to_tag else {
                    return;
                };
                let seq = c.invite_seq;
                if let Some(d) = c.dialog.clone() {
                    if d.id.remote_tag == tag {
                        // A retransmitted 2xx: the ACK again (RFC 3261 13.2.2.4).
                        if let Some((t, ack)) = c.last_ack.clone() {
                            if t == tag {
                                if let Some(dest) = self.dest_in_dialog(&d) {
                                    self.tx.send_stateless(self.cfg.transport, dest, ack);
                                }
                            }
                        }
                        return;
                    }
                    // RFC 3261 13.2.2.4: a 2xx from another fork: ACK it, then BYE that dialog.
                    if let Ok(extra) = Dialog::uac(&req, m) {
                        let mut extra = extra;
                        let via = self.via();
                        let ack = extra.request_with_seq(Method::Ack, seq, &via, "");
                        if let Some(dest) = self.dest_in_dialog(&extra) {
                            self.tx
                                .send_stateless(self.cfg.transport, dest, ack.to_bytes());
                            let via = self.via();
                            let contact = self.cfg.contact.clone();
                            let bye = extra.request(Method::Bye, &via, &contact);
                            let _ =
                                self.start_tx(now, call, Purpose::ForkBye, dest, bye.to_bytes());
                        }
                    }
                    return;
                }
                let mut d = match c.early.iter().position(|d| d.id.remote_tag == tag) {
                    Some(i) => {
                        let mut d = c.early.remove(i);
                        d.update_from_response(m);
                        d
                    }
                    None => match Dialog::uac(&req, m) {
                        Ok(d) => d,
                        Err(_) => return,
                    },
                };
                d.state = DialogState::Confirmed;
                // PRACKs sent in the early dialog moved our CSeq on.
                d.local_seq = d.local_seq.max(seq);
                c.early.clear();
                let mut ev = Vec::new();
                if body_is_sdp(m) && c.media.offer_pending() {
                    match Session::parse_bytes(m.body)
                        .map_err(|_| ())
                        .and_then(|s| c.media.apply_answer(&s).map_err(|_| ()))
                    {
                        Ok(n) => ev.push(CallEvent::Media {
                            call,
                            negotiated: Box::new(n),
                        }),
                        Err(()) => c.media.cancel_offer(),
                    }
                }
                // RFC 4028 7.2: the 2xx's Session-Expires decides; none means no timer.
                c.timer = session_expires(m).map(|(secs, refresher)| SessionTimer {
                    interval: secs,
                    we_refresh: refresher.as_deref() != Some("uas"),
                    refresh_at: None,
                    expire_at: None,
                });
                c.state = CallState::Confirmed;
                c.dialog = Some(d.clone());
                let hang_up = c.cancel_wanted;
                self.send_ack(call, &d, seq, None);
                self.arm_timer(now, call);
                self.events.push_back(CallEvent::Answered { call });
                self.events.extend(ev);
                self.report_transfer(now, call, code, &reason_of(m));
                if hang_up {
                    let _ = self.send_bye(now, call);
                }
                let _ = data;
            }
            300..=399 => {
                // RFC 3261 8.1.3.4: try the first Contact (up to five redirects).
                let next = m.contacts().ok().and_then(|cs| {
                    cs.into_iter().find_map(|c| match c {
                        crate::msg::Contact::Addr(a) => Some(a.uri.to_string()),
                        crate::msg::Contact::Star => None,
                    })
                });
                match next {
                    Some(uri) if c.redirects < 5 => {
                        c.redirects += 1;
                        c.target = uri.clone();
                        c.to_value = format!("<{uri}>");
                        c.early.clear();
                        c.last_rseq = None;
                        let dest = self.cfg.outbound_proxy.or_else(|| uri_addr(&uri));
                        match dest {
                            Some(dest) if self.send_invite(now, call, dest, None).is_ok() => {}
                            _ => self.fail(call, code, reason_of(m)),
                        }
                    }
                    _ => self.fail(call, code, reason_of(m)),
                }
            }
            401 | 407 if c.auth_tries < 2 && !self.cfg.username.is_empty() => {
                c.auth_tries += 1;
                let hn = if code == 401 {
                    HeaderName::WwwAuthenticate
                } else {
                    HeaderName::ProxyAuthenticate
                };
                let chal = m.first(hn).and_then(|v| AuthParams::parse(v).ok());
                let cnonce = self.ids.token();
                let body = c.offer_body.clone().unwrap_or_default();
                let target = c.target.clone();
                let value = chal.and_then(|p| {
                    authorization(
                        &p,
                        &DigestInput {
                            username: &self.cfg.username,
                            password: &self.cfg.password,
                            method: "INVITE",
                            uri: &target,
                            body: body.as_bytes(),
                            cnonce: &cnonce,
                            nc: 1,
                        },
                    )
                    .ok()
                });
                let h = if code == 401 {
                    HeaderName::Authorization
                } else {
                    HeaderName::ProxyAuthorization
                };
                let dest = self.cfg.outbound_proxy.or_else(|| uri_addr(&target));
                let sent = match (value, dest) {
                    (Some(v), Some(dest)) => {
                        self.send_invite(now, call, dest, Some((h, v))).is_ok()
                    }
                    _ => false,
                };
                if !sent {
                    self.fail(call, code, reason_of(m));
                }
            }
            422 => {
                // RFC 4028 7.4: retry with the Min-SE the UAS asks for.
                let min = m
                    .first(HeaderName::MinSe)
                    .and_then(|v| TokenParams::parse(v).ok())
                    .and_then(|t| crate::lex::decimal::<u32>(t.value));
                match min {
                    Some(min) if c.want_se.is_some_and(|w| w < min) => {
                        c.want_se = Some(min);
                        let dest = self.cfg.outbound_proxy.or_else(|| uri_addr(&c.target));
                        match dest {
                            Some(dest) if self.send_invite(now, call, dest, None).is_ok() => {}
                            _ => self.fail(call, code, reason_of(m)),
                        }
                    }
                    _ => self.fail(call, code, reason_of(m)),
                }
            }
            _ => {
                if c.cancel_sent && code == 487 {
                    self.finish(call, false, 487);
                } else {
                    self.fail(call, code, reason_of(m));
                }
            }
        }
    }

    fn fail(&mut self, call: CallRef, code: u16, reason: String) {
        if let Some(old) = self.calls.get_mut(&call).and_then(|c| c.notify_to.take()) {
            self.failed_transfers.push((old, code, reason.clone()));
        }
        if self.remove_call(call).is_some() {
            self.events
                .push_back(CallEvent::Failed { call, code, reason });
        }
    }

    fn on_reinvite_response(
        &mut self,
        now: Instant,
        call: CallRef,
        tx: TxId,
        purpose: Purpose,
        m: &Message<'_>,
    ) {
        let code = m.status().unwrap_or(0);
        if code < 200 {
            return;
        }
        let owner_of_call_id = self.calls.get(&call).is_some_and(|c| c.role == Role::Uac);
        let backoff = self.ids.next();
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let Some((rtx, _, seq)) = c.reinvite else {
            return;
        };
        if rtx != tx {
            return;
        }
        c.reinvite = None;
        let mut ev = Vec::new();
        match code {
            200..=299 => {
                if body_is_sdp(m) {
                    match Session::parse_bytes(m.body)
                        .map_err(|_| ())
                        .and_then(|s| c.media.apply_answer(&s).map_err(|_| ()))
                    {
                        Ok(n) => ev.push(CallEvent::Media {
                            call,
                            negotiated: Box::new(n),
                        }),
                        Err(()) => c.media.cancel_offer(),
                    }
                } else {
                    c.media.cancel_offer();
                }
                if let Some(d) = c.dialog.as_mut() {
                    d.update_from_response(m);
                }
                if let Some((secs, refresher)) = session_expires(m) {
                    let we = match (c.role, refresher.as_deref()) {
                        (Role::Uac, Some("uac")) | (Role::Uas, Some("uas")) => true,
                        (_, Some(_)) => false,
                        _ => true,
                    };
                    c.timer = Some(SessionTimer {
                        interval: secs,
                        we_refresh: we,
                        refresh_at: None,
                        expire_at: None,
                    });
                }
                let refreshed = c.timer.is_some();
                let d = c.dialog.clone();
                if purpose == Purpose::ReInvite {
                    if let Some(d) = d {
                        self.send_ack(call, &d, seq, None);
                    }
                }
                self.arm_timer(now, call);
                if refreshed {
                    ev.push(CallEvent::Refreshed { call });
                }
            }
            491 => {
                // RFC 3261 14.1: glare: try again after 2.1-4 s if we own the Call-ID
                // (we sent the initial INVITE), else after 0-2 s.
                c.media.cancel_offer();
                let ms = if owner_of_call_id {
                    2100 + backoff % 1900
                } else {
                    backoff % 2000
                };
                c.glare_at = Some(now + Duration::from_millis(ms));
                self.schedule(call);
            }
            408 | 481 => {
                c.media.cancel_offer();
                let _ = self.send_bye(now, call);
                self.finish(call, false, code);
            }
            _ => {
                // RFC 3261 14.1: the session stays as it was.
                c.media.cancel_offer();
                ev.push(CallEvent::ReofferFailed { call, code });
            }
        }
        self.events.extend(ev);
    }
}
