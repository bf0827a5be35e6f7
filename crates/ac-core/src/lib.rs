//! `ac-core`: the phone. Composes the layer crates (ac-cfg, ac-prov, ac-sip, ac-media) into
//! a desk phone: boot sequence, lines and calls, the feature logic of the 400HD manual, and
//! the board interface the vendor's C layer talks to (through `ac-ffi`).
//!
//! - [`board`]: plain, C-representable types the board feeds in and gets out.
//! - [`phone`]: the sans-IO core ([`Phone`]): `now` in, `handle_*` inputs, `poll_*` outputs,
//!   `poll_timeout`; no sockets, threads or clocks.
//! - [`driver`]: the std driver ([`driver::PhoneDriver`]): sockets, threads, crossbeam
//!   channels, the clock (feature `driver`, on by default).
#![forbid(unsafe_code)]

pub mod board;
#[cfg(feature = "driver")]
pub mod driver;
pub mod error;
pub mod features;
pub mod phone;
mod resample;
#[cfg(feature = "driver")]
mod run;
pub mod wav;

pub use error::CoreError;
pub use phone::{Phone, PhoneStatus, SignIn};
