//! ITU-T G.722 7 kHz audio coding at 64 kbit/s: sub-band ADPCM.
//!
//! Written from the block descriptions of ITU-T G.722 (11/1988) section 3 and 4 (transmit and
//! receive QMF, QUANTL/QUANTH, INVQAL/INVQBL/INVQAH, LOGSCL/LOGSCH, SCALEL/SCALEH, the
//! adaptive predictor blocks RECONS, PARREC, UPPOL1, UPPOL2, UPZERO, DELAYA, FILTEP, FILTEZ,
//! PREDIC) and its tables. Input and output are 16 kHz, 16-bit linear samples; each pair of
//! samples becomes one 8-bit code (bits 7-6 higher sub-band, bits 5-0 lower sub-band).
//! The decoder supports the three modes of G.722 (64, 56 and 48 kbit/s: 6, 5 or 4 lower-band
//! bits used). Bit-exact with the ITU-T G.191 STL vectors (tests/g722_stl.rs).

/// Decoder mode (G.722 1.4): how many lower sub-band bits carry audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// 64 kbit/s of audio (6 lower-band bits).
    Mode1,
    /// 56 kbit/s of audio, 8 kbit/s of auxiliary data (5 lower-band bits).
    Mode2,
    /// 48 kbit/s of audio, 16 kbit/s of auxiliary data (4 lower-band bits).
    Mode3,
}

/// QMF coefficients h(0)..h(23) (G.722 Table 11), symmetric.
const QMF: [i32; 24] = [
    3, -11, -11, 53, 12, -156, 32, 362, -210, -805, 951, 3876, 3876, 951, -805, -210, 362, 32,
    -156, 12, 53, -11, -11, 3,
];

/// Lower sub-band quantiser decision levels, scaled by 2^12 (Table 6, levels 1-29).
const Q6: [i32; 31] = [
    0, 35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650, 714, 786, 858, 940,
    1023, 1121, 1219, 1339, 1458, 1612, 1765, 1980, 2195, 2557, 2919, 0,
];
/// Output code of quantiser interval `mil` for a negative / positive difference.
const ILN: [i32; 31] = [
    0, 63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11,
    10, 9, 8, 7, 6, 5, 4,
];
const ILP: [i32; 31] = [
    0, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 39,
    38, 37, 36, 35, 34, 33, 32,
];
/// Inverse quantiser outputs (Table 7), 6-, 5-, 4- and 2-bit.
const QM6: [i32; 64] = [
    -136, -136, -136, -136, -24808, -21904, -19008, -16704, -14984, -13512, -12280, -11192, -10232,
    -9360, -8576, -7856, -7192, -6576, -6000, -5456, -4944, -4464, -4008, -3576, -3168, -2776,
    -2400, -2032, -1688, -1360, -1040, -728, 24808, 21904, 19008, 16704, 14984, 13512, 12280,
    11192, 10232, 9360, 8576, 7856, 7192, 6576, 6000, 5456, 4944, 4464, 4008, 3576, 3168, 2776,
    2400, 2032, 1688, 1360, 1040, 728, 432, 136, -432, -136,
];
const QM5: [i32; 32] = [
    -280, -280, -23352, -17560, -14120, -11664, -9752, -8184, -6864, -5712, -4696, -3784, -2960,
    -2208, -1520, -880, 23352, 17560, 14120, 11664, 9752, 8184, 6864, 5712, 4696, 3784, 2960, 2208,
    1520, 880, 280, -280,
];
const QM4: [i32; 16] = [
    0, -20456, -12896, -8968, -6288, -4240, -2584, -1200, 20456, 12896, 8968, 6288, 4240, 2584,
    1200, 0,
];
const QM2: [i32; 4] = [-7408, -1616, 7408, 1616];
/// Log scale factor multipliers (Table 8 via RIL4) and higher band (Table 9).
const WL: [i32; 8] = [-60, -30, 58, 172, 334, 538, 1198, 3042];
const RL42: [usize; 16] = [0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0];
const WH: [i32; 3] = [0, -214, 798];
const RH2: [usize; 4] = [2, 1, 2, 1];
const IHN: [i32; 3] = [0, 1, 0];
const IHP: [i32; 3] = [0, 3, 2];
/// Inverse log table for SCALEL/SCALEH (Table 10).
const ILB: [i32; 32] = [
    2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834,
    2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371, 3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008,
];

