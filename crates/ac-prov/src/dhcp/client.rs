//! Sans-IO DHCP client (RFC 2131 section 4.4, figure 5).
//!
//! The client never touches a socket or a clock: the driver feeds it datagrams
//! ([`DhcpClient::handle_input`]) and the current time, and drains packets to send
//! ([`DhcpClient::poll_transmit`]), events ([`DhcpClient::poll_event`]) and the next instant it
//! wants to be woken at ([`DhcpClient::poll_timeout`], then [`DhcpClient::handle_timeout`]).

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use super::options::{encode_user_class, LeaseInfo};
use super::wire::{code, Message, MessageType, Packet, BOOTREPLY, BOOTREQUEST};
use super::DhcpError;

/// UDP ports (RFC 2131 section 4.1).
pub const SERVER_PORT: u16 = 67;
pub const CLIENT_PORT: u16 = 68;

/// The parameter request list of the phone (option 55), in the order the issue and the
/// manual's troubleshooting section expect: subnet, router, DNS, domain, NTP, time server,
/// time offset, vendor (43), TFTP server / boot file (66/67), search list, SIP servers (120) and
/// the provisioning URL (160).
pub const DEFAULT_REQUEST_LIST: [u8; 13] = [1, 3, 6, 15, 42, 4, 2, 43, 66, 67, 119, 120, 160];

/// What the client says about itself.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Ethernet address (`chaddr`, and the client identifier, option 61).
    pub mac: [u8; 6],
    /// Model name, published in option 77 (RFC 3004; manual table 2-5: "420HD", ...).
    pub model: String,
    /// Option 60 vendor class identifier.
    pub vendor_class: String,
    /// Option 12, if any.
    pub hostname: Option<String>,
    /// Option 57 (RFC 2132 section 9.10: at least 576).
    pub max_message_size: u16,
    /// Option 55.
    pub request_list: Vec<u8>,
    /// Address of a previous lease: start in INIT-REBOOT and ask for it again (4.3.2).
    pub previous_address: Option<Ipv4Addr>,
}

impl ClientConfig {
    /// The phone's defaults for a MAC and model; option 60 carries the model as well.
    pub fn new(mac: [u8; 6], model: &str) -> Self {
        ClientConfig {
            mac,
            model: model.to_string(),
            vendor_class: format!("AUDC-IPPHONE-{model}"),
            hostname: None,
            max_message_size: 1500,
            request_list: DEFAULT_REQUEST_LIST.to_vec(),
            previous_address: None,
        }
    }

    /// Adds an option number to the request list (e.g. a non-default `url_option_value`).
    pub fn request_option(&mut self, code: u8) {
        if !self.request_list.contains(&code) {
            self.request_list.push(code);
        }
    }
}

/// RFC 2131 figure 5 states (INFORMING for a statically addressed phone, 4.4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Init,
    Selecting,
    Requesting,
    Rebooting,
    Bound,
    Renewing,
    Rebinding,
    Informing,
    Informed,
    Stopped,
}

/// A bound lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub address: Ipv4Addr,
    pub server: Ipv4Addr,
    pub info: LeaseInfo,
    pub acquired: Instant,
    /// `None` for an infinite lease.
    pub t1: Option<Instant>,
    pub t2: Option<Instant>,
    pub expires: Option<Instant>,
}

/// A datagram to send from port 68.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub destination: SocketAddrV4,
    pub payload: Vec<u8>,
}

/// What happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A lease was obtained (first time or after INIT).
    Bound(Lease),
    /// The lease was extended (RENEWING/REBINDING).
    Renewed(Lease),
    /// The lease expired or was refused (NAK): the address must be removed.
    LeaseLost { reason: String },
    /// Answer to DHCPINFORM.
    Informed(LeaseInfo),
    /// A datagram was ignored because it is malformed (logged by the driver; state kept).
    Rejected(DhcpError),
    /// No answer after this many attempts in the current state (the client keeps trying).
    NoAnswer { state: State, attempts: u32 },
}

