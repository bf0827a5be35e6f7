//! `Transports` joins every thread it started when dropped (a C library may be unloaded right
//! after the phone is freed): after the drop the process has exactly the threads it had
//! before, with no wait. One test in this binary, so no other test's threads are counted.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use ac_sip::driver::{TlsSettings, TransportConfig, Transports};
use ac_sip::transaction::{Transmit, Transport};

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .count()
}

#[test]
fn drop_joins_the_receiver_listener_and_connection_threads() {
    let before = threads();
    let any: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    let mut a = Transports::new(&TransportConfig {
        udp: Some(any),
        tcp: Some(any),
        tls: None,
        tls_settings: TlsSettings::default(),
    })
    .expect("endpoint a");
    let b = Transports::new(&TransportConfig {
        udp: Some(any),
        tcp: Some(any),
        tls: None,
        tls_settings: TlsSettings::default(),
    })
    .expect("endpoint b");
    // a opens a TCP connection to b (a connection thread in a, an accepted one in b's
    // listener) and a raw client connects to b too.
    let b_tcp = b.local_addr(Transport::Tcp).expect("b tcp");
    a.send(&Transmit {
        transport: Transport::Tcp,
        dest: b_tcp,
        data: b"\r\n\r\n".to_vec(),
    })
    .expect("send over TCP");
    let mut raw = TcpStream::connect(b_tcp).expect("connect");
    raw.write_all(b"\r\n\r\n").expect("write");
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        threads() >= before + 6,
        "2 receivers, 2 listeners, 3 connections expected: {} -> {}",
        before,
        threads()
    );
    drop(a);
    drop(b);
    assert_eq!(threads(), before, "threads left running after the drop");
    drop(raw);
}
