//! PESQ (ITU-T P.862.2 wideband, PyPI `pesq`) of speech through G.722 with 5 % bursty loss:
//! our PLC against zero-fill, and the loss-free decode as the ceiling. Needs python3 with
//! `pesq` and `numpy` (scripts/install-deps installs them). Prints the scores
//! (`-- --nocapture`).
mod common;
use ac_media::g722::{Decoder, Encoder, Mode};
use ac_media::plc::Plc;
use common::read_words;
use common::traces::Rng;
use std::process::Command;

fn write_raw(path: &std::path::Path, pcm: &[i16]) {
    let bytes: Vec<u8> = pcm.iter().flat_map(|s| s.to_le_bytes()).collect();
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn plc_beats_zero_fill_on_pesq_wb() {
    let speech = read_words("g722/inpsp.bin");
    let mut codes = Vec::new();
    Encoder::new().encode(&speech, &mut codes);
    // Gilbert loss: mean 5 %, mean burst 2 packets of 20 ms (160 codes, 320 samples).
    let mut rng = Rng::new(7);
    let (r, loss) = (0.5, 0.05);
    let p = loss * r / (1.0 - loss);
    let mut bad = false;
    let lost: Vec<bool> = codes
        .chunks(160)
        .map(|_| {
            bad = if bad { rng.f64() >= r } else { rng.f64() < p };
            bad
        })
        .collect();
    let lost_count = lost.iter().filter(|&&l| l).count();
    let (mut clean, mut zero, mut conc) = (Vec::new(), Vec::new(), Vec::new());
    Decoder::new(Mode::Mode1).decode(&codes, &mut clean);
    let mut dz = Decoder::new(Mode::Mode1);
    let mut dp = Decoder::new(Mode::Mode1);
    let mut plc = Plc::new(16_000);
    for (chunk, &l) in codes.chunks(160).zip(&lost) {
        if l {
            zero.extend(std::iter::repeat_n(0i16, chunk.len() * 2));
            let mut f = vec![0i16; chunk.len() * 2];
            plc.conceal(&mut f);
            conc.extend(f);
        } else {
            dz.decode(chunk, &mut zero);
            let mut f = Vec::new();
            dp.decode(chunk, &mut f);
            plc.good_frame(&mut f);
            conc.extend(f);
        }
    }
    let dir = std::env::temp_dir().join(format!("ac-media-pesq-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    write_raw(&dir.join("ref.raw"), &speech);
    write_raw(&dir.join("clean.raw"), &clean);
    write_raw(&dir.join("zero.raw"), &zero);
    write_raw(&dir.join("plc.raw"), &conc);
    let script = r#"
import sys, numpy as np
from pesq import pesq
d = sys.argv[1]
ref = np.fromfile(d + "/ref.raw", dtype="<i2").astype(np.float64)
for name in ("clean", "zero", "plc"):
    deg = np.fromfile(d + "/" + name + ".raw", dtype="<i2").astype(np.float64)
    print(name, pesq(16000, ref, deg, "wb"))
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&dir)
        .output()
        .expect("python3 with pesq and numpy (scripts/install-deps)");
    let _ = std::fs::remove_dir_all(&dir);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let score = |name: &str| -> f64 {
        text.lines()
            .find_map(|l| {
                l.strip_prefix(name)
                    .map(|v| v.trim().parse::<f64>().unwrap())
            })
            .unwrap_or_else(|| panic!("no {name} score in {text}"))
    };
    let (c, z, pl) = (score("clean"), score("zero"), score("plc"));
    println!(
        "G.722 64 kbit/s, {lost_count} of {} packets lost (Gilbert, mean burst 2): PESQ-WB clean {c:.3}, zero-fill {z:.3}, PLC {pl:.3}",
        lost.len()
    );
    assert!(lost_count > 0);
    assert!(pl > z + 0.1, "PLC {pl} vs zero-fill {z}");
    assert!(c > pl);
}
