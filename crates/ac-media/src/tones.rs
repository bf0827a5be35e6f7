//! Call progress tones (manual 3.2.6.1, Table 3-9): the built-in country set, the
//! user-defined table `voip/regional_settings/call_progress_tones/0-9` (continuous, cadence,
//! burst), the call-waiting tone switch (`voip/services/call_waiting/generate_tone/enabled`),
//! a sans-IO generator and a Goertzel tone/cadence detector.
//!
//! The country tones follow the national entries of ITU-T E.180 Supplement 2 as carried by
//! Asterisk's `indications.conf.sample` and DAHDI's `zonedata.c` (each entry checked, see
//! [`country_tone`]; frequencies in Hz, cadences in ms); composite "400*25"-style modulated
//! tones are given as the equivalent pair of frequencies. Levels are in dBm0 per component.

use ac_cfg::Config;

/// Peak amplitude of a sine at 0 dBm0 in 16-bit linear PCM (G.711 digital milliwatt
/// 3.14 dB below a full-scale sine).
pub const DBM0_PEAK: f64 = 32767.0 / 1.4387;

/// The kinds of call progress tone the phone plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ToneKind {
    Dial,
    Ringback,
    Busy,
    Congestion,
    CallWaiting,
}

impl ToneKind {
    pub const ALL: [ToneKind; 5] = [
        ToneKind::Dial,
        ToneKind::Ringback,
        ToneKind::Busy,
        ToneKind::Congestion,
        ToneKind::CallWaiting,
    ];

    /// Which tone a user-defined CPT replaces, from its `name` (case-insensitive words:
    /// "dial", "ringback"/"ring back"/"alert", "busy", "congestion"/"reorder"/"fast busy",
    /// "waiting").
    pub fn from_name(name: &str) -> Option<ToneKind> {
        let n = name.to_ascii_lowercase();
        if n.contains("waiting") {
            Some(ToneKind::CallWaiting)
        } else if n.contains("congestion") || n.contains("reorder") || n.contains("fast busy") {
            Some(ToneKind::Congestion)
        } else if n.contains("busy") {
            Some(ToneKind::Busy)
        } else if n.contains("ringback") || n.contains("ring back") || n.contains("alert") {
            Some(ToneKind::Ringback)
        } else if n.contains("dial") {
            Some(ToneKind::Dial)
        } else {
            None
        }
    }
}

/// How a tone is switched on and off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cadence {
    /// Always on.
    Continuous,
    /// (on ms, off ms) pairs repeated forever.
    Repeat(Vec<(u32, u32)>),
    /// (on ms, off ms) pairs played once, then silence.
    Burst(Vec<(u32, u32)>),
}

/// One call progress tone: up to two frequencies with their levels, and a cadence.
#[derive(Debug, Clone, PartialEq)]
pub struct ToneSpec {
    /// (Hz, dBm0) per component; one or two.
    pub components: Vec<(f64, f64)>,
    pub cadence: Cadence,
}

impl ToneSpec {
    fn new(freqs: &[u32], level: f64, cadence: Cadence) -> ToneSpec {
        ToneSpec {
            components: freqs.iter().map(|f| (f64::from(*f), level)).collect(),
            cadence,
        }
    }
}

/// The countries of Table 3-9 (`voip/regional_settings/selected_country`).
pub const COUNTRIES: [&str; 14] = [
    "Israel",
    "China",
    "France",
    "Germany",
    "Netherlands",
    "UK",
    "Brazil",
    "Italy",
    "Argentina",
    "Portugal",
    "Russia",
    "Australia",
    "USA",
    "India",
];

fn rep(p: &[(u32, u32)]) -> Cadence {
    Cadence::Repeat(p.to_vec())
}
fn burst(p: &[(u32, u32)]) -> Cadence {
    Cadence::Burst(p.to_vec())
}