/// SCALEL/SCALEH (G.722 3.5): the scale factor for every nb >> 6 up to nb_max >> 6.
const fn det_table<const N: usize>(shift_base: i32) -> [i32; N] {
    let mut t = [0; N];
    let mut k = 0;
    while k < N {
        let nb = (k as i32) << 6;
        let wd1 = ILB[((nb >> 6) & 31) as usize];
        let wd2 = shift_base - (nb >> 11);
        t[k] = (if wd2 >= 0 { wd1 >> wd2 } else { wd1 << -wd2 }) << 2;
        k += 1;
    }
    t
}
/// Lower band: nb <= 18432.
const DET_L: [i32; 18432 / 64 + 1] = det_table(8);
/// Higher band: nb <= 22528.
const DET_H: [i32; 22528 / 64 + 1] = det_table(10);

/// Coefficients in the order the split delay lines meet them: `QMF_B[i]` multiplies the
/// older sample of pair i (oldest pair first), `QMF_A[i]` the newer one.
const QMF_B: [i16; 12] = {
    let mut c = [0; 12];
    let mut i = 0;
    while i < 12 {
        c[i] = QMF[2 * i] as i16;
        i += 1;
    }
    c
};
const QMF_A: [i16; 12] = {
    let mut c = [0; 12];
    let mut i = 0;
    while i < 12 {
        c[i] = QMF[22 - 2 * i] as i16;
        i += 1;
    }
    c
};

/// QMF delay line of the last 12 sample pairs, the older and the newer sample of each pair
/// in separate lines, each kept twice over in a 24-entry ring so that its 12 newest values
/// are one contiguous window (no shifting per pair). The samples fit 16 bits (PCM input;
/// in the decoder rl + rh and rl - rh with |rl|, |rh| <= 16384), so the dot products are
/// 16 x 16 -> 32-bit multiply-adds; no sum can overflow (32768 x sum|h| < 2^29).
#[derive(Debug, Clone, Default)]
struct QmfLine {
    older: [i16; 24],
    newer: [i16; 24],
    /// Slot the next pair is written to (0..12).
    head: usize,
}

#[inline(always)]
fn dot12(x: &[i16; 12], h: &[i16; 12]) -> i32 {
    let mut s = 0i32;
    for i in 0..12 {
        s += i32::from(x[i]) * i32::from(h[i]);
    }
    s
}

impl QmfLine {
    /// Shifts in a pair (older sample first) and returns (sum over the newer samples of each
    /// pair times the even-indexed coefficients reversed, sum over the older samples).
    #[inline(always)]
    fn push(&mut self, older: i16, newer: i16) -> (i32, i32) {
        let h = self.head % 12;
        self.older[h] = older;
        self.older[h + 12] = older;
        self.newer[h] = newer;
        self.newer[h + 12] = newer;
        self.head = (h + 1) % 12;
        // The window starts after the pair just written: oldest first, newest last.
        let (Ok(o), Ok(n)) = (
            <&[i16; 12]>::try_from(&self.older[h + 1..h + 13]),
            <&[i16; 12]>::try_from(&self.newer[h + 1..h + 13]),
        ) else {
            unreachable!("h + 13 <= 24")
        };
        (dot12(n, &QMF_A), dot12(o, &QMF_B))
    }
}

/// (x * 32512) >> 15, i.e. x (1 - 2^-7) floored, without a multiply:
/// floor(x - x/128) = x + floor(-x/128).
#[inline(always)]
fn leak7(x: i32) -> i32 {
    x + ((-x) >> 7)
}

/// (x * 32640) >> 15, i.e. x (1 - 2^-8) floored: x + floor(-x/256).
#[inline(always)]
fn leak8(x: i32) -> i32 {
    x + ((-x) >> 8)
}

#[inline]
fn sat(x: i32) -> i32 {
    x.clamp(-32768, 32767)
}

/// Adaptive predictor state of one sub-band (G.722 3.6).
#[derive(Debug, Clone)]
struct Band {
    /// Predictor output s(n).
    s: i32,
    /// Zero-section output sz(n).
    sz: i32,
    /// Reconstructed signal r(n-1), r(n-2).
    r: [i32; 2],
    /// Partially reconstructed signal p(n-1), p(n-2).
    p: [i32; 2],
    /// Pole coefficients a1, a2.
    a: [i32; 2],
    /// Zero coefficients b1..b6.
    b: [i32; 6],
    /// Quantised differences d(n-1)..d(n-6).
    d: [i32; 6],
    /// Log scale factor.
    nb: i32,
    /// Scale factor.
    det: i32,
}

impl Band {
    fn new(det: i32) -> Self {
        Band {
            s: 0,
            sz: 0,
            r: [0; 2],
            p: [0; 2],
            a: [0; 2],
            b: [0; 6],
            d: [0; 6],
            nb: 0,
            det,
        }
    }

    /// LOGSCL + SCALEL (or LOGSCH + SCALEH): adapts the scale factor. SCALEL/SCALEH depend
    /// on nb >> 6 only, so the scale factor comes from a table built from ILB at compile time.
    #[inline(always)]
    fn adapt_scale<const N: usize>(&mut self, w: i32, nb_max: i32, det: &[i32; N]) {
        let nb = leak7(self.nb) + w;
        self.nb = nb.clamp(0, nb_max);
        self.det = det[(self.nb >> 6) as usize % N];
    }

