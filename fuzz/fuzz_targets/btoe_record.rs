//! BToE control-channel record framing (and the ClientFinish body): a record found at the
//! start of a stream emits back to exactly the bytes it was parsed from, and re-parses.
#![no_main]

use ac_btoe::wire::{ClientFinish, Record, RecordType};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some((r, used))) = Record::parse_stream(data) {
        let out = r.emit();
        assert_eq!(&out[..], &data[..used]);
        assert_eq!(Record::parse(&out).expect("re-parses"), r);
        if r.ty == RecordType::ClientFinish {
            if let Ok(f) = ClientFinish::parse(&r.body) {
                assert_eq!(ClientFinish::parse(&f.emit()).expect("re-parses"), f);
            }
        }
    }
});
