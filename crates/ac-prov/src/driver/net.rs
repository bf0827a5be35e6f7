//! Drivers of the network-service cores: blocking loops over a [`RawSocket`] or a UDP
//! socket, with deadlines; no threads.

use std::io;
use std::time::Instant;

use super::raw::RawSocket;
use crate::vlan::{VlanDiscovery, VlanEvent};

/// Runs VLAN discovery on `sock` (opened with `ETH_P_ALL`) until `on_event` returns true or
/// `deadline` passes (`Ok(false)`).
pub fn run_vlan(
    sock: &RawSocket,
    disc: &mut VlanDiscovery,
    deadline: Instant,
    mut on_event: impl FnMut(&VlanEvent) -> bool,
) -> io::Result<bool> {
    let _ = sock.join(crate::lldp::MULTICAST);
    let _ = sock.join(crate::cdp::MULTICAST);
    let mut buf = vec![0u8; 2048];
    loop {
        let now = Instant::now();
        disc.handle_timeout(now);
        while let Some(f) = disc.poll_transmit() {
            sock.send(&f)?;
        }
        while let Some(ev) = disc.poll_event() {
            if on_event(&ev) {
                return Ok(true);
            }
        }
        if now >= deadline {
            return Ok(false);
        }
        let wake = disc.poll_timeout().unwrap_or(deadline).min(deadline);
        if let Some(n) = sock.recv(&mut buf, wake.saturating_duration_since(now))? {
            disc.handle_frame(Instant::now(), &buf[..n]);
        }
    }
}

/// Resolves `(host, port)` pairs (addresses or names, through the system resolver) to the
/// socket addresses the SNTP client asks, IPv4 first, in the given order; names that do not
/// resolve are skipped.
pub fn resolve_servers(list: &[(String, u16)]) -> Vec<std::net::SocketAddr> {
    use std::net::ToSocketAddrs;
    let mut out = Vec::new();
    for (host, port) in list {
        if let Ok(it) = (host.as_str(), *port).to_socket_addrs() {
            let mut v: Vec<_> = it.collect();
            v.sort_by_key(|a| !a.is_ipv4());
            if let Some(a) = v.first() {
                out.push(*a);
            }
        }
    }
    out
}

/// Runs the SNTP client on `sock` (unconnected UDP) until `on_event` returns true or
/// `deadline` passes (`Ok(false)`).
pub fn run_sntp(
    sock: &std::net::UdpSocket,
    client: &mut crate::sntp::SntpClient,
    deadline: Instant,
    mut on_event: impl FnMut(&crate::sntp::NtpEvent) -> bool,
) -> io::Result<bool> {
    let mut buf = vec![0u8; crate::sntp::MAX_LEN + 1];
    loop {
        let now = Instant::now();
        client.handle_timeout(now);
        while let Some((to, p)) = client.poll_transmit() {
            // An unreachable server is the client's timeout to handle, not an I/O failure.
            let _ = sock.send_to(&p, to);
        }
        while let Some(ev) = client.poll_event() {
            if on_event(&ev) {
                return Ok(true);
            }
        }
        if now >= deadline {
            return Ok(false);
        }
        let wake = client.poll_timeout().unwrap_or(deadline).min(deadline);
        sock.set_read_timeout(Some(
            wake.saturating_duration_since(now)
                .max(std::time::Duration::from_millis(1)),
        ))?;
        match sock.recv_from(&mut buf) {
            Ok((n, from)) => client.handle_input(Instant::now(), from, &buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::ConnectionRefused
                ) => {}
            Err(e) => return Err(e),
        }
    }
}

/// Sends syslog datagrams (RFC 5426: one message per UDP datagram) to
/// `system/syslog/server_address:server_port`.
#[derive(Debug)]
pub struct SyslogSender {
    sock: std::net::UdpSocket,
    dest: std::net::SocketAddr,
}

