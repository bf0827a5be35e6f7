//! Shared test helpers: a DNS server (dnsmasq on loopback, records given by the test).

use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Dnsmasq {
    child: Child,
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// dnsmasq answering only from the records given (`--srv-host=...`, `--naptr-record=...`,
/// `--host-record=...`), on 127.0.0.1 and a free port.
pub fn dnsmasq(records: &[String]) -> Dnsmasq {
    let dir = tempfile::tempdir().unwrap();
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("dnsmasq")
        .args([
            "-k",
            "--conf-file=/dev/null",
            "--no-resolv",
            "--no-hosts",
            "--no-poll",
            "--listen-address=127.0.0.1",
            "--bind-interfaces",
            "-u",
            "root",
        ])
        .arg(format!("--port={port}"))
        .arg(format!("--pid-file={}", dir.path().join("pid").display()))
        .args(records)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("dnsmasq (scripts/install-deps installs dnsmasq-base)");
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    // Ready when it answers a query (any answer).
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let q = [
        0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 4, b't', b'e', b's', b't', 0, 0, 1, 0, 1,
    ];
    let start = Instant::now();
    loop {
        let _ = s.send_to(&q, addr);
        let mut b = [0u8; 512];
        if s.recv(&mut b).is_ok() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "dnsmasq did not start"
        );
    }
    Dnsmasq {
        child,
        addr,
        _dir: dir,
    }
}
