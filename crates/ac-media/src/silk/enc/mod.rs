//! SILK encoder (Skype SILK SDK 1.0.9 bitstream; draft-vos-silk-02 section 3), written from
//! the draft's description and the SDK's floating-point encoder structure.
//!
//! Per 20 ms frame: speech activity, high-pass filter, pitch analysis on the LPC residual
//! (voicing, lag, contour), noise-shaping analysis (gains, AR shaping filters, tilt,
//! low-frequency and harmonic shaping), the shaping pre-filter, LTP analysis and codebook
//! quantization (voiced), Burg LPC analysis on the LTP residual, NLSF conversion,
//! interpolation search and multi-stage VQ, gain processing and quantization, the noise
//! shaping quantizer, and the frame's indices handed to the shared bitstream layer
//! ([`crate::silk::indices`]). Frames are gathered into packets of 1..5 frames; in-band FEC
//! appends the previous packet's low-bit-rate redundant (LBRR) copy as the SDK does.
//!
//! Deviations from the SDK (all keep the bitstream valid; see docs/media.md):
//! - no delayed-decision quantizer (one quantizer path, as the SDK's complexity 0), but with
//!   the complexity-1/2 frequency-warped noise shaping and the complexity-2 analysis settings;
//! - a two-band speech-activity estimator of our own instead of the SDK's four-band VAD;
//! - a fixed 2nd-order 70 Hz high-pass instead of the pitch-adaptive one;
//! - pitch decimation by simple FIR low-pass instead of all-pass decimators;
//! - rate control: the SDK's bit-rate -> SNR table plus an integral loop on the produced
//!   packet sizes so the long-term average meets the target (the SDK only lowers the SNR
//!   when over budget);
//! - no DTX (every frame is sent); the input rate equals the internal rate (8/12/16 kHz).

#![allow(clippy::needless_range_loop, clippy::too_many_arguments)]

mod dsp;
mod gains;
mod lpcq;
mod nlsf;
mod nsq;
mod pitch;
mod tables;
mod vad;

use crate::silk::indices::{
    best_rate_level, encode_packet, FrameIndices, Packet, SIG_TYPE_UNVOICED, SIG_TYPE_VOICED,
    TERM_LAST_FRAME, TERM_LBRR_VER1,
};
use crate::silk::tables as t;
use crate::silk::tables_nlsf::NlsfCodebook;
use dsp::*;
use nsq::{NsqParams, NsqState, LTP_ORDER};

/// Lowest target bit rate accepted (the admin manual: 6 to 40 kbit/s).
pub const MIN_BITRATE: u32 = 6_000;
/// Highest target bit rate accepted.
pub const MAX_BITRATE: u32 = 40_000;

/// Encoder settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncoderConfig {
    /// Input and internal sampling rate: 8000, 12000 or 16000 Hz.
    pub sample_rate: u32,
    /// Target average bit rate in bit/s (clamped to 6,000..=40,000).
    pub bitrate: u32,
    /// Packet duration in ms: 20, 40, 60, 80 or 100 (1..5 frames).
    pub packet_ms: u32,
    /// In-band FEC (LBRR) when `packet_loss_perc` > 1 %.
    pub fec: bool,
    /// Expected packet loss in percent (0..=100), steers LBRR and LTP scaling.
    pub packet_loss_perc: u8,
}

impl EncoderConfig {
    /// Defaults for a rate: 20 ms packets, the middle of the SDK's range for the rate
    /// (8 kHz: 12 kbit/s, 12 kHz: 16 kbit/s, 16 kHz: 20 kbit/s), no FEC.
    pub fn new(sample_rate: u32) -> Self {
        let bitrate = match sample_rate {
            8000 => 12_000,
            12000 => 16_000,
            _ => 20_000,
        };
        EncoderConfig {
            sample_rate,
            bitrate,
            packet_ms: 20,
            fec: false,
            packet_loss_perc: 0,
        }
    }
}

/// Errors of the encoder's configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncoderError {
    /// Only 8000, 12000 and 16000 Hz are supported.
    #[error("unsupported SILK encoder rate {0} Hz")]
    UnsupportedRate(u32),
    /// Packet duration must be 20..=100 ms in steps of 20.
    #[error("unsupported SILK packet duration {0} ms")]
    UnsupportedPacketTime(u32),
    /// `encode` takes exactly one 20 ms frame.
    #[error("expected {expected} samples, got {got}")]
    BadFrameLength { expected: usize, got: usize },
}

#[derive(Clone)]
struct Prefilter {
    s_ar: [f32; 17],
    s_harm_hp: f32,
    s_ltp_shp: [f32; 512],
    ltp_idx: usize,
    s_lf_ar: f32,
    s_lf_ma: f32,
    lag_prev: i32,
}

/// Per-frame analysis results (the SDK's encoder control).
#[derive(Clone, Default)]
struct Ctrl {
    voiced: bool,
    pitch_l: [i32; 4],
    lag_index: i32,
    contour_index: i32,
    ltp_corr: f32,
    pred_gain: f32,
    input_tilt: f32,
    quality_bands: [f32; 2],
    input_quality: f32,
    coding_quality: f32,
    current_snr_db: f32,
    sparseness: f32,
    quant_offset_type: u8,
    gains: [f32; 4],
    gains_pre: [f32; 4],
    ar1: [[f32; 16]; 4],
    ar2: [[f32; 16]; 4],
    lf_ma: [f32; 4],
    lf_ar: [f32; 4],
    tilt: [f32; 4],
    harm_boost: [f32; 4],
    harm_shape_gain: [f32; 4],
    ltp_coef: [[f32; LTP_ORDER]; 4],
    ltp_q14: [[i16; LTP_ORDER]; 4],
    ltp_index: [u8; 4],
    per_index: u8,
    ltp_scale_index: u8,
    ltp_pred_cod_gain: f32,
    nlsf_path: [u8; 10],
    nlsf_interp_q2: u8,
    pred_q12: [[i16; 16]; 2],
    res_nrg: [f32; 4],
    gain_indices: [u8; 4],
    gains_q16: [i32; 4],
    lambda: f32,
}

/// The SILK encoder. Feed 20 ms frames to [`Encoder::encode`]; it returns a packet every
/// `packet_ms / 20` frames.
pub struct Encoder {
    cfg: EncoderConfig,
    fs_khz: usize,
    frame_length: usize,
    subfr_length: usize,
    lpc_order: usize,
    pitch_lpc_order: usize,
    shaping_order: usize,
    /// All-pass warping of the noise-shaping filters (the SDK's 0.015 per kHz), Q16.
    warping_q16: i32,
    la_pitch: usize,
    la_shape: usize,
    frames_per_packet: usize,
    x_buf: Vec<f32>,
    hp_state: [f32; 4],
    vad: vad::Vad,
    speech_activity: f32,
    nsq: NsqState,
    nsq_lbrr: NsqState,
    prefilt: Prefilter,
    harm_boost_smth: f32,
    harm_shape_gain_smth: f32,
    tilt_smth: f32,
    avg_gain: f32,
    last_gain_index: i32,
    lbrr_prev_last_gain_index: i32,
    prev_nlsf_q15: [i32; 16],
    prev_sigtype_voiced: bool,
    prev_lag: i32,
    ltp_corr: f32,
    hp_ltp_pred_cod_gain: f32,
    prev_ltp_pred_cod_gain: f32,
    first_frame_after_reset: bool,
    frame_counter: u32,
    wltp: [[f32; 25]; 4],
    snr_db: f32,
    snr_adj_db: f32,
    mu_ltp: f32,
    lbrr_enabled: bool,
    lbrr_gain_increases: i32,
    in_band_fec_snr_comp: f32,
    frames: Vec<FrameIndices>,
    lbrr_frames: Vec<FrameIndices>,
    lbrr_usage: bool,
    /// LBRR payload of the previous packet (appended to the next one) if its usage says so.
    lbrr_prev: Option<Vec<u8>>,
    bits_window: f64,
    time_window: f64,
}

