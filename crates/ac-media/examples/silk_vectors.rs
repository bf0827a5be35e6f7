//! Decode the SILK SDK 1.0.9 test vectors with `ac_media::silk` and judge them with the
//! SDK's own criterion.
//!
//! ```text
//! cargo run --release -p ac-media --example silk_vectors -- <test_vectors dir> [<output dir>]
//! ```
//!
//! `<test_vectors dir>` is the SDK's `test_vectors/` directory (with `bitstream/` and
//! `output/`), kept outside the repository. The runs are those of the SDK's
//! `test_decoder.sh` whose reference output is at the bitstream's internal rate (this
//! module has no output resampler): the decoder loop is the SDK test program's
//! (`test/Decoder.c`: a jitter buffer of two packets, simulated loss from its random
//! generator with seed 1, in-band FEC from the next two packets, concealment otherwise),
//! and the metric is `test/signalCompare.c`'s: bit-exact, or else the average over 10 ms
//! frames of an LPC-weighted SNR (10th-order LPC of the reference on a 20 ms sine window,
//! bandwidth expansion 0.7; frames with reference energy below one per sample skipped),
//! PASS at 15 dB or more. Runs whose reference needs resampling are listed as skipped.
//! Exits with status 1 if any compared vector fails.

use ac_media::silk::resampler::Upsampler;
use ac_media::silk::Decoder;
use std::path::{Path, PathBuf};

/// The runs of the SDK's test_decoder.sh: (params, output suffix, API rate, loss %).
const RUNS: &[(&str, &str, u32, f32)] = &[
    ("8_kHz_60_ms_8_kbps", "", 24000, 0.0),
    ("8_kHz_60_ms_8_kbps", "_8_kHz_out", 8000, 0.0),
    ("8_kHz_60_ms_8_kbps", "_12_kHz_out", 12000, 0.0),
    ("8_kHz_60_ms_8_kbps", "_16_kHz_out", 16000, 0.0),
    ("8_kHz_40_ms_12_kbps", "", 24000, 0.0),
    ("8_kHz_20_ms_20_kbps_10_loss_FEC", "", 24000, 10.0),
    ("12_kHz_60_ms_10_kbps", "", 24000, 0.0),
    ("12_kHz_60_ms_10_kbps", "_12_kHz_out", 12000, 0.0),
    ("12_kHz_60_ms_10_kbps", "_16_kHz_out", 16000, 0.0),
    ("12_kHz_60_ms_10_kbps", "_32_kHz_out", 32000, 0.0),
    ("12_kHz_60_ms_10_kbps", "_44100_Hz_out", 44100, 0.0),
    ("12_kHz_60_ms_10_kbps", "_48_kHz_out", 48000, 0.0),
    ("12_kHz_40_ms_16_kbps", "", 24000, 0.0),
    ("12_kHz_20_ms_24_kbps_10_loss_FEC", "", 24000, 10.0),
    ("16_kHz_60_ms_12_kbps", "", 24000, 0.0),
    ("16_kHz_60_ms_12_kbps", "_16_kHz_out", 16000, 0.0),
    ("16_kHz_40_ms_20_kbps", "", 24000, 0.0),
    ("16_kHz_20_ms_32_kbps_10_loss_FEC", "", 24000, 10.0),
    ("24_kHz_60_ms_16_kbps", "", 24000, 0.0),
    ("24_kHz_40_ms_24_kbps", "", 24000, 0.0),
    ("24_kHz_20_ms_40_kbps_10_loss_FEC", "", 24000, 10.0),
    ("32_kHz_max_8_kHz_20_ms_8_kbps", "", 24000, 0.0),
    ("32_kHz_max_8_kHz_20_ms_8_kbps", "_32_kHz_out", 32000, 0.0),
    ("32_kHz_max_8_kHz_20_ms_8_kbps", "_44100_Hz_out", 44100, 0.0),
    ("32_kHz_max_8_kHz_20_ms_8_kbps", "_48_kHz_out", 48000, 0.0),
    ("44100_Hz_20_ms_7_kbps", "", 24000, 0.0),
];

