//! `ac-btoe`: Better Together over Ethernet (phone side and PC side).
//!
//! This crate is a placeholder in the workspace layout of the design card; it has no
//! functionality yet. See the crate README for the issue that fills it in.
#![forbid(unsafe_code)]