impl Encoder {
    /// Creates an encoder.
    pub fn new(cfg: EncoderConfig) -> Result<Self, EncoderError> {
        let fs_khz = match cfg.sample_rate {
            8000 => 8,
            12000 => 12,
            16000 => 16,
            r => return Err(EncoderError::UnsupportedRate(r)),
        };
        if !(20..=100).contains(&cfg.packet_ms) || cfg.packet_ms % 20 != 0 {
            return Err(EncoderError::UnsupportedPacketTime(cfg.packet_ms));
        }
        let frame_length = 20 * fs_khz;
        let lpc_order = if fs_khz == 8 { 10 } else { 16 };
        let la_shape = 5 * fs_khz;
        let mut e = Encoder {
            cfg,
            fs_khz,
            frame_length,
            subfr_length: frame_length / 4,
            lpc_order,
            pitch_lpc_order: lpc_order,
            shaping_order: 16,
            warping_q16: fs_khz as i32 * 983,
            la_pitch: 2 * fs_khz,
            la_shape,
            frames_per_packet: (cfg.packet_ms / 20) as usize,
            x_buf: vec![0.0; 2 * frame_length + la_shape],
            hp_state: [0.0; 4],
            vad: vad::Vad::new(),
            speech_activity: 0.0,
            nsq: NsqState::new(),
            nsq_lbrr: NsqState::new(),
            prefilt: Prefilter {
                s_ar: [0.0; 17],
                s_harm_hp: 0.0,
                s_ltp_shp: [0.0; 512],
                ltp_idx: 0,
                s_lf_ar: 0.0,
                s_lf_ma: 0.0,
                lag_prev: 100,
            },
            harm_boost_smth: 0.0,
            harm_shape_gain_smth: 0.0,
            tilt_smth: 0.0,
            avg_gain: 0.0,
            last_gain_index: 1,
            lbrr_prev_last_gain_index: 1,
            prev_nlsf_q15: [0; 16],
            prev_sigtype_voiced: false,
            prev_lag: 100,
            ltp_corr: 0.0,
            hp_ltp_pred_cod_gain: 0.0,
            prev_ltp_pred_cod_gain: 0.0,
            first_frame_after_reset: true,
            frame_counter: 0,
            wltp: [[0.0; 25]; 4],
            snr_db: 0.0,
            snr_adj_db: 0.0,
            mu_ltp: match fs_khz {
                8 => 0.03,
                12 => 0.025,
                _ => 0.02,
            },
            lbrr_enabled: false,
            lbrr_gain_increases: 0,
            in_band_fec_snr_comp: 0.0,
            frames: Vec::with_capacity(5),
            lbrr_frames: Vec::with_capacity(5),
            lbrr_usage: false,
            lbrr_prev: None,
            bits_window: 0.0,
            time_window: 0.0,
        };
        e.set_bitrate(cfg.bitrate);
        e.setup_lbrr();
        Ok(e)
    }

    /// The configuration in use.
    pub fn config(&self) -> &EncoderConfig {
        &self.cfg
    }

    /// Samples of one 20 ms frame.
    pub fn frame_samples(&self) -> usize {
        self.frame_length
    }

    /// Changes the target bit rate (takes effect at once).
    pub fn set_bitrate(&mut self, bps: u32) {
        let bps = bps.clamp(MIN_BITRATE, MAX_BITRATE);
        self.cfg.bitrate = bps;
        let table = match self.fs_khz {
            8 => &t::TARGETRATE_TABLE_NB,
            12 => &t::TARGETRATE_TABLE_MB,
            _ => &t::TARGETRATE_TABLE_WB,
        };
        let r = bps as i32;
        for k in 1..8 {
            if r <= table[k] {
                let frac = (r - table[k - 1]) as f32 / (table[k] - table[k - 1]) as f32;
                let lo = t::SNR_TABLE_Q1[k - 1] as f32;
                let hi = t::SNR_TABLE_Q1[k] as f32;
                self.snr_db = 0.5 * (lo + frac * (hi - lo));
                break;
            }
        }
        self.setup_lbrr();
    }

    /// Changes the expected loss and FEC use (from RTCP receiver reports, for example).
    pub fn set_packet_loss(&mut self, fec: bool, loss_perc: u8) {
        self.cfg.fec = fec;
        self.cfg.packet_loss_perc = loss_perc.min(100);
        self.setup_lbrr();
    }

    fn setup_lbrr(&mut self) {
        let thres = match self.fs_khz {
            8 => 18_000 - 9_000,
            12 => 18_000 - 6_000,
            _ => 18_000 - 3_000,
        };
        let loss = i32::from(self.cfg.packet_loss_perc);
        self.lbrr_enabled = false;
        self.in_band_fec_snr_comp = 0.0;
        if self.cfg.fec && self.cfg.bitrate as i32 >= thres {
            self.lbrr_gain_increases = (8 - (loss >> 1)).max(0);
            if loss > 1 {
                self.lbrr_enabled = true;
                self.in_band_fec_snr_comp = 6.0 - 0.5 * self.lbrr_gain_increases as f32;
            }
        }
    }

    /// Encodes one 20 ms frame; returns a packet when `packet_ms` of audio are gathered.
    pub fn encode(&mut self, pcm: &[i16]) -> Result<Option<Vec<u8>>, EncoderError> {
        if pcm.len() != self.frame_length {
            return Err(EncoderError::BadFrameLength {
                expected: self.frame_length,
                got: pcm.len(),
            });
        }
        self.encode_frame(pcm);
        if self.frames.len() < self.frames_per_packet {
            return Ok(None);
        }
        Ok(Some(self.finish_packet()))
    }

    /// Encodes `pcm` (a whole number of 20 ms frames) and returns the packets produced.
    pub fn encode_all(&mut self, pcm: &[i16]) -> Result<Vec<Vec<u8>>, EncoderError> {
        let mut out = Vec::new();
        for f in pcm.chunks(self.frame_length) {
            if let Some(p) = self.encode(f)? {
                out.push(p);
            }
        }
        Ok(out)
    }

    /// The encoder's own reconstruction of the last frame (what the decoder should output).
    /// The quantizer's reconstruction of the last encoded frame: what a conforming decoder
    /// outputs for it before its high-pass filter (for tests and diagnostics).
    pub fn last_reconstruction(&self) -> Vec<i16> {
        self.nsq.xq_frame(self.frame_length)
    }