fn read_bitstream(path: &Path) -> Result<Vec<Vec<u8>>, String> {
    let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let rest = data
        .strip_prefix(b"#!SILK_V3")
        .ok_or_else(|| format!("{}: no #!SILK_V3 header", path.display()))?;
    let mut packets = Vec::new();
    let mut i = 0;
    while i + 2 <= rest.len() {
        let n = i16::from_le_bytes([rest[i], rest[i + 1]]);
        i += 2;
        if n < 0 || i + n as usize > rest.len() {
            break;
        }
        packets.push(rest[i..i + n as usize].to_vec());
        i += n as usize;
    }
    Ok(packets)
}

/// `test/Decoder.c`'s loop. Returns the output at `api_rate` and whether it could be
/// produced (false when the internal rate is above `api_rate`: no down-sampler here).
fn decode_like_sdk(packets: &[Vec<u8>], loss_perc: f32, api_rate: u32) -> (Vec<i16>, bool) {
    let mut dec = Decoder::new(24000).expect("24 kHz is supported");
    let mut out = Vec::new();
    let mut native = true;
    let mut rand_seed: i32 = 1;
    // Jitter buffer of MAX_LBRR_DELAY + 1 = 3 packets; None = lost.
    let mut buf: Vec<Option<&[u8]>> = Vec::new();
    let mut it = packets.iter();
    for _ in 0..2 {
        match it.next() {
            Some(p) => buf.push(Some(p)),
            None => break,
        }
    }
    // The SDK re-initialises its output resampler whenever the internal rate changes.
    let mut resampler: Option<(u32, Upsampler)> = None;
    let mut frame = Vec::new();
    let mut step = |buf: &mut Vec<Option<&[u8]>>, dec: &mut Decoder, out: &mut Vec<i16>| {
        let head = buf.first().copied().flatten();
        frame.clear();
        match head {
            Some(p) if !p.is_empty() => {
                let _ = dec.decode(p, &mut frame);
            }
            _ => {
                let next = buf.get(1).copied().flatten();
                let next2 = buf.get(2).copied().flatten();
                dec.decode_fec(next, next2, &mut frame);
            }
        }
        let fs = dec.sample_rate();
        if resampler.as_ref().map(|r| r.0) != Some(fs) {
            match Upsampler::new(fs, api_rate) {
                Ok(r) => resampler = Some((fs, r)),
                Err(_) => {
                    native = false;
                    resampler = None;
                }
            }
        }
        if let Some((_, r)) = resampler.as_mut() {
            r.process(&frame, out);
        }
        if !buf.is_empty() {
            buf.remove(0);
        }
    };
    for p in it {
        rand_seed = 907_633_515i32.wrapping_add(rand_seed.wrapping_mul(196_314_165));
        let keep = ((rand_seed >> 16) + (1 << 15)) as f32 / 65535.0f32 >= loss_perc / 100.0f32
            && !p.is_empty();
        buf.push(if keep { Some(p.as_slice()) } else { None });
        step(&mut buf, &mut dec, &mut out);
    }
    for _ in 0..2 {
        if buf.is_empty() {
            break;
        }
        step(&mut buf, &mut dec, &mut out);
    }
    (out, native)
}

