//! The transaction layer (RFC 3261 section 17 with the RFC 6026 corrections), sans-IO.
//!
//! [`Transactions`] holds every client and server transaction. It is driven by
//! [`Transactions::handle_message`] (bytes from a transport), [`Transactions::send_request`]
//! and [`Transactions::respond`] (from the transaction user) and
//! [`Transactions::handle_timeout`]; it yields [`Transmit`]s, [`TxEvent`]s and its next
//! deadline ([`Transactions::poll_timeout`]). It never reads a clock or touches a socket.
//!
//! Timers (RFC 3261 table 4, RFC 6026 section 8): A, B, D (INVITE client), E, F, K
//! (non-INVITE client), G, H, I (INVITE server), J (non-INVITE server), L (INVITE server
//! Accepted) and M (INVITE client Accepted). A 2xx to an INVITE over an unreliable transport
//! is retransmitted until its ACK arrives, as RFC 3261 section 13.3.1.4 asks of the UAS core.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::msg::{response_to, HeaderName, Message, MessageBuf, Method, StartLine, MAGIC_COOKIE};

/// A SIP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
}

impl Transport {
    pub fn reliable(self) -> bool {
        !matches!(self, Transport::Udp)
    }

    /// The Via transport token.
    pub fn via_name(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
        }
    }

    pub fn from_via(s: &str) -> Option<Transport> {
        [Transport::Udp, Transport::Tcp, Transport::Tls]
            .into_iter()
            .find(|t| t.via_name().eq_ignore_ascii_case(s))
    }
}

/// Timer values (RFC 3261 section 17.1.1.1 and table 4).
#[derive(Debug, Clone, Copy)]
pub struct Timers {
    pub t1: Duration,
    pub t2: Duration,
    pub t4: Duration,
    /// An INVITE server transaction sends 100 Trying if the TU has not answered within this
    /// time (RFC 3261 section 17.2.1: 200 ms).
    pub trying: Duration,
}

impl Default for Timers {
    fn default() -> Timers {
        Timers {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            trying: Duration::from_millis(200),
        }
    }
}

/// A transaction handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TxId(pub u64);

/// Bytes to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub transport: Transport,
    pub dest: SocketAddr,
    pub data: Vec<u8>,
}

