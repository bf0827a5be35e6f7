//! Keep-alives for the flows to the registrar / outbound proxy (RFC 5626 sections 3.5 and
//! 4.4), sans-IO.
//!
//! Over TCP and TLS the client sends a double CRLF "ping" and the server answers with a single
//! CRLF "pong" (RFC 5626 3.5.1). A flow with no pong within [`PONG_TIMEOUT`] is reported
//! failed, so the owner can re-register over a new connection (RFC 5626 4.4.1). Over UDP a
//! double CRLF is sent as a NAT binding refresh and no answer is expected (the manual gives no
//! UDP keep-alive method, and a CRLF is what a SIP server ignores; RFC 3261 7.5).
//!
//! The interval is re-drawn for every ping between 80 % and 100 % of the configured value
//! (RFC 5626 4.4.1: "randomly distributed between 80% and 100% of the recommended time"), so
//! thousands of phones do not ping in step. Traffic on a flow postpones its next ping.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::transaction::{Transmit, Transport};

/// The ping: a double CRLF (RFC 5626 3.5.1).
pub const PING: &[u8] = b"\r\n\r\n";
/// The pong: a single CRLF.
pub const PONG: &[u8] = b"\r\n";
/// RFC 5626 4.4.1: a pong must arrive within 10 seconds.
pub const PONG_TIMEOUT: Duration = Duration::from_secs(10);

/// A flow: transport and remote address.
pub type Flow = (Transport, SocketAddr);

#[derive(Debug, Clone, Copy)]
struct FlowState {
    next_ping: Instant,
    /// Set while a pong is awaited (stream transports only).
    pong_due: Option<Instant>,
}

/// What the owner is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeepAliveEvent {
    /// A pong arrived: the flow is alive.
    Alive { flow: Flow },
    /// No pong within [`PONG_TIMEOUT`] (RFC 5626 4.4.1): the flow is gone and was removed.
    Failed { flow: Flow },
}

/// Keep-alive scheduler over any number of flows.
#[derive(Debug)]
pub struct KeepAlive {
    interval: Duration,
    flows: BTreeMap<Flow, FlowState>,
    out: Vec<Transmit>,
    events: Vec<KeepAliveEvent>,
    rng: u64,
}

impl KeepAlive {
    /// `interval`: the nominal time between pings (RFC 5626 4.4.1 recommends 95 s for
    /// connection-oriented and 25 s for UDP flows). `seed` drives the jitter.
    pub fn new(interval: Duration, seed: u64) -> KeepAlive {
        KeepAlive {
            interval,
            flows: BTreeMap::new(),
            out: Vec::new(),
            events: Vec::new(),
            rng: seed | 1,
        }
    }

    fn jittered(&mut self) -> Duration {
        // xorshift64*: only spreads ping times; nothing secret depends on it.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let r = self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11;
        let frac = 0.8 + 0.2 * (r as f64 / (1u64 << 53) as f64);
        self.interval.mul_f64(frac)
    }

    /// Starts keeping `flow` alive (idempotent).
    pub fn add_flow(&mut self, now: Instant, flow: Flow) {
        if !self.flows.contains_key(&flow) {
            let next_ping = now + self.jittered();
            self.flows.insert(
                flow,
                FlowState {
                    next_ping,
                    pong_due: None,
                },
            );
        }
    }

    pub fn remove_flow(&mut self, flow: Flow) {
        self.flows.remove(&flow);
    }

    pub fn flows(&self) -> impl Iterator<Item = &Flow> {
        self.flows.keys()
    }

    /// A SIP message went over the flow: the next ping can wait a full interval.
    pub fn handle_activity(&mut self, now: Instant, flow: Flow) {
        let next = now + self.jittered();
        if let Some(s) = self.flows.get_mut(&flow) {
            if s.pong_due.is_none() {
                s.next_ping = next;
            }
        }
    }

