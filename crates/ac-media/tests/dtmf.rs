//! DTMF: generated tones are detected at every level the configuration allows and after a
//! G.711 round trip; speech causes no false detections (talk-off).
mod common;
use ac_media::dtmf::{
    event_packets, Detector, DialStep, EventReceiver, PauseDialing, ToneGenerator,
};
use ac_media::g711;

fn render(steps: &[DialStep], level: u8) -> Vec<i16> {
    let mut pcm = Vec::new();
    for s in steps {
        match *s {
            DialStep::Digit { digit, ms } => {
                let mut g = ToneGenerator::new(digit, level, 8000).unwrap();
                let mut buf = vec![0i16; ms as usize * 8];
                g.fill(&mut buf);
                pcm.extend(buf);
            }
            DialStep::Wait { ms } => pcm.extend(std::iter::repeat_n(0i16, ms as usize * 8)),
        }
    }
    pcm.extend(std::iter::repeat_n(0i16, 800));
    pcm
}

#[test]
fn all_digits_detected_at_all_levels_through_alaw() {
    let pd = PauseDialing {
        digit_duration_ms: 100,
        digit_gap_ms: 300,
        pause_duration_s: 0,
    };
    let digits = "123A456B789C*0#D";
    let steps = pd.schedule(digits).unwrap();
    let mut detected_levels = 0;
    // dtmf_tone_signal_level spans 1..=32; the detector's floor is -35 dBm0 per tone.
    for level in [1u8, 4, 8, 12, 16, 20, 24, 28, 32] {
        let pcm = render(&steps, level);
        let mut codes = vec![0u8; pcm.len()];
        g711::encode_alaw(&pcm, &mut codes);
        let mut back = vec![0i16; pcm.len()];
        g711::decode_alaw(&codes, &mut back);
        let mut det = Detector::new();
        let got: String = back.chunks(160).flat_map(|f| det.process(f)).collect();
        assert_eq!(got, digits, "level -{level} dBm0");
        detected_levels += 1;
    }
    assert_eq!(detected_levels, 9);
}

#[test]
fn short_digits_and_too_short_blips() {
    // 40 ms digits with 40 ms gaps (Q.24 minimum) are detected.
    let pd = PauseDialing {
        digit_duration_ms: 40,
        digit_gap_ms: 40,
        pause_duration_s: 0,
    };
    let pcm = render(&pd.schedule("159#").unwrap(), 10);
    let mut det = Detector::new();
    assert_eq!(det.process(&pcm).into_iter().collect::<String>(), "159#");
    // A 15 ms blip is not.
    let mut g = ToneGenerator::new('5', 10, 8000).unwrap();
    let mut blip = vec![0i16; 120];
    g.fill(&mut blip);
    blip.extend(std::iter::repeat_n(0i16, 800));
    assert!(Detector::new().process(&blip).is_empty());
}

#[test]
fn speech_causes_no_detection() {
    // The ITU-T STL G.722 speech input, decimated to 8 kHz (a crude 2-tap average first).
    let wide = common::read_words("g722/inpsp.bin");
    let narrow: Vec<i16> = wide
        .chunks_exact(2)
        .map(|p| ((i32::from(p[0]) + i32::from(p[1])) / 2) as i16)
        .collect();
    let mut det = Detector::new();
    let got: Vec<char> = narrow.chunks(160).flat_map(|f| det.process(f)).collect();
    assert!(got.is_empty(), "talk-off: {got:?}");
    // A digit mixed into that speech at -10 dBm0 is still found.
    let mut mixed = narrow[..8000].to_vec();
    let mut g = ToneGenerator::new('7', 10, 8000).unwrap();
    let mut tone = vec![0i16; 1600];
    g.fill(&mut tone);
    for (m, t) in mixed[3000..4600].iter_mut().zip(&tone) {
        *m = (i32::from(*m) / 4 + i32::from(*t)).clamp(-32768, 32767) as i16;
    }
    assert_eq!(Detector::new().process(&mixed), vec!['7']);
}

#[test]
fn rfc4733_end_to_end_for_a_dial_string() {
    let pd = PauseDialing {
        digit_duration_ms: 100,
        digit_gap_ms: 300,
        pause_duration_s: 2,
    };
    let mut rx = EventReceiver::default();
    let mut ts = 0u32;
    let mut got = String::new();
    for step in pd.schedule("9,p12#").unwrap() {
        match step {
            DialStep::Digit { digit, ms } => {
                let ev = ac_media::dtmf::event_for_digit(digit).unwrap();
                for p in event_packets(ev, 16, ms, 50, 8000, ts) {
                    let mut w = Vec::new();
                    p.payload.emit(&mut w).unwrap();
                    for e in rx.handle(p.timestamp, &w).unwrap() {
                        if let ac_media::dtmf::DigitEvent::Start { event, .. } = e {
                            got.push(ac_media::dtmf::digit_for_event(event).unwrap());
                        }
                    }
                }
                ts += ms * 8;
            }
            DialStep::Wait { ms } => ts += ms * 8,
        }
    }
    assert_eq!(got, "912#");
}
