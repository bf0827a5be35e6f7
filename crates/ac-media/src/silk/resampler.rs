//! The SILK SDK decoder's output resampler, for raising the internal rate (8/12/16/24 kHz)
//! to a higher API rate (12 to 48 kHz) the way `SKP_Silk_SDK_Decode` does
//! (`SKP_Silk_resampler.c`: 2x all-pass up-sampler with a notch, or 2x up-sampling followed
//! by a 144-phase 6-tap FIR interpolator; 10 ms batches). Only up-sampling and copy are
//! provided: the phone plays SILK at its internal rate, this serves the SDK test vectors
//! whose references were decoded to another rate.
//!
//! Coefficients from the SDK's `SKP_Silk_resampler_rom.c`.
#![allow(clippy::unreadable_literal)]

use super::SilkError;

const UP2_HQ_0: [i32; 2] = [4280, 33727 - 65536];
const UP2_HQ_1: [i32; 2] = [16295, 54015 - 65536];
const UP2_HQ_NOTCH: [i32; 4] = [7864, -3604, 13107, 28508];
const ORDER_FIR_144: usize = 6;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Copy,
    Up2,
    IirFir,
}

/// Up-sampling resampler state (the SDK's `SKP_Silk_resampler_state_struct`, up-sampling
/// paths only).
#[derive(Debug, Clone)]
pub struct Upsampler {
    kind: Kind,
    s_iir: [i32; 6],
    s_fir: [i16; ORDER_FIR_144],
    inv_ratio_q16: i32,
    batch_size: usize,
}

fn smulwb(a: i32, b: i32) -> i32 {
    let b = i32::from(b as i16);
    ((a >> 16).wrapping_mul(b)).wrapping_add(((a & 0xFFFF).wrapping_mul(b)) >> 16)
}

fn smulww(a: i32, b: i32) -> i32 {
    // SKP_SMULWW: SMULWB plus a times RSHIFT_ROUND(b, 16).
    smulwb(a, b).wrapping_add(a.wrapping_mul(((b >> 15) + 1) >> 1))
}

fn sat16(a: i32) -> i16 {
    a.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
}

impl Upsampler {
    /// A resampler from `fs_in` (8000..=24000, a multiple of 100) to `fs_out` (`fs_out >=
    /// fs_in`, at most 48000).
    pub fn new(fs_in: u32, fs_out: u32) -> Result<Self, SilkError> {
        if !(8000..=24000).contains(&fs_in) || fs_in % 100 != 0 || fs_out < fs_in || fs_out > 48000
        {
            return Err(SilkError::UnsupportedRate(fs_out));
        }
        let (kind, up2) = if fs_out == fs_in {
            (Kind::Copy, 0)
        } else if fs_out == 2 * fs_in {
            (Kind::Up2, 0)
        } else {
            (Kind::IirFir, 1)
        };
        let fs_in_i = fs_in as i32;
        let fs_out_i = fs_out as i32;
        let mut inv_ratio_q16 = ((fs_in_i << (14 + up2)) / fs_out_i) << 2;
        while smulww(inv_ratio_q16, fs_out_i) < fs_in_i << up2 {
            inv_ratio_q16 += 1;
        }
        Ok(Upsampler {
            kind,
            s_iir: [0; 6],
            s_fir: [0; ORDER_FIR_144],
            inv_ratio_q16,
            batch_size: fs_in as usize / 100,
        })
    }

