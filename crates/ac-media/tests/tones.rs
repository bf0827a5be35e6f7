//! Call progress tones: every built-in tone of every country of Table 3-9, and user-defined
//! CPTs from a configuration file, generated at 8 kHz and measured: frequency by FFT
//! (Hann window, zero-padded to 0.12 Hz bins, parabolic peak interpolation) within ±1 Hz,
//! level per component (joint least squares at the measured frequencies) within ±1 dB,
//! cadence (1 ms envelope) within ±5 ms; then detected by our Goertzel tone detector and by
//! spandsp's supervisory tone detector (`super_tone_rx`, Debian libspandsp).

use ac_media::tones::{
    country_tone, Cadence, ToneDetector, ToneKind, TonePlayer, ToneSpec, ToneTable, COUNTRIES,
    DBM0_PEAK,
};
use realfft::RealFftPlanner;

fn generate(spec: &ToneSpec, rate: u32) -> Vec<i16> {
    let ms = match &spec.cadence {
        Cadence::Continuous => 1500,
        Cadence::Repeat(p) => 2 * p.iter().map(|(a, b)| a + b).sum::<u32>() + 100,
        Cadence::Burst(p) => p.iter().map(|(a, b)| a + b).sum::<u32>() + 600,
    };
    let mut out = vec![0i16; (ms * rate / 1000) as usize];
    let mut p = TonePlayer::new(spec.clone(), rate);
    for chunk in out.chunks_mut(80) {
        p.fill(chunk);
    }
    out
}

/// On/off stretches from a 1 ms envelope (on: mean square above -50 dBm0), in ms.
fn envelope_segments(x: &[i16], rate: f64) -> Vec<(bool, f64)> {
    let hop = (rate / 1000.0) as usize;
    let thr = (DBM0_PEAK * 10f64.powf(-50.0 / 20.0)).powi(2) / 2.0;
    let mut segs: Vec<(bool, f64)> = Vec::new();
    for c in x.chunks(hop) {
        let ms = c.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / c.len() as f64;
        let on = ms > thr;
        match segs.last_mut() {
            Some((o, d)) if *o == on => *d += 1.0,
            _ => segs.push((on, 1.0)),
        }
    }
    segs
}

/// Peak frequency near `f0` (±search Hz) by zero-padded Hann FFT + parabolic interpolation.
fn measure_freq(x: &[f64], rate: f64, f0: f64, search: f64) -> f64 {
    let n = 1 << 16;
    let mut buf = vec![0.0f64; n];
    let len = x.len().min(n);
    for i in 0..len {
        let w = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / len as f64).cos();
        buf[i] = x[i] * w;
    }
    let mut planner = RealFftPlanner::<f64>::new();
    let fft = planner.plan_fft_forward(n);
    let mut spec = fft.make_output_vec();
    fft.process(&mut buf, &mut spec).unwrap();
    let bin = rate / n as f64;
    let lo = ((f0 - search) / bin) as usize;
    let hi = ((f0 + search) / bin) as usize;
    let mag: Vec<f64> = spec.iter().map(|c| c.norm()).collect();
    let k = (lo..=hi)
        .max_by(|a, b| mag[*a].total_cmp(&mag[*b]))
        .unwrap();
    let (a, b, c) = (mag[k - 1].ln(), mag[k].ln(), mag[k + 1].ln());
    let d = 0.5 * (a - c) / (a - 2.0 * b + c);
    (k as f64 + d) * bin
}

