//! RFC 4235 dialog-info bodies: parsing never panics; an accepted document emits a form that
//! parses back to the same value, and that emission is canonical.
#![no_main]

use ac_sip::dialog_info::DialogInfo;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(d) = DialogInfo::parse(data) {
        let e = d.emit();
        let again = DialogInfo::parse(e.as_bytes()).expect("our emission parses");
        assert_eq!(again, d);
        assert_eq!(again.emit(), e, "emission is canonical");
    }
});
