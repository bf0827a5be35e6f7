//! SILK encoder (ac_media::silk::Encoder) through our SILK decoder (bit-exact with the SDK
//! 1.0.9 decoder, see tests/silk_decoder.rs): PESQ narrowband at 8 kHz and wideband at
//! 16 kHz (ITU-T P.862 / P.862.2, PyPI `pesq`) on the ITU-T STL speech, bit rate against the
//! target, in-band FEC under 10 % seeded loss, multi-frame packets, and arbitrary PCM.
//! Prints the figures (`cargo test -p ac-media --test silk_encoder -- --nocapture`).

mod common;

use ac_media::silk::{Decoder, Encoder, EncoderConfig};
use proptest::prelude::*;
use std::process::Command;

/// The STL's 16 kHz speech (inpsp.bin, 6.1 s).
fn speech_16k() -> Vec<i16> {
    common::read_words("g722/inpsp.bin")
}

/// The STL speech low-pass filtered at 3.6 kHz and decimated to 8 kHz.
fn speech_8k() -> Vec<i16> {
    let x = speech_16k();
    let taps = 63usize;
    let fc = 3600.0 / 16000.0;
    let h: Vec<f64> = (0..taps)
        .map(|n| {
            let m = n as f64 - (taps - 1) as f64 / 2.0;
            let sinc = if m == 0.0 {
                2.0 * fc
            } else {
                (2.0 * std::f64::consts::PI * fc * m).sin() / (std::f64::consts::PI * m)
            };
            let w = 0.54 - 0.46 * (2.0 * std::f64::consts::PI * n as f64 / (taps - 1) as f64).cos();
            sinc * w
        })
        .collect();
    (0..x.len())
        .step_by(2)
        .map(|i| {
            let mut s = 0.0;
            for (k, hk) in h.iter().enumerate() {
                let j = i as isize + k as isize - (taps / 2) as isize;
                if j >= 0 && (j as usize) < x.len() {
                    s += hk * f64::from(x[j as usize]);
                }
            }
            s.round().clamp(-32768.0, 32767.0) as i16
        })
        .collect()
}

fn encode(pcm: &[i16], cfg: EncoderConfig) -> Vec<Vec<u8>> {
    let mut enc = Encoder::new(cfg).unwrap();
    let fl = enc.frame_samples();
    let n = pcm.len() / fl * fl;
    enc.encode_all(&pcm[..n]).unwrap()
}

fn decode(packets: &[Vec<u8>], rate: u32) -> Vec<i16> {
    let mut dec = Decoder::new(rate).unwrap();
    let mut out = Vec::new();
    for p in packets {
        dec.decode(p, &mut out).unwrap();
    }
    out
}

fn bitrate(packets: &[Vec<u8>], packet_ms: u32) -> f64 {
    let bytes: usize = packets.iter().map(Vec::len).sum();
    bytes as f64 * 8.0 / (packets.len() as f64 * f64::from(packet_ms) / 1000.0)
}

/// PESQ of each degraded signal against `reference` (`mode` "nb" at 8 kHz or "wb" at
/// 16 kHz).
fn pesq(rate: u32, mode: &str, reference: &[i16], degraded: &[&[i16]]) -> Vec<f64> {
    let dir =
        std::env::temp_dir().join(format!("ac-media-silk-pesq-{}-{mode}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, pcm: &[i16]| {
        let b: Vec<u8> = pcm.iter().flat_map(|s| s.to_le_bytes()).collect();
        std::fs::write(dir.join(format!("{name}.raw")), b).unwrap();
    };
    write("ref", reference);
    let mut names = Vec::new();
    for (i, pcm) in degraded.iter().enumerate() {
        let name = format!("deg{i}");
        write(&name, pcm);
        names.push(name);
    }
    let script = r#"
import sys, numpy as np
from pesq import pesq
d, rate, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ref = np.fromfile(d + "/ref.raw", dtype="<i2").astype(np.float64)
for name in sys.argv[4:]:
    deg = np.fromfile(d + "/" + name + ".raw", dtype="<i2").astype(np.float64)
    n = min(len(ref), len(deg))
    print(pesq(rate, ref[:n], deg[:n], mode))
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&dir)
        .arg(rate.to_string())
        .arg(mode)
        .args(&names)
        .output()
        .expect("python3 with pesq and numpy (scripts/install-deps)");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Vec<f64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    assert_eq!(v.len(), degraded.len());
    v
}

