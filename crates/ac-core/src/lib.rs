//! `ac-core`: The phone: composes the layer crates; calls, features and the board interface.
//!
//! This crate is a placeholder in the workspace layout of the design card; it has no
//! functionality yet. See the crate README for the issue that fills it in.
#![forbid(unsafe_code)]