/// Amplitudes of sinusoids at `freqs` in `x` by joint least squares.
fn measure_amps(x: &[f64], rate: f64, freqs: &[f64]) -> Vec<f64> {
    let m = 2 * freqs.len();
    let basis = |i: usize, j: usize| {
        let w = 2.0 * std::f64::consts::PI * freqs[j / 2] * i as f64 / rate;
        if j % 2 == 0 {
            w.cos()
        } else {
            w.sin()
        }
    };
    let mut a = vec![vec![0.0; m + 1]; m];
    for (i, xv) in x.iter().enumerate() {
        let b: Vec<f64> = (0..m).map(|j| basis(i, j)).collect();
        for r in 0..m {
            for c in 0..m {
                a[r][c] += b[r] * b[c];
            }
            a[r][m] += b[r] * xv;
        }
    }
    // Gaussian elimination.
    for col in 0..m {
        let p = (col..m)
            .max_by(|i, j| a[*i][col].abs().total_cmp(&a[*j][col].abs()))
            .unwrap();
        a.swap(col, p);
        for r in 0..m {
            if r != col {
                let pivot = a[col].clone();
                let f = a[r][col] / pivot[col];
                for (v, p) in a[r].iter_mut().zip(&pivot).skip(col) {
                    *v -= f * p;
                }
            }
        }
    }
    let sol: Vec<f64> = (0..m).map(|r| a[r][m] / a[r][r]).collect();
    (0..freqs.len())
        .map(|j| (sol[2 * j].powi(2) + sol[2 * j + 1].powi(2)).sqrt())
        .collect()
}

fn expected_segments(spec: &ToneSpec) -> Vec<(bool, f64)> {
    let pairs = match &spec.cadence {
        Cadence::Continuous => return vec![],
        Cadence::Repeat(p) | Cadence::Burst(p) => p,
    };
    pairs
        .iter()
        .flat_map(|(on, off)| [(true, f64::from(*on)), (false, f64::from(*off))])
        .filter(|(_, d)| *d > 0.0)
        .collect()
}

struct Measured {
    freq_err: f64,
    level_err: f64,
    cadence_err: f64,
}

fn measure(spec: &ToneSpec, rate: u32) -> Measured {
    let x = generate(spec, rate);
    let rate_f = f64::from(rate);
    let segs = envelope_segments(&x, rate_f);
    assert!(segs[0].0, "tone starts on");
    // First on stretch, without its first and last ms (the envelope's edges).
    let on_ms = segs[0].1;
    let hop = rate as usize / 1000;
    let on: Vec<f64> = x[hop..((on_ms as usize) - 1) * hop]
        .iter()
        .map(|v| f64::from(*v))
        .collect();
    let freqs: Vec<f64> = spec.components.iter().map(|c| c.0).collect();
    let spacing = if freqs.len() == 2 {
        (freqs[1] - freqs[0]).abs() / 2.0
    } else {
        50.0
    };
    let mut freq_err: f64 = 0.0;
    let measured: Vec<f64> = freqs
        .iter()
        .map(|f| {
            let m = measure_freq(&on, rate_f, *f, spacing.min(50.0) * 0.8);
            freq_err = freq_err.max((m - f).abs());
            m
        })
        .collect();
    let amps = measure_amps(&on, rate_f, &measured);
    let mut level_err: f64 = 0.0;
    for (a, (_, lvl)) in amps.iter().zip(&spec.components) {
        let got = 20.0 * (a / DBM0_PEAK).log10();
        level_err = level_err.max((got - lvl).abs());
    }
    let mut cadence_err: f64 = 0.0;
    let want = expected_segments(spec);
    match &spec.cadence {
        Cadence::Continuous => assert_eq!(segs.len(), 1, "continuous tone never stops"),
        Cadence::Repeat(_) => {
            // Two full periods: every stretch but the trailing partial one.
            for (i, (on, d)) in segs.iter().enumerate().take(2 * want.len()) {
                let (won, wd) = want[i % want.len()];
                assert_eq!(*on, won);
                cadence_err = cadence_err.max((d - wd).abs());
            }
        }
        Cadence::Burst(_) => {
            for (i, (won, wd)) in want.iter().enumerate() {
                let (on, d) = segs[i];
                assert_eq!(on, *won);
                if i + 1 < want.len() {
                    cadence_err = cadence_err.max((d - wd).abs());
                } else {
                    assert!(d >= *wd, "burst silence after the tone");
                }
            }
            assert!(!segs.last().unwrap().0, "burst ends in silence");
        }
    }
    Measured {
        freq_err,
        level_err,
        cadence_err,
    }
}