    /// Resample `input`, appending to `out`.
    pub fn process(&mut self, input: &[i16], out: &mut Vec<i16>) {
        match self.kind {
            Kind::Copy => out.extend_from_slice(input),
            Kind::Up2 => {
                let start = out.len();
                out.resize(start + 2 * input.len(), 0);
                up2_hq(&mut self.s_iir, &mut out[start..], input);
            }
            Kind::IirFir => {
                let mut buf = vec![0i16; 2 * self.batch_size + ORDER_FIR_144];
                buf[..ORDER_FIR_144].copy_from_slice(&self.s_fir);
                let mut rest = input;
                loop {
                    let n = rest.len().min(self.batch_size);
                    up2_hq(
                        &mut self.s_iir,
                        &mut buf[ORDER_FIR_144..ORDER_FIR_144 + 2 * n],
                        &rest[..n],
                    );
                    let max_index_q16 = ((n as i32) << 17) as i64;
                    let mut index_q16: i64 = 0;
                    while index_q16 < max_index_q16 {
                        let ix = index_q16 as i32;
                        let t = smulwb(ix & 0xFFFF, 144) as usize;
                        let b = &buf[(ix >> 16) as usize..];
                        let f = &RESAMPLER_FRAC_FIR_144;
                        let taps = [
                            f[t][0],
                            f[t][1],
                            f[t][2],
                            f[143 - t][2],
                            f[143 - t][1],
                            f[143 - t][0],
                        ];
                        let mut r: i32 = 0;
                        for (x, c) in b.iter().zip(taps) {
                            r = r.wrapping_add(i32::from(*x) * i32::from(c));
                        }
                        out.push(sat16(((r >> 14) + 1) >> 1));
                        index_q16 += i64::from(self.inv_ratio_q16);
                    }
                    rest = &rest[n..];
                    buf.copy_within(2 * n..2 * n + ORDER_FIR_144, 0);
                    if rest.is_empty() {
                        break;
                    }
                }
                self.s_fir.copy_from_slice(&buf[..ORDER_FIR_144]);
            }
        }
    }
}

/// 2x up-sampling with two all-pass sections per phase and a notch (`up2_HQ`).
fn up2_hq(s: &mut [i32; 6], out: &mut [i16], input: &[i16]) {
    let smlawb = |a: i32, b: i32, c: i32| a.wrapping_add(smulwb(b, c));
    for (k, &x) in input.iter().enumerate() {
        let in32 = i32::from(x) << 10;
        let y = in32.wrapping_sub(s[0]);
        let xx = smulwb(y, UP2_HQ_0[0]);
        let mut out1 = s[0].wrapping_add(xx);
        s[0] = in32.wrapping_add(xx);
        let y = out1.wrapping_sub(s[1]);
        let xx = smlawb(y, y, UP2_HQ_0[1]);
        let mut out2 = s[1].wrapping_add(xx);
        s[1] = out1.wrapping_add(xx);
        out2 = smlawb(out2, s[5], UP2_HQ_NOTCH[2]);
        out2 = smlawb(out2, s[4], UP2_HQ_NOTCH[1]);
        out1 = smlawb(out2, s[4], UP2_HQ_NOTCH[0]);
        s[5] = out2.wrapping_sub(s[5]);
        out[2 * k] = sat16(smlawb(256, out1, UP2_HQ_NOTCH[3]) >> 9);

        let y = in32.wrapping_sub(s[2]);
        let xx = smulwb(y, UP2_HQ_1[0]);
        let mut out1 = s[2].wrapping_add(xx);
        s[2] = in32.wrapping_add(xx);
        let y = out1.wrapping_sub(s[3]);
        let xx = smlawb(y, y, UP2_HQ_1[1]);
        let mut out2 = s[3].wrapping_add(xx);
        s[3] = out1.wrapping_add(xx);
        out2 = smlawb(out2, s[4], UP2_HQ_NOTCH[2]);
        out2 = smlawb(out2, s[5], UP2_HQ_NOTCH[1]);
        out1 = smlawb(out2, s[5], UP2_HQ_NOTCH[0]);
        s[4] = out2.wrapping_sub(s[4]);
        out[2 * k + 1] = sat16(smlawb(256, out1, UP2_HQ_NOTCH[3]) >> 9);
    }
}