    /// Blocks RECONS .. PREDIC for one quantised difference `d`.
    #[inline(always)]
    fn predict(&mut self, d: i32) {
        // RECONS, PARREC
        let r = sat(self.s + d);
        let p = sat(self.sz + d);
        let sg0 = p < 0;
        let sg1 = self.p[0] < 0;
        let sg2 = self.p[1] < 0;
        // UPPOL2: a2 = (1 - 2^-7) a2 - 2^-7 f(a1) sgn(p0 p1) + 2^-7 sgn(p0 p2)
        // (a1 << 2 can exceed 16 bits: saturated as the ITU-T basic operators do.)
        let wd1 = sat(self.a[0] << 2);
        let wd2 = if sg0 == sg1 { sat(-wd1) } else { wd1 } >> 7;
        let wd3 = if sg0 == sg2 { 128 } else { -128 };
        let wd5 = leak7(self.a[1]);
        // |sum| < 2^16, so the 16-bit saturation is subsumed by the +-12288 limit.
        let a2 = (wd2 + wd3 + wd5).clamp(-12288, 12288);
        // UPPOL1: a1 = (1 - 2^-8) a1 + 3 2^-8 sgn(p0 p1), |a1| <= 1 - 2^-4 - a2.
        // |a1| <= 15360 keeps every intermediate inside 16 bits: no saturation needed.
        let wd1 = if sg0 == sg1 { 192 } else { -192 };
        let wd2 = leak8(self.a[0]);
        let lim = 15360 - a2;
        let a1 = (wd1 + wd2).clamp(-lim, lim);
        // UPZERO: b_i = (1 - 2^-8) b_i + 2^-7 sgn(d0 d_i). For |b_i| <= 32768 the result stays
        // in [-32768, 32767] (-32640 - 128 and 32639 + 128 at the extremes): no saturation.
        let step = if d == 0 { 0 } else { 128 };
        for i in 0..6 {
            let wd2 = if (self.d[i] ^ d) < 0 { -step } else { step };
            let wd3 = leak8(self.b[i]);
            self.b[i] = wd2 + wd3;
        }
        // DELAYA
        self.d.copy_within(0..5, 1);
        self.d[0] = d;
        self.a = [a1, a2];
        self.p = [p, self.p[0]];
        self.r = [r, self.r[0]];
        // FILTEP: |a1| <= 15360 and |a2| <= 12288, so neither product nor sum can leave 16 bits.
        let sp =
            ((self.a[0] * sat(self.r[0] << 1)) >> 15) + ((self.a[1] * sat(self.r[1] << 1)) >> 15);
        // FILTEZ: sz = sum of b_i d_i with a 16-bit saturating add after each term (the
        // ITU-T basic operator add(), i.e. i16::saturating_add).
        let mut sz = 0i16;
        for i in 0..6 {
            // Only -32768 * -32768 can overflow the product: clamp the top.
            let p = ((self.b[i] * sat(self.d[i] << 1)) >> 15).min(32767) as i16;
            sz = sz.saturating_add(p);
        }
        self.sz = i32::from(sz);
        // PREDIC
        self.s = sat(sp + self.sz);
    }
}

/// G.722 encoder state.
#[derive(Debug, Clone)]
pub struct Encoder {
    x: QmfLine,
    low: Band,
    high: Band,
}

impl Default for Encoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Encoder {
    /// An encoder in the reset state (G.722 3.1).
    pub fn new() -> Self {
        Encoder {
            x: QmfLine::default(),
            low: Band::new(32),
            high: Band::new(8),
        }
    }

    /// Encodes two 16 kHz samples (older first) to one code.
    #[inline]
    pub fn encode_pair(&mut self, s0: i16, s1: i16) -> u8 {
        // Transmit QMF (G.722 3.2): newest sample at the end of the delay line.
        let (sum_a, sum_b) = self.x.push(s0, s1);
        let xl = (sum_a + sum_b) >> 14;
        let xh = (sum_a - sum_b) >> 14;

        // Lower sub-band: SUBTRA, QUANTL
        let el = sat(xl - self.low.s);
        let wd = if el >= 0 { el } else { -(el + 1) };
        let mut mil = 1;
        while mil < 30 && wd >= (Q6[mil] * self.low.det) >> 12 {
            mil += 1;
        }
        let il = if el < 0 { ILN[mil] } else { ILP[mil] };
        // INVQAL (4-bit truncated code for the predictor), LOGSCL, SCALEL, predictor
        let ril = (il >> 2) as usize;
        let dl = (self.low.det * QM4[ril]) >> 15;
        self.low.adapt_scale(WL[RL42[ril]], 18432, &DET_L);
        self.low.predict(dl);

        // Higher sub-band: SUBTRA, QUANTH
        let eh = sat(xh - self.high.s);
        let wd = if eh >= 0 { eh } else { -(eh + 1) };
        let mih = if wd >= (564 * self.high.det) >> 12 {
            2
        } else {
            1
        };
        let ih = if eh < 0 { IHN[mih] } else { IHP[mih] };
        // INVQAH, LOGSCH, SCALEH, predictor
        let dh = (self.high.det * QM2[ih as usize]) >> 15;
        self.high.adapt_scale(WH[RH2[ih as usize]], 22528, &DET_H);
        self.high.predict(dh);

        ((ih << 6) | il) as u8
    }

