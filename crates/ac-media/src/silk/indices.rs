//! Coded parameters of SILK frames and packets: the SDK's `encode_parameters` /
//! `decode_parameters` with `encode_pulses` / `decode_pulses` (shell coder, LSBs, signs),
//! and the packet structure (draft-vos-silk-02 3.2, the SDK's `SKP_Silk_SDK_Decode` and
//! `SKP_Silk_encode_frame_FIX`): one range-coded stream holding 1..5 frames of 20 ms, each
//! ended by a frame-termination symbol (more frames / last frame / last frame + LBRR of the
//! packet one or two back), followed, after a termination 2 or 3, by the LBRR (low bit-rate
//! redundancy, in-band FEC) payload, itself a complete SILK packet.

#![allow(clippy::needless_range_loop)]

use super::range::{RangeDecoder, RangeEncoder, MAX_ARITHM_BYTES};
use super::tables::*;
use super::tables_nlsf::{NlsfCodebook, NLSF_CB0_10, NLSF_CB0_16, NLSF_CB1_10, NLSF_CB1_16};
use super::SilkError;

/// Frames of 20 ms a packet can hold (`SILK_MAX_FRAMES_PER_PACKET`).
pub const MAX_FRAMES_PER_PACKET: usize = 5;
/// Subframes per frame (`NB_SUBFR`).
pub const NB_SUBFR: usize = 4;
/// LTP filter taps (`LTP_ORDER`).
pub const LTP_ORDER: usize = 5;
/// Largest pulse magnitude the decoder accepts. The SDK encoder's pulses are `i8`, so
/// seven LSB levels suffice; we bound the LSB loop (the SDK's is unbounded) at 10 levels.
pub const MAX_LSB_LEVELS: usize = 10;
/// Shell-coder block length (`SHELL_CODEC_FRAME_LENGTH`).
pub const SHELL_BLOCK: usize = 16;
/// Largest pulse sum of a shell block (`MAX_PULSES`).
pub const MAX_PULSES: usize = 18;
/// Number of rate levels (`N_RATE_LEVELS`).
pub const N_RATE_LEVELS: usize = 10;

/// Signal type of a frame (`sigtype`).
pub const SIG_TYPE_VOICED: u8 = 0;
/// Signal type of a frame (`sigtype`).
pub const SIG_TYPE_UNVOICED: u8 = 1;

/// Frame termination: more frames follow in this packet (`SKP_SILK_MORE_FRAMES`).
pub const TERM_MORE_FRAMES: u8 = 1;
/// Frame termination: last frame, no FEC (`SKP_SILK_LAST_FRAME`).
pub const TERM_LAST_FRAME: u8 = 0;
/// Frame termination: last frame, the LBRR of packet n-1 follows (`SKP_SILK_LBRR_VER1`).
pub const TERM_LBRR_VER1: u8 = 2;
/// Frame termination: last frame, the LBRR of packet n-2 follows (`SKP_SILK_LBRR_VER2`).
pub const TERM_LBRR_VER2: u8 = 3;

/// Internal sampling rates of the bitstream in kHz, by coded index.
pub const SAMPLING_RATES_KHZ: [u32; 4] = [8, 12, 16, 24];

/// The NLSF codebook for an LPC order and signal type.
pub fn nlsf_codebook(fs_khz: u32, sigtype: u8) -> &'static NlsfCodebook {
    match (fs_khz == 8, sigtype == SIG_TYPE_VOICED) {
        (true, true) => &NLSF_CB0_10,
        (true, false) => &NLSF_CB1_10,
        (false, true) => &NLSF_CB0_16,
        (false, false) => &NLSF_CB1_16,
    }
}

/// Samples of one 20 ms frame at `fs_khz`.
pub fn frame_length(fs_khz: u32) -> usize {
    20 * fs_khz as usize
}

