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
