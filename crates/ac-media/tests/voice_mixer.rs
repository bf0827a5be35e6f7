//! Microphone switch, device profiles and the 8 kHz path through the 16 kHz echo canceller;
//! the local 3-way conference mixer (mix-minus, per-leg rate, `lync/local3wayConf/enabled`).

use ac_media::mixer::{conference_enabled, Conference, MixerError, MIX_FRAME};
use ac_media::resample::Downsampler2;
use ac_media::voice::{microphone_enabled, Device, VoiceProcessor};
use ac_media_ref::g168;

fn config(text: &str) -> ac_cfg::Config {
    let doc = ac_cfg::Document::parse(text).unwrap();
    ac_cfg::Config::from_document(&doc, ac_cfg::Model::Hd440).unwrap()
}

fn tone(f: f64, rate: f64, n: usize, amp: f64) -> Vec<i16> {
    (0..n)
        .map(|i| (amp * (2.0 * std::f64::consts::PI * f * i as f64 / rate).sin()) as i16)
        .collect()
}

/// Amplitude of frequency `f` in `x` (single-bin DFT).
fn amp_at(x: &[i16], f: f64, rate: f64) -> f64 {
    let (mut c, mut s) = (0.0, 0.0);
    for (i, v) in x.iter().enumerate() {
        let w = 2.0 * std::f64::consts::PI * f * i as f64 / rate;
        c += f64::from(*v) * w.cos();
        s += f64::from(*v) * w.sin();
    }
    2.0 * (c * c + s * s).sqrt() / x.len() as f64
}

fn energy(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum()
}

#[test]
fn microphone_switch() {
    assert!(microphone_enabled(None).unwrap(), "schema default: enabled");
    let off = config("voip/audio/microphone/enable=0\n");
    assert!(!microphone_enabled(Some(&off)).unwrap());
    let mut vp = VoiceProcessor::new(16000, Device::Handset, false);
    let speech = tone(500.0, 16000.0, 160, 8000.0);
    let mut out = vec![1i16; 160];
    for _ in 0..20 {
        vp.process(&[0; 160], &speech, &mut out).unwrap();
        assert!(out.iter().all(|v| *v == 0));
    }
    vp.set_mic_enabled(true);
    let mut energy_on = 0i64;
    for _ in 0..20 {
        vp.process(&[0; 160], &speech, &mut out).unwrap();
        energy_on += out.iter().map(|v| i64::from(*v).pow(2)).sum::<i64>();
    }
    assert!(energy_on > 0);
    // Wrong frame lengths are errors.
    assert!(vp.process(&[0; 80], &speech, &mut out).is_err());
}

#[test]
fn narrowband_call_through_the_wideband_canceller() {
    // A 16 kHz scene taken down to 8 kHz as a G.711 call would see it.
    let far16 = g168::css(4.0, 2000.0, 120.0, 3);
    let h = g168::echo_path(3.0, 10.0, 0.0, 1024, 102);
    let echo16 = g168::convolve(&far16, &h);
    let mic16: Vec<i16> = echo16.iter().map(|v| v.round() as i16).collect();
    let far8 = Downsampler2::new().process_vec(&far16);
    let mic8 = Downsampler2::new().process_vec(&mic16);
    for device in [Device::Speaker, Device::Handset, Device::Headset] {
        let mut vp = VoiceProcessor::new(8000, device, true);
        assert_eq!(vp.frame_len(), 80);
        let mut out = vec![0i16; mic8.len() / 80 * 80];
        for i in (0..out.len()).step_by(80) {
            vp.process(&far8[i..i + 80], &mic8[i..i + 80], &mut out[i..i + 80])
                .unwrap();
        }
        let span = 16000..32000; // 2-4 s
        let e: Vec<f64> = mic8[span.clone()].iter().map(|v| f64::from(*v)).collect();
        let o: Vec<f64> = out[span].iter().map(|v| f64::from(*v)).collect();
        let erle = 10.0 * (energy(&e) / energy(&o).max(1.0)).log10();
        println!("{device:?}: 8 kHz echo reduction {erle:.1} dB");
        // The headset profile has no nonlinear processing: linear cancellation only.
        let want = if device == Device::Headset {
            25.0
        } else {
            30.0
        };
        assert!(erle >= want, "{device:?}: {erle:.1} dB");
    }
}

#[test]
fn conference_mix_minus() {
    assert!(conference_enabled(None).unwrap(), "schema default: enabled");
    let off = config("lync/local3wayConf/enabled=0\n");
    assert!(matches!(
        Conference::new(Some(&off), 8000, 16000),
        Err(MixerError::Disabled)
    ));
    assert!(matches!(
        Conference::new(None, 11025, 16000),
        Err(MixerError::BadRate(11025))
    ));

    // Local 300 Hz (16 kHz), leg A 1000 Hz on G.711 (8 kHz), leg B 2500 Hz on G.722 (16 kHz).
    let mut c = Conference::new(None, 8000, 16000).unwrap();
    let local = tone(300.0, 16000.0, 16000, 6000.0);
    let a = tone(1000.0, 8000.0, 8000, 6000.0);
    let b = tone(2500.0, 16000.0, 16000, 6000.0);
    let (mut to_local, mut to_a, mut to_b) = (vec![], vec![], vec![]);
    for f in 0..100 {
        let m = c
            .mix(
                &local[f * MIX_FRAME..(f + 1) * MIX_FRAME],
                &a[f * 80..(f + 1) * 80],
                &b[f * MIX_FRAME..(f + 1) * MIX_FRAME],
            )
            .unwrap();
        assert_eq!(m.to_a.len(), 80);
        assert_eq!(m.to_b.len(), 160);
        to_local.extend(m.local);
        to_a.extend(m.to_a);
        to_b.extend(m.to_b);
    }
    let skip = |v: &[i16], r: usize| v[r / 10..].to_vec();
    let (tl, ta, tb) = (
        skip(&to_local, 16000),
        skip(&to_a, 8000),
        skip(&to_b, 16000),
    );
    // Local hears A and B, not itself.
    assert!(amp_at(&tl, 1000.0, 16000.0) > 5000.0);
    assert!(amp_at(&tl, 2500.0, 16000.0) > 5000.0);
    assert!(amp_at(&tl, 300.0, 16000.0) < 60.0);
    // A hears local and B... B's 2500 Hz is within A's 4 kHz band; A does not hear itself.
    assert!(amp_at(&ta, 300.0, 8000.0) > 5000.0);
    assert!(amp_at(&ta, 2500.0, 8000.0) > 5000.0);
    assert!(amp_at(&ta, 1000.0, 8000.0) < 60.0);
    // B hears local and A, not itself.
    assert!(amp_at(&tb, 300.0, 16000.0) > 5000.0);
    assert!(amp_at(&tb, 1000.0, 16000.0) > 5000.0);
    assert!(amp_at(&tb, 2500.0, 16000.0) < 60.0);
    // Bad frame length.
    assert!(c.mix(&[0; 100], &[0; 80], &[0; 160]).is_err());
}
