//! `ac-media`: RTP/RTCP/SRTP, codecs, jitter buffer, PLC and voice DSP.
//!
//! This crate is a placeholder in the workspace layout of the design card; it has no
//! functionality yet. See the crate README for the issue that fills it in.
#![forbid(unsafe_code)]