/// Every coded parameter of one 20 ms frame, as indices (the SDK's
/// `SKP_Silk_encoder_control` quantisation indices plus the pulses and the VAD flag).
///
/// Gains: `gain_indices[0]` is the absolute index 0..63 in the first frame of a packet and a
/// delta index 0..44 (delta -4..40) in the others; the other three are delta indices.
/// Voiced-only fields (`lag_index` .. `ltp_scale_index`) are ignored for unvoiced frames
/// and decoded as 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameIndices {
    /// `SIG_TYPE_VOICED` (0) or `SIG_TYPE_UNVOICED` (1).
    pub sigtype: u8,
    /// Quantisation offset type, 0 (low) or 1 (high).
    pub quant_offset_type: u8,
    /// Gain indices per subframe (see above).
    pub gain_indices: [u8; NB_SUBFR],
    /// NLSF MSVQ path: one index per stage (6 stages at 8 kHz, 10 otherwise; the rest 0).
    pub nlsf_indices: [u8; 10],
    /// NLSF interpolation factor in Q2 (0..4; 4 = no interpolation).
    pub nlsf_interp_coef_q2: u8,
    /// Pitch lag index (lag - 2 ms).
    pub lag_index: u16,
    /// Pitch contour index.
    pub contour_index: u8,
    /// LTP periodicity index (codebook 0..2).
    pub per_index: u8,
    /// LTP codebook index per subframe.
    pub ltp_indices: [u8; NB_SUBFR],
    /// LTP scaling index 0..2.
    pub ltp_scale_index: u8,
    /// Random seed index 0..3.
    pub seed: u8,
    /// Rate level of the pulse coding (0..9; the SDK encoder picks the cheapest of 0..8,
    /// see [`best_rate_level`]).
    pub rate_level: u8,
    /// Excitation pulses, one per sample of the frame (`20 * fs_khz` values).
    pub pulses: Vec<i32>,
    /// Voice activity flag.
    pub vad: bool,
}

impl FrameIndices {
    /// An all-zero unvoiced frame of `fs_khz` (a starting point for encoders and tests).
    pub fn zeroed(fs_khz: u32) -> Self {
        FrameIndices {
            sigtype: SIG_TYPE_UNVOICED,
            quant_offset_type: 0,
            gain_indices: [0; NB_SUBFR],
            nlsf_indices: [0; 10],
            nlsf_interp_coef_q2: 4,
            lag_index: 0,
            contour_index: 0,
            per_index: 0,
            ltp_indices: [0; NB_SUBFR],
            ltp_scale_index: 0,
            seed: 0,
            rate_level: 0,
            pulses: vec![0; frame_length(fs_khz)],
            vad: false,
        }
    }
}

/// One SILK packet: its frames, the termination of the last frame and the bytes after the
/// range-coded part (the LBRR payload when `termination` is `TERM_LBRR_VER1/2`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// Internal sampling rate in kHz (8, 12, 16 or 24).
    pub fs_khz: u32,
    /// 1..=5 frames.
    pub frames: Vec<FrameIndices>,
    /// Termination symbol of the last frame (`TERM_*`; `TERM_MORE_FRAMES` only when the
    /// packet ends there or holds five frames, as the SDK decoder then stops).
    pub termination: u8,
    /// Bytes after the range-coded frames.
    pub tail: Vec<u8>,
}

impl Packet {
    /// The LBRR (FEC) payload carried by this packet for the packet `lost_offset` (1 or 2)
    /// before it, as the SDK's `SKP_Silk_SDK_search_for_LBRR` finds it.
    pub fn lbrr_for(&self, lost_offset: u8) -> Option<&[u8]> {
        let t = self.termination;
        if (1..=2).contains(&lost_offset)
            && t > 0
            && (t - 1) & lost_offset != 0
            && !self.tail.is_empty()
        {
            Some(&self.tail)
        } else {
            None
        }
    }
}

/// Decoder-side context of a frame inside a packet.
#[derive(Debug, Clone, Copy)]
pub struct FrameContext {
    /// Internal sampling rate in kHz.
    pub fs_khz: u32,
    /// Index of the frame in its packet (0 = first: absolute gain, independent type).
    pub frame_in_packet: usize,
    /// `2 * sigtype + quant_offset_type` of the previous frame in the packet.
    pub type_offset_prev: usize,
}

fn pitch_lag_cdf(fs_khz: u32) -> (&'static [u16], usize) {
    match fs_khz {
        8 => (&PITCH_LAG_NB_CDF, PITCH_LAG_NB_CDF_OFFSET),
        12 => (&PITCH_LAG_MB_CDF, PITCH_LAG_MB_CDF_OFFSET),
        16 => (&PITCH_LAG_WB_CDF, PITCH_LAG_WB_CDF_OFFSET),
        _ => (&PITCH_LAG_SWB_CDF, PITCH_LAG_SWB_CDF_OFFSET),
    }
}