/// The 144-phase interpolation filter (half of the symmetric 6 taps), Q15.
pub const RESAMPLER_FRAC_FIR_144: [[i16; 3]; 144] = [
    [-647, 1884, 30078],
    [-625, 1736, 30044],
    [-603, 1591, 30005],
    [-581, 1448, 29963],
    [-559, 1308, 29917],
    [-537, 1169, 29867],
    [-515, 1032, 29813],
    [-494, 898, 29755],
    [-473, 766, 29693],
    [-452, 636, 29627],
    [-431, 508, 29558],
    [-410, 383, 29484],
    [-390, 260, 29407],
    [-369, 139, 29327],
    [-349, 20, 29242],
    [-330, -97, 29154],
    [-310, -211, 29062],
    [-291, -324, 28967],
    [-271, -434, 28868],
    [-253, -542, 28765],
    [-234, -647, 28659],
    [-215, -751, 28550],
    [-197, -852, 28436],
    [-179, -951, 28320],
    [-162, -1048, 28200],
    [-144, -1143, 28077],
    [-127, -1235, 27950],
    [-110, -1326, 27820],
    [-94, -1414, 27687],
    [-77, -1500, 27550],
    [-61, -1584, 27410],
    [-45, -1665, 27268],
    [-30, -1745, 27122],
    [-15, -1822, 26972],
    [0, -1897, 26820],
    [15, -1970, 26665],
    [29, -2041, 26507],
    [44, -2110, 26346],
    [57, -2177, 26182],
    [71, -2242, 26015],
    [84, -2305, 25845],
    [97, -2365, 25673],
    [110, -2424, 25498],
    [122, -2480, 25320],
    [134, -2534, 25140],
    [146, -2587, 24956],
    [157, -2637, 24771],
    [168, -2685, 24583],
    [179, -2732, 24392],
    [190, -2776, 24199],
    [200, -2819, 24003],
    [210, -2859, 23805],
    [220, -2898, 23605],
    [229, -2934, 23403],
    [238, -2969, 23198],
    [247, -3002, 22992],
    [255, -3033, 22783],
    [263, -3062, 22572],
    [271, -3089, 22359],
    [279, -3114, 22144],
    [286, -3138, 21927],
    [293, -3160, 21709],
    [300, -3180, 21488],
    [306, -3198, 21266],
    [312, -3215, 21042],
    [318, -3229, 20816],
    [323, -3242, 20589],
    [328, -3254, 20360],
    [333, -3263, 20130],
    [338, -3272, 19898],
    [342, -3278, 19665],
    [346, -3283, 19430],
    [350, -3286, 19194],
    [353, -3288, 18957],
    [356, -3288, 18718],
    [359, -3286, 18478],
    [362, -3283, 18238],
    [364, -3279, 17996],
    [366, -3273, 17753],
    [368, -3266, 17509],
    [369, -3257, 17264],
    [371, -3247, 17018],
    [372, -3235, 16772],
    [372, -3222, 16525],
    [373, -3208, 16277],
    [373, -3192, 16028],
    [373, -3175, 15779],
    [373, -3157, 15529],
    [372, -3138, 15279],
    [371, -3117, 15028],
    [370, -3095, 14777],
    [369, -3072, 14526],
    [368, -3048, 14274],
    [366, -3022, 14022],
    [364, -2996, 13770],
    [362, -2968, 13517],
    [359, -2940, 13265],
    [357, -2910, 13012],
    [354, -2880, 12760],
    [351, -2848, 12508],
    [348, -2815, 12255],
    [344, -2782, 12003],
    [341, -2747, 11751],
    [337, -2712, 11500],
    [333, -2676, 11248],
    [328, -2639, 10997],
    [324, -2601, 10747],
    [320, -2562, 10497],
    [315, -2523, 10247],
    [310, -2482, 9998],
    [305, -2442, 9750],
    [300, -2400, 9502],
    [294, -2358, 9255],
    [289, -2315, 9009],
    [283, -2271, 8763],
    [277, -2227, 8519],
    [271, -2182, 8275],
    [265, -2137, 8032],
    [259, -2091, 7791],
    [252, -2045, 7550],
    [246, -1998, 7311],
    [239, -1951, 7072],
    [232, -1904, 6835],
    [226, -1856, 6599],
    [219, -1807, 6364],
    [212, -1758, 6131],
    [204, -1709, 5899],
    [197, -1660, 5668],
    [190, -1611, 5439],
    [183, -1561, 5212],
    [175, -1511, 4986],
    [168, -1460, 4761],
    [160, -1410, 4538],
    [152, -1359, 4317],
    [145, -1309, 4098],
    [137, -1258, 3880],
    [129, -1207, 3664],
    [121, -1156, 3450],
    [113, -1105, 3238],
    [105, -1054, 3028],
    [97, -1003, 2820],
    [89, -952, 2614],
    [81, -901, 2409],
    [73, -851, 2207],
];