/// Small deterministic PRNG (xorshift64*) for transaction ids and retransmission jitter; seeded
/// by the driver so that tests are reproducible. Not used for anything secret.
#[derive(Debug, Clone)]
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// The client.
#[derive(Debug)]
pub struct DhcpClient {
    cfg: ClientConfig,
    state: State,
    rng: Rng,
    xid: u32,
    started: Instant,
    attempts: u32,
    next_send: Option<Instant>,
    offer: Option<(Ipv4Addr, Ipv4Addr)>,
    lease: Option<Lease>,
    inform_addr: Option<Ipv4Addr>,
    inform_vendor: Option<String>,
    out: VecDeque<Transmit>,
    events: VecDeque<Event>,
}

const BROADCAST: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::BROADCAST, SERVER_PORT);
/// Attempts before REQUESTING / REBOOTING gives up and restarts at INIT.
const MAX_REQUESTS: u32 = 4;

impl DhcpClient {
    /// A client that starts acquiring at `now` (INIT, or INIT-REBOOT with a previous address).
    pub fn new(cfg: ClientConfig, seed: u64, now: Instant) -> Self {
        let mut c = DhcpClient {
            state: State::Init,
            rng: Rng(seed | 1),
            xid: 0,
            started: now,
            attempts: 0,
            next_send: Some(now),
            offer: None,
            lease: None,
            inform_addr: None,
            inform_vendor: None,
            out: VecDeque::new(),
            events: VecDeque::new(),
            cfg,
        };
        if c.cfg.previous_address.is_some() {
            c.enter(State::Rebooting, now);
        } else {
            c.enter(State::Init, now);
        }
        c
    }

    /// A client for a statically addressed phone: it only asks for configuration with
    /// DHCPINFORM (RFC 2131 section 4.4.3). `vendor_class` overrides option 60 (for example
    /// `MS-UC-Client` to obtain option 43 from a Microsoft DHCP server).
    pub fn inform(
        cfg: ClientConfig,
        address: Ipv4Addr,
        vendor_class: Option<String>,
        seed: u64,
        now: Instant,
    ) -> Self {
        let mut c = DhcpClient::new(cfg, seed, now);
        c.inform_addr = Some(address);
        c.inform_vendor = vendor_class;
        c.enter(State::Informing, now);
        c
    }

    pub fn state(&self) -> State {
        self.state
    }
    pub fn lease(&self) -> Option<&Lease> {
        self.lease.as_ref()
    }
    pub fn config(&self) -> &ClientConfig {
        &self.cfg
    }

    fn enter(&mut self, s: State, now: Instant) {
        self.state = s;
        self.attempts = 0;
        match s {
            State::Init => {
                self.xid = self.rng.next() as u32;
                self.started = now;
                self.offer = None;
                // Straight to SELECTING: the DISCOVER goes out at once.
                self.state = State::Selecting;
                self.next_send = Some(now);
            }
            State::Rebooting | State::Informing => {
                self.xid = self.rng.next() as u32;
                self.started = now;
                self.next_send = Some(now);
            }
            State::Requesting => self.next_send = Some(now),
            State::Bound | State::Informed | State::Stopped | State::Selecting => {
                self.next_send = None
            }
            State::Renewing | State::Rebinding => {
                self.xid = self.rng.next() as u32;
                self.next_send = Some(now);
            }
        }
    }

    /// RFC 2131 section 4.1: retransmission delay 4 s doubling up to 64 s, randomized by
    /// +/- 1 s.
    fn backoff(&mut self) -> Duration {
        let base = 4u64 << self.attempts.saturating_sub(1).min(4);
        let jitter_ms = (self.rng.next() % 2001) as i64 - 1000;
        Duration::from_millis((base as i64 * 1000 + jitter_ms) as u64)
    }

    /// RFC 2131 section 4.4.5: in RENEWING / REBINDING wait half the remaining time to T2 /
    /// expiry, at least 60 s.
    fn half_remaining(now: Instant, until: Option<Instant>) -> Duration {
        match until {
            Some(t) => (t.saturating_duration_since(now) / 2).max(Duration::from_secs(60)),
            None => Duration::from_secs(60),
        }
    }

    fn base_message(&self, t: MessageType, now: Instant) -> Message {
        let mut m = Message {
            op: BOOTREQUEST,
            xid: self.xid,
            secs: now
                .saturating_duration_since(self.started)
                .as_secs()
                .min(u16::MAX as u64) as u16,
            ..Message::default()
        };
        m.chaddr[..6].copy_from_slice(&self.cfg.mac);
        m.set_option(code::MESSAGE_TYPE, [t as u8]);
        let mut id = vec![1u8];
        id.extend_from_slice(&self.cfg.mac);
        m.set_option(code::CLIENT_ID, id);
        m
    }