fn pitch_contour_cdf(fs_khz: u32) -> (&'static [u16], usize) {
    if fs_khz == 8 {
        (&PITCH_CONTOUR_NB_CDF, PITCH_CONTOUR_NB_CDF_OFFSET)
    } else {
        (&PITCH_CONTOUR_CDF, PITCH_CONTOUR_CDF_OFFSET)
    }
}

fn sign_cdf(sigtype: u8, quant_offset_type: u8, rate_level: usize) -> [u16; 3] {
    let i = (N_RATE_LEVELS - 1) * (2 * sigtype as usize + quant_offset_type as usize) + rate_level;
    [0, SIGN_CDF.get(i).copied().unwrap_or(32768), 65535]
}

/// Decode one frame's parameters and pulses (the SDK's `decode_parameters` with
/// `decode_pulses`), not the VAD flag's successor: returns the indices and the frame
/// termination symbol.
pub fn decode_frame(
    rd: &mut RangeDecoder<'_>,
    ctx: &FrameContext,
) -> Result<(FrameIndices, u8), SilkError> {
    let fs = ctx.fs_khz;
    let type_offset = if ctx.frame_in_packet == 0 {
        rd.decode(&TYPE_OFFSET_CDF, TYPE_OFFSET_CDF_OFFSET)?
    } else {
        let cdf = TYPE_OFFSET_JOINT_CDF
            .get(ctx.type_offset_prev)
            .ok_or(SilkError::CdfOutOfRange)?;
        rd.decode(cdf, TYPE_OFFSET_CDF_OFFSET)?
    };
    let sigtype = (type_offset >> 1) as u8;
    let mut f = FrameIndices::zeroed(fs);
    f.sigtype = sigtype;
    f.quant_offset_type = (type_offset & 1) as u8;
    f.gain_indices[0] = if ctx.frame_in_packet == 0 {
        rd.decode(&GAIN_CDF[sigtype as usize], GAIN_CDF_OFFSET)?
    } else {
        rd.decode(&DELTA_GAIN_CDF, DELTA_GAIN_CDF_OFFSET)?
    } as u8;
    for g in f.gain_indices.iter_mut().skip(1) {
        *g = rd.decode(&DELTA_GAIN_CDF, DELTA_GAIN_CDF_OFFSET)? as u8;
    }
    let cb = nlsf_codebook(fs, sigtype);
    for (s, stage) in cb.stages.iter().enumerate() {
        f.nlsf_indices[s] = rd.decode(stage.cdf, stage.cdf_middle)? as u8;
    }
    f.nlsf_interp_coef_q2 = rd.decode(
        &NLSF_INTERPOLATION_FACTOR_CDF,
        NLSF_INTERPOLATION_FACTOR_OFFSET,
    )? as u8;
    if sigtype == SIG_TYPE_VOICED {
        let (cdf, off) = pitch_lag_cdf(fs);
        f.lag_index = rd.decode(cdf, off)? as u16;
        let (cdf, off) = pitch_contour_cdf(fs);
        f.contour_index = rd.decode(cdf, off)? as u8;
        f.per_index = rd.decode(&LTP_PER_INDEX_CDF, LTP_PER_INDEX_CDF_OFFSET)? as u8;
        let per = f.per_index as usize;
        for l in f.ltp_indices.iter_mut() {
            *l = rd.decode(LTP_GAIN_CDF_PTRS[per], LTP_GAIN_CDF_OFFSETS[per] as usize)? as u8;
        }
        f.ltp_scale_index = rd.decode(&LTPSCALE_CDF, LTPSCALE_OFFSET)? as u8;
    }
    f.seed = rd.decode(&SEED_CDF, SEED_OFFSET)? as u8;
    decode_pulses(rd, &mut f)?;
    f.vad = rd.decode(&VADFLAG_CDF, VADFLAG_OFFSET)? == 1;
    let term = rd.decode(&FRAMETERMINATION_CDF, FRAMETERMINATION_OFFSET)? as u8;
    Ok((f, term))
}