    #[cfg(test)]
    pub(crate) fn last_recon(&self) -> Vec<i16> {
        self.nsq.xq_frame(self.frame_length)
    }

    #[cfg(test)]
    pub(crate) fn last_input(&self) -> Vec<i16> {
        self.x_buf[..self.frame_length]
            .iter()
            .map(|&v| v as i16)
            .collect()
    }

    fn finish_packet(&mut self) -> Vec<u8> {
        let frames = core::mem::take(&mut self.frames);
        let lbrr_frames = core::mem::take(&mut self.lbrr_frames);
        let fs = self.fs_khz as u32;
        // LBRR of the previous packet goes at the end of this one (SKP_SILK_LBRR_VER1).
        let tail = self.lbrr_prev.take();
        let mut packet = Packet {
            fs_khz: fs,
            frames,
            termination: TERM_LAST_FRAME,
            tail: Vec::new(),
        };
        let mut bytes = None;
        if let Some(tail) = tail {
            packet.termination = TERM_LBRR_VER1;
            packet.tail = tail;
            bytes = encode_packet(&packet).ok();
            if bytes.is_none() {
                packet.termination = TERM_LAST_FRAME;
                packet.tail = Vec::new();
            }
        }
        let bytes = bytes
            .or_else(|| encode_packet(&packet).ok())
            .unwrap_or_default();
        // This packet's LBRR, for the next packet.
        if self.lbrr_enabled && self.lbrr_usage && lbrr_frames.len() == packet.frames.len() {
            let lp = Packet {
                fs_khz: fs,
                frames: lbrr_frames,
                termination: TERM_LAST_FRAME,
                tail: Vec::new(),
            };
            self.lbrr_prev = encode_packet(&lp).ok();
        }
        self.lbrr_usage = false;
        // Rate control: integral loop on the log ratio of produced to target rate.
        let secs = self.cfg.packet_ms as f64 / 1000.0;
        self.bits_window = 0.9 * self.bits_window + 8.0 * bytes.len() as f64;
        self.time_window = 0.9 * self.time_window + secs;
        if self.time_window > 0.0 {
            let rate = self.bits_window / self.time_window;
            let err = (f64::from(self.cfg.bitrate) / rate.max(1.0)).log2() as f32;
            self.snr_adj_db = (self.snr_adj_db + 0.6 * err.clamp(-1.0, 1.0)).clamp(-12.0, 12.0);
        }
        bytes
    }

    fn high_pass(&mut self, pcm: &[i16], out: &mut [f32]) {
        // 2nd-order Butterworth high-pass at 70 Hz (bilinear), direct form II transposed.
        let fs = (self.fs_khz * 1000) as f32;
        let w = (core::f32::consts::PI * 70.0 / fs).tan();
        let n = 1.0 / (1.0 + core::f32::consts::SQRT_2 * w + w * w);
        let b0 = n;
        let b1 = -2.0 * n;
        let b2 = n;
        let a1 = 2.0 * (w * w - 1.0) * n;
        let a2 = (1.0 - core::f32::consts::SQRT_2 * w + w * w) * n;
        let (mut s1, mut s2) = (self.hp_state[0], self.hp_state[1]);
        for (o, &x) in out.iter_mut().zip(pcm) {
            let x = f32::from(x);
            let y = b0 * x + s1;
            s1 = b1 * x - a1 * y + s2;
            s2 = b2 * x - a2 * y;
            *o = y;
        }
        if !s1.is_finite() || !s2.is_finite() {
            s1 = 0.0;
            s2 = 0.0;
        }
        self.hp_state[0] = s1;
        self.hp_state[1] = s2;
    }

    fn encode_frame(&mut self, pcm: &[i16]) {
        let fl = self.frame_length;
        let frame_in_packet = self.frames.len();
        let mut c = Ctrl::default();
        let seed = (self.frame_counter & 3) as u8;
        self.frame_counter = self.frame_counter.wrapping_add(1);

        let v = self.vad.analyse(pcm);
        self.speech_activity = v.speech_activity;
        c.quality_bands = v.quality_bands;
        c.input_tilt = v.tilt;

        let mut hp = vec![0f32; fl];
        self.high_pass(pcm, &mut hp);
        let x_off = fl + self.la_shape;
        self.x_buf[x_off..x_off + fl].copy_from_slice(&hp);
        for k in 0..8 {
            self.x_buf[x_off + k * (fl >> 3)] += (1 - (k as i32 & 2)) as f32 * 1e-6;
        }

        let res_pitch = self.find_pitch_lags(&mut c);
        self.noise_shape_analysis(&mut c, &res_pitch[fl..]);
        let xfw = self.prefilter(&c);
        self.find_pred_coefs(&mut c, &res_pitch, frame_in_packet);
        self.process_gains(&mut c, frame_in_packet);

        let mut fi = FrameIndices::zeroed(self.fs_khz as u32);
        fi.sigtype = if c.voiced {
            SIG_TYPE_VOICED
        } else {
            SIG_TYPE_UNVOICED
        };
        fi.quant_offset_type = c.quant_offset_type;
        fi.gain_indices = c.gain_indices;
        fi.nlsf_indices = c.nlsf_path;
        fi.nlsf_interp_coef_q2 = c.nlsf_interp_q2;
        if c.voiced {
            fi.lag_index = c.lag_index.max(0) as u16;
            fi.contour_index = c.contour_index.max(0) as u8;
            fi.per_index = c.per_index;
            fi.ltp_indices = c.ltp_index;
            fi.ltp_scale_index = c.ltp_scale_index;
        }
        fi.seed = seed;
        fi.vad = self.speech_activity >= 0.1;

        let x16: Vec<i16> = xfw
            .iter()
            .map(|&v| v.round().clamp(-32768.0, 32767.0) as i16)
            .collect();

        // LBRR: same parameters, coarser gains, own quantizer state.
        if self.lbrr_enabled {
            if frame_in_packet == 0 {
                self.nsq_lbrr = self.nsq.clone();
                // Absolute first gain: the previous index only matters for later frames.
                self.lbrr_prev_last_gain_index = self.last_gain_index;
            }
            let mut lfi = fi.clone();
            if frame_in_packet == 0 {
                lfi.gain_indices[0] =
                    (i32::from(lfi.gain_indices[0]) + self.lbrr_gain_increases).clamp(0, 63) as u8;
            }
            let g = gains::dequantize(
                &lfi.gain_indices,
                &mut self.lbrr_prev_last_gain_index,
                frame_in_packet > 0,
            );
            let mut q = vec![0i8; fl];
            let mut nsq = self.nsq_lbrr.clone();
            self.run_nsq(&mut nsq, &c, &g, seed, &x16, &mut q);
            self.nsq_lbrr = nsq;
            lfi.pulses = q.iter().map(|&v| i32::from(v)).collect();
            lfi.rate_level = best_rate_level(lfi.sigtype, &lfi.pulses);
            self.lbrr_frames.push(lfi);
            if self.speech_activity > 0.5 {
                self.lbrr_usage = true;
            }
        }

        let mut q = vec![0i8; fl];
        let mut nsq = self.nsq.clone();
        let gq = c.gains_q16;
        self.run_nsq(&mut nsq, &c, &gq, seed, &x16, &mut q);
        self.nsq = nsq;
        fi.pulses = q.iter().map(|&v| i32::from(v)).collect();
        fi.rate_level = best_rate_level(fi.sigtype, &fi.pulses);
        self.frames.push(fi);

        self.x_buf.copy_within(fl..2 * fl + self.la_shape, 0);
        self.prev_sigtype_voiced = c.voiced;
        self.prev_lag = if c.voiced { c.pitch_l[3] } else { 0 };
        self.first_frame_after_reset = false;
    }