/// spandsp super_tone_rx elements for a spec: durations ±10 % (at least ±40 ms).
fn spandsp_elements(spec: &ToneSpec) -> Vec<(i32, i32, i32, i32)> {
    let f1 = spec.components[0].0 as i32;
    let f2 = spec.components.get(1).map_or(0, |c| c.0 as i32);
    let tol = |d: u32| (d as i32 / 10).max(40);
    match &spec.cadence {
        Cadence::Continuous => vec![(f1, f2, 1000, 0)],
        Cadence::Repeat(p) => {
            let mut v = Vec::new();
            for (on, off) in p {
                v.push((f1, f2, *on as i32 - tol(*on), *on as i32 + tol(*on)));
                v.push((0, 0, *off as i32 - tol(*off), *off as i32 + tol(*off)));
            }
            v
        }
        Cadence::Burst(p) => {
            let mut v = Vec::new();
            for (on, off) in p {
                v.push((f1, f2, *on as i32 - tol(*on), *on as i32 + tol(*on)));
                if *off > 0 {
                    v.push((0, 0, *off as i32 - tol(*off), *off as i32 + tol(*off)));
                }
            }
            v
        }
    }
}

#[test]
fn country_tones_measure_and_detect() {
    let mut worst = (0.0f64, 0.0f64, 0.0f64);
    let mut spandsp_missed = Vec::new();
    for country in COUNTRIES {
        for kind in ToneKind::ALL {
            let spec = country_tone(country, kind).unwrap_or_else(|| panic!("{country} {kind:?}"));
            let m = measure(&spec, 8000);
            assert!(
                m.freq_err <= 1.0,
                "{country} {kind:?}: frequency off {:.2} Hz",
                m.freq_err
            );
            assert!(
                m.level_err <= 1.0,
                "{country} {kind:?}: level off {:.2} dB",
                m.level_err
            );
            assert!(
                m.cadence_err <= 5.0,
                "{country} {kind:?}: cadence off {} ms",
                m.cadence_err
            );
            worst.0 = worst.0.max(m.freq_err);
            worst.1 = worst.1.max(m.level_err);
            worst.2 = worst.2.max(m.cadence_err);
            // Our detector.
            let x = generate(&spec, 8000);
            let freqs: Vec<f64> = spec.components.iter().map(|c| c.0).collect();
            let mut det = ToneDetector::new(&freqs);
            det.process(&x);
            assert!(
                det.matches(&spec, 10),
                "{country} {kind:?}: not detected: {:?}",
                det.segments()
            );
            // A different country's busy tone is not this tone (where frequencies differ).
            // spandsp.
            let rep = ac_media_ref::spandsp_super_tone(&x, &spandsp_elements(&spec));
            if !rep.codes.contains(&0) {
                spandsp_missed.push(format!("{country} {kind:?} segments {:?}", rep.segments));
            }
        }
    }
    println!(
        "70 tones: worst frequency error {:.4} Hz, level error {:.4} dB, cadence error {} ms",
        worst.0, worst.1, worst.2
    );
    assert!(
        spandsp_missed.is_empty(),
        "spandsp did not detect: {spandsp_missed:#?}"
    );
}

#[test]
fn tones_at_16k_keep_frequency_and_level() {
    let spec = country_tone("USA", ToneKind::Busy).unwrap();
    let m = measure(&spec, 16000);
    assert!(m.freq_err <= 1.0 && m.level_err <= 1.0 && m.cadence_err <= 5.0);
}

#[test]
fn detector_rejects_other_tones() {
    // Germany's busy (425 Hz, 480/480) is neither the USA busy (480+620) nor the German
    // congestion cadence (240/240).
    let de_busy = generate(&country_tone("Germany", ToneKind::Busy).unwrap(), 8000);
    let us_busy = country_tone("USA", ToneKind::Busy).unwrap();
    let mut d = ToneDetector::new(&[480.0, 620.0]);
    d.process(&de_busy);
    assert!(!d.matches(&us_busy, 10));
    let de_cong = country_tone("Germany", ToneKind::Congestion).unwrap();
    let mut d = ToneDetector::new(&[425.0]);
    d.process(&de_busy);
    assert!(!d.matches(&de_cong, 10));
    assert!(d.matches(&country_tone("Germany", ToneKind::Busy).unwrap(), 10));
    // spandsp agrees: the busy cadence is not the congestion pattern.
    let rep = ac_media_ref::spandsp_super_tone(&de_busy, &spandsp_elements(&de_cong));
    assert!(!rep.codes.contains(&0), "{rep:?}");
}