fn decode_pulses(rd: &mut RangeDecoder<'_>, f: &mut FrameIndices) -> Result<(), SilkError> {
    let rate_level = rd.decode(&RATE_LEVELS_CDF[f.sigtype as usize], RATE_LEVELS_CDF_OFFSET)?;
    f.rate_level = rate_level as u8;
    let iter = f.pulses.len() / SHELL_BLOCK;
    let mut sum = [0usize; 480 / SHELL_BLOCK];
    let mut nls = [0usize; 480 / SHELL_BLOCK];
    for i in 0..iter {
        sum[i] = rd.decode(
            &PULSES_PER_BLOCK_CDF[rate_level],
            PULSES_PER_BLOCK_CDF_OFFSET,
        )?;
        while sum[i] == MAX_PULSES + 1 {
            nls[i] += 1;
            if nls[i] > MAX_LSB_LEVELS {
                return Err(SilkError::TooManyLsbLevels);
            }
            sum[i] = rd.decode(
                &PULSES_PER_BLOCK_CDF[N_RATE_LEVELS - 1],
                PULSES_PER_BLOCK_CDF_OFFSET,
            )?;
        }
    }
    for i in 0..iter {
        let block = &mut f.pulses[i * SHELL_BLOCK..(i + 1) * SHELL_BLOCK];
        if sum[i] > 0 {
            shell_decode(rd, block, sum[i])?;
        } else {
            block.fill(0);
        }
    }
    for i in 0..iter {
        if nls[i] > 0 {
            for q in f.pulses[i * SHELL_BLOCK..(i + 1) * SHELL_BLOCK].iter_mut() {
                let mut a = *q;
                for _ in 0..nls[i] {
                    a = (a << 1) + rd.decode(&LSB_CDF, 1)? as i32;
                }
                *q = a;
            }
        }
    }
    let cdf = sign_cdf(f.sigtype, f.quant_offset_type, rate_level);
    for q in f.pulses.iter_mut() {
        if *q > 0 && rd.decode(&cdf, 1)? == 0 {
            *q = -*q;
        }
    }
    Ok(())
}

fn shell_table(level: usize) -> &'static [u16] {
    match level {
        0 => &SHELL_CODE_TABLE0,
        1 => &SHELL_CODE_TABLE1,
        2 => &SHELL_CODE_TABLE2,
        _ => &SHELL_CODE_TABLE3,
    }
}

fn split_cdf(level: usize, p: usize) -> Result<&'static [u16], SilkError> {
    let off = *SHELL_CODE_TABLE_OFFSETS
        .get(p)
        .ok_or(SilkError::CdfOutOfRange)? as usize;
    let t = shell_table(level);
    // A split the SDK's tables do not cover (a corrupt stream) is an error here.
    t.get(off..off + p + 2).ok_or(SilkError::CdfOutOfRange)
}

fn decode_split(
    rd: &mut RangeDecoder<'_>,
    p: usize,
    level: usize,
) -> Result<(usize, usize), SilkError> {
    if p == 0 {
        return Ok((0, 0));
    }
    let c1 = rd.decode(split_cdf(level, p)?, p >> 1)?;
    if c1 > p {
        return Err(SilkError::CdfOutOfRange);
    }
    Ok((c1, p - c1))
}

/// The shell tree of one 16-pulse block, in the SDK's coding order: (level, child index).
/// Level 3 splits 16 -> 8+8, level 2 8 -> 4+4, level 1 4 -> 2+2, level 0 2 -> 1+1.
fn shell_decode(rd: &mut RangeDecoder<'_>, out: &mut [i32], total: usize) -> Result<(), SilkError> {
    let mut p3 = [0usize; 2];
    let mut p2 = [0usize; 4];
    let mut p1 = [0usize; 8];
    (p3[0], p3[1]) = decode_split(rd, total, 3)?;
    for a in 0..2 {
        (p2[2 * a], p2[2 * a + 1]) = decode_split(rd, p3[a], 2)?;
        for b in 2 * a..2 * a + 2 {
            (p1[2 * b], p1[2 * b + 1]) = decode_split(rd, p2[b], 1)?;
            for c in 2 * b..2 * b + 2 {
                let (x, y) = decode_split(rd, p1[c], 0)?;
                out[2 * c] = x as i32;
                out[2 * c + 1] = y as i32;
            }
        }
    }
    Ok(())
}

fn encode_split(enc: &mut RangeEncoder, child1: usize, p: usize, level: usize) {
    if p > 0 {
        match split_cdf(level, p) {
            Ok(cdf) => enc.encode(child1, cdf),
            Err(_) => enc.encode(usize::MAX, &[]),
        }
    }
}