    fn run_nsq(
        &self,
        st: &mut NsqState,
        c: &Ctrl,
        gains_q16: &[i32; 4],
        seed: u8,
        x: &[i16],
        q: &mut [i8],
    ) {
        let mut ar2 = [[0i16; 16]; 4];
        let mut hsg = [0i32; 4];
        let mut tilt = [0i32; 4];
        let mut lf = [0i32; 4];
        for k in 0..4 {
            for j in 0..self.shaping_order {
                ar2[k][j] = (c.ar2[k][j] * 8192.0).round().clamp(-32768.0, 32767.0) as i16;
            }
            let ar = (c.lf_ar[k] * 16384.0).round().clamp(-32768.0, 32767.0) as i32;
            let ma = (c.lf_ma[k] * 16384.0).round().clamp(-32768.0, 32767.0) as i32;
            lf[k] = (ar << 16) | (ma & 0xffff);
            tilt[k] = (c.tilt[k] * 16384.0).round() as i32;
            hsg[k] = (c.harm_shape_gain[k] * 16384.0).round() as i32;
        }
        let offset_q10 = i32::from(
            t::QUANTIZATION_OFFSETS_Q10[usize::from(!c.voiced)][usize::from(c.quant_offset_type)],
        );
        let ltp_scale_q14 = if c.voiced {
            i32::from(t::LTPSCALES_TABLE_Q14[usize::from(c.ltp_scale_index)])
        } else {
            0
        };
        let p = NsqParams {
            frame_length: self.frame_length,
            subfr_length: self.subfr_length,
            lpc_order: self.lpc_order,
            shaping_order: self.shaping_order,
            voiced: c.voiced,
            seed: i32::from(seed),
            offset_q10,
            interpolated: c.nlsf_interp_q2 < 4,
            pred_q12: &c.pred_q12,
            ltp_q14: &c.ltp_q14,
            ar2_q13: &ar2,
            harm_shape_gain_q14: hsg,
            tilt_q14: tilt,
            lf_shp_q14: lf,
            gains_q16: *gains_q16,
            lambda_q10: (c.lambda * 1024.0).round() as i32,
            warping_q16: self.warping_q16,
            ltp_scale_q14,
            pitch_l: if c.voiced { c.pitch_l } else { [0; 4] },
        };
        nsq::quantize(st, &p, x, q);
    }

    fn find_pitch_lags(&mut self, c: &mut Ctrl) -> Vec<f32> {
        let fl = self.frame_length;
        let buf_len = 2 * fl + self.la_pitch;
        let win_len = (20 + 2 * 2) * self.fs_khz;
        let order = self.pitch_lpc_order;
        let x = &self.x_buf[..buf_len];
        let start = buf_len - win_len;
        let mut wsig = vec![0f32; win_len];
        let la = self.la_pitch;
        sine_window(&mut wsig[..la], &x[start..start + la], 1);
        wsig[la..win_len - la].copy_from_slice(&x[start + la..start + win_len - la]);
        sine_window(
            &mut wsig[win_len - la..],
            &x[start + win_len - la..start + win_len],
            2,
        );
        let mut r = [0f32; 17];
        autocorr(&mut r[..=order], &wsig);
        r[0] += r[0] * 1e-3;
        let mut refl = [0f32; 16];
        let res_nrg = schur(&mut refl, &r, order);
        c.pred_gain = r[0] / res_nrg.max(1.0);
        let mut a = [0f32; 16];
        k2a(&mut a, &refl, order);
        bwexpander(&mut a[..order], 0.99);
        let mut res = vec![0f32; buf_len];
        lpc_analysis(&mut res, &a[..order], x, buf_len, order);
        let mut thr = 0.45 - 0.004 * order as f32 - 0.1 * self.speech_activity;
        if !self.prev_sigtype_voiced {
            thr += 0.15;
        }
        thr -= 0.1 * c.input_tilt;
        let p = pitch::analyse(
            &res[..2 * fl],
            self.fs_khz,
            self.prev_lag,
            self.ltp_corr,
            0.7,
            thr.clamp(0.0, 1.0),
        );
        // Lags must leave room for the LPC and LTP history (frame - lag - order - 2 >= 0).
        let max_ok = (fl - self.lpc_order - LTP_ORDER / 2) as i32;
        c.voiced = p.voiced && p.lags.iter().all(|&l| l > 0 && l <= max_ok);
        self.ltp_corr = if c.voiced { p.ltp_corr } else { 0.0 };
        c.ltp_corr = self.ltp_corr;
        if c.voiced {
            c.pitch_l = p.lags;
            c.lag_index = p.lag_index;
            c.contour_index = p.contour_index;
        }
        res
    }