/// The built-in tone of `kind` for `country` (a name of [`COUNTRIES`]).
///
/// Sources, checked entry by entry (2026-11-23; table and choices in docs/media.md):
/// [A] Asterisk `configs/samples/indications.conf.sample` and [D] DAHDI `zonedata.c`
/// (dahdi-tools), both taken from ITU-T E.180 Supplement 2 / the ITU Operational Bulletin
/// list "Various tones used in national networks" (tones-0203). Levels are not given by
/// either source: -13 dBm0 per component except where ANSI T1.401 gives other levels (USA);
/// ringback of the two-frequency "400+450"-style tones at -19 dBm0.
pub fn country_tone(country: &str, kind: ToneKind) -> Option<ToneSpec> {
    use ToneKind::*;
    let c = Cadence::Continuous;
    let t = |f: &[u32], lvl: f64, cad: Cadence| Some(ToneSpec::new(f, lvl, cad));
    match (country, kind) {
        // USA: [A] = [D]; levels from ANSI T1.401 (precise tone plan). Call waiting
        // 440/300 then 10 s off: one burst here (the phone repeats it per its own timer).
        ("USA", Dial) => t(&[350, 440], -13.0, c),
        ("USA", Ringback) => t(&[440, 480], -19.0, rep(&[(2000, 4000)])),
        ("USA", Busy) => t(&[480, 620], -24.0, rep(&[(500, 500)])),
        ("USA", Congestion) => t(&[480, 620], -24.0, rep(&[(250, 250)])),
        ("USA", CallWaiting) => t(&[440], -13.0, burst(&[(300, 0)])),
        // UK: [A] = [D] (BT SIN 350).
        ("UK", Dial) => t(&[350, 440], -13.0, c),
        ("UK", Ringback) => t(&[400, 450], -19.0, rep(&[(400, 200), (400, 2000)])),
        ("UK", Busy) => t(&[400], -13.0, rep(&[(375, 375)])),
        ("UK", Congestion) => t(&[400], -13.0, rep(&[(400, 350), (225, 525)])),
        ("UK", CallWaiting) => t(&[400], -13.0, burst(&[(100, 0)])),
        // Germany: [A] = [D].
        ("Germany", Dial) => t(&[425], -13.0, c),
        ("Germany", Ringback) => t(&[425], -13.0, rep(&[(1000, 4000)])),
        ("Germany", Busy) => t(&[425], -13.0, rep(&[(480, 480)])),
        ("Germany", Congestion) => t(&[425], -13.0, rep(&[(240, 240)])),
        ("Germany", CallWaiting) => t(&[425], -13.0, burst(&[(200, 200), (200, 0)])),
        // France: [A] = [D]; the ITU list gives no congestion tone, both use 440 250/250
        // (was 500/500 here, the same as busy).
        ("France", Dial) => t(&[440], -13.0, c),
        ("France", Ringback) => t(&[440], -13.0, rep(&[(1500, 3500)])),
        ("France", Busy) => t(&[440], -13.0, rep(&[(500, 500)])),
        ("France", Congestion) => t(&[440], -13.0, rep(&[(250, 250)])),
        ("France", CallWaiting) => t(&[440], -13.0, burst(&[(300, 0)])),
        // Netherlands: [A] = [D].
        ("Netherlands", Dial) => t(&[425], -13.0, c),
        ("Netherlands", Ringback) => t(&[425], -13.0, rep(&[(1000, 4000)])),
        ("Netherlands", Busy) => t(&[425], -13.0, rep(&[(500, 500)])),
        ("Netherlands", Congestion) => t(&[425], -13.0, rep(&[(250, 250)])),
        ("Netherlands", CallWaiting) => t(&[425], -13.0, burst(&[(500, 0)])),
        // Italy: [A] = [D].
        ("Italy", Dial) => t(&[425], -13.0, rep(&[(200, 200), (600, 1000)])),
        ("Italy", Ringback) => t(&[425], -13.0, rep(&[(1000, 4000)])),
        ("Italy", Busy) => t(&[425], -13.0, rep(&[(500, 500)])),
        ("Italy", Congestion) => t(&[425], -13.0, rep(&[(200, 200)])),
        ("Italy", CallWaiting) => t(&[425], -13.0, burst(&[(400, 100), (250, 100), (150, 0)])),
        // Israel: [A] = [D]: 414 Hz (was 400 Hz here); call waiting 100/100/100/100/600
        // (was a single 300 ms burst).
        ("Israel", Dial) => t(&[414], -13.0, c),
        ("Israel", Ringback) => t(&[414], -13.0, rep(&[(1000, 3000)])),
        ("Israel", Busy) => t(&[414], -13.0, rep(&[(500, 500)])),
        ("Israel", Congestion) => t(&[414], -13.0, rep(&[(250, 250)])),
        ("Israel", CallWaiting) => t(&[414], -13.0, burst(&[(100, 100), (100, 100), (600, 0)])),
        // China: [A] = [D].
        ("China", Dial) => t(&[450], -13.0, c),
        ("China", Ringback) => t(&[450], -13.0, rep(&[(1000, 4000)])),
        ("China", Busy) => t(&[450], -13.0, rep(&[(350, 350)])),
        ("China", Congestion) => t(&[450], -13.0, rep(&[(700, 700)])),
        ("China", CallWaiting) => t(&[450], -13.0, burst(&[(400, 0)])),
        // Brazil: [A] = [D]; congestion starts with the short element 250/250 then 750/250
        // (was the same cycle started at the long one); call waiting 50 on / 1000 off,
        // played twice.
        ("Brazil", Dial) => t(&[425], -13.0, c),
        ("Brazil", Ringback) => t(&[425], -13.0, rep(&[(1000, 4000)])),
        ("Brazil", Busy) => t(&[425], -13.0, rep(&[(250, 250)])),
        ("Brazil", Congestion) => t(&[425], -13.0, rep(&[(250, 250), (750, 250)])),
        ("Brazil", CallWaiting) => t(&[425], -13.0, burst(&[(50, 1000), (50, 0)])),
        // Argentina: [D] only (not in [A]): busy 300/300 (was 300/200 here).
        ("Argentina", Dial) => t(&[425], -13.0, c),
        ("Argentina", Ringback) => t(&[425], -13.0, rep(&[(1000, 4500)])),
        ("Argentina", Busy) => t(&[425], -13.0, rep(&[(300, 300)])),
        ("Argentina", Congestion) => t(&[425], -13.0, rep(&[(200, 300)])),
        ("Argentina", CallWaiting) => t(&[425], -13.0, burst(&[(200, 0)])),
        // Portugal: [A] = [D] except call waiting: [D] 425 Hz 200,200,200 then 5 s off
        // (its string lacks the 0/200 gaps; read as 200 on, 200 off, 200 on), [A] 440 Hz
        // 300 on 10 s off, which is the North American entry. We keep [D]'s.
        ("Portugal", Dial) => t(&[425], -13.0, c),
        ("Portugal", Ringback) => t(&[425], -13.0, rep(&[(1000, 5000)])),
        ("Portugal", Busy) => t(&[425], -13.0, rep(&[(500, 500)])),
        ("Portugal", Congestion) => t(&[425], -13.0, rep(&[(200, 200)])),
        ("Portugal", CallWaiting) => t(&[425], -13.0, burst(&[(200, 200), (200, 0)])),
        // Russia: [A] = [D] (GOST 45.223-2001): ringback 1000/4000 (was 800/3200 here).
        ("Russia", Dial) => t(&[425], -13.0, c),
        ("Russia", Ringback) => t(&[425], -13.0, rep(&[(1000, 4000)])),
        ("Russia", Busy) => t(&[425], -13.0, rep(&[(350, 350)])),
        ("Russia", Congestion) => t(&[425], -13.0, rep(&[(175, 175)])),
        ("Russia", CallWaiting) => t(&[425], -13.0, burst(&[(200, 0)])),
        // Australia: [A] = [D] (ACIF S002): ringback 413+438 (was 400+450, which [A] lists
        // only for calls to Telstra mobiles); congestion 375/375 (both sources note the
        // level should drop 10 dB every other burst; not modelled). Call waiting: [A]
        // 200/200/200, [D] 100/200/200; we keep [A]'s, which cites S002.
        ("Australia", Dial) => t(&[413, 438], -13.0, c),
        ("Australia", Ringback) => t(&[413, 438], -19.0, rep(&[(400, 200), (400, 2000)])),
        ("Australia", Busy) => t(&[425], -13.0, rep(&[(375, 375)])),
        ("Australia", Congestion) => t(&[425], -13.0, rep(&[(375, 375)])),
        ("Australia", CallWaiting) => t(&[425], -13.0, burst(&[(200, 200), (200, 0)])),
        // India: [A] = [D]; dial and ringback are 400 Hz modulated by 25 Hz ("400*25"),
        // given as the pair 375+425.
        ("India", Dial) => t(&[375, 425], -13.0, c),
        ("India", Ringback) => t(&[375, 425], -19.0, rep(&[(400, 200), (400, 2000)])),
        ("India", Busy) => t(&[400], -13.0, rep(&[(750, 750)])),
        ("India", Congestion) => t(&[400], -13.0, rep(&[(250, 250)])),
        ("India", CallWaiting) => t(&[400], -13.0, burst(&[(200, 100), (200, 0)])),
        _ => None,
    }
}