fn shell_encode(enc: &mut RangeEncoder, abs: &[usize]) {
    let mut p1 = [0usize; 8];
    for k in 0..8 {
        p1[k] = abs[2 * k] + abs[2 * k + 1];
    }
    let p2 = [p1[0] + p1[1], p1[2] + p1[3], p1[4] + p1[5], p1[6] + p1[7]];
    let p3 = [p2[0] + p2[1], p2[2] + p2[3]];
    encode_split(enc, p3[0], p3[0] + p3[1], 3);
    for a in 0..2 {
        encode_split(enc, p2[2 * a], p3[a], 2);
        for b in 2 * a..2 * a + 2 {
            encode_split(enc, p1[2 * b], p2[b], 1);
            for c in 2 * b..2 * b + 2 {
                encode_split(enc, abs[2 * c], p1[c], 0);
            }
        }
    }
}

/// Shifts per shell block (the SDK's `nRshifts`) and the pulse sums after shifting.
fn block_shifts(pulses: &[i32]) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
    let mut abs: Vec<usize> = pulses.iter().map(|q| q.unsigned_abs() as usize).collect();
    let iter = pulses.len() / SHELL_BLOCK;
    let mut shifts = vec![0usize; iter];
    let mut sums = vec![0usize; iter];
    for i in 0..iter {
        let blk = &mut abs[i * SHELL_BLOCK..(i + 1) * SHELL_BLOCK];
        loop {
            // MAX_PULSES_TABLE = [6, 8, 12, 18]: limits of the sums of 2, 4, 8 and 16 pulses.
            let mut over = false;
            let mut level: Vec<usize> = blk.to_vec();
            for (li, &lim) in MAX_PULSES_TABLE.iter().enumerate() {
                let next: Vec<usize> = level.chunks(2).map(|c| c[0] + c[1]).collect();
                if next.iter().any(|&s| s > lim as usize) {
                    over = true;
                }
                level = next;
                if li == 3 {
                    sums[i] = level[0];
                }
            }
            if over {
                shifts[i] += 1;
                for a in blk.iter_mut() {
                    *a >>= 1;
                }
            } else {
                break;
            }
        }
    }
    (abs, shifts, sums)
}

/// The rate level the SDK encoder chooses for these pulses (fewest bits for the pulse
/// counts, levels 0..8; `SKP_Silk_encode_pulses`).
pub fn best_rate_level(sigtype: u8, pulses: &[i32]) -> u8 {
    let (_, shifts, sums) = block_shifts(pulses);
    let mut best = i32::MAX;
    let mut best_k = 0;
    for k in 0..N_RATE_LEVELS - 1 {
        let bits = &PULSES_PER_BLOCK_BITS_Q6[k];
        let mut sum = i32::from(RATE_LEVELS_BITS_Q6[sigtype.min(1) as usize][k]);
        for (s, &n) in shifts.iter().zip(sums.iter()) {
            sum += i32::from(if *s > 0 {
                bits[MAX_PULSES + 1]
            } else {
                bits[n.min(MAX_PULSES)]
            });
        }
        if sum < best {
            best = sum;
            best_k = k;
        }
    }
    best_k as u8
}

fn encode_pulses(enc: &mut RangeEncoder, f: &FrameIndices) {
    let rate_level = f.rate_level as usize;
    let (abs, shifts, sums) = block_shifts(&f.pulses);
    enc.encode(rate_level, &RATE_LEVELS_CDF[f.sigtype as usize]);
    let Some(cdf) = PULSES_PER_BLOCK_CDF.get(rate_level) else {
        enc.encode(usize::MAX, &[]);
        return;
    };
    for (&s, &n) in shifts.iter().zip(sums.iter()) {
        if s == 0 {
            enc.encode(n, cdf);
        } else {
            enc.encode(MAX_PULSES + 1, cdf);
            for _ in 0..s - 1 {
                enc.encode(MAX_PULSES + 1, &PULSES_PER_BLOCK_CDF[N_RATE_LEVELS - 1]);
            }
            enc.encode(n, &PULSES_PER_BLOCK_CDF[N_RATE_LEVELS - 1]);
        }
    }
    for (i, &n) in sums.iter().enumerate() {
        if n > 0 {
            shell_encode(enc, &abs[i * SHELL_BLOCK..(i + 1) * SHELL_BLOCK]);
        }
    }
    for (i, &s) in shifts.iter().enumerate() {
        if s > 0 {
            for q in &f.pulses[i * SHELL_BLOCK..(i + 1) * SHELL_BLOCK] {
                let a = q.unsigned_abs();
                for j in (0..s).rev() {
                    enc.encode(((a >> j) & 1) as usize, &LSB_CDF);
                }
            }
        }
    }
    let cdf = sign_cdf(f.sigtype, f.quant_offset_type, rate_level);
    for &q in &f.pulses {
        if q != 0 {
            enc.encode(usize::from(q > 0), &cdf);
        }
    }
}