    fn noise_shape_analysis(&mut self, c: &mut Ctrl, pitch_res: &[f32]) {
        let fs = self.fs_khz as f32;
        c.current_snr_db = self.snr_db + self.snr_adj_db;
        if self.speech_activity > 0.5 {
            c.current_snr_db -= self.in_band_fec_snr_comp;
        }
        c.input_quality = 0.5 * (c.quality_bands[0] + c.quality_bands[1]);
        c.coding_quality = sigmoid(0.25 * (c.current_snr_db - 18.0));
        let b = 1.0 - self.speech_activity;
        let mut snr_adj =
            c.current_snr_db - 4.0 * c.coding_quality * (0.5 + 0.5 * c.input_quality) * b * b;
        if c.voiced {
            snr_adj += 2.0 * self.ltp_corr;
        } else {
            snr_adj += (-0.4 * c.current_snr_db + 6.0) * (1.0 - c.input_quality);
        }
        if c.voiced {
            c.quant_offset_type = 0;
            c.sparseness = 0.0;
        } else {
            let n = 2 * self.fs_khz;
            let mut var = 0f32;
            let mut prev = 0f32;
            for k in 0..10 {
                let nrg = n as f32 + energy(&pitch_res[k * n..(k + 1) * n]) as f32;
                let le = nrg.log2();
                if k > 0 {
                    var += (le - prev).abs();
                }
                prev = le;
            }
            c.sparseness = sigmoid(0.4 * (var - 5.0));
            c.quant_offset_type = if c.sparseness > 0.75 { 0 } else { 1 };
            snr_adj += 2.0 * (c.sparseness - 0.5);
        }
        let strength = 1e-3 * c.pred_gain;
        let mut bw1 = 0.95 / (1.0 + strength * strength);
        let mut bw2 = bw1;
        let delta = 0.01 * (1.0 - 0.75 * c.coding_quality);
        bw1 -= delta;
        bw2 += delta;
        bw1 /= bw2;
        // Slightly more warping in the analysis moves noise up in frequency (the SDK's rule).
        let warping = self.warping_q16 as f32 / 65536.0 + 0.01 * c.coding_quality;
        let win = 15 * self.fs_khz;
        let flat = 5 * self.fs_khz;
        let slope = (win - flat) / 2;
        let order = self.shaping_order;
        let mut xw = vec![0f32; win];
        let base = self.frame_length - self.la_shape;
        for k in 0..4 {
            let xs = &self.x_buf[base + k * self.subfr_length..base + k * self.subfr_length + win];
            sine_window(&mut xw[..slope], &xs[..slope], 1);
            xw[slope..slope + flat].copy_from_slice(&xs[slope..slope + flat]);
            sine_window(&mut xw[slope + flat..], &xs[slope + flat..], 2);
            let mut r = [0f32; 17];
            warped_autocorr(&mut r, &xw, f64::from(warping), order);
            r[0] += r[0] * 1e-5;
            let mut ar = [0f32; 16];
            let nrg = levinson(&mut ar, &r, order);
            c.gains[k] = nrg.max(0.0).sqrt() * warped_gain(&ar[..order], warping);
            bwexpander(&mut ar[..order], bw2);
            let mut ar1 = ar;
            bwexpander(&mut ar1[..order], bw1);
            let pre = inverse_pred_gain(&ar[..order]);
            let post = inverse_pred_gain(&ar1[..order]);
            c.gains_pre[k] = 1.0 - 0.7 * (1.0 - pre / post.max(1e-9));
            warped_true2monic(&mut ar, &mut ar1, warping, 3.999, order);
            c.ar2[k] = ar;
            c.ar1[k] = ar1;
        }
        let gain_mult = 2f32.powf(-0.16 * snr_adj);
        let gain_add = 2f32.powf(0.16 * 4.0) + 2f32.powf(0.16 * -50.0) * self.avg_gain;
        for k in 0..4 {
            c.gains[k] = c.gains[k] * gain_mult + gain_add;
            self.avg_gain += self.speech_activity * 1e-3 * (c.gains[k] - self.avg_gain);
        }
        let mut gm = 1.0 + 0.05 + c.coding_quality * 0.1;
        if c.input_tilt <= 0.0 && !c.voiced && self.fs_khz == 16 {
            let ess = -c.input_tilt * self.speech_activity * (1.0 - c.sparseness);
            gm *= 2f32.powf(-0.16 * 1.0 * ess);
        }
        for k in 0..4 {
            c.gains_pre[k] *= gm;
        }
        let strength = 3.0 * (1.0 + 0.5 * (c.quality_bands[0] - 1.0));
        let tilt;
        if c.voiced {
            for k in 0..4 {
                let b = 0.2 / fs + 3.0 / c.pitch_l[k].max(1) as f32;
                c.lf_ma[k] = -1.0 + b;
                c.lf_ar[k] = 1.0 - b - b * strength;
            }
            tilt = -0.3 - (1.0 - 0.3) * 0.35 * self.speech_activity;
        } else {
            let b = 1.3 / fs;
            for k in 0..4 {
                c.lf_ma[k] = -1.0 + b;
                c.lf_ar[k] = 1.0 - b - b * strength * 0.6;
            }
            tilt = -0.3;
        }
        let mut harm_boost = 0.1 * (1.0 - c.coding_quality) * self.ltp_corr;
        harm_boost += 0.1 * (1.0 - c.input_quality);
        let harm_shape_gain = if c.voiced {
            (0.3 + 0.2 * (1.0 - (1.0 - c.coding_quality) * c.input_quality)) * self.ltp_corr.sqrt()
        } else {
            0.0
        };
        for k in 0..4 {
            self.harm_boost_smth += 0.4 * (harm_boost - self.harm_boost_smth);
            c.harm_boost[k] = self.harm_boost_smth;
            self.harm_shape_gain_smth += 0.4 * (harm_shape_gain - self.harm_shape_gain_smth);
            c.harm_shape_gain[k] = self.harm_shape_gain_smth;
            self.tilt_smth += 0.4 * (tilt - self.tilt_smth);
            c.tilt[k] = self.tilt_smth;
        }
    }

    fn prefilter(&mut self, c: &Ctrl) -> Vec<f32> {
        let fl = self.frame_length;
        let sl = self.subfr_length;
        let order = self.shaping_order;
        let mut xw = vec![0f32; fl];
        let mut st_res = vec![0f32; sl];
        let p = &mut self.prefilt;
        let mut lag = p.lag_prev;
        for k in 0..4 {
            if c.voiced {
                lag = c.pitch_l[k];
            }
            let hsg = c.harm_shape_gain[k] * (1.0 - c.harm_boost[k]);
            let fir = [
                tables::HARM_SHAPE_FIR[0] * hsg,
                tables::HARM_SHAPE_FIR[1] * hsg,
                tables::HARM_SHAPE_FIR[2] * hsg,
            ];
            let x = &self.x_buf[fl + k * sl..fl + (k + 1) * sl];
            let ar1 = &c.ar1[k];
            // Warped short-term analysis filter (all-pass chain, the NSQ's warping).
            let lambda = self.warping_q16 as f32 / 65536.0;
            for n in 0..sl {
                let mut tmp2 = p.s_ar[0] + lambda * p.s_ar[1];
                p.s_ar[0] = x[n];
                let mut tmp1 = p.s_ar[1] + lambda * (p.s_ar[2] - tmp2);
                p.s_ar[1] = tmp2;
                let mut acc = ar1[0] * tmp2;
                let mut i = 2;
                while i < order {
                    tmp2 = p.s_ar[i] + lambda * (p.s_ar[i + 1] - tmp1);
                    p.s_ar[i] = tmp1;
                    acc += ar1[i - 1] * tmp1;
                    tmp1 = p.s_ar[i + 1] + lambda * (p.s_ar[i + 2] - tmp2);
                    p.s_ar[i + 1] = tmp2;
                    acc += ar1[i] * tmp2;
                    i += 2;
                }
                p.s_ar[order] = tmp1;
                acc += ar1[order - 1] * tmp1;
                st_res[n] = x[n] - acc;
            }
            let b0 = c.gains_pre[k];
            let b1 = -c.gains_pre[k] * (c.harm_boost[k] * hsg + 0.05 + c.coding_quality * 0.1);
            let out = &mut xw[k * sl..(k + 1) * sl];
            out[0] = b0 * st_res[0] + b1 * p.s_harm_hp;
            for j in 1..sl {
                out[j] = b0 * st_res[j] + b1 * st_res[j - 1];
            }
            p.s_harm_hp = st_res[sl - 1];
            // Tilt, low-frequency and harmonic shaping.
            for i in 0..sl {
                let n_ltp = if lag > 0 {
                    let idx = lag as usize + p.ltp_idx;
                    p.s_ltp_shp[(idx.wrapping_sub(2)) & 511] * fir[0]
                        + p.s_ltp_shp[(idx.wrapping_sub(1)) & 511] * fir[1]
                        + p.s_ltp_shp[idx & 511] * fir[2]
                } else {
                    0.0
                };
                let n_tilt = p.s_lf_ar * c.tilt[k];
                let n_lf = p.s_lf_ar * c.lf_ar[k] + p.s_lf_ma * c.lf_ma[k];
                p.s_lf_ar = out[i] - n_tilt;
                p.s_lf_ma = p.s_lf_ar - n_lf;
                p.ltp_idx = p.ltp_idx.wrapping_sub(1) & 511;
                p.s_ltp_shp[p.ltp_idx] = p.s_lf_ma;
                out[i] = p.s_lf_ma - n_ltp;
            }
            if !p.s_lf_ar.is_finite() || !p.s_lf_ma.is_finite() {
                p.s_lf_ar = 0.0;
                p.s_lf_ma = 0.0;
                p.s_ltp_shp = [0.0; 512];
            }
        }
        p.lag_prev = if c.voiced { c.pitch_l[3] } else { 0 };
        for v in xw.iter_mut() {
            if !v.is_finite() {
                *v = 0.0;
            }
        }
        xw
    }

