//! Encoder-only constants of the SILK SDK (draft-vos-silk-02 and SDK 1.0.9 tuning): pitch
//! contour codebooks, bit-rate to SNR mapping, LTP scaling thresholds.

/// Thresholds on the limited LTP coding gain for the LTP state scaling index.
pub(crate) const LTP_SCALE_THRESHOLDS: [f32; 11] = [
    0.95, 0.8, 0.50, 0.400, 0.3, 0.2, 0.15, 0.1, 0.08, 0.075, 0.0,
];

/// Harmonic noise-shaping FIR (3 taps).
pub(crate) const HARM_SHAPE_FIR: [f32; 3] =
    [16384.0 / 65536.0, 32767.0 / 65536.0, 16384.0 / 65536.0];
