//! DHCP wire format and option decoding: parse -> emit -> re-parse gives the same message, and
//! the client state machine survives any reply.
#![no_main]

use std::time::Instant;

use ac_prov::dhcp::{ClientConfig, DhcpClient, LeaseInfo, Message, Packet};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut buf = data.to_vec();
    // Most inputs should reach the option parser: put the magic cookie in place.
    if buf.len() >= 240 && data.first().is_some_and(|b| b & 1 == 0) {
        buf[236..240].copy_from_slice(&[99, 130, 83, 99]);
    }
    if let Ok(p) = Packet::parse(&buf) {
        let _ = LeaseInfo::decode(&p);
        let m = Message::from_packet(&p);
        let wire = m.encode();
        let p2 = Packet::parse(&wire).expect("emitted message re-parses");
        assert_eq!(Message::from_packet(&p2), m, "parse -> emit -> re-parse changed it");
    }
    let now = Instant::now();
    let mut c = DhcpClient::new(ClientConfig::new([0, 0x90, 0x8f, 1, 2, 3], "420HD"), 1, now);
    let _ = c.poll_transmit(now);
    c.handle_input(now, &buf);
    while c.poll_event().is_some() {}
    let _ = c.poll_transmit(now);
});