    /// Encodes 16 kHz PCM (even length) to `pcm.len() / 2` codes appended to `out`.
    pub fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) {
        out.reserve(pcm.len() / 2);
        for pair in pcm.chunks_exact(2) {
            out.push(self.encode_pair(pair[0], pair[1]));
        }
    }
}

/// G.722 decoder state.
#[derive(Debug, Clone)]
pub struct Decoder {
    mode: Mode,
    x: QmfLine,
    low: Band,
    high: Band,
}

impl Decoder {
    /// A decoder in the reset state.
    pub fn new(mode: Mode) -> Self {
        Decoder {
            mode,
            x: QmfLine::default(),
            low: Band::new(32),
            high: Band::new(8),
        }
    }

    /// Changes the mode (the mode may change at any octet, G.722 1.4).
    pub fn set_mode(&mut self, mode: Mode) {
        self.mode = mode;
    }

    /// The current mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Decodes one code to two 16 kHz samples (older first).
    #[inline]
    pub fn decode_code(&mut self, code: u8) -> [i16; 2] {
        match self.mode {
            Mode::Mode1 => self.decode_mode::<1>(code),
            Mode::Mode2 => self.decode_mode::<2>(code),
            Mode::Mode3 => self.decode_mode::<3>(code),
        }
    }

    /// One code in mode `M` (the mode is a constant so the loop below is specialised).
    #[inline(always)]
    fn decode_mode<const M: u8>(&mut self, code: u8) -> [i16; 2] {
        let il = i32::from(code & 0x3f);
        let ih = usize::from(code >> 6);
        // INVQBL: mode-dependent inverse quantiser for the output.
        let wd2 = match M {
            1 => QM6[il as usize],
            2 => QM5[(il >> 1) as usize],
            _ => QM4[(il >> 2) as usize],
        };
        let rl = (self.low.s + ((self.low.det * wd2) >> 15)).clamp(-16384, 16383);
        // INVQAL with the 4-bit code for the predictor, as in the encoder.
        let ril = (il >> 2) as usize;
        let dl = (self.low.det * QM4[ril]) >> 15;
        self.low.adapt_scale(WL[RL42[ril]], 18432, &DET_L);
        self.low.predict(dl);

        let dh = (self.high.det * QM2[ih]) >> 15;
        let rh = (dh + self.high.s).clamp(-16384, 16383);
        self.high.adapt_scale(WH[RH2[ih]], 22528, &DET_H);
        self.high.predict(dh);

        // Receive QMF (G.722 4.4).
        // rl, rh in [-16384, 16383]: rl + rh and rl - rh both fit 16 bits.
        let (out1, out2) = self.x.push((rl + rh) as i16, (rl - rh) as i16);
        [sat(out1 >> 11) as i16, sat(out2 >> 11) as i16]
    }

    /// Decodes codes, appending two samples per code to `out`.
    pub fn decode(&mut self, codes: &[u8], out: &mut Vec<i16>) {
        out.reserve(codes.len() * 2);
        for &c in codes {
            out.extend_from_slice(&self.decode_code(c));
        }
    }

    /// Decodes codes into `out`, which must hold two samples per code; returns the number of
    /// samples written.
    pub fn decode_into(&mut self, codes: &[u8], out: &mut [i16]) -> usize {
        let n = codes.len().min(out.len() / 2);
        match self.mode {
            Mode::Mode1 => self.decode_loop::<1>(&codes[..n], out),
            Mode::Mode2 => self.decode_loop::<2>(&codes[..n], out),
            Mode::Mode3 => self.decode_loop::<3>(&codes[..n], out),
        }
        n * 2
    }

    fn decode_loop<const M: u8>(&mut self, codes: &[u8], out: &mut [i16]) {
        for (pair, &c) in out.chunks_exact_mut(2).zip(codes) {
            let [a, b] = self.decode_mode::<M>(c);
            pair[0] = a;
            pair[1] = b;
        }
    }
}
