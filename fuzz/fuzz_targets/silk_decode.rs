//! SILK payloads (the SILK SDK bitstream of SILK_8000/SILK_16000): parse -> emit -> re-parse
//! gives the same frame parameters, and the decoder takes any payload, a lost packet or an
//! FEC lookup without a panic, always producing whole 20 ms frames.
#![no_main]

use ac_media::silk::{decode_packet, encode_packet, Decoder};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Oracle: what parses re-emits to a payload that parses to the same parameters, and
    // re-emitting that gives the same bytes.
    if let Ok(p) = decode_packet(data) {
        let wire = encode_packet(&p).expect("a parsed packet re-encodes");
        let again = decode_packet(&wire).expect("re-parses");
        assert_eq!(again, p);
        assert_eq!(encode_packet(&again).expect("re-encodes"), wire);
    }
    // The first byte picks the decoder's starting rate and the actions; the rest is split
    // into payloads at 0xFF-prefixed boundaries.
    let Some((&ctl, rest)) = data.split_first() else { return };
    let rate = [8000, 12000, 16000, 24000][usize::from(ctl & 3)];
    let mut dec = Decoder::new(rate).expect("supported rate");
    let mut out = Vec::new();
    let packets: Vec<&[u8]> = rest.split(|&b| b == 0xFF).collect();
    for (i, p) in packets.iter().enumerate() {
        let before = out.len();
        match (ctl >> 2).wrapping_add(i as u8) % 4 {
            0 => {
                dec.conceal(&mut out);
            }
            1 => {
                dec.decode_fec(packets.get(i + 1).copied(), packets.get(i + 2).copied(), &mut out);
            }
            _ => {
                let _ = dec.decode(p, &mut out);
            }
        }
        let n = out.len() - before;
        assert!(n > 0 && n <= 5 * 480 && n % dec.frame_length() == 0);
        out.clear();
    }
});