    /// A pong (single CRLF) arrived on the flow.
    pub fn handle_pong(&mut self, now: Instant, flow: Flow) {
        let next = now + self.jittered();
        if let Some(s) = self.flows.get_mut(&flow) {
            if s.pong_due.take().is_some() {
                s.next_ping = next;
                self.events.push(KeepAliveEvent::Alive { flow });
            }
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        let mut failed = Vec::new();
        let due: Vec<Flow> = self
            .flows
            .iter()
            .filter(|(_, s)| s.pong_due.is_none() && s.next_ping <= now)
            .map(|(f, _)| *f)
            .collect();
        for (f, s) in &self.flows {
            if s.pong_due.is_some_and(|d| d <= now) {
                failed.push(*f);
            }
        }
        for f in failed {
            self.flows.remove(&f);
            self.events.push(KeepAliveEvent::Failed { flow: f });
        }
        for f in due {
            let next = now + self.jittered();
            let Some(s) = self.flows.get_mut(&f) else {
                continue;
            };
            self.out.push(Transmit {
                transport: f.0,
                dest: f.1,
                data: PING.to_vec(),
            });
            if f.0.reliable() {
                // RFC 5626 4.4.1: wait for the pong before the next ping.
                s.pong_due = Some(now + PONG_TIMEOUT);
            } else {
                s.next_ping = next;
            }
        }
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        if self.out.is_empty() {
            None
        } else {
            Some(self.out.remove(0))
        }
    }

    pub fn poll_event(&mut self) -> Option<KeepAliveEvent> {
        if self.events.is_empty() {
            None
        } else {
            Some(self.events.remove(0))
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.flows
            .values()
            .map(|s| s.pong_due.unwrap_or(s.next_ping))
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(t: Transport, port: u16) -> Flow {
        (t, SocketAddr::from(([127, 0, 0, 1], port)))
    }

    /// Runs the scheduler on a virtual clock until `end`, answering pings with `answer`.
    fn run(
        ka: &mut KeepAlive,
        mut now: Instant,
        end: Instant,
        answer: impl Fn(&Transmit) -> bool,
    ) -> (Vec<(Duration, Transmit)>, Vec<KeepAliveEvent>) {
        let t0 = now;
        let mut sent = Vec::new();
        let mut events = Vec::new();
        while let Some(t) = ka.poll_timeout() {
            if t > end {
                break;
            }
            now = now.max(t);
            ka.handle_timeout(now);
            while let Some(x) = ka.poll_transmit() {
                if x.transport.reliable() && answer(&x) {
                    ka.handle_pong(now + Duration::from_millis(20), (x.transport, x.dest));
                }
                sent.push((now - t0, x));
            }
            while let Some(e) = ka.poll_event() {
                events.push(e);
            }
        }
        (sent, events)
    }

    #[test]
    fn pings_are_spread_between_80_and_100_percent_of_the_interval() {
        let t0 = Instant::now();
        let mut ka = KeepAlive::new(Duration::from_secs(25), 7);
        ka.add_flow(t0, flow(Transport::Udp, 5060));
        let (sent, events) = run(&mut ka, t0, t0 + Duration::from_secs(2500), |_| true);
        assert!(events.is_empty());
        assert!(sent.len() >= 100 && sent.len() <= 125, "{}", sent.len());
        let mut prev = Duration::ZERO;
        let mut gaps = Vec::new();
        for (at, x) in &sent {
            assert_eq!(x.data, PING);
            let gap = *at - prev;
            assert!(
                gap >= Duration::from_secs(20) && gap <= Duration::from_secs(25),
                "{gap:?}"
            );
            gaps.push(gap);
            prev = *at;
        }
        // Not all equal: the jitter is real.
        assert!(gaps.iter().any(|g| *g != gaps[0]));
    }

    #[test]
    fn a_missing_pong_fails_the_stream_flow_after_10_s() {
        let t0 = Instant::now();
        let mut ka = KeepAlive::new(Duration::from_secs(95), 1);
        let tcp = flow(Transport::Tcp, 5060);
        let tls = flow(Transport::Tls, 5061);
        ka.add_flow(t0, tcp);
        ka.add_flow(t0, tls);
        // The TLS peer answers, the TCP peer never does.
        let (sent, events) = run(&mut ka, t0, t0 + Duration::from_secs(400), |x| {
            x.transport == Transport::Tls
        });
        let tcp_pings: Vec<_> = sent
            .iter()
            .filter(|(_, x)| x.transport == Transport::Tcp)
            .collect();
        assert_eq!(tcp_pings.len(), 1, "one ping, then the flow is failed");
        let failed_at = events
            .iter()
            .position(|e| *e == KeepAliveEvent::Failed { flow: tcp })
            .expect("tcp flow failed");
        assert!(events[..failed_at]
            .iter()
            .all(|e| *e == KeepAliveEvent::Alive { flow: tls }));
        assert!(ka.flows().eq([&tls]));
        assert!(
            sent.iter()
                .filter(|(_, x)| x.transport == Transport::Tls)
                .count()
                >= 4
        );
    }

    #[test]
    fn traffic_postpones_the_ping() {
        let t0 = Instant::now();
        let mut ka = KeepAlive::new(Duration::from_secs(30), 3);
        let f = flow(Transport::Tcp, 5060);
        ka.add_flow(t0, f);
        // A message every 10 s for 5 minutes: never a ping.
        let mut now = t0;
        for _ in 0..30 {
            now += Duration::from_secs(10);
            ka.handle_timeout(now);
            assert!(ka.poll_transmit().is_none());
            ka.handle_activity(now, f);
        }
        // Then silence: a ping within the interval.
        let due = ka.poll_timeout().unwrap();
        assert!(due > now && due <= now + Duration::from_secs(30));
        ka.handle_timeout(due);
        assert_eq!(ka.poll_transmit().unwrap().data, PING);
        // An unsolicited pong is ignored; a late one after the failure too.
        ka.handle_pong(due, flow(Transport::Tcp, 9));
        assert!(ka.poll_event().is_none());
    }
}
