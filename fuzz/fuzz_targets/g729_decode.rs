//! G.729 RTP payloads (RFC 3551 4.5.6): split -> join -> re-split is the identity, and every
//! frame of any payload decodes (speech, SID or missing) without a panic.
#![no_main]

use ac_media::g729::{join_payload, split_payload, Decoder, FRAME_SAMPLES};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut dec = Decoder::new();
    let mut out = [0i16; FRAME_SAMPLES];
    if let Ok(frames) = split_payload(data) {
        let wire = join_payload(&frames).expect("split frames join");
        assert_eq!(wire, data);
        assert_eq!(split_payload(&wire).expect("re-splits"), frames);
        for (_, f) in &frames {
            dec.decode_bytes(f, &mut out).expect("frame lengths from split");
        }
    }
    // Any bytes as a stream of speech frames, SIDs and gaps.
    let mut rest = data;
    while !rest.is_empty() {
        let n = match rest[0] % 3 {
            0 => 10,
            1 => 2,
            _ => 0,
        };
        rest = &rest[1..];
        let n = n.min(rest.len());
        let frame = &rest[..n];
        if matches!(frame.len(), 0 | 2 | 10) {
            dec.decode_bytes(frame, &mut out).expect("valid length");
        } else {
            assert!(dec.decode_bytes(frame, &mut out).is_err());
        }
        rest = &rest[n..];
    }
});
