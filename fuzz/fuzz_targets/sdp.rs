//! SDP: parse -> emit -> re-parse gives the same session, and emit is idempotent.
#![no_main]

use ac_sip::sdp::{SdpView, Session};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = Session::parse_bytes(data) {
        let e = s.emit();
        let again = Session::parse(&e).expect("canonical SDP re-parses");
        assert_eq!(again, s);
        assert_eq!(again.emit(), e, "emit is idempotent");
        assert!(SdpView::parse(&e).is_ok());
        for i in 0..s.media.len() {
            let _ = (s.direction_of(i), s.connection_of(i));
        }
    }
});