    fn add_identity(&self, m: &mut Message, vendor: Option<&str>) {
        m.set_option(
            code::MAX_MESSAGE_SIZE,
            self.cfg.max_message_size.max(576).to_be_bytes(),
        );
        let vendor = vendor.unwrap_or(&self.cfg.vendor_class);
        if !vendor.is_empty() {
            m.set_option(code::VENDOR_CLASS_ID, vendor.as_bytes());
        }
        m.set_option(
            code::USER_CLASS,
            encode_user_class(&[self.cfg.model.as_bytes()]),
        );
        if let Some(h) = &self.cfg.hostname {
            m.set_option(code::HOST_NAME, h.as_bytes());
        }
        m.set_option(code::PARAMETER_REQUEST_LIST, self.cfg.request_list.clone());
    }

    fn build(&mut self, now: Instant) -> Option<Transmit> {
        let (msg, dst) = match self.state {
            State::Selecting => {
                let mut m = self.base_message(MessageType::Discover, now);
                // Broadcast flag: we cannot receive unicast before the address is configured.
                m.flags = 0x8000;
                self.add_identity(&mut m, None);
                (m, BROADCAST)
            }
            State::Requesting => {
                let (addr, server) = self.offer?;
                let mut m = self.base_message(MessageType::Request, now);
                m.flags = 0x8000;
                // RFC 2131 4.3.2, table 5: SELECTING -> requested IP (50) and server id (54)
                // MUST be present, ciaddr MUST be zero.
                m.set_option(code::REQUESTED_IP, addr.octets());
                m.set_option(code::SERVER_ID, server.octets());
                self.add_identity(&mut m, None);
                (m, BROADCAST)
            }
            State::Rebooting => {
                let addr = self.cfg.previous_address?;
                let mut m = self.base_message(MessageType::Request, now);
                m.flags = 0x8000;
                // INIT-REBOOT: option 50 MUST be filled in, server id MUST NOT be present.
                m.set_option(code::REQUESTED_IP, addr.octets());
                self.add_identity(&mut m, None);
                (m, BROADCAST)
            }
            State::Renewing | State::Rebinding => {
                let lease = self.lease.as_ref()?;
                let mut m = self.base_message(MessageType::Request, now);
                // RENEWING / REBINDING: ciaddr MUST be filled in, 50 and 54 MUST NOT be sent.
                m.ciaddr = lease.address;
                let dst = if self.state == State::Renewing {
                    SocketAddrV4::new(lease.server, SERVER_PORT)
                } else {
                    BROADCAST
                };
                self.add_identity(&mut m, None);
                (m, dst)
            }
            State::Informing => {
                let addr = self.inform_addr?;
                let mut m = self.base_message(MessageType::Inform, now);
                // DHCPINFORM: ciaddr MUST be the client's address (4.4.3); no lease time.
                m.ciaddr = addr;
                let vendor = self.inform_vendor.clone();
                self.add_identity(&mut m, vendor.as_deref());
                (m, BROADCAST)
            }
            _ => return None,
        };
        Some(Transmit {
            destination: dst,
            payload: msg.encode(),
        })
    }

