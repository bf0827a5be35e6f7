//! Locating SIP servers (RFC 3263), sans-IO: NAPTR -> SRV -> A with the RFC 2782 ordering of
//! SRV records (priority, then weighted random within a priority), an ordered target list
//! for failover, and the Skype for Business discovery order of the manual's section 2.5.1
//! (`_sipinternaltls._tcp`, DHCP option 120, `_sipinternal._tcp`, `_sip._tls`, `_sip._tcp`).
//!
//! [`Resolver::poll_query`] yields DNS queries (wire format, from hickory-proto) for the
//! owner to send to its DNS server; [`Resolver::handle_response`] takes the answers;
//! [`Resolver::result`] gives the targets in the order to try them.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message as Dns, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};

use crate::transaction::Transport;
use crate::uri::SipUri;

/// One place to send requests to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub transport: Transport,
    pub addr: SocketAddr,
    /// The host name the target came from (the name to check in a TLS certificate).
    pub host: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("no SIP server found for {0}")]
    NotFound(String),
    #[error("bad name {0:?}")]
    BadName(String),
    #[error("DNS server did not answer")]
    Timeout,
}

#[derive(Debug, Clone)]
enum Step {
    Naptr {
        domain: String,
    },
    /// `first_wins`: skip the rest of the plan's SRV steps once one answered (Lync order).
    Srv {
        name: String,
        transport: Transport,
    },
    Host {
        name: String,
        port: u16,
        transport: Transport,
    },
    /// Only when nothing was found so far.
    Fallback {
        name: String,
        port: u16,
        transport: Transport,
    },
}

fn default_port(t: Transport) -> u16 {
    if t == Transport::Tls {
        5061
    } else {
        5060
    }
}

/// RFC 3263 section 4.1 service fields and SRV prefixes of each transport.
fn naptr_service(t: Transport) -> &'static str {
    match t {
        Transport::Udp => "SIP+D2U",
        Transport::Tcp => "SIP+D2T",
        Transport::Tls => "SIPS+D2T",
    }
}

fn srv_prefix(t: Transport) -> &'static str {
    match t {
        Transport::Udp => "_sip._udp",
        Transport::Tcp => "_sip._tcp",
        Transport::Tls => "_sips._tcp",
    }
}

/// RFC 2782 ordering of SRV records: by priority; within one priority, repeatedly pick at
/// random weighted by weight (weight-0 records first in the running sum, so they are chosen
/// only when the others run out or by the random draw hitting 0).
pub fn order_srv(mut recs: Vec<(u16, u16, u16, String)>, rng: &mut u64) -> Vec<(u16, String)> {
    let mut out = Vec::new();
    recs.sort_by_key(|r| r.0);
    let mut i = 0;
    while i < recs.len() {
        let p = recs[i].0;
        let mut group: Vec<(u16, u16, u16, String)> =
            recs[i..].iter().take_while(|r| r.0 == p).cloned().collect();
        i += group.len();
        // Weight 0 first (RFC 2782 "arrange all SRV RRs ... in any order, except that all
        // those with weight 0 are placed at the beginning of the list").
        group.sort_by_key(|r| r.1 != 0);
        while !group.is_empty() {
            let total: u32 = group.iter().map(|r| r.1 as u32).sum();
            let pick = if total == 0 {
                0
            } else {
                (next(rng) % (total as u64 + 1)) as u32
            };
            let mut run = 0u32;
            let mut k = group.len() - 1;
            for (j, r) in group.iter().enumerate() {
                run += r.1 as u32;
                if run >= pick {
                    k = j;
                    break;
                }
            }
            let r = group.remove(k);
            out.push((r.2, r.3));
        }
    }
    out
}

fn next(s: &mut u64) -> u64 {
    *s = s.wrapping_add(0x9E3779B97F4A7C15);
    let mut z = *s;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
    z ^ (z >> 31)
}

/// The resolution of one destination.
#[derive(Debug)]
pub struct Resolver {
    steps: VecDeque<Step>,
    targets: Vec<Target>,
    supported: Vec<Transport>,
    pending: Option<(u16, Step, Instant, u8)>,
    out: Option<Vec<u8>>,
    id: u16,
    rng: u64,
    timeout: Duration,
    /// Stop at the first SRV name that answers (the Lync discovery order).
    first_wins: bool,
    srv_found: bool,
    done: Option<Result<Vec<Target>, ResolveError>>,
    label: String,
}

