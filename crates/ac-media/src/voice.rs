//! The microphone path of a call: audio device profiles (handset, headset, speaker), the
//! microphone switch (`voip/audio/microphone/enable`, manual 3.3.6) and the echo canceller
//! at 16 kHz for both wideband and narrowband calls (8 kHz frames are upsampled for the
//! canceller and the result downsampled).

use ac_cfg::Config;

use crate::aec::{AecConfig, EchoCanceller, FrameLengthError, PostConfig, FRAME};
use crate::resample::{Downsampler2, Upsampler2};

/// The audio device in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    Handset,
    Headset,
    Speaker,
}

impl Device {
    /// Echo-control tuning per device: the speakerphone has the strongest acoustic coupling
    /// (full nonlinear processing), the handset some (gentler NLP), a headset very little
    /// (linear canceller and noise suppression only, no NLP to clip double talk).
    pub fn aec_config(self) -> AecConfig {
        let post = match self {
            Device::Speaker => PostConfig::default(),
            Device::Handset => PostConfig {
                echo_overestimate: 1.5,
                ..PostConfig::default()
            },
            Device::Headset => PostConfig {
                nlp: false,
                noise_floor_db: -12.0,
                ..PostConfig::default()
            },
        };
        AecConfig {
            post,
            ..AecConfig::default()
        }
    }
}

/// A bad `voip/audio/microphone/enable` value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad voip/audio/microphone/enable value {0:?}")]
pub struct MicSettingError(pub String);

/// `voip/audio/microphone/enable` from the configuration, default from `ac_cfg::schema`.
pub fn microphone_enabled(cfg: Option<&Config>) -> Result<bool, MicSettingError> {
    const KEY: &str = "voip/audio/microphone/enable";
    let v = cfg
        .and_then(|c| c.get_raw(KEY).map(str::to_owned))
        .or_else(|| match ac_cfg::Schema::get().lookup(KEY, None) {
            ac_cfg::schema::Lookup::Found(d, _) => Some(d.default.to_owned()),
            _ => None,
        })
        .ok_or_else(|| MicSettingError(String::new()))?;
    match v.trim() {
        "1" => Ok(true),
        "0" => Ok(false),
        _ => Err(MicSettingError(v)),
    }
}

/// Microphone processing for one call at 8 or 16 kHz, 10 ms frames.
pub struct VoiceProcessor {
    rate: u32,
    device: Device,
    mic_enabled: bool,
    aec: EchoCanceller,
    up_far: Upsampler2,
    up_near: Upsampler2,
    down: Downsampler2,
    far16: Vec<i16>,
    near16: Vec<i16>,
    out16: Vec<i16>,
}

impl VoiceProcessor {
    /// `rate` 8000 or 16000 (anything else is treated as 16000).
    pub fn new(rate: u32, device: Device, mic_enabled: bool) -> VoiceProcessor {
        VoiceProcessor {
            rate: if rate == 8000 { 8000 } else { 16000 },
            device,
            mic_enabled,
            aec: EchoCanceller::new(device.aec_config()),
            up_far: Upsampler2::new(),
            up_near: Upsampler2::new(),
            down: Downsampler2::new(),
            far16: vec![0; FRAME],
            near16: vec![0; FRAME],
            out16: vec![0; FRAME],
        }
    }

    pub fn device(&self) -> Device {
        self.device
    }

    /// Switching device restarts the canceller with that device's tuning (a new acoustic
    /// path).
    pub fn set_device(&mut self, device: Device) {
        if device != self.device {
            self.device = device;
            self.aec = EchoCanceller::new(device.aec_config());
        }
    }

    pub fn set_mic_enabled(&mut self, on: bool) {
        self.mic_enabled = on;
    }

    /// Samples per 10 ms frame at the call's rate.
    pub fn frame_len(&self) -> usize {
        self.rate as usize / 100
    }

    /// One 10 ms frame: `far` (played to the device), `mic` -> `out` (to the encoder).
    /// With the microphone disabled the output is silence whatever the microphone picks up.
    pub fn process(
        &mut self,
        far: &[i16],
        mic: &[i16],
        out: &mut [i16],
    ) -> Result<(), FrameLengthError> {
        let n = self.frame_len();
        for len in [far.len(), mic.len(), out.len()] {
            if len != n {
                return Err(FrameLengthError {
                    got: len,
                    expected: n,
                });
            }
        }
        if self.rate == 8000 {
            self.up_far.process(far, &mut self.far16);
            self.up_near.process(mic, &mut self.near16);
            self.aec
                .process(&self.far16, &self.near16, &mut self.out16, None)?;
            self.down.process(&self.out16, out);
        } else {
            self.aec.process(far, mic, out, None)?;
        }
        if !self.mic_enabled {
            out.fill(0);
        }
        Ok(())
    }
}
