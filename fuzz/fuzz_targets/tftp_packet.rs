//! TFTP packets: parse -> emit -> re-parse, and the read client survives any packet.
#![no_main]

use std::net::SocketAddr;
use std::time::Instant;

use ac_prov::tftp::{Packet, ReadClient, ReadOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Packet::parse(data) {
        let wire = p.encode();
        assert_eq!(Packet::parse(&wire).expect("re-parses"), p);
    }
    let now = Instant::now();
    let srv = SocketAddr::from(([10, 0, 0, 1], 69));
    let mut c = ReadClient::new(srv, "420HD.img", ReadOptions::default(), now);
    while c.poll_transmit().is_some() {}
    // Feed the input as a sequence of packets split on a marker byte.
    for chunk in data.split(|&b| b == 0xEE) {
        c.handle_input(now, SocketAddr::from(([10, 0, 0, 1], 4000)), chunk);
        while c.poll_transmit().is_some() {}
        if c.poll_result().is_some() {
            break;
        }
    }
});