    fn find_pred_coefs(&mut self, c: &mut Ctrl, res_pitch: &[f32], frame_in_packet: usize) {
        let fl = self.frame_length;
        let sl = self.subfr_length;
        let order = self.lpc_order;
        let mut inv_gains = [0f32; 4];
        let mut wght = [0f32; 4];
        for k in 0..4 {
            inv_gains[k] = 1.0 / c.gains[k].max(1e-3);
            wght[k] = inv_gains[k] * inv_gains[k];
        }
        let pre_len = sl + order;
        let mut lpc_in_pre = vec![0f32; 4 * pre_len];
        if c.voiced {
            self.find_ltp(c, res_pitch, &wght);
            self.quant_ltp_gains(c);
            self.ltp_scale_ctrl(c, frame_in_packet);
            for k in 0..4 {
                let lag = c.pitch_l[k] as usize;
                let b = c.ltp_coef[k];
                let x0 = fl - order + k * sl;
                for i in 0..pre_len {
                    let xi = x0 + i;
                    let mut v = self.x_buf[xi];
                    for j in 0..LTP_ORDER {
                        let idx = (xi + 2).wrapping_sub(lag + j);
                        v -= b[j] * self.x_buf.get(idx).copied().unwrap_or(0.0);
                    }
                    lpc_in_pre[k * pre_len + i] = v * inv_gains[k];
                }
            }
        } else {
            for k in 0..4 {
                let x0 = fl - order + k * sl;
                for i in 0..pre_len {
                    lpc_in_pre[k * pre_len + i] = self.x_buf[x0 + i] * inv_gains[k];
                }
            }
            c.ltp_coef = [[0.0; LTP_ORDER]; 4];
            c.ltp_q14 = [[0; LTP_ORDER]; 4];
            c.ltp_pred_cod_gain = 0.0;
        }
        // LPC by Burg, with the NLSF interpolation search.
        let mut a = [0f32; 16];
        let mut res_nrg = burg_modified(&mut a, &lpc_in_pre, pre_len, 4, 2.5e-5, order);
        bwexpander(&mut a[..order], 0.99995);
        let mut nlsf = [0f32; 16];
        c.nlsf_interp_q2 = 4;
        if !self.first_frame_after_reset {
            let mut a2 = [0f32; 16];
            res_nrg -= burg_modified(
                &mut a2,
                &lpc_in_pre[2 * pre_len..],
                pre_len,
                2,
                2.5e-5,
                order,
            );
            bwexpander(&mut a2[..order], 0.99995);
            a2nlsf(&mut nlsf[..order], &a2[..order]);
            let mut nlsf_q15 = [0i32; 16];
            for i in 0..order {
                nlsf_q15[i] = (nlsf[i] * 32768.0).round() as i32;
            }
            let mut res2nd = f32::MAX;
            let mut lpc_res = vec![0f32; 2 * pre_len];
            for k in (0..4).rev() {
                let mut n0 = [0i32; 16];
                lpcq::interpolate(
                    &self.prev_nlsf_q15[..order],
                    &nlsf_q15[..order],
                    k,
                    &mut n0[..order],
                );
                let aq = lpcq::nlsf2a_q12(&n0[..order]);
                let mut af = [0f32; 16];
                for i in 0..order {
                    af[i] = f32::from(aq[i]) / 4096.0;
                }
                lpc_analysis(&mut lpc_res, &af[..order], &lpc_in_pre, 2 * pre_len, order);
                let e = (energy(&lpc_res[order..pre_len])
                    + energy(&lpc_res[order + pre_len..2 * pre_len]))
                    as f32;
                if e < res_nrg {
                    res_nrg = e;
                    c.nlsf_interp_q2 = k as u8;
                } else if e > res2nd {
                    break;
                }
                res2nd = e;
            }
        }
        if c.nlsf_interp_q2 == 4 {
            a2nlsf(&mut nlsf[..order], &a[..order]);
        }
        self.process_nlsfs(c, &nlsf[..order]);
        // Residual energy with the quantized LPC (per subframe, back in signal units).
        let mut lpc_res = vec![0f32; 2 * pre_len];
        for half in 0..2 {
            let mut af = [0f32; 16];
            for i in 0..order {
                af[i] = f32::from(c.pred_q12[half][i]) / 4096.0;
            }
            let xs = &lpc_in_pre[2 * half * pre_len..2 * (half + 1) * pre_len];
            lpc_analysis(&mut lpc_res, &af[..order], xs, 2 * pre_len, order);
            for s in 0..2 {
                let k = 2 * half + s;
                let e = energy(&lpc_res[s * pre_len + order..(s + 1) * pre_len]) as f32;
                c.res_nrg[k] = c.gains[k] * c.gains[k] * e;
            }
        }
    }

    fn process_nlsfs(&mut self, c: &mut Ctrl, nlsf: &[f32]) {
        let order = self.lpc_order;
        let sa = self.speech_activity;
        let (mu, mu_fluc) = if c.voiced {
            (0.002 - 0.001 * sa, 0.1 - 0.05 * sa)
        } else {
            (0.005 - 0.004 * sa, 0.2 - 0.1 * (sa + c.sparseness))
        };
        let mut w = [0f32; 16];
        nlsf::weights_laroia(&mut w[..order], nlsf);
        let interp = c.nlsf_interp_q2 < 4;
        let mut prev_f = [0f32; 16];
        for i in 0..order {
            prev_f[i] = self.prev_nlsf_q15[i] as f32 / 32768.0;
        }
        if interp {
            let f = 0.25 * f32::from(c.nlsf_interp_q2);
            let mut n0 = [0f32; 16];
            for i in 0..order {
                n0[i] = prev_f[i] + f * (nlsf[i] - prev_f[i]);
            }
            let mut w0 = [0f32; 16];
            nlsf::weights_laroia(&mut w0[..order], &n0[..order]);
            for i in 0..order {
                w[i] = 0.5 * (w[i] + f * f * w0[i]);
            }
        }
        let cb: &NlsfCodebook =
            crate::silk::indices::nlsf_codebook(self.fs_khz as u32, if c.voiced { 0 } else { 1 });
        c.nlsf_path = nlsf::msvq_encode(
            cb,
            nlsf,
            &prev_f[..order],
            &w[..order],
            mu,
            mu_fluc,
            16,
            self.first_frame_after_reset,
        );
        let q15 = lpcq::nlsf_q15(cb, &c.nlsf_path);
        c.pred_q12[1] = lpcq::nlsf2a_q12(&q15[..order]);
        if interp {
            let mut n0 = [0i32; 16];
            lpcq::interpolate(
                &self.prev_nlsf_q15[..order],
                &q15[..order],
                i32::from(c.nlsf_interp_q2),
                &mut n0[..order],
            );
            c.pred_q12[0] = lpcq::nlsf2a_q12(&n0[..order]);
        } else {
            c.pred_q12[0] = c.pred_q12[1];
        }
        self.prev_nlsf_q15 = q15;
    }

