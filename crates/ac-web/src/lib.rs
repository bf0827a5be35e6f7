//! `ac-web`: the embedded web administration interface of the 400HD phones.
//!
//! * [`http`]: HTTP/1.1 request heads (strict, bounded, sans-IO) and responses.
//! * [`form`]: urlencoded and multipart/form-data bodies.
//! * [`auth`]: hashed passwords, sessions, CSRF tokens, login throttling.
//! * [`phone`]: the [`phone::PhoneModel`] trait `ac-core` implements, and [`phone::FilePhone`].
//! * [`html`]: the page frame, escaping, CSS and the one small script.
//! * [`app`]: routing, authorization and every page, generated from the `ac_cfg` schema.
//! * [`server`]: sockets and threads, HTTP and HTTPS (rustls) on one port.
//!
//! Without the default `server` feature only [`http`] and [`form`] are built (the fuzz
//! targets use them).
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub mod form;
pub mod http;

#[cfg(feature = "server")]
pub mod app;
#[cfg(feature = "server")]
pub mod auth;
#[cfg(feature = "server")]
pub mod html;
#[cfg(feature = "server")]
pub mod phone;
#[cfg(feature = "server")]
pub mod server;