/// PESQ-NB at 8 kHz and PESQ-WB at 16 kHz of encoder + decoder, and the produced bit rate
/// within 15 % of the target at three targets.
#[test]
fn pesq_and_bit_rate_at_8_and_16_khz() {
    let s8 = speech_8k();
    let s16 = speech_16k();
    let mut cfg8 = EncoderConfig::new(8000);
    cfg8.bitrate = 12_000;
    let p8 = encode(&s8, cfg8);
    let mut cfg16 = EncoderConfig::new(16000);
    cfg16.bitrate = 20_000;
    let p16 = encode(&s16, cfg16);
    let mut cfg16h = cfg16;
    cfg16h.bitrate = 32_000;
    let p16h = encode(&s16, cfg16h);
    let (r8, r16, r16h) = (bitrate(&p8, 20), bitrate(&p16, 20), bitrate(&p16h, 20));
    let d8 = decode(&p8, 8000);
    let d16 = decode(&p16, 16000);
    let d16h = decode(&p16h, 16000);
    let nb = pesq(8000, "nb", &s8, &[&d8])[0];
    let wb = pesq(16000, "wb", &s16, &[&d16, &d16h]);
    println!(
        "SILK 8 kHz 12 kbit/s: {r8:.0} bit/s, PESQ-NB {nb:.3}; 16 kHz 20 kbit/s: {r16:.0} bit/s, \
         PESQ-WB {:.3}; 16 kHz 32 kbit/s: {r16h:.0} bit/s, PESQ-WB {:.3}",
        wb[0], wb[1]
    );
    for (r, t) in [(r8, 12_000.0), (r16, 20_000.0), (r16h, 32_000.0)] {
        assert!((r / t - 1.0).abs() <= 0.15, "{r:.0} bit/s for a {t} target");
    }
    assert!(nb >= 3.8, "PESQ-NB {nb}");
    assert!(wb[0] >= 3.8, "PESQ-WB at 20 kbit/s {}", wb[0]);
    assert!(
        wb[1] >= 4.1 && wb[1] > wb[0],
        "PESQ-WB at 32 kbit/s {}",
        wb[1]
    );
}