fn config(text: &str) -> ac_cfg::Config {
    let doc = ac_cfg::Document::parse(text).unwrap();
    ac_cfg::Config::from_document(&doc, ac_cfg::Model::Hd440).unwrap()
}

#[test]
fn user_defined_tones_from_config() {
    let cfg = config(
        "voip/regional_settings/selected_country=Germany\n\
         voip/regional_settings/use_config_file_values=1\n\
         voip/regional_settings/call_progress_tones/0/enabled=1\n\
         voip/regional_settings/call_progress_tones/0/name=Busy tone\n\
         voip/regional_settings/call_progress_tones/0/cadence=1\n\
         voip/regional_settings/call_progress_tones/0/frequency_a=440\n\
         voip/regional_settings/call_progress_tones/0/frequency_b=660\n\
         voip/regional_settings/call_progress_tones/0/frequency_a_level=15\n\
         voip/regional_settings/call_progress_tones/0/frequency_b_level=20\n\
         voip/regional_settings/call_progress_tones/0/tone_on_0=30\n\
         voip/regional_settings/call_progress_tones/0/tone_off_0=20\n\
         voip/regional_settings/call_progress_tones/0/tone_on_1=60\n\
         voip/regional_settings/call_progress_tones/0/tone_off_1=40\n\
         voip/regional_settings/call_progress_tones/1/enabled=1\n\
         voip/regional_settings/call_progress_tones/1/name=Dial tone\n\
         voip/regional_settings/call_progress_tones/1/cadence=0\n\
         voip/regional_settings/call_progress_tones/1/frequency_a=350\n\
         voip/regional_settings/call_progress_tones/1/frequency_a_level=10\n\
         voip/regional_settings/call_progress_tones/1/tone_on_0=300\n\
         voip/regional_settings/call_progress_tones/2/enabled=1\n\
         voip/regional_settings/call_progress_tones/2/name=Call waiting\n\
         voip/regional_settings/call_progress_tones/2/cadence=2\n\
         voip/regional_settings/call_progress_tones/2/frequency_a=1000\n\
         voip/regional_settings/call_progress_tones/2/frequency_a_level=12\n\
         voip/regional_settings/call_progress_tones/2/tone_on_0=25\n\
         voip/regional_settings/call_progress_tones/2/tone_off_0=100\n",
    );
    let t = ToneTable::from_config(&cfg).unwrap();
    let busy = t.tone(ToneKind::Busy).unwrap();
    assert_eq!(busy.components, vec![(440.0, -15.0), (660.0, -20.0)]);
    assert_eq!(busy.cadence, Cadence::Repeat(vec![(300, 200), (600, 400)]));
    let m = measure(&busy, 8000);
    assert!(m.freq_err <= 1.0 && m.level_err <= 1.0 && m.cadence_err <= 5.0);
    let dial = t.tone(ToneKind::Dial).unwrap();
    assert_eq!(dial.cadence, Cadence::Continuous);
    let cw = t.tone(ToneKind::CallWaiting).unwrap();
    assert_eq!(cw.cadence, Cadence::Burst(vec![(250, 1000)]));
    let m = measure(&cw, 8000);
    assert!(m.freq_err <= 1.0 && m.level_err <= 1.0);
    // Tones without a user entry stay the country's.
    assert_eq!(
        t.tone(ToneKind::Ringback),
        country_tone("Germany", ToneKind::Ringback)
    );
    // spandsp detects the user busy tone too.
    let x = generate(&busy, 8000);
    assert!(
        ac_media_ref::spandsp_super_tone(&x, &spandsp_elements(&busy))
            .codes
            .contains(&0)
    );

    // With use_config_file_values=0 the user table is ignored.
    let cfg = config(
        "voip/regional_settings/selected_country=UK\n\
         voip/regional_settings/call_progress_tones/0/enabled=1\n\
         voip/regional_settings/call_progress_tones/0/name=Busy tone\n\
         voip/regional_settings/call_progress_tones/0/frequency_a=440\n\
         voip/regional_settings/call_progress_tones/0/frequency_a_level=15\n\
         voip/services/call_waiting/generate_tone/enabled=0\n",
    );
    let t = ToneTable::from_config(&cfg).unwrap();
    assert_eq!(t.tone(ToneKind::Busy), country_tone("UK", ToneKind::Busy));
    // Call-waiting tone switched off.
    assert_eq!(t.tone(ToneKind::CallWaiting), None);
}

