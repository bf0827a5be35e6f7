//! `ac-sip`: the SIP stack of the phone.
//!
//! * [`msg`]: messages (RFC 3261 sections 7, 20, 25), a checked zero-copy view, typed header
//!   values, canonical emit, stream framing, and an owned builder for outgoing messages.
//! * [`uri`]: SIP/SIPS (RFC 3261 19.1) and tel (RFC 3966) URIs.
//! * [`transaction`]: the four transaction state machines of RFC 3261 section 17 (with RFC
//!   6026), sans-IO.
//! * [`register`]: the registration client (RFC 3261 section 10), sans-IO.
//! * [`uas`]: the request checks of RFC 3261 section 8.2 (405/501, 416, 420, 415, 505).
//! * `driver` (feature `driver`, default): UDP, TCP and TLS (rustls) transports on std
//!   threads and crossbeam channels.
//! * [`resolve`]: RFC 3263 server location (NAPTR, SRV with RFC 2782 order, A) and the
//!   Skype for Business discovery order, sans-IO.
//! * [`auth`]: Digest authentication (RFC 2617, RFC 7616 / RFC 8760 SHA-256).
//! * [`sdp`]: SDP (RFC 4566) checked view, typed model, canonical emit.
//! * [`offer_answer`]: the RFC 3264 offer/answer engine (codec list of manual 3.3.14.2).
//! * [`dialog`]: dialogs (RFC 3261 12): creation, in-dialog requests, route sets.
//! * [`call`]: INVITE sessions UAC/UAS (PRACK, CANCEL, re-INVITE/UPDATE, hold, session
//!   timers, glare, forking), sans-IO.
//! * [`subscribe`]: the RFC 6665 subscriber (MWI, dialog package), sans-IO.
//! * [`mwi`]: RFC 3842 message-summary bodies.
//! * [`dialog_info`]: RFC 4235 dialog-info bodies; [`blf`]: the BLF watcher on them.
//! * [`pidf`]: RFC 3863 PIDF bodies; [`presence`]: presence watcher and RFC 3903 PUBLISH.
//! * [`dtmf`]: SIP INFO DTMF bodies (application/dtmf-relay, application/dtmf).
//! * [`sipe`]: the Skype for Business extensions (NTLM, [MS-SIPAE] security associations).
#![forbid(unsafe_code)]

pub mod auth;
pub mod blf;
pub mod call;
pub mod dialog;
pub mod dialog_info;
#[cfg(feature = "driver")]
pub mod driver;
pub mod dtmf;
pub mod error;
pub mod keepalive;
pub(crate) mod lex;
pub mod msg;
pub mod mwi;
pub mod offer_answer;
pub mod pidf;
pub mod presence;
pub mod register;
pub mod resolve;
pub mod sdp;
pub mod sipe;
pub mod subscribe;
pub mod transaction;
pub mod uas;
pub mod uri;

pub use error::{ParseError, Result};
pub use msg::{Message, MessageBuf};
