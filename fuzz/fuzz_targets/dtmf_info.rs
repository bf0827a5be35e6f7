//! SIP INFO DTMF bodies (application/dtmf-relay, application/dtmf): parsing never panics;
//! an accepted key press emits a body that parses back to the same key press in the same
//! format (the plain format carries no duration).
#![no_main]

use ac_sip::dtmf::{Dtmf, DtmfFormat};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for f in [DtmfFormat::Relay, DtmfFormat::Plain] {
        if let Ok(d) = Dtmf::parse(f, data) {
            let e = d.emit(f);
            let again = Dtmf::parse(f, e.as_bytes()).expect("our emission parses");
            match f {
                DtmfFormat::Relay => assert_eq!(again, d),
                DtmfFormat::Plain => assert_eq!(again.key, d.key),
            }
            assert_eq!(again.emit(f), e, "emission is canonical");
        }
    }
});