/// A configuration value that does not make a valid tone table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad tone setting {key} = {value:?}")]
pub struct ToneConfigError {
    pub key: String,
    pub value: String,
}

/// One user-defined CPT entry (`voip/regional_settings/call_progress_tones/i/...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserTone {
    pub index: u32,
    pub name: String,
    /// 0 continuous, 1 cadence, 2 burst.
    pub cadence: u8,
    pub frequency_a: u32,
    pub frequency_b: u32,
    /// In -dBm0 (63 = mute).
    pub level_a: u32,
    pub level_b: u32,
    /// tone_on_0..3 / tone_off_0..3 in 10 ms units.
    pub on: [u32; 4],
    pub off: [u32; 4],
}

impl UserTone {
    /// The generator description, or None for an entry with no audible component.
    pub fn spec(&self) -> Option<ToneSpec> {
        let mut components = Vec::new();
        for (f, l) in [
            (self.frequency_a, self.level_a),
            (self.frequency_b, self.level_b),
        ] {
            if f != 0 && l < 63 {
                components.push((f64::from(f), -f64::from(l)));
            }
        }
        if components.is_empty() {
            return None;
        }
        let pairs: Vec<(u32, u32)> = self
            .on
            .iter()
            .zip(&self.off)
            .filter(|(on, _)| **on > 0)
            .map(|(on, off)| (on * 10, off * 10))
            .collect();
        let cadence = match self.cadence {
            0 => Cadence::Continuous,
            1 if !pairs.is_empty() => Cadence::Repeat(pairs),
            // Burst: tone_on_0 played once; only tone_off_0 matters (the silence
            // required after it for detection).
            2 if self.on[0] > 0 => Cadence::Burst(vec![(self.on[0] * 10, self.off[0] * 10)]),
            _ => return None,
        };
        Some(ToneSpec {
            components,
            cadence,
        })
    }
}

