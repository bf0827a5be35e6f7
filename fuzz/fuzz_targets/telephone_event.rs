//! RFC 4733 telephone-event payloads: parse -> emit -> re-parse, and the receiver survives
//! any sequence of packets (split on a marker byte, timestamps from the data).
#![no_main]

use ac_media::dtmf::{EventReceiver, TelephoneEvent};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(events) = TelephoneEvent::parse_payload(data) {
        let mut wire = Vec::new();
        for e in &events {
            e.emit(&mut wire).expect("a parsed event emits");
        }
        assert_eq!(wire.len(), data.len());
        assert_eq!(TelephoneEvent::parse_payload(&wire).expect("re-parses"), events);
    }
    let mut rx = EventReceiver::default();
    for chunk in data.split(|&b| b == 0xEE) {
        let ts = chunk.first().copied().map_or(0, u32::from);
        let body = chunk.get(1..).unwrap_or_default();
        let _ = rx.handle(ts, body);
    }
});