/// `test/signalCompare.c`: (bit-exact, average weighted SNR in dB, frames compared).
fn signal_compare(reference: &[i16], test: &[i16], fs_hz: u32) -> (bool, f64, usize) {
    const FRAME_MS: usize = 10;
    const WIN_MS: usize = 20;
    const ORDER: usize = 10;
    let fs_khz = (fs_hz / 1000) as usize;
    let frame = FRAME_MS * fs_khz;
    let win = WIN_MS * fs_khz;
    let mut ref_in = vec![0i16; win];
    let mut test_in = vec![0i16; win];
    let mut unequal = false;
    let mut snr = 0.0f64;
    let mut n_frames = 0usize;
    let mut pos = 0;
    while pos + frame <= reference.len() && pos + frame <= test.len() {
        ref_in[win - frame..].copy_from_slice(&reference[pos..pos + frame]);
        test_in[win - frame..].copy_from_slice(&test[pos..pos + frame]);
        pos += frame;
        if ref_in[win - frame..] != test_in[win - frame..] {
            unequal = true;
        }
        let ref_win: Vec<f32> = (0..win)
            .map(|n| {
                // signalCompare.c uses the literal 3.14159265, not PI.
                #[allow(clippy::approx_constant)]
                let c = (3.14159265f64 * (n + 1) as f64 / (win + 1) as f64).sin() as f32;
                f32::from(ref_in[n]) * c
            })
            .collect();
        let mut corr = [0f32; ORDER + 1];
        for (i, c) in corr.iter_mut().enumerate() {
            let len = win - i;
            let mut r = 0f64;
            let len4 = len & 0xFFFC;
            let mut k = 0;
            while k < len4 {
                r += f64::from(
                    ref_win[k] * ref_win[k + i]
                        + ref_win[k + 1] * ref_win[k + 1 + i]
                        + ref_win[k + 2] * ref_win[k + 2 + i]
                        + ref_win[k + 3] * ref_win[k + 3 + i],
                );
                k += 4;
            }
            while k < len {
                r += f64::from(ref_win[k] * ref_win[k + i]);
                k += 1;
            }
            *c = r as f32;
        }
        corr[0] += corr[0] * 1e-6f32 + 1.0f32;
        let a = levinson(&corr);
        let mut a = a;
        let mut cfac = 0.7f32;
        for v in a.iter_mut().take(ORDER - 1) {
            *v *= cfac;
            cfac *= 0.7f32;
        }
        a[ORDER - 1] *= cfac;
        let mut ref_nrg = 1.0f32;
        let mut diff_nrg = 1e-10f32;
        for n in (WIN_MS - FRAME_MS) / 2 * fs_khz..(WIN_MS + FRAME_MS) / 2 * fs_khz {
            let mut rw = f32::from(ref_in[n]);
            let mut tw = f32::from(test_in[n]);
            for i in 0..ORDER {
                rw -= a[i] * f32::from(ref_in[n - i - 1]);
                tw -= a[i] * f32::from(test_in[n - i - 1]);
            }
            ref_nrg += rw * rw;
            diff_nrg += (rw - tw) * (rw - tw);
        }
        if ref_nrg > frame as f32 {
            snr += 10.0 * f64::from(ref_nrg / diff_nrg).log10();
            n_frames += 1;
        }
        ref_in.copy_within(frame.., 0);
        test_in.copy_within(frame.., 0);
    }
    let avg = if n_frames > 0 {
        snr / n_frames as f64
    } else {
        0.0
    };
    (!unequal, avg, n_frames)
}

fn levinson(corr: &[f32; 11]) -> [f32; 10] {
    let order = 10;
    let mut a = [0f32; 10];
    let min_nrg = 1e-12f32 * corr[0] + 1e-9f32;
    let mut nrg = corr[0].max(min_nrg);
    a[0] = corr[1] / nrg;
    nrg -= a[0] * corr[1];
    nrg = nrg.max(min_nrg);
    for m in 1..order {
        let mut t = corr[m + 1];
        for i in 0..m {
            t -= a[i] * corr[m - i];
        }
        let km = t / nrg;
        nrg -= km * t;
        nrg = nrg.max(min_nrg);
        let m_half = m >> 1;
        for i in 0..m_half {
            let a1 = a[i];
            let a2 = a[m - i - 1];
            a[m - i - 1] -= km * a1;
            a[i] -= km * a2;
        }
        if m & 1 != 0 {
            a[m_half] -= km * a[m_half];
        }
        a[m] = km;
    }
    a
}

fn read_pcm(path: &Path) -> Result<Vec<i16>, String> {
    let b = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(b.chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect())
}

