//! AutoDiscover ([MS-OCDISCWS]) documents: parsing never panics; an accepted document
//! emits a form that parses back to the same value (parse -> emit -> re-parse), and that
//! emission is canonical.
#![no_main]

use ac_sip::sipe::autodiscover::Document;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(d) = Document::parse(data) {
        let e = d.emit();
        let again = Document::parse(e.as_bytes()).expect("our emission parses");
        assert_eq!(again, d);
        assert_eq!(again.emit(), e, "emission is canonical");
    }
});