impl Resolver {
    fn with_steps(
        steps: Vec<Step>,
        supported: Vec<Transport>,
        seed: u64,
        label: String,
        first_wins: bool,
    ) -> Resolver {
        Resolver {
            steps: steps.into(),
            targets: Vec::new(),
            supported,
            pending: None,
            out: None,
            id: (seed & 0xffff) as u16,
            rng: seed,
            timeout: Duration::from_secs(2),
            first_wins,
            srv_found: false,
            done: None,
            label,
        }
    }

    /// RFC 3263 section 4 for a SIP or SIPS URI: an IP address or an explicit port skips
    /// NAPTR/SRV; a `transport` parameter skips NAPTR; otherwise NAPTR, then SRV for each
    /// supported transport, then A on the default port.
    pub fn for_uri(uri: &SipUri<'_>, supported: &[Transport], seed: u64) -> Resolver {
        let supported: Vec<Transport> = if uri.secure {
            supported
                .iter()
                .copied()
                .filter(|t| *t == Transport::Tls)
                .collect()
        } else {
            supported.to_vec()
        };
        let host = uri
            .host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let forced = uri.transport().and_then(|t| match t.as_str() {
            "udp" => Some(Transport::Udp),
            "tcp" if uri.secure => Some(Transport::Tls),
            "tcp" => Some(Transport::Tcp),
            "tls" => Some(Transport::Tls),
            _ => None,
        });
        let default_t = forced.unwrap_or(if uri.secure {
            Transport::Tls
        } else {
            Transport::Udp
        });
        let mut steps = Vec::new();
        if host.parse::<IpAddr>().is_ok() || uri.port.is_some() {
            // 4.1/4.2: numeric host or explicit port: no NAPTR, no SRV.
            steps.push(Step::Host {
                name: host.clone(),
                port: uri.port.unwrap_or(default_port(default_t)),
                transport: default_t,
            });
        } else if let Some(t) = forced {
            steps.push(Step::Srv {
                name: format!("{}.{host}", srv_prefix(t)),
                transport: t,
            });
            steps.push(Step::Fallback {
                name: host.clone(),
                port: default_port(t),
                transport: t,
            });
        } else {
            steps.push(Step::Naptr {
                domain: host.clone(),
            });
        }
        Resolver::with_steps(steps, supported, seed, host, false)
    }

    /// The discovery order of manual 2.5.1 for a Skype for Business / Lync sign-in domain;
    /// `option120` is the SIP server from DHCP option 120, if any.
    pub fn lync(domain: &str, option120: Option<&str>, seed: u64) -> Resolver {
        let mut steps = vec![Step::Srv {
            name: format!("_sipinternaltls._tcp.{domain}"),
            transport: Transport::Tls,
        }];
        if let Some(h) = option120 {
            steps.push(Step::Host {
                name: h.to_string(),
                port: 5061,
                transport: Transport::Tls,
            });
        }
        steps.push(Step::Srv {
            name: format!("_sipinternal._tcp.{domain}"),
            transport: Transport::Tcp,
        });
        if let Some(h) = option120 {
            steps.push(Step::Host {
                name: h.to_string(),
                port: 5060,
                transport: Transport::Tcp,
            });
        }
        steps.push(Step::Srv {
            name: format!("_sip._tls.{domain}"),
            transport: Transport::Tls,
        });
        steps.push(Step::Srv {
            name: format!("_sip._tcp.{domain}"),
            transport: Transport::Tcp,
        });
        Resolver::with_steps(
            steps,
            vec![Transport::Tls, Transport::Tcp],
            seed,
            domain.to_string(),
            true,
        )
    }

    fn query(&mut self, now: Instant, step: Step, tries: u8) {
        let (name, rtype) = match &step {
            Step::Naptr { domain } => (domain.clone(), RecordType::NAPTR),
            Step::Srv { name, .. } => (name.clone(), RecordType::SRV),
            Step::Host { name, .. } | Step::Fallback { name, .. } => (name.clone(), RecordType::A),
        };
        let Ok(n) = Name::from_ascii(format!("{}.", name.trim_end_matches('.'))) else {
            self.pending = None;
            return;
        };
        self.id = self.id.wrapping_add(1);
        let mut m = Dns::new();
        m.set_id(self.id)
            .set_message_type(MessageType::Query)
            .set_op_code(OpCode::Query)
            .set_recursion_desired(true)
            .add_query(Query::query(n, rtype));
        if let Ok(bytes) = m.to_vec() {
            self.out = Some(bytes);
            self.pending = Some((self.id, step, now + self.timeout, tries));
        }
    }

