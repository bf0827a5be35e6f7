//! `ac-media`: RTP/RTCP/SRTP, codecs, jitter buffer, PLC and voice DSP.
//!
//! Sans-IO throughout except [`driver`]: every other module takes bytes or samples and returns
//! bytes or samples; none opens a socket, spawns a thread or reads a clock.
//!
//! - [`rtp`]: RTP fixed header, CSRCs, header extension and padding (RFC 3550 5.1, 5.3.1):
//!   a checked view ([`rtp::RtpView`]) and an owned packet with parse/emit.
//! - [`rtcp`]: RTCP compound packets (RFC 3550 6.4-6.6: SR, RR, SDES, BYE, APP) and extended
//!   reports (RFC 3611: RLE, receipt times, RRT, DLRR, statistics summary, VoIP metrics).
//! - [`g711`]: G.711 A-law and µ-law, bit-exact with the ITU-T G.191 STL.
//! - [`g722`]: G.722 64 kbit/s encoder and decoder (modes 1-3), bit-exact with the ITU-T
//!   G.191 STL test vectors.
//! - [`g729`]: G.729 Annex A encoder and decoder with Annex B SID/DTX/comfort noise
//!   (floating point; interoperates with bcg729).
//! - [`silk`]: SILK (Skype SILK SDK 1.0.9 bitstream): range coder, frame/packet parameter
//!   coding shared by decoder and encoder, the decoder (bit-exact with the SDK test vectors)
//!   with concealment, comfort noise and in-band FEC, and the encoder (`silk::Encoder`, 8/12/16
//!   kHz, 6-40 kbit/s, 1-5 frames per packet, in-band FEC).
//! - [`cng`]: VAD, DTX and comfort noise (RFC 3389 CN payload).
//! - [`dtmf`]: RFC 4733 telephone-events (send/receive), in-band DTMF generation, Goertzel
//!   detection and pause-dialing schedules.
//! - [`jitter`]: adaptive jitter buffer (delay target from a quantile of relative delays).
//! - [`plc`]: packet loss concealment after G.711 Appendix I, 8 and 16 kHz.
//! - [`xr`]: RTCP-XR VoIP metrics: burst/gap with Gmin 16, G.107 E-model (R, MOS-LQ/CQ),
//!   the vq_statistics mode reporter (every 5 s).
//! - [`session`]: the sans-IO media session tying the above together, RTP port range and
//!   DSCP from `voip/media/media_tos`.
//! - [`aec`]: acoustic echo canceller (two-path MDF, 64 ms tail at 16 kHz) with residual
//!   echo suppression, noise suppression and comfort noise; [`voice`]: device profiles,
//!   microphone switch and the 8 kHz path; [`resample`]: 2:1 rate conversion.
//! - [`tones`]: call progress tones (country set, user CPT table), generator, detector.
//! - [`wav`]: RIFF/WAV reader and writer, built-in ring tones, music-on-hold player.
//! - [`mixer`]: local 3-way conference mix-minus.
//! - [`paging`]: multicast group paging and barge-in (3.3.15-3.3.16); [`recording`]: debug
//!   RTP recording (7.3); [`driver`]: their sockets and threads (multicast join, TTL, loop).
//! - [`srtp`]: SRTP/SRTCP (RFC 3711) with SDES keys (RFC 4568) over the webrtc-rs
//!   `rtc-srtp` crate; interoperates with libsrtp2.
#![forbid(unsafe_code)]

pub mod aec;
pub mod cng;
pub mod dtmf;
pub mod error;
pub mod g711;
pub mod g722;
pub mod g729;
pub mod jitter;
pub mod mixer;
pub mod plc;
pub mod resample;
pub mod rtcp;
pub mod rtp;
pub mod session;
pub mod silk;
pub mod srtp;
pub mod tones;
pub mod voice;
pub mod wav;
pub mod xr;

pub use error::PacketError;
pub mod driver;
pub mod paging;
pub mod recording;
