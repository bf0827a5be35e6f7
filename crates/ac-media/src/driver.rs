//! Sockets and threads (std + crossbeam) for the sans-IO paging core: multicast group
//! membership (IP_ADD_MEMBERSHIP through socket2), the sending socket (IP_MULTICAST_IF,
//! IP_MULTICAST_TTL, IP_MULTICAST_LOOP) and a receive loop that feeds
//! [`PagingReceiver`](crate::paging::PagingReceiver) and honours its `poll_timeout`.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use socket2::{Domain, Protocol, Socket, Type};

use crate::paging::{PageSender, PagingConfig, PagingError, PagingReceiver};

/// A socket bound to a group's address and port, member of the group on `iface`
/// (`0.0.0.0`: the interface the routing table picks for 224.0.0.0/4).
pub fn join_group(group: SocketAddrV4, iface: Ipv4Addr) -> io::Result<UdpSocket> {
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    // Several groups may share a port (default 8888): each socket binds its own group
    // address, so the kernel hands it only that group's datagrams.
    s.set_reuse_address(true)?;
    s.bind(&SocketAddr::V4(group).into())?;
    s.join_multicast_v4(group.ip(), &iface)?;
    Ok(s.into())
}

/// The sending socket: multicast out of `iface` with `ttl`, looped back to local members
/// when `loopback`.
pub fn page_socket(iface: Ipv4Addr, ttl: u32, loopback: bool) -> io::Result<UdpSocket> {
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    s.bind(&SocketAddr::V4(SocketAddrV4::new(iface, 0)).into())?;
    if !iface.is_unspecified() {
        s.set_multicast_if_v4(&iface)?;
    }
    s.set_multicast_ttl_v4(ttl)?;
    s.set_multicast_loop_v4(loopback)?;
    Ok(s.into())
}

/// Sends `frames` (20 ms each) through `sender`, paced by the wall clock.
pub fn send_page(
    sock: &UdpSocket,
    sender: &mut PageSender,
    frames: impl IntoIterator<Item = Vec<i16>>,
) -> Result<usize, PagingError> {
    let start = Instant::now();
    let mut n = 0usize;
    for (i, f) in frames.into_iter().enumerate() {
        let due = start + Duration::from_millis(20 * i as u64);
        if let Some(d) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(d);
        }
        let dg = sender.frame(&f)?;
        if sock.send_to(&dg.data, dg.dest).is_ok() {
            n += 1;
        }
    }
    Ok(n)
}

/// Receive threads, one per activated group, feeding one channel.
pub struct PagingListener {
    rx: Receiver<(u32, Instant, Vec<u8>)>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl PagingListener {
    /// Joins every activated group of `cfg` on `iface`.
    pub fn open(cfg: &PagingConfig, iface: Ipv4Addr) -> io::Result<PagingListener> {
        let (tx, rx) = crossbeam_channel::bounded(256);
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for g in &cfg.groups {
            let sock = join_group(g.addr, iface)?;
            sock.set_read_timeout(Some(Duration::from_millis(50)))?;
            let (tx, stop, idx) = (tx.clone(), stop.clone(), g.index);
            threads.push(std::thread::spawn(move || {
                let mut buf = [0u8; 1500];
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(n) = sock.recv(&mut buf) {
                        // A full channel drops the datagram rather than blocking.
                        let _ = tx.try_send((idx, Instant::now(), buf[..n].to_vec()));
                    }
                }
            }));
        }
        Ok(PagingListener { rx, stop, threads })
    }

    /// Runs `core` until `until`: datagrams in, timeouts when due; `sink` is called after
    /// every step to drain events and audio.
    pub fn run(
        &self,
        core: &mut PagingReceiver,
        until: Instant,
        mut sink: impl FnMut(&mut PagingReceiver),
    ) {
        loop {
            let now = Instant::now();
            if now >= until {
                return;
            }
            let wake = core.poll_timeout().map_or(until, |t| t.min(until));
            match self.rx.recv_timeout(wake.saturating_duration_since(now)) {
                Ok((g, at, data)) => core.handle_datagram(at, g, &data),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            core.handle_timeout(Instant::now());
            sink(core);
        }
    }
}

impl Drop for PagingListener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Sends the copies of [`PacketRecorder`](crate::recording::PacketRecorder) from one UDP
/// socket; a host-name target is resolved once when opened.
pub struct Recorder {
    sock: UdpSocket,
    dest: SocketAddr,
}

impl Recorder {
    pub fn open(target: &crate::recording::RecordTarget) -> io::Result<Recorder> {
        use std::net::ToSocketAddrs;
        let dest = match target {
            crate::recording::RecordTarget::Addr(a) => *a,
            crate::recording::RecordTarget::Host(h, p) => (h.as_str(), *p)
                .to_socket_addrs()?
                .next()
                .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, h.clone()))?,
        };
        let bind: SocketAddr = if dest.is_ipv4() {
            (Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        Ok(Recorder {
            sock: UdpSocket::bind(bind)?,
            dest,
        })
    }

    /// Sends one copy.
    pub fn send(&self, copy: &crate::recording::RecordDatagram<'_>) -> io::Result<()> {
        self.sock.send_to(copy.data, self.dest).map(|_| ())
    }
}