    /// Runs the plan until a query is needed or it is finished.
    fn advance(&mut self, now: Instant) {
        while self.pending.is_none() && self.done.is_none() {
            let Some(step) = self.steps.pop_front() else {
                self.done = Some(if self.targets.is_empty() {
                    Err(ResolveError::NotFound(self.label.clone()))
                } else {
                    Ok(self.targets.clone())
                });
                return;
            };
            match &step {
                Step::Fallback { .. } if !self.targets.is_empty() => continue,
                Step::Srv { .. } if self.first_wins && self.srv_found => continue,
                Step::Host {
                    name,
                    port,
                    transport,
                }
                | Step::Fallback {
                    name,
                    port,
                    transport,
                } => {
                    if let Ok(ip) = name.parse::<IpAddr>() {
                        self.push(Target {
                            transport: *transport,
                            addr: SocketAddr::new(ip, *port),
                            host: name.clone(),
                        });
                        continue;
                    }
                }
                _ => {}
            }
            self.query(now, step, 0);
        }
    }

    fn push(&mut self, t: Target) {
        if !self.targets.contains(&t) {
            self.targets.push(t);
        }
    }

    /// The next DNS query to send.
    pub fn poll_query(&mut self, now: Instant) -> Option<Vec<u8>> {
        self.advance(now);
        self.out.take()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.pending.as_ref().map(|p| p.2)
    }

