//! SILK, the Skype codec (SILK_8000 / SILK_16000 of Lync and Skype for Business; payload
//! format draft-spittka-silk-payload-format, codec draft-vos-silk-02), bitstream-compatible
//! with the Skype SILK SDK 1.0.9 (not the SILK layer of Opus, RFC 6716, whose bitstream
//! differs).
//!
//! # Layers
//!
//! - [`range`]: the range encoder and decoder over Q16 CDFs, byte for byte the SDK's.
//! - [`tables`], [`tables_nlsf`]: the constant tables of the format (CDFs, codebooks),
//!   transcribed from the SDK sources (each block cites its SDK file).
//! - [`indices`]: every coded parameter of a frame ([`FrameIndices`]) and of a packet
//!   ([`Packet`]), with `decode_*` / `encode_*` that are exact inverses:
//!   - [`decode_packet`]`(&[u8]) -> Result<Packet, SilkError>` and
//!     [`encode_packet`]`(&Packet) -> Result<Vec<u8>, SilkError>`:
//!     `decode_packet(&encode_packet(&p)?)? == p` for any `p` that `decode_packet` returns.
//!   - [`parse_packet`] keeps the frames decoded before an error (what the decoder plays).
//!   - Per frame, for encoders that build the stream frame by frame:
//!     [`encode_frame`]`(&mut RangeEncoder, &FrameContext, &FrameIndices, termination)`
//!     then [`RangeEncoder::finish`], and [`decode_frame`] on a [`RangeDecoder`].
//!   - A packet = sampling-rate index, then per frame: type/offset, gains, NLSF path, NLSF
//!     interpolation, (voiced: lag, contour, PER index, 4 LTP indices, LTP scale), seed,
//!     pulses (rate level, per-block counts, shell tree, LSBs, signs), VAD flag and a
//!     termination symbol (`TERM_MORE_FRAMES` between frames; the last frame's is
//!     `TERM_LAST_FRAME`, or `TERM_LBRR_VER1/2` when the LBRR (FEC) payload of the
//!     packet one/two back follows in [`Packet::tail`]). The LBRR payload is itself a
//!     packet (encode it with `encode_packet`, append it as `tail`).
//!   - Encoder helpers: [`best_rate_level`] (the SDK encoder's rate-level choice).
//! - [`Decoder`]: the decoder proper (NLSF, gains, LTP and LPC synthesis, PLC, CNG, FEC),
//!   in the SDK's fixed-point arithmetic (bit-exact on the SDK test vectors):
//!   `Decoder::new(8000 | 12000 | 16000 | 24000)`, `decode(payload, &mut out)` (appends all
//!   frames of a packet at the packet's internal rate), `conceal(&mut out)` for a lost
//!   packet, `decode_fec(next, next2, &mut out)` to recover a lost packet from the LBRR copy
//!   in the next two packets ([`dec::find_lbrr`]), `decode_parsed(&Packet, &mut out)` for
//!   parameters already parsed (an encoder's local decoder).
//! - [`resampler`]: the SDK decoder's output up-sampler (only for comparing the SDK
//!   vectors decoded to other rates).
//!
//! Robustness: arbitrary bytes give a [`SilkError`] (or concealment in the decoder), never
//! a panic; work is bounded (at most five frames, 1,024 bytes, ten LSB levels per block).

pub mod dec;
pub mod enc;
pub mod indices;
pub mod range;
pub mod resampler;
pub mod tables;
pub mod tables_nlsf;

pub use dec::Decoder;
pub use enc::{Encoder, EncoderConfig, EncoderError};
pub use indices::{
    best_rate_level, decode_frame, decode_packet, encode_frame, encode_packet, parse_packet,
    FrameContext, FrameIndices, Packet, ParsedPacket,
};
pub use range::{RangeDecoder, RangeEncoder, MAX_ARITHM_BYTES};

/// Errors of the SILK bitstream layer and decoder (the SDK's `RANGE_CODER_*` and
/// `SKP_SILK_DEC_*` conditions).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SilkError {
    /// A symbol to encode is outside its CDF (or a field is out of range).
    #[error("symbol outside its CDF")]
    SymbolOutOfRange,
    /// The payload would exceed 1,024 bytes.
    #[error("payload longer than 1024 bytes")]
    PayloadTooLong,
    /// The decoder's search left the CDF.
    #[error("range decoder: CDF out of range")]
    CdfOutOfRange,
    /// Range decoder normalisation failed (corrupt stream).
    #[error("range decoder: normalisation failed")]
    NormalizationFailed,
    /// Range decoder interval of zero width.
    #[error("range decoder: zero interval")]
    ZeroInterval,
    /// The frames need more bytes than the payload has.
    #[error("range decoder: read beyond the payload")]
    ReadBeyondBuffer,
    /// The unused bits of the last byte are not all ones.
    #[error("range decoder: trailing bits check failed")]
    DecoderCheckFailed,
    /// The sampling-rate index is not 8/12/16/24 kHz.
    #[error("illegal sampling rate index")]
    IllegalSamplingRate,
    /// More than ten LSB levels in a shell block.
    #[error("too many pulse LSB levels")]
    TooManyLsbLevels,
    /// `FrameIndices::pulses` does not hold 20 ms at the packet's rate.
    #[error("pulse vector length does not match the sampling rate")]
    BadFrameLength,
    /// A packet must hold 1..=5 frames and a termination 0..=3.
    #[error("bad frame count or termination")]
    BadFrameCount,
    /// The decoder's sampling rate must be 8000, 12000, 16000 or 24000 Hz.
    #[error("unsupported sampling rate {0} Hz")]
    UnsupportedRate(u32),
}