/// Encode one frame's parameters, pulses, VAD flag and `termination` (the SDK's
/// `encode_parameters` + `encode_pulses` + the termination symbol). The inverse of
/// [`decode_frame`] for the same context.
pub fn encode_frame(
    enc: &mut RangeEncoder,
    ctx: &FrameContext,
    f: &FrameIndices,
    termination: u8,
) -> Result<(), SilkError> {
    let fs = ctx.fs_khz;
    if f.pulses.len() != frame_length(fs) {
        return Err(SilkError::BadFrameLength);
    }
    if f.sigtype > 1 || f.quant_offset_type > 1 {
        return Err(SilkError::SymbolOutOfRange);
    }
    // Pulse magnitudes beyond MAX_LSB_LEVELS shifts could not be decoded back.
    if f.pulses
        .iter()
        .any(|q| q.unsigned_abs() > (MAX_PULSES as u32) << MAX_LSB_LEVELS)
    {
        return Err(SilkError::SymbolOutOfRange);
    }
    let type_offset = 2 * f.sigtype as usize + f.quant_offset_type as usize;
    if ctx.frame_in_packet == 0 {
        enc.encode(type_offset, &TYPE_OFFSET_CDF);
    } else {
        let cdf = TYPE_OFFSET_JOINT_CDF
            .get(ctx.type_offset_prev)
            .ok_or(SilkError::SymbolOutOfRange)?;
        enc.encode(type_offset, cdf);
    }
    if ctx.frame_in_packet == 0 {
        enc.encode(f.gain_indices[0] as usize, &GAIN_CDF[f.sigtype as usize]);
    } else {
        enc.encode(f.gain_indices[0] as usize, &DELTA_GAIN_CDF);
    }
    for &g in &f.gain_indices[1..] {
        enc.encode(g as usize, &DELTA_GAIN_CDF);
    }
    let cb = nlsf_codebook(fs, f.sigtype);
    for (s, stage) in cb.stages.iter().enumerate() {
        enc.encode(f.nlsf_indices[s] as usize, stage.cdf);
    }
    if f.nlsf_indices[cb.stages.len()..].iter().any(|&i| i != 0) {
        return Err(SilkError::SymbolOutOfRange);
    }
    enc.encode(
        f.nlsf_interp_coef_q2 as usize,
        &NLSF_INTERPOLATION_FACTOR_CDF,
    );
    if f.sigtype == SIG_TYPE_VOICED {
        enc.encode(f.lag_index as usize, pitch_lag_cdf(fs).0);
        enc.encode(f.contour_index as usize, pitch_contour_cdf(fs).0);
        enc.encode(f.per_index as usize, &LTP_PER_INDEX_CDF);
        let cdf = LTP_GAIN_CDF_PTRS
            .get(f.per_index as usize)
            .ok_or(SilkError::SymbolOutOfRange)?;
        for &l in &f.ltp_indices {
            enc.encode(l as usize, cdf);
        }
        enc.encode(f.ltp_scale_index as usize, &LTPSCALE_CDF);
    }
    enc.encode(f.seed as usize, &SEED_CDF);
    encode_pulses(enc, f);
    enc.encode(usize::from(f.vad), &VADFLAG_CDF);
    enc.encode(termination as usize, &FRAMETERMINATION_CDF);
    match enc.error() {
        Some(e) => Err(e.clone()),
        None => Ok(()),
    }
}

/// Result of parsing a packet: the frames that decoded, and the error that stopped the
/// parse if any (the SDK decoder plays the good frames and conceals from the bad one).
#[derive(Debug, Clone)]
pub struct ParsedPacket {
    /// Internal sampling rate in kHz (0 if the rate could not be read).
    pub fs_khz: u32,
    /// The frames decoded before any error.
    pub frames: Vec<FrameIndices>,
    /// Termination of the last good frame.
    pub termination: u8,
    /// Bytes after the range-coded part (valid when `error` is `None`).
    pub tail_start: usize,
    /// The error that ended the parse.
    pub error: Option<SilkError>,
}