/// The phone's tone table: country tones, overridden by enabled user-defined CPTs when
/// `voip/regional_settings/use_config_file_values` is 1; call-waiting tone switch.
#[derive(Debug, Clone, PartialEq)]
pub struct ToneTable {
    pub country: String,
    pub user: Vec<UserTone>,
    pub use_user: bool,
    pub call_waiting_tone: bool,
}

fn schema_default(key: &str) -> Option<String> {
    match ac_cfg::Schema::get().lookup(key, None) {
        ac_cfg::schema::Lookup::Found(def, _) => Some(def.default.to_owned()),
        _ => None,
    }
}

impl ToneTable {
    /// Factory defaults from `ac_cfg::schema`.
    pub fn defaults() -> Result<ToneTable, ToneConfigError> {
        Self::from_lookup(schema_default)
    }

    /// From a configuration; keys not set take their schema defaults.
    pub fn from_config(cfg: &Config) -> Result<ToneTable, ToneConfigError> {
        Self::from_lookup(|k| {
            cfg.get_raw(k)
                .map(str::to_owned)
                .or_else(|| schema_default(k))
        })
    }

    fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<ToneTable, ToneConfigError> {
        let raw = |k: &str| {
            get(k).ok_or_else(|| ToneConfigError {
                key: k.to_owned(),
                value: String::new(),
            })
        };
        let num = |k: &str, max: u32| -> Result<u32, ToneConfigError> {
            let v = raw(k)?;
            v.trim()
                .parse::<u32>()
                .ok()
                .filter(|n| *n <= max)
                .ok_or(ToneConfigError {
                    key: k.to_owned(),
                    value: v,
                })
        };
        let country = raw("voip/regional_settings/selected_country")?;
        if !COUNTRIES.contains(&country.as_str()) {
            return Err(ToneConfigError {
                key: "voip/regional_settings/selected_country".into(),
                value: country,
            });
        }
        let use_user = num("voip/regional_settings/use_config_file_values", 1)? == 1;
        let call_waiting_tone = num("voip/services/call_waiting/generate_tone/enabled", 1)? == 1;
        let mut user = Vec::new();
        for i in 0..10u32 {
            let p = format!("voip/regional_settings/call_progress_tones/{i}/");
            if num(&format!("{p}enabled"), 1)? != 1 {
                continue;
            }
            let mut on = [0; 4];
            let mut off = [0; 4];
            for j in 0..4 {
                on[j] = num(&format!("{p}tone_on_{j}"), 10_000)?;
                off[j] = num(&format!("{p}tone_off_{j}"), 10_000)?;
            }
            let fa = num(&format!("{p}frequency_a"), 1980)?;
            let fb = num(&format!("{p}frequency_b"), 3000)?;
            user.push(UserTone {
                index: i,
                name: raw(&format!("{p}name"))?,
                cadence: num(&format!("{p}cadence"), 2)? as u8,
                frequency_a: fa,
                frequency_b: fb,
                level_a: num(&format!("{p}frequency_a_level"), 63)?,
                level_b: num(&format!("{p}frequency_b_level"), 63)?,
                on,
                off,
            });
        }
        Ok(ToneTable {
            country,
            user,
            use_user,
            call_waiting_tone,
        })
    }

