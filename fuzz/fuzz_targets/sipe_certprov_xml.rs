//! Certificate Provisioning (GetAndPublishCert) bodies and their HTTP framing: parsing
//! never panics; an accepted response or request emits a form that parses back to the
//! same value (parse -> emit -> re-parse), and that emission is canonical; an accepted
//! HTTP message re-encodes to one that decodes to a fixed point.
#![no_main]

use ac_sip::sipe::certprov::{CertProvResponse, GetAndPublishCert, HttpRequest, HttpResponse};
use ac_sip::sipe::tlsdsk::DskParams;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = std::str::from_utf8(data) {
        if let Ok(p) = DskParams::parse(v) {
            let e = p.emit();
            let again = DskParams::parse(&e).expect("our emission parses");
            assert_eq!(again, p);
            assert_eq!(again.emit(), e, "emission is canonical");
        }
    }
    if let Ok(r) = CertProvResponse::parse(data) {
        let e = r.emit();
        let again = CertProvResponse::parse(e.as_bytes()).expect("our emission parses");
        assert_eq!(again, r);
        assert_eq!(again.emit(), e, "emission is canonical");
    }
    if let Ok(g) = GetAndPublishCert::parse(data) {
        let e = g.emit();
        let again = GetAndPublishCert::parse(e.as_bytes()).expect("our emission parses");
        assert_eq!(again, g);
        assert_eq!(again.emit(), e, "emission is canonical");
    }
    if let Ok(Some((r1, used))) = HttpRequest::decode(data) {
        assert!(used <= data.len());
        if let Ok(w) = r1.encode() {
            let (r2, n2) = HttpRequest::decode(&w)
                .expect("ours decodes")
                .expect("complete");
            assert_eq!(n2, w.len());
            assert_eq!(r2.method, r1.method);
            assert_eq!(r2.headers, r1.headers);
            assert_eq!(r2.body, r1.body);
            let w2 = r2.encode().expect("re-encodes");
            let (r3, _) = HttpRequest::decode(&w2)
                .expect("ours decodes")
                .expect("complete");
            assert_eq!(r3, r2);
        }
    }
    if let Ok(Some((r1, used))) = HttpResponse::decode(data) {
        assert!(used <= data.len());
        let w = r1.encode();
        let (r2, n2) = HttpResponse::decode(&w)
            .expect("ours decodes")
            .expect("complete");
        assert_eq!(n2, w.len());
        assert_eq!(r2, r1);
    }
});