    /// Datagrams to send now.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Transmit> {
        if let Some(t) = self.out.pop_front() {
            return Some(t);
        }
        let due = self.next_send.is_some_and(|t| t <= now);
        if !due {
            return None;
        }
        let t = self.build(now)?;
        self.attempts += 1;
        let wait = match self.state {
            State::Renewing => Self::half_remaining(now, self.lease.as_ref().and_then(|l| l.t2)),
            State::Rebinding => {
                Self::half_remaining(now, self.lease.as_ref().and_then(|l| l.expires))
            }
            _ => self.backoff(),
        };
        self.next_send = Some(now + wait);
        Some(t)
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When the client wants [`DhcpClient::handle_timeout`] to be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let lease_timer = match (self.state, &self.lease) {
            (State::Bound, Some(l)) => l.t1,
            (State::Renewing, Some(l)) => l.t2,
            (State::Rebinding, Some(l)) => l.expires,
            _ => None,
        };
        match (self.next_send, lease_timer) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Advances timers: lease T1/T2/expiry and give-up decisions.
    pub fn handle_timeout(&mut self, now: Instant) {
        let (t1, t2, exp) = match &self.lease {
            Some(l) => (l.t1, l.t2, l.expires),
            None => (None, None, None),
        };
        match self.state {
            State::Bound if t1.is_some_and(|t| t <= now) => self.enter(State::Renewing, now),
            State::Renewing if t2.is_some_and(|t| t <= now) => self.enter(State::Rebinding, now),
            State::Rebinding if exp.is_some_and(|t| t <= now) => {
                self.lease = None;
                self.events.push_back(Event::LeaseLost {
                    reason: "lease expired".into(),
                });
                self.enter(State::Init, now);
            }
            State::Requesting | State::Rebooting
                if self.attempts >= MAX_REQUESTS && self.next_send.is_some_and(|t| t <= now) =>
            {
                self.events.push_back(Event::NoAnswer {
                    state: self.state,
                    attempts: self.attempts,
                });
                self.enter(State::Init, now);
            }
            State::Selecting | State::Informing
                if self.attempts > 0
                    && self.attempts % 4 == 0
                    && self.next_send.is_some_and(|t| t <= now) =>
            {
                self.events.push_back(Event::NoAnswer {
                    state: self.state,
                    attempts: self.attempts,
                });
            }
            _ => {}
        }
    }

    fn lease_from(&self, info: LeaseInfo, addr: Ipv4Addr, server: Ipv4Addr, now: Instant) -> Lease {
        let (t1, t2, expires) = match info.lease_time {
            None | Some(u32::MAX) => (None, None, None),
            Some(secs) => {
                let secs = secs as u64;
                // RFC 2131 4.4.5: T1 defaults to 0.5 * lease, T2 to 0.875 * lease.
                let t1 = info.renewal_time.map_or(secs / 2, |t| (t as u64).min(secs));
                let t2 = info
                    .rebinding_time
                    .map_or(secs * 7 / 8, |t| (t as u64).min(secs))
                    .max(t1);
                (
                    Some(now + Duration::from_secs(t1)),
                    Some(now + Duration::from_secs(t2)),
                    Some(now + Duration::from_secs(secs)),
                )
            }
        };
        Lease {
            address: addr,
            server,
            info,
            acquired: now,
            t1,
            t2,
            expires,
        }
    }

    /// Feeds a datagram received on port 68.
    pub fn handle_input(&mut self, now: Instant, datagram: &[u8]) {
        let pkt = match Packet::parse(datagram) {
            Ok(p) => p,
            Err(e) => {
                self.events.push_back(Event::Rejected(e));
                return;
            }
        };
        // Not for us: silently dropped (other clients' traffic on a shared segment).
        if pkt.op() != BOOTREPLY
            || pkt.xid() != self.xid
            || pkt.chaddr().get(..6) != Some(&self.cfg.mac[..])
        {
            return;
        }
        let info = LeaseInfo::decode(&pkt);
        let Some(mt) = info.message_type else {
            self.events.push_back(Event::Rejected(DhcpError::BadOption {
                code: code::MESSAGE_TYPE,
                reason: "reply without a valid message type",
            }));
            return;
        };
        match (self.state, mt) {
            (State::Selecting, MessageType::Offer) => {
                let (Some(addr), Some(server)) = (info.your_ip, info.server_id) else {
                    self.events.push_back(Event::Rejected(DhcpError::BadOption {
                        code: code::SERVER_ID,
                        reason: "offer without an address or a server identifier",
                    }));
                    return;
                };
                self.offer = Some((addr, server));
                self.enter(State::Requesting, now);
            }
            (
                State::Requesting | State::Rebooting | State::Renewing | State::Rebinding,
                MessageType::Ack,
            ) => {
                let Some(addr) = info.your_ip else {
                    self.events.push_back(Event::Rejected(DhcpError::BadOption {
                        code: code::MESSAGE_TYPE,
                        reason: "ACK without yiaddr",
                    }));
                    return;
                };
                let server = info
                    .server_id
                    .or(self.offer.map(|o| o.1))
                    .or(self.lease.as_ref().map(|l| l.server))
                    .unwrap_or(Ipv4Addr::UNSPECIFIED);
                let renewed = matches!(self.state, State::Renewing | State::Rebinding);
                let lease = self.lease_from(info, addr, server, now);
                self.lease = Some(lease.clone());
                self.cfg.previous_address = Some(addr);
                self.enter(State::Bound, now);
                self.events.push_back(if renewed {
                    Event::Renewed(lease)
                } else {
                    Event::Bound(lease)
                });
            }
            (
                State::Requesting | State::Rebooting | State::Renewing | State::Rebinding,
                MessageType::Nak,
            ) => {
                let reason = info.server_message.unwrap_or_else(|| "DHCPNAK".to_string());
                if self.lease.take().is_some() || self.state == State::Rebooting {
                    self.events.push_back(Event::LeaseLost { reason });
                }
                self.cfg.previous_address = None;
                self.enter(State::Init, now);
            }
            (State::Informing, MessageType::Ack) => {
                self.enter(State::Informed, now);
                self.events.push_back(Event::Informed(info));
            }
            _ => {}
        }
    }