    /// No answer in time: one retry, then the step is skipped.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some((_, step, at, tries)) = self.pending.clone() {
            if at <= now {
                self.pending = None;
                if tries < 1 {
                    self.query(now, step, tries + 1);
                } else if let Step::Naptr { domain } = step {
                    // No NAPTR answer: go on as if there were no records.
                    self.expand_naptr(&domain, Vec::new());
                }
            }
        }
        self.advance(now);
    }

    /// A DNS response (any other packet is ignored).
    pub fn handle_response(&mut self, now: Instant, packet: &[u8]) {
        let Ok(m) = Dns::from_vec(packet) else { return };
        let Some((id, step, _, _)) = self.pending.clone() else {
            return;
        };
        if m.id() != id || m.message_type() != MessageType::Response {
            return;
        }
        self.pending = None;
        let ok = m.response_code() == ResponseCode::NoError;
        let records: Vec<&RData> = if ok {
            m.answers().iter().filter_map(|r| r.data()).collect()
        } else {
            Vec::new()
        };
        let additional_a = |host: &str| -> Vec<IpAddr> {
            m.additionals()
                .iter()
                .filter(|r| {
                    r.name()
                        .to_ascii()
                        .trim_end_matches('.')
                        .eq_ignore_ascii_case(host.trim_end_matches('.'))
                })
                .filter_map(|r| match r.data() {
                    Some(RData::A(a)) => Some(IpAddr::V4(a.0)),
                    _ => None,
                })
                .collect()
        };
        match step {
            Step::Naptr { domain } => {
                // RFC 3263 4.1: keep the SIP services we support, by order then preference;
                // flag "s" means the replacement is an SRV name.
                let mut naptr: Vec<(u16, u16, Transport, String)> = Vec::new();
                for r in &records {
                    if let RData::NAPTR(n) = r {
                        let svc = String::from_utf8_lossy(n.services()).to_ascii_uppercase();
                        let flags = String::from_utf8_lossy(n.flags()).to_ascii_lowercase();
                        if let Some(t) = self.supported.iter().find(|t| naptr_service(**t) == svc) {
                            if flags == "s" {
                                naptr.push((
                                    n.order(),
                                    n.preference(),
                                    *t,
                                    n.replacement().to_ascii(),
                                ));
                            }
                        }
                    }
                }
                self.expand_naptr(&domain, naptr);
            }
            Step::Srv { transport, .. } => {
                let srv: Vec<(u16, u16, u16, String)> = records
                    .iter()
                    .filter_map(|r| match r {
                        RData::SRV(s) => {
                            Some((s.priority(), s.weight(), s.port(), s.target().to_ascii()))
                        }
                        _ => None,
                    })
                    .filter(|s| s.3 != ".")
                    .collect();
                if !srv.is_empty() {
                    self.srv_found = true;
                }
                let ordered = order_srv(srv, &mut self.rng);
                let mut hosts = Vec::new();
                for (port, host) in ordered {
                    let host = host.trim_end_matches('.').to_string();
                    let ips = additional_a(&host);
                    if ips.is_empty() {
                        hosts.push(Step::Host {
                            name: host,
                            port,
                            transport,
                        });
                    } else {
                        for ip in ips {
                            hosts.push(Step::Host {
                                name: format!("{ip}"),
                                port,
                                transport,
                            });
                        }
                    }
                }
                for s in hosts.into_iter().rev() {
                    self.steps.push_front(s);
                }
            }
            Step::Host {
                name,
                port,
                transport,
            }
            | Step::Fallback {
                name,
                port,
                transport,
            } => {
                for r in &records {
                    if let RData::A(a) = r {
                        self.push(Target {
                            transport,
                            addr: SocketAddr::new(IpAddr::V4(a.0), port),
                            host: name.clone(),
                        });
                    }
                }
            }
        }
        self.advance(now);
    }

    /// RFC 3263 4.1: SRV names from the NAPTR records (by order, then preference), or SRV for
    /// each supported transport when there were none; A on the default port last.
    fn expand_naptr(&mut self, domain: &str, mut naptr: Vec<(u16, u16, Transport, String)>) {
        naptr.sort_by_key(|n| (n.0, n.1));
        let mut steps: Vec<Step> = naptr
            .into_iter()
            .map(|(_, _, t, name)| Step::Srv {
                name: name.trim_end_matches('.').to_string(),
                transport: t,
            })
            .collect();
        if steps.is_empty() {
            steps = self
                .supported
                .iter()
                .map(|t| Step::Srv {
                    name: format!("{}.{domain}", srv_prefix(*t)),
                    transport: *t,
                })
                .collect();
        }
        let fallback_t = if self.supported.contains(&Transport::Udp) {
            Transport::Udp
        } else {
            self.supported.first().copied().unwrap_or(Transport::Udp)
        };
        steps.push(Step::Fallback {
            name: domain.to_string(),
            port: default_port(fallback_t),
            transport: fallback_t,
        });
        for s in steps.into_iter().rev() {
            self.steps.push_front(s);
        }
    }

    /// The targets, in the order to try them, once the plan has run.
    pub fn result(&self) -> Option<&Result<Vec<Target>, ResolveError>> {
        self.done.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2782_weighted_order() {
        // Priority first; within priority 10, weights 60/30/10 pick the heavy one most often.
        let mut first = std::collections::HashMap::new();
        for seed in 0..3000u64 {
            let mut rng = seed.wrapping_mul(7919);
            let o = order_srv(
                vec![
                    (20, 0, 5060, "backup".into()),
                    (10, 60, 5060, "a".into()),
                    (10, 30, 5060, "b".into()),
                    (10, 10, 5060, "c".into()),
                ],
                &mut rng,
            );
            assert_eq!(o.len(), 4);
            assert_eq!(o[3].1, "backup");
            *first.entry(o[0].1.clone()).or_insert(0) += 1;
        }
        let a = first["a"] as f64 / 3000.0;
        let c = first["c"] as f64 / 3000.0;
        assert!((0.5..0.7).contains(&a), "a first {a}");
        assert!((0.05..0.16).contains(&c), "c first {c}");
    }

    #[test]
    fn numeric_hosts_and_ports_skip_dns() {
        let now = Instant::now();
        let u = SipUri::parse("sips:10.0.0.1").unwrap();
        let mut r = Resolver::for_uri(&u, &[Transport::Udp, Transport::Tcp, Transport::Tls], 1);
        assert!(r.poll_query(now).is_none());
        let t = r.result().unwrap().as_ref().unwrap();
        assert_eq!(t[0].addr, "10.0.0.1:5061".parse().unwrap());
        assert_eq!(t[0].transport, Transport::Tls);
        let u = SipUri::parse("sip:example.com:5070;transport=tcp").unwrap();
        let mut r = Resolver::for_uri(&u, &[Transport::Udp, Transport::Tcp], 1);
        let q = Dns::from_vec(&r.poll_query(now).unwrap()).unwrap();
        assert_eq!(q.queries()[0].query_type(), RecordType::A);
    }

    #[test]
    fn timeouts_skip_after_one_retry() {
        let now = Instant::now();
        let u = SipUri::parse("sip:example.com").unwrap();
        let mut r = Resolver::for_uri(&u, &[Transport::Udp], 3);
        let mut queries = 0;
        let mut t = now;
        while r.result().is_none() && queries < 50 {
            if r.poll_query(t).is_some() {
                queries += 1;
            }
            t += Duration::from_secs(3);
            r.handle_timeout(t);
        }
        assert_eq!(
            r.result(),
            Some(&Err(ResolveError::NotFound("example.com".into())))
        );
        // NAPTR, SRV _sip._udp, A fallback: each sent twice.
        assert_eq!(queries, 6);
    }
}
