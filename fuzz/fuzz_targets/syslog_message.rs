//! RFC 5424 syslog messages: parse -> emit -> re-parse. A parsed message must emit a datagram
//! that parses again, and emitting that again gives the same bytes (the emitter is a fixed
//! point: timestamps are cut to microseconds and long datagrams to the size limit on the
//! first emit, nothing changes after that).
#![no_main]

use ac_prov::syslog::Message;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Message::parse_rfc5424(data) {
        let wire = m.to_rfc5424();
        let m2 = Message::parse_rfc5424(&wire).expect("our own RFC 5424 output re-parses");
        assert_eq!(m2.to_rfc5424(), wire, "emit is a fixed point");
        assert_eq!((m2.facility, m2.severity), (m.facility, m.severity));
    }
});
