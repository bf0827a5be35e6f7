//! VAD/DTX on the STL speech with background noise before and after it, and the receiver's
//! comfort noise at the sent level.
mod common;
use ac_media::cng::{level_dbov, CnPayload, ComfortNoise, Dtx, DtxDecision};
use common::traces::Rng;

#[test]
fn dtx_sends_speech_and_sids_for_noise() {
    let wide = common::read_words("g722/inpsp.bin");
    let speech: Vec<i16> = wide
        .chunks_exact(2)
        .map(|p| ((i32::from(p[0]) + i32::from(p[1])) / 2) as i16)
        .collect();
    // 2 s of noise at about -60 dBov, the speech, 2 s of noise.
    let mut rng = Rng::new(3);
    let mut noise = |n: usize| -> Vec<i16> {
        (0..n)
            .map(|_| {
                ((rng.f64() * 2.0 - 1.0) * 32767.0 * 10f64.powf(-60.0 / 20.0) * 3f64.sqrt()) as i16
            })
            .collect()
    };
    let mut pcm = noise(16_000);
    let speech_start = pcm.len() / 160;
    pcm.extend(&speech);
    let speech_end = pcm.len() / 160;
    pcm.extend(noise(16_000));
    let mut dtx = Dtx::new(20);
    let mut cn = ComfortNoise::new();
    let (mut audio, mut sids, mut nothing) = (0, 0, 0);
    let mut audio_in_noise = 0;
    let mut audio_in_speech = 0;
    for (i, f) in pcm.chunks_exact(160).enumerate() {
        match dtx.process(f) {
            DtxDecision::Audio => {
                audio += 1;
                if i < speech_start || i > speech_end + 10 {
                    audio_in_noise += 1;
                } else {
                    audio_in_speech += 1;
                }
            }
            DtxDecision::Sid(p) => {
                sids += 1;
                let mut w = Vec::new();
                p.emit(&mut w).unwrap();
                cn.update(&CnPayload::parse(&w).unwrap());
            }
            DtxDecision::Nothing => nothing += 1,
        }
    }
    let total = pcm.len() / 160;
    println!("DTX: {total} frames, {audio} audio, {sids} SID, {nothing} not sent");
    // Noise before the speech and after its hangover is never sent as audio (the first
    // frames adapt the floor from its initial value).
    assert!(audio_in_noise <= 3, "{audio_in_noise}");
    // Most of the speech is sent.
    let speech_frames = speech_end - speech_start;
    assert!(
        audio_in_speech * 10 >= speech_frames * 6,
        "{audio_in_speech} of {speech_frames}"
    );
    // The silence costs a few SIDs, not a packet per frame.
    assert!(sids < 20 && nothing > 150, "{sids} {nothing}");
    // The receiver's noise has the sender's noise level (the last SID's) within 3 dB.
    let mut out = vec![0i16; 8000];
    cn.fill(&mut out);
    assert!(
        (level_dbov(&out) - (-60.0)).abs() < 3.0,
        "{}",
        level_dbov(&out)
    );
}
