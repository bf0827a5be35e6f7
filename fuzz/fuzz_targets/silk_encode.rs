//! SILK encoder: arbitrary PCM with arbitrary settings (rate, bit rate, packet size, FEC,
//! expected loss) never panics, every packet is 1..=1,024 bytes, parses, and decodes with our
//! decoder to exactly the packet's duration.
#![no_main]

use ac_media::silk::{decode_packet, Decoder, Encoder, EncoderConfig};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((ctl, pcm)) = data.split_first_chunk::<4>() else { return };
    let rate = [8000, 12000, 16000][usize::from(ctl[0] % 3)];
    let frames = 1 + u32::from(ctl[0] >> 2) % 5;
    let cfg = EncoderConfig {
        sample_rate: rate,
        bitrate: u32::from(u16::from_le_bytes([ctl[1], ctl[2]])),
        packet_ms: 20 * frames,
        fec: ctl[3] & 0x80 != 0,
        packet_loss_perc: ctl[3] & 0x7f,
    };
    let mut enc = Encoder::new(cfg).expect("valid settings");
    let mut dec = Decoder::new(rate).expect("supported rate");
    let fl = enc.frame_samples();
    let samples: Vec<i16> = pcm
        .chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect();
    // At most 10 frames of input, the last one zero-padded.
    let mut out = Vec::new();
    for chunk in samples.chunks(fl).take(10) {
        let mut frame = chunk.to_vec();
        frame.resize(fl, 0);
        if let Some(p) = enc.encode(&frame).expect("one frame") {
            assert!(!p.is_empty() && p.len() <= 1024);
            let parsed = decode_packet(&p).expect("our packets parse");
            assert_eq!(parsed.frames.len(), frames as usize);
            let before = out.len();
            dec.decode(&p, &mut out).expect("our packets decode");
            assert_eq!(out.len() - before, frames as usize * fl);
        }
    }
});
