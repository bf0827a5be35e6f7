//! G.729 encoder on arbitrary PCM (Annex B on or off by the first byte): never panics, frames
//! are 10 bytes (2 for SID, 0 untransmitted only with Annex B), and our decoder takes them.
#![no_main]

use ac_media::g729::{Decoder, Encoder, FRAME_SAMPLES};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let annex_b = first & 1 == 1;
    let mut enc = Encoder::new(annex_b);
    let mut dec = Decoder::new();
    let mut out = [0i16; FRAME_SAMPLES];
    for chunk in rest.chunks(2 * FRAME_SAMPLES) {
        let mut pcm = [0i16; FRAME_SAMPLES];
        for (p, b) in pcm.iter_mut().zip(chunk.chunks_exact(2)) {
            *p = i16::from_le_bytes([b[0], b[1]]);
        }
        let e = enc.encode(&pcm);
        let bytes = e.bytes();
        assert!(bytes.len() == 10 || (annex_b && (bytes.len() == 2 || bytes.is_empty())));
        dec.decode_bytes(bytes, &mut out).expect("encoder frames decode");
    }
});
