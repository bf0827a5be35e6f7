//! [MS-SIPAPP] call park bodies (`park-request`, `park-response`, `unpark-notification`,
//! application/ms-call-park+xml): parsing never panics; an accepted body emits a form that
//! parses back to the same value (parse -> emit -> re-parse), and that emission is
//! canonical.
#![no_main]

use ac_sip::sipe::park::{ParkRequest, ParkResponse, UnparkNotification};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = ParkRequest::parse(data) {
        let e = r.emit();
        let again = ParkRequest::parse(e.as_bytes()).expect("our emission parses");
        assert_eq!(again, r);
        assert_eq!(again.emit(), e, "emission is canonical");
    }
    if let Ok(r) = ParkResponse::parse(data) {
        let e = r.emit();
        let again = ParkResponse::parse(e.as_bytes()).expect("our emission parses");
        assert_eq!(again, r);
        assert_eq!(again.emit(), e, "emission is canonical");
    }
    if let Ok(n) = UnparkNotification::parse(data) {
        let e = n.emit();
        let again = UnparkNotification::parse(e.as_bytes()).expect("our emission parses");
        assert_eq!(again, n);
        assert_eq!(again.emit(), e, "emission is canonical");
    }
});