impl SyslogSender {
    /// `None` when no server is configured (`0.0.0.0`, empty) or the name does not resolve.
    pub fn new(settings: &crate::syslog::SyslogSettings) -> io::Result<Option<SyslogSender>> {
        let host = settings.server.trim();
        if host.is_empty() || host == "0.0.0.0" || settings.port == 0 {
            return Ok(None);
        }
        let Some(dest) = resolve_servers(&[(host.to_string(), settings.port)])
            .into_iter()
            .next()
        else {
            return Ok(None);
        };
        let bind: std::net::SocketAddr = if dest.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        Ok(Some(SyslogSender {
            sock: std::net::UdpSocket::bind(bind)?,
            dest,
        }))
    }

    pub fn send(&self, out: &crate::syslog::Output) -> io::Result<()> {
        if let Some(d) = &out.network {
            self.sock.send_to(d, self.dest)?;
        }
        Ok(())
    }
}

/// The rustls configuration of EAP-TLS (RFC 5216: TLS 1.2): root CAs (PEM) that must sign
/// the authenticator's certificate, and the client certificate chain and key (PEM) of
/// `security/ieee802_1x_certificate_uri` / `_private_key_uri`.
pub fn eap_tls_config(
    roots_pem: &[Vec<u8>],
    cert_pem: &[u8],
    key_pem: &[u8],
) -> Result<std::sync::Arc<rustls::ClientConfig>, super::DriverError> {
    use super::DriverError;
    use rustls::pki_types::CertificateDer;
    use std::sync::Arc;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for r in roots_pem {
        for c in rustls_pemfile::certs(&mut &r[..]) {
            let c = c.map_err(|e| DriverError::Tls(format!("CA certificate: {e}")))?;
            roots
                .add(c)
                .map_err(|e| DriverError::Tls(format!("CA certificate: {e}")))?;
        }
    }
    let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .map_err(|e| DriverError::Tls(format!("roots: {e}")))?;
    let chain: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut &cert_pem[..])
        .collect::<Result<_, _>>()
        .map_err(|e| DriverError::Tls(format!("client certificate: {e}")))?;
    if chain.is_empty() {
        return Err(DriverError::Tls(
            "client certificate: no certificate in PEM".into(),
        ));
    }
    let key = rustls_pemfile::private_key(&mut &key_pem[..])
        .map_err(|e| DriverError::Tls(format!("client key: {e}")))?
        .ok_or_else(|| DriverError::Tls("client key: no private key in PEM".into()))?;
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS12])
        .map_err(|e| DriverError::Tls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(crate::eapol::EapServerVerifier(webpki)))
        .with_client_auth_cert(chain, key)
        .map_err(|e| DriverError::Tls(format!("client certificate: {e}")))?;
    Ok(Arc::new(cfg))
}

/// Runs the 802.1X supplicant on `sock` (opened for EtherType 0x888E) until `on_event`
/// returns true or `deadline` passes (`Ok(false)`).
pub fn run_eapol(
    sock: &RawSocket,
    sup: &mut crate::eapol::Supplicant,
    deadline: Instant,
    mut on_event: impl FnMut(&crate::eapol::EapolEvent) -> bool,
) -> io::Result<bool> {
    let _ = sock.join(crate::eapol::PAE_GROUP);
    let mut buf = vec![0u8; 2048];
    loop {
        let now = Instant::now();
        sup.handle_timeout(now);
        while let Some(f) = sup.poll_transmit() {
            sock.send(&f)?;
        }
        while let Some(ev) = sup.poll_event() {
            if on_event(&ev) {
                return Ok(true);
            }
        }
        if now >= deadline {
            return Ok(false);
        }
        let wake = sup.poll_timeout().unwrap_or(deadline).min(deadline);
        if let Some(n) = sock.recv(&mut buf, wake.saturating_duration_since(now))? {
            sup.handle_frame(Instant::now(), &buf[..n]);
        }
    }
}

