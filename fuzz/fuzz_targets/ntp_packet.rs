//! NTP packets: parse -> emit -> re-parse, and the SNTP client survives any reply.
#![no_main]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ac_prov::sntp::{ClientTuning, Packet, SntpClient};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Packet::parse(data) {
        let wire = p.emit();
        assert_eq!(Packet::parse(&wire).expect("re-parses"), p);
        let _ = p.transmit.to_unix_nanos();
    }
    let now = Instant::now();
    let srv = SocketAddr::from(([10, 0, 0, 1], 123));
    let mut c = SntpClient::new(vec![srv], Duration::from_secs(3600), ClientTuning::default(), 1, now);
    c.handle_timeout(now);
    if let Some((_, req)) = c.poll_transmit() {
        // The input as a reply, and with the request's nonce copied in as origin timestamp.
        c.handle_input(now, srv, data);
        if data.len() >= 48 {
            let mut r = data.to_vec();
            r[24..32].copy_from_slice(&req[40..48]);
            c.handle_input(now + Duration::from_millis(5), srv, &r);
        }
    }
    while c.poll_event().is_some() {}
});
