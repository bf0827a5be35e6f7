//! `ac-btoe`: Better Together over Ethernet (manual 4.11), phone side and PC side.
//!
//! The vendor's wire protocol is unpublished; this crate speaks its own, documented in
//! `docs/btoe-protocol.md`: discovery on UDP 9999, a SPAKE2-authenticated, ChaCha20-Poly1305
//! encrypted control channel on TCP `lync/BToE/TcpPortNumber`, and encrypted,
//! sequence-numbered audio on UDP `TcpPortNumber - 1`.
//!
//! * [`wire`]: every frame's parse/emit.
//! * [`crypto`]: SPAKE2, HKDF-SHA256 key schedule, HMAC confirmation, AEAD.
//! * [`code`]: the pair code and the wrong-code limiter.
//! * [`session`]: one control connection (sans-IO).
//! * [`audio`]: audio protection, replay window, playout buffer interface.
//! * [`phone`]: the phone end (sans-IO); [`pc`]: the PC reference client (sans-IO).
//! * [`driver`]: std sockets and threads around both ends.
//! * [`config`]: the `lync/BToE/*` parameters from `ac_cfg`.
#![forbid(unsafe_code)]

pub mod audio;
pub mod code;
pub mod config;
pub mod crypto;
pub mod driver;
pub mod error;
pub mod pc;
pub mod phone;
pub mod session;
pub mod wire;

pub use error::{Error, WireError};
