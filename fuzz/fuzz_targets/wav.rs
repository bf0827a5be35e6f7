//! ac-core's WAV reader (the virtual board's microphone/speaker files): parse -> emit ->
//! re-parse gives the same audio; refusals are typed errors, never panics.
#![no_main]

use ac_core::wav::Wav;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(w) = Wav::parse(data) {
        let wire = w.emit();
        assert_eq!(Wav::parse(&wire).expect("re-parses"), w);
        // The canonical form is a fixed point.
        assert_eq!(Wav::parse(&wire).expect("re-parses").emit(), wire);
    }
});
