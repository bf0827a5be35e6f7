//! Local 3-way conference mixer (manual 4.15, `lync/local3wayConf/enabled`): mix-minus at
//! 16 kHz, each remote leg hears the local user and the other leg, the local user hears
//! both legs; legs on 8 kHz codecs are converted 2:1 in and out.

use ac_cfg::Config;

use crate::resample::{Downsampler2, Upsampler2};

/// Samples per 10 ms at the mixing rate (16 kHz).
pub const MIX_FRAME: usize = 160;

/// The conference is switched off by `lync/local3wayConf/enabled` = 0.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MixerError {
    #[error("local 3-way conferencing is disabled (lync/local3wayConf/enabled = 0)")]
    Disabled,
    #[error("bad lync/local3wayConf/enabled value {0:?}")]
    BadSetting(String),
    #[error("leg rate {0} Hz is not 8000 or 16000")]
    BadRate(u32),
    #[error("frame of {got} samples, expected {expected}")]
    FrameLength { got: usize, expected: usize },
}

/// `lync/local3wayConf/enabled` (default from `ac_cfg::schema`).
pub fn conference_enabled(cfg: Option<&Config>) -> Result<bool, MixerError> {
    const KEY: &str = "lync/local3wayConf/enabled";
    let v = cfg
        .and_then(|c| c.get_raw(KEY).map(str::to_owned))
        .or_else(|| match ac_cfg::Schema::get().lookup(KEY, None) {
            ac_cfg::schema::Lookup::Found(d, _) => Some(d.default.to_owned()),
            _ => None,
        })
        .ok_or_else(|| MixerError::BadSetting(String::new()))?;
    match v.trim() {
        "1" => Ok(true),
        "0" => Ok(false),
        _ => Err(MixerError::BadSetting(v)),
    }
}

struct Leg {
    rate: u32,
    up: Upsampler2,
    down: Downsampler2,
    buf: Vec<i16>,
}

impl Leg {
    fn new(rate: u32) -> Result<Leg, MixerError> {
        if rate != 8000 && rate != 16000 {
            return Err(MixerError::BadRate(rate));
        }
        Ok(Leg {
            rate,
            up: Upsampler2::new(),
            down: Downsampler2::new(),
            buf: vec![0; MIX_FRAME],
        })
    }
    fn frame(&self) -> usize {
        self.rate as usize / 100
    }
    fn input(&mut self, pcm: &[i16]) -> Result<(), MixerError> {
        if pcm.len() != self.frame() {
            return Err(MixerError::FrameLength {
                got: pcm.len(),
                expected: self.frame(),
            });
        }
        if self.rate == 8000 {
            self.up.process(pcm, &mut self.buf);
        } else {
            self.buf.copy_from_slice(pcm);
        }
        Ok(())
    }
    fn output(&mut self, mix: &[i16], out: &mut [i16]) -> Result<(), MixerError> {
        if out.len() != self.frame() {
            return Err(MixerError::FrameLength {
                got: out.len(),
                expected: self.frame(),
            });
        }
        if self.rate == 8000 {
            self.down.process(mix, out);
        } else {
            out.copy_from_slice(mix);
        }
        Ok(())
    }
}

/// Three-party mix-minus: the local user and two remote legs.
pub struct Conference {
    a: Leg,
    b: Leg,
}

/// One mixing step's outputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mixed {
    /// To the local speaker (16 kHz): leg A + leg B.
    pub local: Vec<i16>,
    /// To leg A at its rate: local + B.
    pub to_a: Vec<i16>,
    /// To leg B at its rate: local + A.
    pub to_b: Vec<i16>,
}

fn sat(v: i32) -> i16 {
    v.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
}

impl Conference {
    /// Starts a conference with legs at `rate_a`/`rate_b` (the rates of their codecs), if
    /// the configuration allows it.
    pub fn new(cfg: Option<&Config>, rate_a: u32, rate_b: u32) -> Result<Conference, MixerError> {
        if !conference_enabled(cfg)? {
            return Err(MixerError::Disabled);
        }
        Ok(Conference {
            a: Leg::new(rate_a)?,
            b: Leg::new(rate_b)?,
        })
    }

    /// One 10 ms step: `local` (16 kHz microphone, after echo cancellation), `from_a`,
    /// `from_b` (decoded, at their rates).
    pub fn mix(
        &mut self,
        local: &[i16],
        from_a: &[i16],
        from_b: &[i16],
    ) -> Result<Mixed, MixerError> {
        if local.len() != MIX_FRAME {
            return Err(MixerError::FrameLength {
                got: local.len(),
                expected: MIX_FRAME,
            });
        }
        self.a.input(from_a)?;
        self.b.input(from_b)?;
        let mut to_local = vec![0i16; MIX_FRAME];
        let mut mix_a = vec![0i16; MIX_FRAME];
        let mut mix_b = vec![0i16; MIX_FRAME];
        for i in 0..MIX_FRAME {
            let (l, a, b) = (
                i32::from(local[i]),
                i32::from(self.a.buf[i]),
                i32::from(self.b.buf[i]),
            );
            to_local[i] = sat(a + b);
            mix_a[i] = sat(l + b);
            mix_b[i] = sat(l + a);
        }
        let mut to_a = vec![0i16; self.a.frame()];
        let mut to_b = vec![0i16; self.b.frame()];
        self.a.output(&mix_a, &mut to_a)?;
        self.b.output(&mix_b, &mut to_b)?;
        Ok(Mixed {
            local: to_local,
            to_a,
            to_b,
        })
    }
}
