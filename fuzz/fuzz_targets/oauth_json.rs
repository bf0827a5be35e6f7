//! OAuth 2.0 bodies of the Web sign-in (RFC 8628 device authorization response, RFC 6749
//! token and error responses) and the HTTP messages that carry them: parsing never panics;
//! an accepted body emits a form that parses back to the same value (parse -> emit ->
//! re-parse) and that emission is canonical; an accepted HTTP message re-parses from its
//! own wire form.
#![no_main]

use ac_sip::sipe::oauth::{
    message_len, DeviceAuthorization, ErrorResponse, HttpRequest, HttpResponse, TokenResponse,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(d) = DeviceAuthorization::parse(data) {
        let e = d.emit();
        let again = DeviceAuthorization::parse(e.as_bytes()).expect("our emission parses");
        assert_eq!(again, d);
        assert_eq!(again.emit(), e, "emission is canonical");
    }
    if let Ok(t) = TokenResponse::parse(data) {
        let e = t.emit();
        let again = TokenResponse::parse(e.as_bytes()).expect("our emission parses");
        assert_eq!(again, t);
        assert_eq!(again.emit(), e, "emission is canonical");
    }
    if let Ok(r) = ErrorResponse::parse(data) {
        let e = r.emit();
        let again = ErrorResponse::parse(e.as_bytes()).expect("our emission parses");
        assert_eq!(again, r);
        assert_eq!(again.emit(), e, "emission is canonical");
    }
    if let Ok(r) = HttpResponse::parse(data) {
        let w = r.to_bytes();
        assert_eq!(message_len(&w), Ok(Some(w.len())));
        let again = HttpResponse::parse(&w).expect("our response parses");
        assert_eq!(again.status, r.status);
        assert_eq!(again.body, r.body);
    }
    if let Ok(r) = HttpRequest::parse(data) {
        let w = r.to_bytes();
        if let Ok(again) = HttpRequest::parse(&w) {
            assert_eq!(again.body, r.body);
            assert_eq!(again.method, r.method);
        }
    }
    let _ = message_len(data);
});