/// 10 % seeded packet loss at 16 kHz: decoding the lost packets from the LBRR copies in the
/// next packets beats concealment of the same stream on PESQ-WB.
#[test]
fn inband_fec_beats_concealment_under_loss() {
    let s16 = speech_16k();
    let mut cfg = EncoderConfig::new(16000);
    cfg.bitrate = 24_000;
    cfg.fec = true;
    cfg.packet_loss_perc = 10;
    let packets = encode(&s16, cfg);
    let with_lbrr = packets
        .iter()
        .filter(|p| ac_media::silk::dec::find_lbrr(p, 1).is_some())
        .count();
    let mut seed = 0x5eed_u32;
    let lost: Vec<bool> = (0..packets.len())
        .map(|_| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (seed >> 16) % 100 < 10
        })
        .collect();
    let (mut fec_out, mut plc_out) = (Vec::new(), Vec::new());
    let mut dec_fec = Decoder::new(16000).unwrap();
    let mut dec_plc = Decoder::new(16000).unwrap();
    let mut recovered = 0;
    for (i, p) in packets.iter().enumerate() {
        if lost[i] {
            let next = packets
                .get(i + 1)
                .filter(|_| !lost.get(i + 1).copied().unwrap_or(true));
            let next2 = packets
                .get(i + 2)
                .filter(|_| !lost.get(i + 2).copied().unwrap_or(true));
            if dec_fec.decode_fec(next.map(|v| &v[..]), next2.map(|v| &v[..]), &mut fec_out) {
                recovered += 1;
            }
            dec_plc.conceal(&mut plc_out);
        } else {
            dec_fec.decode(p, &mut fec_out).unwrap();
            dec_plc.decode(p, &mut plc_out).unwrap();
        }
    }
    let n_lost = lost.iter().filter(|&&l| l).count();
    let clean = decode(&packets, 16000);
    let q = pesq(16000, "wb", &s16, &[&clean, &fec_out, &plc_out]);
    println!(
        "SILK 16 kHz 24 kbit/s FEC: {:.0} bit/s, {with_lbrr}/{} packets carry LBRR, \
         {n_lost} lost, {recovered} recovered; PESQ-WB clean {:.3}, FEC {:.3}, PLC only {:.3}",
        bitrate(&packets, 20),
        packets.len(),
        q[0],
        q[1],
        q[2]
    );
    assert!(
        with_lbrr > packets.len() / 3,
        "{with_lbrr} packets with LBRR"
    );
    assert!(recovered > n_lost / 2, "{recovered} of {n_lost} recovered");
    assert!(q[1] > q[2] + 0.05, "FEC {} vs PLC {}", q[1], q[2]);
}

/// 60 ms packets (3 frames) decode to the same length and keep the quality.
#[test]
fn multi_frame_packets() {
    let s8 = speech_8k();
    let mut cfg = EncoderConfig::new(8000);
    cfg.packet_ms = 60;
    cfg.bitrate = 12_000;
    let packets = encode(&s8, cfg);
    let mut dec = Decoder::new(8000).unwrap();
    let mut out = Vec::new();
    for p in &packets {
        assert_eq!(dec.decode(p, &mut out).unwrap(), 480);
    }
    let nb = pesq(8000, "nb", &s8, &[&out])[0];
    println!(
        "SILK 8 kHz 60 ms packets: {:.0} bit/s, PESQ-NB {nb:.3}",
        bitrate(&packets, 60)
    );
    assert!(nb >= 3.8, "PESQ-NB {nb}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    /// Arbitrary PCM (including full-scale noise and DC) with any supported settings encodes
    /// and every packet decodes without error.
    #[test]
    fn arbitrary_pcm_encodes_and_decodes(
        rate in prop::sample::select(vec![8000u32, 12000, 16000]),
        bitrate in 0u32..60_000,
        frames in 1usize..=5,
        fec in any::<bool>(),
        loss in 0u8..=30,
        pcm in prop::collection::vec(any::<i16>(), 0..1600),
        scale in prop::sample::select(vec![0i32, 1, 64, 1024, 32767]),
    ) {
        let cfg = EncoderConfig { sample_rate: rate, bitrate, packet_ms: 20 * frames as u32, fec, packet_loss_perc: loss };
        let mut enc = Encoder::new(cfg).unwrap();
        let fl = enc.frame_samples();
        let mut dec = Decoder::new(rate).unwrap();
        let mut out = Vec::new();
        // Repeat the random material to fill 12 frames, scaled (0 = silence).
        let mut sig: Vec<i16> = Vec::with_capacity(12 * fl);
        for i in 0..12 * fl {
            let v = pcm.get(i % pcm.len().max(1)).copied().unwrap_or(0);
            sig.push(((i32::from(v) * scale) >> 15).clamp(-32768, 32767) as i16);
        }
        for f in sig.chunks_exact(fl) {
            if let Some(p) = enc.encode(f).unwrap() {
                prop_assert!(!p.is_empty() && p.len() <= 1024);
                dec.decode(&p, &mut out).unwrap();
            }
        }
        prop_assert_eq!(out.len(), 12 / frames * frames * fl);
    }
}