/// One blocking DNS query over UDP to `dns`; the answer and additional records.
fn dns_query(
    dns: std::net::SocketAddr,
    name: &str,
    rtype: hickory_proto::rr::RecordType,
    timeout: std::time::Duration,
) -> io::Result<hickory_proto::op::Message> {
    use hickory_proto::op::{Message, MessageType, OpCode, Query};
    use hickory_proto::rr::Name;
    let bad = |e: String| io::Error::new(io::ErrorKind::InvalidData, e);
    let n = Name::from_ascii(name).map_err(|e| bad(e.to_string()))?;
    let id = (std::process::id() as u16) ^ (name.len() as u16).rotate_left(7);
    let mut m = Message::new();
    m.set_id(id)
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(true)
        .add_query(Query::query(n, rtype));
    let q = m.to_vec().map_err(|e| bad(e.to_string()))?;
    let bind: std::net::SocketAddr = if dns.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let sock = std::net::UdpSocket::bind(bind)?;
    sock.connect(dns)?;
    let deadline = Instant::now() + timeout;
    let mut buf = [0u8; 4096];
    for _ in 0..2 {
        sock.send(&q)?;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            sock.set_read_timeout(Some(
                left.min(timeout / 2)
                    .max(std::time::Duration::from_millis(1)),
            ))?;
            match sock.recv(&mut buf) {
                Ok(n) => {
                    if let Ok(r) = Message::from_vec(&buf[..n]) {
                        if r.id() == id && r.message_type() == MessageType::Response {
                            return Ok(r);
                        }
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    break
                }
                Err(e) => return Err(e),
            }
        }
    }
    Err(io::Error::new(io::ErrorKind::TimedOut, "no DNS answer"))
}

/// The NTP servers of `_ntp._udp.<domain>` SRV records (manual 8.5, deployment notes), asked
/// of the DNS server `dns` (DHCP option 6): ordered by priority, then weight (heaviest
/// first, RFC 2782), each target given as its IPv4 address (from the additional section or
/// an A query) when it resolves, else as its name.
pub fn ntp_srv_servers(
    dns: std::net::SocketAddr,
    domain: &str,
    timeout: std::time::Duration,
) -> io::Result<Vec<(String, u16)>> {
    use hickory_proto::rr::{RData, RecordType};
    let d = domain.trim().trim_end_matches('.');
    if d.is_empty() {
        return Ok(Vec::new());
    }
    let m = dns_query(dns, &format!("_ntp._udp.{d}."), RecordType::SRV, timeout)?;
    let mut srv: Vec<(u16, u16, u16, String)> = m
        .answers()
        .iter()
        .filter_map(|r| match r.data() {
            Some(RData::SRV(s)) => {
                Some((s.priority(), s.weight(), s.port(), s.target().to_ascii()))
            }
            _ => None,
        })
        // RFC 2782: a target of "." means the service is not available.
        .filter(|s| s.3 != ".")
        .collect();
    srv.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    let mut out = Vec::new();
    for (_, _, port, target) in srv {
        let t = target.trim_end_matches('.');
        let from_additional = m.additionals().iter().find_map(|r| match r.data() {
            Some(RData::A(a))
                if r.name()
                    .to_ascii()
                    .trim_end_matches('.')
                    .eq_ignore_ascii_case(t) =>
            {
                Some(a.0)
            }
            _ => None,
        });
        let addr = match from_additional {
            Some(a) => Some(a),
            None => dns_query(dns, &format!("{t}."), RecordType::A, timeout)
                .ok()
                .and_then(|r| {
                    r.answers().iter().find_map(|x| match x.data() {
                        Some(RData::A(a)) => Some(a.0),
                        _ => None,
                    })
                }),
        };
        out.push((addr.map_or_else(|| t.to_string(), |a| a.to_string()), port));
    }
    Ok(out)
}