    /// The tone to play for `kind`: a user-defined one whose name names it (when user
    /// values are in use), else the country's. None for the call-waiting tone when it is
    /// switched off.
    pub fn tone(&self, kind: ToneKind) -> Option<ToneSpec> {
        if kind == ToneKind::CallWaiting && !self.call_waiting_tone {
            return None;
        }
        if self.use_user {
            if let Some(s) = self
                .user
                .iter()
                .find(|u| ToneKind::from_name(&u.name) == Some(kind))
                .and_then(UserTone::spec)
            {
                return Some(s);
            }
        }
        country_tone(&self.country, kind)
    }
}

/// Sans-IO tone generator at 8 or 16 kHz: fills frames, following the cadence.
#[derive(Debug, Clone)]
pub struct TonePlayer {
    spec: ToneSpec,
    rate: u32,
    /// Samples since the start.
    pos: u64,
    /// Cadence period in samples, and the on/off boundaries.
    steps: Vec<(u64, u64)>,
    period: u64,
    phase: Vec<f64>,
    amp: Vec<f64>,
    incr: Vec<f64>,
}

impl TonePlayer {
    pub fn new(spec: ToneSpec, rate: u32) -> TonePlayer {
        let ms = |v: u32| u64::from(v) * u64::from(rate) / 1000;
        let pairs = match &spec.cadence {
            Cadence::Continuous => Vec::new(),
            Cadence::Repeat(p) | Cadence::Burst(p) => p.clone(),
        };
        let steps: Vec<(u64, u64)> = pairs.iter().map(|(a, b)| (ms(*a), ms(*b))).collect();
        let period = steps.iter().map(|(a, b)| a + b).sum();
        let sr = f64::from(rate);
        TonePlayer {
            amp: spec
                .components
                .iter()
                .map(|(_, l)| DBM0_PEAK * 10f64.powf(l / 20.0))
                .collect(),
            incr: spec
                .components
                .iter()
                .map(|(f, _)| 2.0 * std::f64::consts::PI * f / sr)
                .collect(),
            phase: vec![0.0; spec.components.len()],
            spec,
            rate,
            pos: 0,
            steps,
            period,
        }
    }

    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Whether the tone is sounding at sample `pos`.
    fn on_at(&self, pos: u64) -> bool {
        match &self.spec.cadence {
            Cadence::Continuous => true,
            Cadence::Burst(_) if pos >= self.period => false,
            _ if self.period == 0 => false,
            _ => {
                let mut t = pos % self.period;
                for (on, off) in &self.steps {
                    if t < *on {
                        return true;
                    }
                    t -= on;
                    if t < *off {
                        return false;
                    }
                    t -= off;
                }
                false
            }
        }
    }

    /// True once a burst tone has finished.
    pub fn finished(&self) -> bool {
        matches!(self.spec.cadence, Cadence::Burst(_)) && self.pos >= self.period
    }

    /// Fills `out` with the next samples (silence in the off parts).
    pub fn fill(&mut self, out: &mut [i16]) {
        for s in out {
            let on = self.on_at(self.pos);
            let mut v = 0.0;
            for k in 0..self.phase.len() {
                if on {
                    v += self.amp[k] * self.phase[k].sin();
                }
                self.phase[k] += self.incr[k];
                if self.phase[k] > 2.0 * std::f64::consts::PI {
                    self.phase[k] -= 2.0 * std::f64::consts::PI;
                }
            }
            *s = v.round().clamp(-32768.0, 32767.0) as i16;
            self.pos += 1;
        }
    }
}

/// One on or off stretch seen by the [`ToneDetector`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub on: bool,
    pub ms: u32,
}

/// Detector for a tone of known frequencies (one or two; 8 kHz input): 5 ms blocks; a block
/// is "on" when its projection onto the tone's frequencies holds at least 80 % of its energy
/// and the level is above -45 dBm0; reports the on/off segments and whether the cadence
/// matches a spec.
#[derive(Debug, Clone)]
pub struct ToneDetector {
    /// Angular frequencies per sample (at most two).
    freqs: Vec<f64>,
    block: Vec<f64>,
    cur: Option<(bool, u32)>,
    segments: Vec<Segment>,
}

