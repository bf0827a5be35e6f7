//! WAV/RIFF reader: arbitrary bytes never panic; whatever parses re-emits to bytes that
//! parse to the same file (parse -> emit -> re-parse oracle) and re-emit identically;
//! decoding a parsed file never panics.
#![no_main]
use ac_media::wav::{Wav, WavView};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(view) = WavView::parse(data) else {
        return;
    };
    let _ = view.decode();
    let w = view.to_owned();
    let mut out = Vec::new();
    w.emit(&mut out).expect("a parsed file emits");
    let back = Wav::parse(&out).expect("emitted bytes parse");
    assert_eq!(back, w);
    let mut again = Vec::new();
    back.emit(&mut again).expect("emits");
    assert_eq!(again, out);
});