    fn find_ltp(&mut self, c: &mut Ctrl, res: &[f32], wght: &[f32; 4]) {
        let fl = self.frame_length;
        let sl = self.subfr_length;
        let mut wltp = [[0f32; 25]; 4];
        let mut w = [0f32; 4];
        let mut nrg = [0f32; 4];
        let mut rr = [0f32; 4];
        for k in 0..4 {
            let r0 = fl + k * sl;
            let lag = c.pitch_l[k] as usize;
            let base = r0 - lag - 2;
            // Column j is the residual delayed by lag - 2 + j.
            let col = |j: usize| &res[base + 4 - j..base + 4 - j + sl];
            let target = &res[r0..r0 + sl];
            let mut m = [0f32; 25];
            let mut xr = [0f32; 5];
            for i in 0..5 {
                xr[i] = inner(col(i), target) as f32;
                for j in i..5 {
                    let v = inner(col(i), col(j)) as f32;
                    m[i * 5 + j] = v;
                    m[j * 5 + i] = v;
                }
            }
            rr[k] = energy(target) as f32;
            let regu = (1.0 + rr[k] + m[0] + m[24]) * 0.01 / 3.0;
            for i in 0..5 {
                m[i * 5 + i] += regu;
            }
            rr[k] += regu;
            let mut b = [0f32; 5];
            solve_spd(&m, &xr, &mut b, 5);
            // Residual energy of the predictor.
            let mut e = rr[k];
            for i in 0..5 {
                e -= 2.0 * b[i] * xr[i];
                for j in 0..5 {
                    e += b[i] * m[i * 5 + j] * b[j];
                }
            }
            nrg[k] = e.max(1e-3 * rr[k]).max(1e-6);
            let temp = wght[k] / (nrg[k] * wght[k] + 0.01 * sl as f32);
            for v in m.iter_mut() {
                *v *= temp;
            }
            w[k] = m[12];
            wltp[k] = m;
            c.ltp_coef[k] = b;
        }
        let mut lpc_res = 0f32;
        let mut ltp_res = 1e-6f32;
        for k in 0..4 {
            lpc_res += rr[k] * wght[k];
            ltp_res += nrg[k] * wght[k];
        }
        c.ltp_pred_cod_gain = 3.0 * (lpc_res / ltp_res).max(1e-9).log2();
        // Smoothing of the per-subframe gains toward their weighted mean.
        let mut d = [0f32; 4];
        for k in 0..4 {
            d[k] = c.ltp_coef[k].iter().sum();
        }
        let sw: f32 = 1e-3 + w.iter().sum::<f32>();
        let m: f32 = d.iter().zip(&w).map(|(a, b)| a * b).sum::<f32>() / sw;
        for k in 0..4 {
            let g = 0.1 / (0.1 + w[k]) * (m - d[k]);
            let mut db = [0f32; 5];
            let mut s = 0f32;
            for i in 0..5 {
                db[i] = c.ltp_coef[k][i].max(0.1);
                s += db[i];
            }
            let tt = g / s;
            for i in 0..5 {
                c.ltp_coef[k][i] += db[i] * tt;
            }
        }
        self.wltp = wltp;
    }

    fn quant_ltp_gains(&mut self, c: &mut Ctrl) {
        let mut best = f32::MAX;
        for k in 0..3 {
            let cb = t::LTP_VQ_PTRS_Q14[k];
            let cl = t::LTP_GAIN_BITS_Q6_PTRS[k];
            let mut total = 0f32;
            let mut idx = [0u8; 4];
            for j in 0..4 {
                let wm = &self.wltp[j];
                let inp = &c.ltp_coef[j];
                let mut bd = f32::MAX;
                for (n, row) in cb.iter().enumerate() {
                    let mut diff = [0f32; 5];
                    for i in 0..5 {
                        diff[i] = inp[i] - f32::from(row[i]) / 16384.0;
                    }
                    let mut s = self.mu_ltp * f32::from(cl[n]) / 64.0;
                    for i in 0..5 {
                        let mut acc = 0f32;
                        for m in 0..5 {
                            acc += wm[i * 5 + m] * diff[m];
                        }
                        s += diff[i] * acc;
                    }
                    if s < bd {
                        bd = s;
                        idx[j] = n as u8;
                    }
                }
                total += bd;
            }
            if total < best {
                best = total;
                c.ltp_index = idx;
                c.per_index = k as u8;
            }
        }
        let cb = t::LTP_VQ_PTRS_Q14[usize::from(c.per_index)];
        for j in 0..4 {
            let row = cb[usize::from(c.ltp_index[j])];
            c.ltp_q14[j] = row;
            for i in 0..5 {
                c.ltp_coef[j][i] = f32::from(row[i]) / 16384.0;
            }
        }
    }

    fn ltp_scale_ctrl(&mut self, c: &mut Ctrl, frame_in_packet: usize) {
        self.hp_ltp_pred_cod_gain = (c.ltp_pred_cod_gain - self.prev_ltp_pred_cod_gain).max(0.0)
            + 0.5 * self.hp_ltp_pred_cod_gain;
        self.prev_ltp_pred_cod_gain = c.ltp_pred_cod_gain;
        let g_out = 0.5 * c.ltp_pred_cod_gain + 0.5 * self.hp_ltp_pred_cod_gain;
        let g_limit = sigmoid(0.5 * (g_out - 6.0));
        c.ltp_scale_index = 0;
        if frame_in_packet == 0 {
            let round_loss = usize::from(self.cfg.packet_loss_perc) + self.frames_per_packet - 1;
            let th1 = tables::LTP_SCALE_THRESHOLDS[round_loss.min(10)];
            let th2 = tables::LTP_SCALE_THRESHOLDS[(round_loss + 1).min(10)];
            if g_limit > th1 {
                c.ltp_scale_index = 2;
            } else if g_limit > th2 {
                c.ltp_scale_index = 1;
            }
        }
    }