#[test]
fn defaults_come_from_the_schema() {
    let t = ToneTable::defaults().unwrap();
    let schema = ac_cfg::schema::Schema::get();
    let def = |k: &str| match schema.lookup(k, None) {
        ac_cfg::schema::Lookup::Found(d, _) => d.default,
        _ => panic!("{k}"),
    };
    assert_eq!(t.country, def("voip/regional_settings/selected_country"));
    assert_eq!(
        t.call_waiting_tone,
        def("voip/services/call_waiting/generate_tone/enabled") == "1"
    );
    assert!(t.user.is_empty());
}

/// The entries corrected after checking the table against the published lists (Asterisk
/// indications.conf.sample and DAHDI zonedata.c, both after ITU-T E.180 Suppl. 2), written
/// here in their notation ("f[+f]/on,0/off,..."; a call-waiting burst as its elements):
/// the generated audio must have those frequencies and that on/off envelope.
#[test]
fn corrected_entries_follow_the_published_lists() {
    let cases: [(&str, ToneKind, &str); 10] = [
        ("Israel", ToneKind::Dial, "414"),
        ("Israel", ToneKind::Busy, "414/500,0/500"),
        ("Israel", ToneKind::Ringback, "414/1000,0/3000"),
        (
            "Israel",
            ToneKind::CallWaiting,
            "414/100,0/100,414/100,0/100,414/600",
        ),
        ("Russia", ToneKind::Ringback, "425/1000,0/4000"),
        (
            "Australia",
            ToneKind::Ringback,
            "413+438/400,0/200,413+438/400,0/2000",
        ),
        ("France", ToneKind::Congestion, "440/250,0/250"),
        (
            "Brazil",
            ToneKind::Congestion,
            "425/250,0/250,425/750,0/250",
        ),
        ("Argentina", ToneKind::Busy, "425/300,0/300"),
        ("Argentina", ToneKind::Ringback, "425/1000,0/4500"),
    ];
    for (country, kind, published) in cases {
        let spec = country_tone(country, kind).unwrap();
        let mut freqs: Vec<f64> = Vec::new();
        let mut want: Vec<(bool, f64)> = Vec::new();
        for el in published.split(',') {
            let (f, d) = el.split_once('/').unwrap_or((el, ""));
            let on = f != "0";
            if on && freqs.is_empty() {
                freqs = f.split('+').map(|v| v.parse().unwrap()).collect();
            }
            if !d.is_empty() {
                want.push((on, d.parse().unwrap()));
            }
        }
        let x = generate(&spec, 8000);
        let xf: Vec<f64> = x.iter().take(800).map(|v| f64::from(*v)).collect();
        for f in &freqs {
            let m = measure_freq(&xf[8..(xf.len().min(780))], 8000.0, *f, 10.0);
            assert!(
                (m - f).abs() < 1.0,
                "{country} {kind:?}: {m} Hz, published {f}"
            );
        }
        assert_eq!(spec.components.len(), freqs.len(), "{country} {kind:?}");
        let segs = envelope_segments(&x, 8000.0);
        if want.is_empty() {
            assert_eq!(segs.len(), 1, "{country} {kind:?} continuous");
            continue;
        }
        for (i, (on, d)) in want.iter().enumerate() {
            assert_eq!(segs[i].0, *on, "{country} {kind:?} element {i}");
            if i + 1 < segs.len() - 1 {
                assert!(
                    (segs[i].1 - d).abs() <= 2.0,
                    "{country} {kind:?} element {i}: {} ms, published {d}",
                    segs[i].1
                );
            }
        }
    }
}