/// What the transaction user is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxEvent {
    /// A new request (a server transaction was created for it; answer with
    /// [`Transactions::respond`]). The top Via carries `received`/`rport` as RFC 3261
    /// 18.2.1 and RFC 3581 ask.
    Request {
        tx: TxId,
        source: SocketAddr,
        transport: Transport,
        data: Vec<u8>,
    },
    /// An ACK that belongs to no transaction: the ACK of a 2xx (RFC 3261 17.2.3 / 13.3.1.4).
    Ack {
        source: SocketAddr,
        transport: Transport,
        data: Vec<u8>,
    },
    /// A CANCEL matched the INVITE server transaction `invite`; the CANCEL was answered 200
    /// (RFC 3261 9.2). The TU should answer the INVITE with 487.
    Cancelled {
        invite: TxId,
    },
    /// A response for a client transaction (provisional or final; a retransmitted 2xx to an
    /// INVITE is passed up too, so the TU can send its ACK again: RFC 6026 section 7.2).
    Response {
        tx: TxId,
        data: Vec<u8>,
    },
    /// Timer B / F (no final response) or H (no ACK to a non-2xx final).
    Timeout {
        tx: TxId,
    },
    /// No ACK for a 2xx to an INVITE within 64*T1 (RFC 3261 13.3.1.4: the TU should BYE).
    AckTimeout {
        tx: TxId,
    },
    /// The transport reported a failure for this transaction's destination (17.1.4).
    TransportError {
        tx: TxId,
    },
    Terminated {
        tx: TxId,
    },
    /// A message refused before any transaction: malformed (answered 400 when it could be)
    /// or a response matching no transaction (dropped, RFC 3261 18.1.2).
    Dropped {
        source: SocketAddr,
        reason: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientState {
    /// Calling (INVITE) / Trying (non-INVITE).
    Calling,
    Proceeding,
    Completed,
    /// RFC 6026: a 2xx was received for an INVITE.
    Accepted,
    Terminated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerState {
    /// Non-INVITE only.
    Trying,
    Proceeding,
    Completed,
    Confirmed,
    /// RFC 6026: a 2xx was sent for an INVITE.
    Accepted,
    Terminated,
}

#[derive(Debug)]
struct ClientTx {
    invite: bool,
    key: (String, String),
    state: ClientState,
    request: Vec<u8>,
    dest: SocketAddr,
    transport: Transport,
    retrans_at: Option<Instant>,
    interval: Duration,
    timeout_at: Option<Instant>,
    end_at: Option<Instant>,
    ack: Option<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum ServerKey {
    /// RFC 3261 17.2.3: branch, sent-by, method (ACK counts as INVITE).
    Rfc3261 {
        branch: String,
        sent_by: String,
        method: String,
    },
    /// RFC 2543 peers: Request-URI, tags, Call-ID, CSeq, top Via.
    Legacy(String),
}

#[derive(Debug)]
struct ServerTx {
    invite: bool,
    key: ServerKey,
    state: ServerState,
    transport: Transport,
    /// Where responses go (RFC 3261 18.2.2 / RFC 3581).
    reply_to: SocketAddr,
    last_response: Option<Vec<u8>>,
    /// For 2xx ACK matching: Call-ID and CSeq number.
    dialog_key: (String, u32),
    trying_at: Option<Instant>,
    /// The 100 Trying to send at `trying_at` (INVITE).
    trying: Option<Vec<u8>>,
    retrans_at: Option<Instant>,
    interval: Duration,
    timeout_at: Option<Instant>,
    end_at: Option<Instant>,
}

/// Why the layer refused a call from the transaction user.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TxError {
    #[error("request does not parse: {0}")]
    BadRequest(crate::ParseError),
    #[error("request has no RFC 3261 branch (z9hG4bK...) in its top Via")]
    NoBranch,
    #[error("a transaction with this branch and method exists")]
    Duplicate,
    #[error("no such transaction")]
    NoTransaction,
    #[error("the transaction does not accept a response now ({0:?})")]
    State(ServerState),
    #[error("not a response: {0}")]
    BadResponse(crate::ParseError),
    #[error("ACK is sent with send_stateless, not as a transaction")]
    Ack,
}

/// Every transaction of one SIP endpoint.
#[derive(Debug)]
pub struct Transactions {
    timers: Timers,
    next_id: u64,
    clients: HashMap<TxId, ClientTx>,
    client_index: HashMap<(String, String), TxId>,
    servers: HashMap<TxId, ServerTx>,
    server_index: HashMap<ServerKey, TxId>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<TxEvent>,
    /// Deadlines of every transaction (stale entries are skipped when they come due).
    heap: BinaryHeap<Reverse<(Instant, TxId)>>,
    /// Transactions touched since the last reap (only they can have terminated).
    touched: Vec<TxId>,
}

fn later(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

fn due(t: Option<Instant>, now: Instant) -> bool {
    t.is_some_and(|t| t <= now)
}

/// RFC 3261 18.2.2 / RFC 3581 section 4: where a response to a request from `source` goes.
fn reply_address(msg: &Message<'_>, source: SocketAddr, transport: Transport) -> SocketAddr {
    if transport.reliable() {
        return source;
    }
    let Ok(via) = msg.top_via() else {
        return source;
    };
    if via.rport().is_some() {
        return source;
    }
    let ip = via
        .received()
        .and_then(|r| r.parse::<IpAddr>().ok())
        .unwrap_or(source.ip());
    SocketAddr::new(ip, via.port.unwrap_or(5060))
}

/// RFC 3261 18.2.1 and RFC 3581: add `received` when the sent-by host is not the source
/// address, and fill an empty `rport`.
fn stamp_via(msg: &Message<'_>, source: SocketAddr) -> Option<Vec<u8>> {
    let via = msg.top_via().ok()?;
    let host = via.host.trim_start_matches('[').trim_end_matches(']');
    let needs_received = host.parse::<IpAddr>().ok() != Some(source.ip());
    let needs_rport = via.rport() == Some(None);
    if !needs_received && !needs_rport {
        return None;
    }
    let mut params: Vec<String> = Vec::new();
    for (n, v) in &via.params {
        if n.eq_ignore_ascii_case("received") {
            continue;
        }
        if n.eq_ignore_ascii_case("rport") && v.is_none() {
            params.push(format!("rport={}", source.port()));
            continue;
        }
        params.push(match v {
            Some(v) => format!("{n}={v}"),
            None => n.to_string(),
        });
    }
    if needs_received || needs_rport {
        params.push(format!("received={}", source.ip()));
    }
    let mut top = format!(
        "{}/{}/{} {}",
        via.protocol, via.version, via.transport, via.host
    );
    if let Some(p) = via.port {
        top.push_str(&format!(":{p}"));
    }
    for p in params {
        top.push(';');
        top.push_str(&p);
    }
    let mut b = MessageBuf::from_message(msg);
    // Replace the first element of the first Via field.
    let idx = b
        .headers
        .iter()
        .position(|(n, _)| HeaderName::parse(n) == HeaderName::Via)?;
    let field = &b.headers[idx].1;
    let mut parts = crate::lex::split_commas(field)
        .into_iter()
        .map(str::to_string)
        .collect::<Vec<_>>();
    if parts.is_empty() {
        return None;
    }
    parts[0] = top;
    b.headers[idx].1 = parts.join(", ");
    let mut out = b.to_bytes();
    // Keep the original Content-Length semantics: to_bytes recomputes it from the body.
    out.shrink_to_fit();
    Some(out)
}

fn server_key(msg: &Message<'_>) -> Option<ServerKey> {
    let via = msg.top_via().ok()?;
    let method = msg.method()?;
    let method = if method == Method::Ack {
        "INVITE".to_string()
    } else {
        method.as_str().to_string()
    };
    match via.branch() {
        // RFC 4475 3.2.1: the cookie with no identifier after it is no RFC 3261 branch; such
        // a request falls back to RFC 2543 matching (else every one would be a retransmission).
        Some(b) if b.starts_with(MAGIC_COOKIE) && b.len() > MAGIC_COOKIE.len() => {
            Some(ServerKey::Rfc3261 {
                branch: b.into_owned(),
                sent_by: via.sent_by().to_ascii_lowercase(),
                method,
            })
        }
        _ => {
            // RFC 3261 17.2.3 for RFC 2543 requests: Request-URI, To tag, From tag, Call-ID,
            // CSeq number and top Via (the INVITE's To tag is absent; its ACK's is ignored).
            let uri = msg.request_uri()?.to_string();
            let from = msg
                .from()
                .ok()?
                .tag()
                .map(|t| t.into_owned())
                .unwrap_or_default();
            let cseq = msg.cseq().ok()?.seq;
            Some(ServerKey::Legacy(format!(
                "{uri}|{from}|{}|{cseq}|{method}|{via}",
                msg.call_id().ok()?
            )))
        }
    }
}

impl Transactions {
    pub fn new(timers: Timers) -> Transactions {
        Transactions {
            timers,
            next_id: 1,
            clients: HashMap::new(),
            client_index: HashMap::new(),
            servers: HashMap::new(),
            server_index: HashMap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            heap: BinaryHeap::new(),
            touched: Vec::new(),
        }
    }

    /// Records that `id` changed: its next deadline goes on the heap and it is checked for
    /// termination at the next reap.
    fn touch(&mut self, id: TxId) {
        let next = if let Some(c) = self.clients.get(&id) {
            later(later(c.retrans_at, c.timeout_at), c.end_at)
        } else if let Some(s) = self.servers.get(&id) {
            later(
                later(later(s.trying_at, s.retrans_at), s.timeout_at),
                s.end_at,
            )
        } else {
            None
        };
        if let Some(t) = next {
            self.heap.push(Reverse((t, id)));
        }
        self.touched.push(id);
    }

    pub fn timers(&self) -> Timers {
        self.timers
    }

    fn id(&mut self) -> TxId {
        let id = TxId(self.next_id);
        self.next_id += 1;
        id
    }

    fn send(&mut self, transport: Transport, dest: SocketAddr, data: Vec<u8>) {
        self.transmits.push_back(Transmit {
            transport,
            dest,
            data,
        });
    }

    /// Sends a request outside any transaction (the ACK of a 2xx, RFC 3261 13.2.2.4).
    pub fn send_stateless(&mut self, transport: Transport, dest: SocketAddr, data: Vec<u8>) {
        self.send(transport, dest, data);
    }

    /// Starts a client transaction for `request` (its top Via carries the branch).
    pub fn send_request(
        &mut self,
        now: Instant,
        transport: Transport,
        dest: SocketAddr,
        request: Vec<u8>,
    ) -> Result<TxId, TxError> {
        let m = Message::parse(&request).map_err(TxError::BadRequest)?;
        let method = m
            .method()
            .ok_or(TxError::BadRequest(crate::ParseError::StartLine(
                "not a request",
            )))?;
        if method == Method::Ack {
            return Err(TxError::Ack);
        }
        let branch = m
            .top_via()
            .ok()
            .and_then(|v| v.branch())
            .filter(|b| b.starts_with(MAGIC_COOKIE))
            .ok_or(TxError::NoBranch)?
            .into_owned();
        let key = (branch, method.as_str().to_string());
        if self.client_index.contains_key(&key) {
            return Err(TxError::Duplicate);
        }
        let invite = method == Method::Invite;
        let t = self.timers;
        let id = self.id();
        let reliable = transport.reliable();
        self.clients.insert(
            id,
            ClientTx {
                invite,
                key: key.clone(),
                state: ClientState::Calling,
                request: request.clone(),
                dest,
                transport,
                // Timer A (INVITE) / E (non-INVITE), unreliable transports only.
                retrans_at: (!reliable).then(|| now + t.t1),
                interval: t.t1,
                // Timer B / F.
                timeout_at: Some(now + 64 * t.t1),
                end_at: None,
                ack: None,
            },
        );
        self.client_index.insert(key, id);
        self.touch(id);
        self.send(transport, dest, request);
        Ok(id)
    }

    /// The TU's response on server transaction `tx` (RFC 3261 17.2.1 / 17.2.2).
    pub fn respond(&mut self, now: Instant, tx: TxId, response: Vec<u8>) -> Result<(), TxError> {
        let code = Message::parse(&response)
            .map_err(TxError::BadResponse)?
            .status()
            .ok_or(TxError::BadResponse(crate::ParseError::StartLine(
                "not a response",
            )))?;
        let t = self.timers;
        let s = self.servers.get_mut(&tx).ok_or(TxError::NoTransaction)?;
        let reliable = s.transport.reliable();
        match (s.invite, s.state) {
            (true, ServerState::Proceeding) => {
                s.trying_at = None;
                if (200..300).contains(&code) {
                    // RFC 6026 section 7.1: Accepted, timer L; the 2xx is retransmitted
                    // (13.3.1.4) until its ACK.
                    s.state = ServerState::Accepted;
                    s.timeout_at = Some(now + 64 * t.t1);
                    s.retrans_at = (!reliable).then(|| now + t.t1);
                    s.interval = t.t1;
                } else if code >= 300 {
                    s.state = ServerState::Completed;
                    // Timer G (unreliable) and H.
                    s.retrans_at = (!reliable).then(|| now + t.t1);
                    s.interval = t.t1;
                    s.timeout_at = Some(now + 64 * t.t1);
                }
            }
            (true, ServerState::Accepted) if (200..300).contains(&code) => {}
            (false, ServerState::Trying | ServerState::Proceeding) => {
                if code < 200 {
                    s.state = ServerState::Proceeding;
                } else {
                    s.state = ServerState::Completed;
                    // Timer J.
                    s.end_at = Some(if reliable { now } else { now + 64 * t.t1 });
                }
            }
            (_, st) => return Err(TxError::State(st)),
        }
        s.last_response = Some(response.clone());
        let (transport, dest) = (s.transport, s.reply_to);
        self.send(transport, dest, response);
        self.touch(tx);
        self.reap(now);
        Ok(())
    }

    /// A message from a transport.
    pub fn handle_message(
        &mut self,
        now: Instant,
        transport: Transport,
        source: SocketAddr,
        data: &[u8],
    ) {
        let m = match Message::parse(data) {
            Ok(m) => m,
            Err(e) => {
                // RFC 3261 18.3 / RFC 4475 3.1.2: a malformed request still gets a 400 when its
                // Via and CSeq can be read (sent where its Via says, else to the source).
                if let Some(r) = crate::uas::bad_request(data, &e.to_string()) {
                    let dest = Message::parse(&r)
                        .map(|r| reply_address(&r, source, transport))
                        .unwrap_or(source);
                    self.send(transport, dest, r);
                }
                self.events.push_back(TxEvent::Dropped {
                    source,
                    reason: e.to_string(),
                });
                return;
            }
        };
        if m.is_request() {
            self.handle_request(now, transport, source, &m, data);
        } else {
            self.handle_response(now, source, &m, data);
        }
        self.reap(now);
    }

    fn handle_request(
        &mut self,
        now: Instant,
        transport: Transport,
        source: SocketAddr,
        m: &Message<'_>,
        data: &[u8],
    ) {
        // RFC 3261 8.2 / 16.3: refuse malformed requests with 400 when a Via allows it.
        if let Err(e) = m.check_mandatory() {
            // A Via we cannot read (RFC 4475 3.1.2.1) still names a sender: the source address.
            if m.method() != Some(Method::Ack) && m.first(HeaderName::Via).is_some() {
                let mut r = response_to(m, 400, None);
                r.start = format!("SIP/2.0 400 {}", e.to_string().replace(['\r', '\n'], " "));
                let dest = reply_address(m, source, transport);
                self.send(transport, dest, r.to_bytes());
            }
            self.events.push_back(TxEvent::Dropped {
                source,
                reason: e.to_string(),
            });
            return;
        }
        let Some(key) = server_key(m) else {
            self.events.push_back(TxEvent::Dropped {
                source,
                reason: "no usable top Via".into(),
            });
            return;
        };
        let method = m.method().unwrap_or(Method::Options);
        let t = self.timers;
        if let Some((id, s)) = self
            .server_index
            .get(&key)
            .copied()
            .and_then(|id| self.servers.get_mut(&id).map(|s| (id, s)))
        {
            if method == Method::Ack {
                // 17.2.1: ACK in Completed -> Confirmed, timer I.
                if s.state == ServerState::Completed {
                    s.state = ServerState::Confirmed;
                    s.retrans_at = None;
                    s.timeout_at = None;
                    s.end_at = Some(if s.transport.reliable() {
                        now
                    } else {
                        now + t.t4
                    });
                    self.touch(id);
                } else if s.state == ServerState::Accepted {
                    // RFC 6026 7.1: an ACK matching the transaction in Accepted (a peer that
                    // reused the INVITE's branch for the ACK of a 2xx) goes to the TU; it
                    // also ends our 2xx retransmissions (13.3.1.4).
                    s.retrans_at = None;
                    self.events.push_back(TxEvent::Ack {
                        source,
                        transport,
                        data: data.to_vec(),
                    });
                }
                return;
            }
            // A retransmitted request: resend the last response (17.2.1, 17.2.2); absorbed
            // in Accepted (RFC 6026 7.1) except that the 2xx is sent again.
            if let Some(r) = s.last_response.clone() {
                if matches!(
                    s.state,
                    ServerState::Proceeding | ServerState::Completed | ServerState::Accepted
                ) {
                    let (tr, dest) = (s.transport, s.reply_to);
                    self.send(tr, dest, r);
                }
            }
            return;
        }
        if method == Method::Ack {
            // ACK of a 2xx: stops our 2xx retransmissions (13.3.1.4) and goes to the TU.
            if let (Ok(call_id), Ok(cseq)) = (m.call_id(), m.cseq()) {
                let dk = (call_id.to_string(), cseq.seq);
                let hit: Vec<TxId> = self
                    .servers
                    .iter()
                    .filter(|(_, s)| {
                        s.invite && s.state == ServerState::Accepted && s.dialog_key == dk
                    })
                    .map(|(id, _)| *id)
                    .collect();
                for id in hit {
                    if let Some(s) = self.servers.get_mut(&id) {
                        s.retrans_at = None;
                    }
                }
            }
            self.events.push_back(TxEvent::Ack {
                source,
                transport,
                data: data.to_vec(),
            });
            return;
        }
        let reply_to = reply_address(m, source, transport);
        let stamped = stamp_via(m, source);
        let dialog_key = (
            m.call_id().map(str::to_string).unwrap_or_default(),
            m.cseq().map(|c| c.seq).unwrap_or(0),
        );
        let id = self.id();
        let invite = method == Method::Invite;
        self.servers.insert(
            id,
            ServerTx {
                invite,
                key: key.clone(),
                state: if invite {
                    ServerState::Proceeding
                } else {
                    ServerState::Trying
                },
                transport,
                reply_to,
                last_response: None,
                dialog_key,
                trying_at: invite.then(|| now + t.trying),
                trying: invite.then(|| response_to(m, 100, None).to_bytes()),
                retrans_at: None,
                interval: t.t1,
                timeout_at: None,
                end_at: None,
            },
        );
        self.server_index.insert(key.clone(), id);
        self.touch(id);
        if method == Method::Cancel {
            // RFC 3261 9.2: find the INVITE server transaction the CANCEL names.
            let invite_key = match &key {
                ServerKey::Rfc3261 {
                    branch, sent_by, ..
                } => Some(ServerKey::Rfc3261 {
                    branch: branch.clone(),
                    sent_by: sent_by.clone(),
                    method: "INVITE".into(),
                }),
                ServerKey::Legacy(_) => None,
            };
            let target = invite_key.and_then(|k| self.server_index.get(&k).copied());
            let code = match target {
                Some(inv)
                    if self
                        .servers
                        .get(&inv)
                        .is_some_and(|s| s.state == ServerState::Proceeding) =>
                {
                    self.events.push_back(TxEvent::Cancelled { invite: inv });
                    200
                }
                Some(_) => 200,
                None => 481,
            };
            let r = response_to(m, code, Some("cancel")).to_bytes();
            let _ = self.respond(now, id, r);
            return;
        }
        self.events.push_back(TxEvent::Request {
            tx: id,
            source,
            transport,
            data: stamped.unwrap_or_else(|| data.to_vec()),
        });
    }

    fn handle_response(&mut self, now: Instant, source: SocketAddr, m: &Message<'_>, data: &[u8]) {
        let code = m.status().unwrap_or(0);
        // RFC 3261 8.1.3.3: a response with more than one Via value SHOULD be discarded (RFC
        // 4475 3.3.10: a second Via naming 255.255.255.255).
        if !matches!(m.vias(), Ok(v) if v.len() == 1) {
            self.events.push_back(TxEvent::Dropped {
                source,
                reason: "response without exactly one Via".into(),
            });
            return;
        }
        // RFC 3261 17.1.3: top Via branch and CSeq method.
        let key = match (m.top_via().ok().and_then(|v| v.branch()), m.cseq()) {
            (Some(b), Ok(c)) => (b.into_owned(), c.method.as_str().to_string()),
            _ => {
                self.events.push_back(TxEvent::Dropped {
                    source,
                    reason: "response without branch or CSeq".into(),
                });
                return;
            }
        };
        let Some((id, c)) = self
            .client_index
            .get(&key)
            .copied()
            .and_then(|id| self.clients.get_mut(&id).map(|c| (id, c)))
        else {
            self.events.push_back(TxEvent::Dropped {
                source,
                reason: "response matches no transaction".into(),
            });
            return;
        };
        let t = self.timers;
        let reliable = c.transport.reliable();
        let pass = match (c.invite, c.state) {
            (_, ClientState::Terminated) => false,
            (true, ClientState::Calling | ClientState::Proceeding) => {
                if code < 200 {
                    c.state = ClientState::Proceeding;
                    c.retrans_at = None;
                    // Timer B keeps running only in Calling (17.1.1.2).
                    c.timeout_at = None;
                } else if code < 300 {
                    // RFC 6026 section 8.4: Accepted, timer M.
                    c.state = ClientState::Accepted;
                    c.retrans_at = None;
                    c.timeout_at = None;
                    c.end_at = Some(now + 64 * t.t1);
                } else {
                    c.state = ClientState::Completed;
                    c.retrans_at = None;
                    c.timeout_at = None;
                    c.end_at = Some(if reliable {
                        now
                    } else {
                        now + Duration::from_secs(32)
                    });
                    let ack = build_ack(&c.request, m);
                    c.ack = ack.clone();
                    if let Some(a) = ack {
                        let (tr, dest) = (c.transport, c.dest);
                        self.send(tr, dest, a);
                    }
                }
                true
            }
            (true, ClientState::Accepted) => (200..300).contains(&code),
            (true, ClientState::Completed) => {
                // A retransmitted final: ACK again, not passed up (17.1.1.2).
                if code >= 300 {
                    if let Some(a) = c.ack.clone() {
                        let (tr, dest) = (c.transport, c.dest);
                        self.send(tr, dest, a);
                    }
                }
                false
            }
            (false, ClientState::Calling | ClientState::Proceeding) => {
                if code < 200 {
                    c.state = ClientState::Proceeding;
                    // Timer E now fires every T2 (17.1.2.2).
                    if !reliable {
                        c.interval = t.t2;
                        c.retrans_at = Some(now + t.t2);
                    }
                } else {
                    c.state = ClientState::Completed;
                    c.retrans_at = None;
                    c.timeout_at = None;
                    c.end_at = Some(if reliable { now } else { now + t.t4 });
                }
                true
            }
            (false, _) => false,
        };
        self.touch(id);
        if pass {
            self.events.push_back(TxEvent::Response {
                tx: id,
                data: data.to_vec(),
            });
        }
    }

    /// A transport failure towards `dest` (connection refused, ICMP unreachable...): every
    /// client transaction to it ends with [`TxEvent::TransportError`] (17.1.4).
    pub fn handle_transport_error(&mut self, now: Instant, dest: SocketAddr) {
        let ids: Vec<TxId> = self
            .clients
            .iter()
            .filter(|(_, c)| {
                c.dest == dest && matches!(c.state, ClientState::Calling | ClientState::Proceeding)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            if let Some(c) = self.clients.get_mut(&id) {
                c.state = ClientState::Terminated;
            }
            self.events.push_back(TxEvent::TransportError { tx: id });
            self.touch(id);
        }
        self.reap(now);
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        let mut due_ids = HashSet::new();
        while let Some(Reverse((t, id))) = self.heap.peek().copied() {
            if t > now {
                break;
            }
            self.heap.pop();
            due_ids.insert(id);
        }
        let mut ids: Vec<TxId> = due_ids.into_iter().collect();
        ids.sort();
        for id in ids {
            if self.clients.contains_key(&id) {
                self.client_timer(id, now);
            } else if self.servers.contains_key(&id) {
                self.server_timer(id, now);
            }
            self.touch(id);
        }
        self.reap(now);
    }

    fn client_timer(&mut self, id: TxId, now: Instant) {
        let t = self.timers;
        let Some(c) = self.clients.get_mut(&id) else {
            return;
        };
        let active = matches!(c.state, ClientState::Calling | ClientState::Proceeding);
        if due(c.timeout_at, now) && active {
            c.state = ClientState::Terminated;
            self.events.push_back(TxEvent::Timeout { tx: id });
            return;
        }
        let mut resend = None;
        if due(c.retrans_at, now) && active {
            resend = Some((c.transport, c.dest, c.request.clone()));
            // Timer A doubles without bound; timer E doubles up to T2, and is T2 in
            // Proceeding (17.1.1.2, 17.1.2.2).
            c.interval = if c.invite {
                c.interval * 2
            } else if c.state == ClientState::Proceeding {
                t.t2
            } else {
                (c.interval * 2).min(t.t2)
            };
            c.retrans_at = Some(now + c.interval);
        }
        if due(c.end_at, now) {
            c.state = ClientState::Terminated;
        }
        if let Some((tr, dest, data)) = resend {
            self.send(tr, dest, data);
        }
    }

    fn server_timer(&mut self, id: TxId, now: Instant) {
        let t = self.timers;
        let Some(s) = self.servers.get_mut(&id) else {
            return;
        };
        let mut sends = Vec::new();
        if due(s.trying_at, now) {
            s.trying_at = None;
            // 17.2.1: the transaction sends 100 Trying itself when the TU is slow.
            if s.state == ServerState::Proceeding && s.last_response.is_none() {
                if let Some(r) = s.trying.take() {
                    s.last_response = Some(r.clone());
                    sends.push(r);
                }
            }
        }
        if due(s.retrans_at, now) {
            if let Some(r) = s.last_response.clone() {
                sends.push(r);
            }
            s.interval = (s.interval * 2).min(t.t2);
            s.retrans_at = Some(now + s.interval);
        }
        if due(s.timeout_at, now) {
            match s.state {
                ServerState::Completed => {
                    // Timer H: no ACK.
                    s.state = ServerState::Terminated;
                    self.events.push_back(TxEvent::Timeout { tx: id });
                }
                ServerState::Accepted => {
                    // Timer L; no ACK seen while retransmitting the 2xx -> AckTimeout.
                    if s.retrans_at.is_some() {
                        self.events.push_back(TxEvent::AckTimeout { tx: id });
                    }
                    s.state = ServerState::Terminated;
                }
                _ => {}
            }
            s.timeout_at = None;
        }
        if due(s.end_at, now) {
            s.state = ServerState::Terminated;
        }
        let (tr, dest) = (s.transport, s.reply_to);
        for r in sends {
            self.send(tr, dest, r);
        }
    }

    /// Removes terminated transactions (with a Terminated event).
    fn reap(&mut self, _now: Instant) {
        let mut touched = std::mem::take(&mut self.touched);
        touched.sort();
        touched.dedup();
        for id in touched {
            if self
                .clients
                .get(&id)
                .is_some_and(|c| c.state == ClientState::Terminated)
            {
                if let Some(c) = self.clients.remove(&id) {
                    self.client_index.remove(&c.key);
                    self.events.push_back(TxEvent::Terminated { tx: id });
                }
            } else if self
                .servers
                .get(&id)
                .is_some_and(|s| s.state == ServerState::Terminated)
            {
                if let Some(s) = self.servers.remove(&id) {
                    self.server_index.remove(&s.key);
                    self.events.push_back(TxEvent::Terminated { tx: id });
                }
            }
        }
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<TxEvent> {
        self.events.pop_front()
    }

    /// The next instant [`Transactions::handle_timeout`] must be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((t, _))| *t)
    }

    pub fn client_state(&self, tx: TxId) -> Option<ClientState> {
        self.clients.get(&tx).map(|c| c.state)
    }

    pub fn server_state(&self, tx: TxId) -> Option<ServerState> {
        self.servers.get(&tx).map(|s| s.state)
    }

    pub fn len(&self) -> usize {
        self.clients.len() + self.servers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The ACK of a non-2xx final response (RFC 3261 17.1.1.3): the INVITE's Request-URI, top
/// Via, From, Call-ID, CSeq number and Route; the response's To (with its tag).
fn build_ack(invite: &[u8], resp: &Message<'_>) -> Option<Vec<u8>> {
    let req = Message::parse(invite).ok()?;
    let StartLine::Request { uri, .. } = &req.start else {
        return None;
    };
    let mut b = MessageBuf::request(Method::Ack, &uri.to_string());
    b.push(HeaderName::Via, *req.values(HeaderName::Via).first()?);
    b.push(HeaderName::MaxForwards, "70");
    b.push(HeaderName::From, req.first(HeaderName::From)?);
    b.push(HeaderName::To, resp.first(HeaderName::To)?);
    b.push(HeaderName::CallId, req.call_id().ok()?);
    b.push(HeaderName::CSeq, format!("{} ACK", req.cseq().ok()?.seq));
    for r in req.fields(HeaderName::Route) {
        b.push(HeaderName::Route, r);
    }
    Some(b.to_bytes())
}