    fn process_gains(&mut self, c: &mut Ctrl, frame_in_packet: usize) {
        if c.voiced {
            let s = 1.0 - 0.5 * sigmoid(0.25 * (c.ltp_pred_cod_gain - 12.0));
            for g in c.gains.iter_mut() {
                *g *= s;
            }
        }
        let inv_max_sqr = 2f32.powf(0.33 * (21.0 - c.current_snr_db)) / self.subfr_length as f32;
        let mut gq = [0i32; 4];
        for k in 0..4 {
            let g = c.gains[k];
            let g = (g * g + c.res_nrg[k] * inv_max_sqr).sqrt().min(32767.0);
            c.gains[k] = if g.is_finite() { g } else { 32767.0 };
            gq[k] = (c.gains[k] * 65536.0) as i32;
        }
        c.gain_indices = gains::quantize(&mut gq, &mut self.last_gain_index, frame_in_packet > 0);
        c.gains_q16 = gq;
        for k in 0..4 {
            c.gains[k] = gq[k] as f32 / 65536.0;
        }
        if c.voiced {
            c.quant_offset_type = if c.ltp_pred_cod_gain + c.input_tilt > 1.0 {
                0
            } else {
                1
            };
        }
        let qo = f32::from(
            t::QUANTIZATION_OFFSETS_Q10[usize::from(!c.voiced)][usize::from(c.quant_offset_type)],
        ) / 1024.0;
        c.lambda = (1.2 - 0.05
            + -0.3 * self.speech_activity
            + -0.2 * c.input_quality
            + -0.1 * c.coding_quality
            + 1.5 * qo)
            .clamp(0.05, 1.95);
    }
}

/// Gain making the warped filter's log response zero-mean on a non-warped scale.
fn warped_gain(coefs: &[f32], lambda: f32) -> f32 {
    let lambda = -lambda;
    let n = coefs.len();
    let mut gain = coefs[n - 1];
    for i in (0..n - 1).rev() {
        gain = lambda * gain + coefs[i];
    }
    let g = 1.0 / (1.0 - lambda * gain);
    if g.is_finite() {
        g
    } else {
        1.0
    }
}

/// Converts warped shaping filters to monic pseudo-warped coefficients and limits their
/// magnitude by bandwidth expansion of the true coefficients (the SDK's rule).
fn warped_true2monic(
    syn: &mut [f32; 16],
    ana: &mut [f32; 16],
    lambda: f32,
    limit: f32,
    order: usize,
) {
    let to_monic = |syn: &mut [f32; 16], ana: &mut [f32; 16]| -> (f32, f32) {
        for i in (1..order).rev() {
            syn[i - 1] -= lambda * syn[i];
            ana[i - 1] -= lambda * ana[i];
        }
        let gs = (1.0 - lambda * lambda) / (1.0 + lambda * syn[0]);
        let ga = (1.0 - lambda * lambda) / (1.0 + lambda * ana[0]);
        for i in 0..order {
            syn[i] *= gs;
            ana[i] *= ga;
        }
        (gs, ga)
    };
    let (mut gs, mut ga) = to_monic(syn, ana);
    for iter in 0..10 {
        let mut maxabs = -1f32;
        let mut ind = 0;
        for i in 0..order {
            let v = syn[i].abs().max(ana[i].abs());
            if v > maxabs {
                maxabs = v;
                ind = i;
            }
        }
        if maxabs <= limit {
            return;
        }
        // Back to true warped coefficients, expand, and convert again.
        for i in 1..order {
            syn[i - 1] += lambda * syn[i];
            ana[i - 1] += lambda * ana[i];
        }
        for i in 0..order {
            syn[i] /= gs;
            ana[i] /= ga;
        }
        let chirp =
            0.99 - (0.8 + 0.1 * iter as f32) * (maxabs - limit) / (maxabs * (ind + 1) as f32);
        bwexpander(&mut syn[..order], chirp);
        bwexpander(&mut ana[..order], chirp);
        (gs, ga) = to_monic(syn, ana);
    }
    for i in 0..order {
        syn[i] = if syn[i].is_finite() {
            syn[i].clamp(-limit, limit)
        } else {
            0.0
        };
        ana[i] = if ana[i].is_finite() {
            ana[i].clamp(-limit, limit)
        } else {
            0.0
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A voiced-like test signal: harmonics of a gliding 110..180 Hz pitch with a decaying
    /// spectral envelope, plus a little noise, amplitude-modulated into syllables.
    fn synthetic(rate: u32, secs: f32) -> Vec<i16> {
        let n = (rate as f32 * secs) as usize;
        let mut phase = 0f32;
        let mut seed = 1u32;
        (0..n)
            .map(|i| {
                let t = i as f32 / rate as f32;
                let f0 = 110.0 + 70.0 * (0.5 + 0.5 * (t * 1.3).sin());
                phase += 2.0 * core::f32::consts::PI * f0 / rate as f32;
                let mut s = 0f32;
                for h in 1..20 {
                    if f0 * h as f32 > rate as f32 / 2.0 - 200.0 {
                        break;
                    }
                    s += (h as f32 * phase).sin() / h as f32;
                }
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let noise = (seed >> 16) as f32 / 65536.0 - 0.5;
                let env = (0.5 + 0.5 * (t * 2.0 * core::f32::consts::PI * 3.0).sin()).powi(2);
                (env * 6000.0 * s + 200.0 * noise) as i16
            })
            .collect()
    }

    /// The quantizer's own reconstruction (what a matching decoder outputs) follows the
    /// high-passed input: SNR per rate and bit rate near target.
    #[test]
    fn reconstruction_tracks_input_and_rate_follows_target() {
        for (rate, br) in [(8000u32, 12_000u32), (16000, 24_000)] {
            let x = synthetic(rate, 3.0);
            let mut cfg = EncoderConfig::new(rate);
            cfg.bitrate = br;
            let mut e = Encoder::new(cfg).unwrap();
            let fl = e.frame_samples();
            let (mut sig, mut err, mut bytes) = (0f64, 0f64, 0usize);
            for (n, f) in x.chunks_exact(fl).enumerate() {
                if let Some(p) = e.encode(f).unwrap() {
                    bytes += p.len();
                }
                if n < 10 {
                    continue;
                }
                for (a, b) in e.last_input().iter().zip(e.last_recon()) {
                    sig += f64::from(*a) * f64::from(*a);
                    err += (f64::from(*a) - f64::from(b)).powi(2);
                }
            }
            let snr = 10.0 * (sig / err).log10();
            let bps = bytes as f64 * 8.0 / 3.0;
            assert!(snr > 8.0, "{rate} Hz: reconstruction SNR {snr:.1} dB");
            assert!(
                (bps / f64::from(br) - 1.0).abs() < 0.3,
                "{rate} Hz: {bps:.0} bit/s for {br}"
            );
        }
    }

    #[test]
    fn rejects_bad_config_and_frame_length() {
        assert!(Encoder::new(EncoderConfig::new(44_100)).is_err());
        let mut c = EncoderConfig::new(8000);
        c.packet_ms = 30;
        assert!(Encoder::new(c).is_err());
        let mut e = Encoder::new(EncoderConfig::new(8000)).unwrap();
        assert!(e.encode(&[0; 100]).is_err());
    }
}