/// Detector block: 5 ms at 8 kHz.
pub const DETECT_BLOCK: usize = 40;

impl ToneDetector {
    pub fn new(freqs: &[f64]) -> ToneDetector {
        ToneDetector {
            freqs: freqs
                .iter()
                .take(2)
                .map(|f| 2.0 * std::f64::consts::PI * f / 8000.0)
                .collect(),
            block: Vec::with_capacity(DETECT_BLOCK),
            cur: None,
            segments: Vec::new(),
        }
    }

    fn block_on(&self) -> bool {
        let energy: f64 = self.block.iter().map(|v| v * v).sum();
        let min = (DBM0_PEAK * 10f64.powf(-45.0 / 20.0)).powi(2) / 2.0 * DETECT_BLOCK as f64;
        if energy < min {
            return false;
        }
        // Energy of the block's projection onto the tone's sines and cosines (least squares,
        // so close frequency pairs such as 413+438 Hz are measured without cross terms).
        let m = 2 * self.freqs.len();
        let mut g = [[0.0f64; 5]; 4];
        for (i, x) in self.block.iter().enumerate() {
            let mut b = [0.0f64; 4];
            for (j, w) in self.freqs.iter().enumerate() {
                let ph = w * i as f64;
                b[2 * j] = ph.cos();
                b[2 * j + 1] = ph.sin();
            }
            for r in 0..m {
                for c in 0..m {
                    g[r][c] += b[r] * b[c];
                }
                g[r][4] += b[r] * x;
            }
        }
        let rhs: Vec<f64> = (0..m).map(|r| g[r][4]).collect();
        for (r, row) in g.iter_mut().enumerate().take(m) {
            row[r] += 1e-6 * DETECT_BLOCK as f64;
        }
        // Gaussian elimination on the (small, symmetric positive definite) system.
        for col in 0..m {
            for r in 0..m {
                if r != col {
                    let pivot = g[col];
                    let f = g[r][col] / pivot[col];
                    for (v, p) in g[r].iter_mut().zip(pivot).skip(col) {
                        *v -= f * p;
                    }
                }
            }
        }
        let tone: f64 = (0..m).map(|r| g[r][4] / g[r][r] * rhs[r]).sum();
        tone >= 0.8 * energy
    }

    /// Feeds 8 kHz samples.
    pub fn process(&mut self, pcm: &[i16]) {
        for s in pcm {
            self.block.push(f64::from(*s));
            if self.block.len() == DETECT_BLOCK {
                let on = self.block_on();
                self.block.clear();
                self.cur = match self.cur {
                    Some((o, ms)) if o == on => Some((o, ms + 5)),
                    Some((o, ms)) => {
                        self.segments.push(Segment { on: o, ms });
                        Some((on, 5))
                    }
                    None => Some((on, 5)),
                };
            }
        }
    }

    /// Completed segments so far (the current one is not included).
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Whether the completed segments (after the first, which may be cut) contain the
    /// spec's cadence with each duration within `tol_ms`; a continuous tone must be on
    /// for at least 1 s.
    pub fn matches(&self, spec: &ToneSpec, tol_ms: u32) -> bool {
        let mut all = self.segments.clone();
        if let Some((on, ms)) = self.cur {
            all.push(Segment { on, ms });
        }
        let pairs = match &spec.cadence {
            Cadence::Continuous => return all.iter().any(|s| s.on && s.ms >= 1000),
            Cadence::Repeat(p) => p.clone(),
            Cadence::Burst(p) => p.clone(),
        };
        let want: Vec<Segment> = pairs
            .iter()
            .flat_map(|(on, off)| {
                [
                    Segment { on: true, ms: *on },
                    Segment {
                        on: false,
                        ms: *off,
                    },
                ]
            })
            .filter(|s| s.ms > 0)
            .collect();
        let close = |a: &Segment, b: &Segment| a.on == b.on && a.ms.abs_diff(b.ms) <= tol_ms;
        if matches!(spec.cadence, Cadence::Burst(_)) {
            // The last off of a burst runs into the trailing silence.
            let n = want.len();
            return all.windows(n).any(|w| {
                w.iter()
                    .zip(&want)
                    .enumerate()
                    .all(|(i, (a, b))| close(a, b) || (i == n - 1 && !a.on && a.ms >= b.ms))
            });
        }
        all.windows(want.len())
            .skip(1)
            .any(|w| w.iter().zip(&want).all(|(a, b)| close(a, b)))
    }
}
