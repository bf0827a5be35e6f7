//! SIP messages: parse -> emit -> re-parse gives the same message and the same bytes; the
//! typed accessors and stream framing never panic; framing agrees with the parser.
#![no_main]

use ac_sip::msg::{frame, Message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Message::parse(data) {
        let e = m.emit();
        let again = Message::parse(&e).expect("canonical form re-parses");
        assert_eq!(again, m);
        assert_eq!(again.emit(), e, "emit is idempotent");
        let _ = m.check_mandatory();
        let _ = (m.vias(), m.contacts(), m.content_type(), m.expires());
        // The canonical form carries Content-Length only when the input did; with one, the
        // stream framer finds exactly the whole canonical message.
        if m.content_length().ok().flatten().is_some() {
            assert_eq!(frame(&e).expect("frames"), Some(e.len()));
        }
    }
    let _ = frame(data);
});