    /// Gives the lease back (DHCPRELEASE, RFC 2131 4.4.6) and stops.
    pub fn release(&mut self, now: Instant) {
        if let Some(l) = self.lease.take() {
            let mut m = self.base_message(MessageType::Release, now);
            m.ciaddr = l.address;
            m.set_option(code::SERVER_ID, l.server.octets());
            self.out.push_back(Transmit {
                destination: SocketAddrV4::new(l.server, SERVER_PORT),
                payload: m.encode(),
            });
        }
        self.enter(State::Stopped, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dhcp::options::decode_user_class;

    const MAC: [u8; 6] = [0x00, 0x90, 0x8f, 0x11, 0x22, 0x33];

    /// A minimal server for the unit tests (the integration tests use dnsmasq).
    fn reply(req: &[u8], t: MessageType, lease: u32) -> Vec<u8> {
        let p = Packet::parse(req).unwrap();
        let mut m = Message {
            op: BOOTREPLY,
            xid: p.xid(),
            yiaddr: Ipv4Addr::new(10, 0, 0, 50),
            flags: p.flags(),
            ..Message::default()
        };
        m.chaddr[..6].copy_from_slice(&p.chaddr()[..6]);
        m.set_option(code::MESSAGE_TYPE, [t as u8]);
        m.set_option(code::SERVER_ID, [10, 0, 0, 1]);
        m.set_option(code::LEASE_TIME, lease.to_be_bytes());
        m.set_option(code::PROVISIONING_URL, &b"http://10.0.0.1/"[..]);
        m.encode()
    }

    #[test]
    fn discover_carries_identity() {
        let now = Instant::now();
        let mut c = DhcpClient::new(ClientConfig::new(MAC, "420HD"), 7, now);
        let t = c.poll_transmit(now).unwrap();
        assert_eq!(t.destination, BROADCAST);
        let p = Packet::parse(&t.payload).unwrap();
        assert_eq!(p.message_type(), Some(MessageType::Discover));
        assert_eq!(p.option(55).unwrap().as_ref(), &DEFAULT_REQUEST_LIST);
        assert_eq!(p.option(57).unwrap().as_ref(), &1500u16.to_be_bytes());
        assert_eq!(p.option(60).unwrap().as_ref(), b"AUDC-IPPHONE-420HD");
        assert_eq!(
            p.option(61).unwrap().as_ref(),
            &[1, 0x00, 0x90, 0x8f, 0x11, 0x22, 0x33]
        );
        assert_eq!(
            decode_user_class(&p.option(77).unwrap()),
            vec![b"420HD".to_vec()]
        );
        assert_eq!(p.flags(), 0x8000);
    }

    #[test]
    fn full_cycle_on_virtual_clock() {
        let t0 = Instant::now();
        let mut c = DhcpClient::new(ClientConfig::new(MAC, "440HD"), 1, t0);
        let d = c.poll_transmit(t0).unwrap();
        assert!(c.poll_transmit(t0).is_none());
        c.handle_input(t0, &reply(&d.payload, MessageType::Offer, 100));
        assert_eq!(c.state(), State::Requesting);
        let r = c.poll_transmit(t0).unwrap();
        let rp = Packet::parse(&r.payload).unwrap();
        assert_eq!(rp.message_type(), Some(MessageType::Request));
        assert_eq!(rp.option(50).unwrap().as_ref(), &[10, 0, 0, 50]);
        assert_eq!(rp.option(54).unwrap().as_ref(), &[10, 0, 0, 1]);
        c.handle_input(t0, &reply(&r.payload, MessageType::Ack, 100));
        let Some(Event::Bound(l)) = c.poll_event() else {
            panic!("not bound")
        };
        assert_eq!(l.address, Ipv4Addr::new(10, 0, 0, 50));
        assert_eq!(l.info.provisioning_url.as_deref(), Some("http://10.0.0.1/"));
        assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(50)));
        // T1: unicast renew.
        let t1 = t0 + Duration::from_secs(50);
        c.handle_timeout(t1);
        assert_eq!(c.state(), State::Renewing);
        let rn = c.poll_transmit(t1).unwrap();
        assert_eq!(
            rn.destination,
            SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 67)
        );
        let rnp = Packet::parse(&rn.payload).unwrap();
        assert_eq!(rnp.ciaddr(), Ipv4Addr::new(10, 0, 0, 50));
        assert!(rnp.option(50).is_none() && rnp.option(54).is_none());
        // No answer: T2 -> rebinding (broadcast), then expiry -> lease lost.
        let t2 = t0 + Duration::from_secs(87);
        c.handle_timeout(t2);
        assert_eq!(c.state(), State::Rebinding);
        assert_eq!(c.poll_transmit(t2).unwrap().destination, BROADCAST);
        let exp = t0 + Duration::from_secs(100);
        c.handle_timeout(exp);
        assert!(matches!(c.poll_event(), Some(Event::LeaseLost { .. })));
        assert_eq!(c.state(), State::Selecting);
    }

    #[test]
    fn retransmits_with_backoff_and_ignores_garbage() {
        let t0 = Instant::now();
        let mut c = DhcpClient::new(ClientConfig::new(MAC, "405HD"), 3, t0);
        c.poll_transmit(t0).unwrap();
        let mut last = t0;
        let mut gaps = Vec::new();
        for _ in 0..5 {
            let t = c.poll_timeout().unwrap();
            gaps.push(t - last);
            c.handle_timeout(t);
            c.poll_transmit(t).unwrap();
            last = t;
        }
        // 4, 8, 16, 32, 64 s, each +/- 1 s.
        for (g, base) in gaps.iter().zip([4u64, 8, 16, 32, 64]) {
            assert!(
                g.as_millis().abs_diff(base as u128 * 1000) <= 1000,
                "{g:?} vs {base}"
            );
        }
        c.handle_input(last, b"\x02garbage");
        assert!(matches!(c.poll_event(), Some(Event::NoAnswer { .. })));
        assert!(matches!(
            c.poll_event(),
            Some(Event::Rejected(DhcpError::TooShort(8)))
        ));
        assert_eq!(c.state(), State::Selecting);
    }

    #[test]
    fn nak_restarts() {
        let t0 = Instant::now();
        let mut cfg = ClientConfig::new(MAC, "450HD");
        cfg.previous_address = Some(Ipv4Addr::new(10, 9, 9, 9));
        let mut c = DhcpClient::new(cfg, 5, t0);
        assert_eq!(c.state(), State::Rebooting);
        let r = c.poll_transmit(t0).unwrap();
        let p = Packet::parse(&r.payload).unwrap();
        assert_eq!(p.option(50).unwrap().as_ref(), &[10, 9, 9, 9]);
        assert!(p.option(54).is_none());
        c.handle_input(t0, &reply(&r.payload, MessageType::Nak, 0));
        assert!(matches!(c.poll_event(), Some(Event::LeaseLost { .. })));
        assert_eq!(c.state(), State::Selecting);
    }

    #[test]
    fn inform() {
        let t0 = Instant::now();
        let a = Ipv4Addr::new(10, 0, 0, 7);
        let mut c = DhcpClient::inform(
            ClientConfig::new(MAC, "430HD"),
            a,
            Some("MS-UC-Client".into()),
            9,
            t0,
        );
        let r = c.poll_transmit(t0).unwrap();
        let p = Packet::parse(&r.payload).unwrap();
        assert_eq!(p.message_type(), Some(MessageType::Inform));
        assert_eq!(p.ciaddr(), a);
        assert_eq!(p.option(60).unwrap().as_ref(), b"MS-UC-Client");
        c.handle_input(t0, &reply(&r.payload, MessageType::Ack, 0));
        assert!(matches!(c.poll_event(), Some(Event::Informed(_))));
        assert_eq!(c.state(), State::Informed);
    }
}