/// `--time`: decode each bitstream 20 times at its internal rate (no loss, no
/// resampling) and print seconds of audio per second of decoding.
fn time_all(dir: &Path) {
    let mut names: Vec<_> = std::fs::read_dir(dir.join("bitstream"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    names.sort();
    for path in names {
        let Ok(packets) = read_bitstream(&path) else {
            continue;
        };
        let mut samples = 0usize;
        let mut secs = 0f64;
        let t0 = std::time::Instant::now();
        for _ in 0..20 {
            let mut dec = Decoder::new(24000).expect("rate");
            let mut out = Vec::with_capacity(480 * 3);
            for p in &packets {
                out.clear();
                let _ = dec.decode(p, &mut out);
                samples += out.len();
                secs += out.len() as f64 / f64::from(dec.sample_rate());
            }
        }
        let dt = t0.elapsed().as_secs_f64();
        println!(
            "{:<48} {:>8.1} s audio {:>9} samples  {:>7.0}x real time ({:.3} % of real time)",
            path.file_name().unwrap_or_default().to_string_lossy(),
            secs / 20.0,
            samples / 20,
            secs / dt,
            100.0 * dt / secs
        );
    }
}

fn main() {
    let Some(dir) = std::env::args().nth(1).map(PathBuf::from) else {
        eprintln!("usage: silk_vectors <SILK SDK test_vectors dir> [<output dir> | --time]");
        std::process::exit(2);
    };
    if std::env::args().nth(2).as_deref() == Some("--time") {
        time_all(&dir);
        return;
    }
    // Optional second argument: a directory to write our decoded outputs to.
    let write_dir = std::env::args().nth(2).map(PathBuf::from);
    let mut failed = 0;
    let mut compared = 0;
    println!(
        "{:<56} {:>8} {:>10} {:>7}  result",
        "vector (reference output)", "rate", "metric", "frames"
    );
    for &(params, suffix, api_rate, loss) in RUNS {
        let name = format!("testvector_output_{params}{suffix}.pcm");
        let packets =
            match read_bitstream(&dir.join("bitstream").join(format!("payload_{params}.bit"))) {
                Ok(p) => p,
                Err(e) => {
                    println!("{name:<56} {api_rate:>8} error: {e}");
                    failed += 1;
                    continue;
                }
            };
        let t0 = std::time::Instant::now();
        let (out, native) = decode_like_sdk(&packets, loss, api_rate);
        let dt = t0.elapsed();
        if !native {
            println!(
                "{name:<56} {api_rate:>8} {:>10} {:>7}  skipped (needs a down-sampler)",
                "-", "-"
            );
            continue;
        }
        let reference = match read_pcm(&dir.join("output").join(&name)) {
            Ok(r) => r,
            Err(e) => {
                println!("{name:<56} {api_rate:>8} error: {e}");
                failed += 1;
                continue;
            }
        };
        compared += 1;
        if let Some(w) = &write_dir {
            let bytes: Vec<u8> = out.iter().flat_map(|v| v.to_le_bytes()).collect();
            let _ = std::fs::write(w.join(&name), bytes);
        }
        let (exact, snr, frames) = signal_compare(&reference, &out, api_rate);
        let len_note = if reference.len() != out.len() {
            format!(" (length {} vs reference {})", out.len(), reference.len())
        } else {
            String::new()
        };
        let secs = out.len() as f64 / f64::from(api_rate);
        let speed = format!("{:.0}x real time", secs / dt.as_secs_f64());
        if exact && reference.len() == out.len() {
            println!(
                "{name:<56} {api_rate:>8} {:>10} {frames:>7}  PASS{len_note} [{speed}]",
                "bit-exact"
            );
        } else if frames > 0 && snr >= 15.0 {
            println!(
                "{name:<56} {api_rate:>8} {:>7.1} dB {frames:>7}  PASS{len_note} [{speed}]",
                snr
            );
        } else {
            println!(
                "{name:<56} {api_rate:>8} {:>7.1} dB {frames:>7}  FAIL{len_note}",
                snr
            );
            failed += 1;
        }
    }
    println!("{compared} compared, {failed} failed");
    if failed > 0 {
        std::process::exit(1);
    }
}