/// Parse a packet frame by frame as the SDK decoder does, keeping the frames decoded
/// before an error. Bounded: at most five frames, at most [`MAX_ARITHM_BYTES`] read.
pub fn parse_packet(data: &[u8]) -> ParsedPacket {
    let mut out = ParsedPacket {
        fs_khz: 0,
        frames: Vec::new(),
        termination: TERM_LAST_FRAME,
        tail_start: data.len(),
        error: None,
    };
    let mut rd = match RangeDecoder::new(data) {
        Ok(rd) => rd,
        Err(e) => {
            out.error = Some(e);
            return out;
        }
    };
    let ix = match rd.decode(&SAMPLINGRATES_CDF, SAMPLINGRATES_OFFSET) {
        Ok(ix) => ix,
        Err(e) => {
            out.error = Some(e);
            return out;
        }
    };
    let Some(&fs) = SAMPLING_RATES_KHZ.get(ix) else {
        out.error = Some(SilkError::IllegalSamplingRate);
        return out;
    };
    out.fs_khz = fs;
    let mut ctx = FrameContext {
        fs_khz: fs,
        frame_in_packet: 0,
        type_offset_prev: 0,
    };
    loop {
        match decode_frame(&mut rd, &ctx) {
            Ok((f, term)) => {
                let used = rd.bytes_used();
                if used > data.len() {
                    out.error = Some(SilkError::ReadBeyondBuffer);
                    return out;
                }
                if used == data.len() {
                    if let Err(e) = rd.check_after_decoding() {
                        out.error = Some(e);
                        return out;
                    }
                }
                ctx.type_offset_prev = 2 * f.sigtype as usize + f.quant_offset_type as usize;
                out.frames.push(f);
                out.termination = term;
                out.tail_start = used;
                if term == TERM_MORE_FRAMES
                    && used < data.len()
                    && out.frames.len() < MAX_FRAMES_PER_PACKET
                {
                    ctx.frame_in_packet += 1;
                } else {
                    return out;
                }
            }
            Err(e) => {
                out.error = Some(e);
                return out;
            }
        }
    }
}

/// Decode a whole packet; any error is returned.
pub fn decode_packet(data: &[u8]) -> Result<Packet, SilkError> {
    let p = parse_packet(data);
    if let Some(e) = p.error {
        return Err(e);
    }
    Ok(Packet {
        fs_khz: p.fs_khz,
        frames: p.frames,
        termination: p.termination,
        tail: data[p.tail_start..].to_vec(),
    })
}

/// Encode a packet: the inverse of [`decode_packet`] (`decode_packet(&encode_packet(p)?)`
/// equals `p` for every packet `decode_packet` can return).
pub fn encode_packet(p: &Packet) -> Result<Vec<u8>, SilkError> {
    let rate_ix = SAMPLING_RATES_KHZ
        .iter()
        .position(|&r| r == p.fs_khz)
        .ok_or(SilkError::IllegalSamplingRate)?;
    if p.frames.is_empty()
        || p.frames.len() > MAX_FRAMES_PER_PACKET
        || p.termination > TERM_LBRR_VER2
    {
        return Err(SilkError::BadFrameCount);
    }
    let mut enc = RangeEncoder::new();
    enc.encode(rate_ix, &SAMPLINGRATES_CDF);
    let mut ctx = FrameContext {
        fs_khz: p.fs_khz,
        frame_in_packet: 0,
        type_offset_prev: 0,
    };
    for (i, f) in p.frames.iter().enumerate() {
        let last = i + 1 == p.frames.len();
        encode_frame(
            &mut enc,
            &ctx,
            f,
            if last {
                p.termination
            } else {
                TERM_MORE_FRAMES
            },
        )?;
        ctx.frame_in_packet += 1;
        ctx.type_offset_prev = 2 * f.sigtype as usize + f.quant_offset_type as usize;
    }
    let mut out = enc.finish()?;
    out.extend_from_slice(&p.tail);
    if out.len() > MAX_ARITHM_BYTES {
        return Err(SilkError::PayloadTooLong);
    }
    Ok(out)
}
