//! `ac-ffi`: C ABI over ac-core, built as libac_phone.so.
//!
//! This crate is a placeholder in the workspace layout of the design card; it has no
//! functionality yet. See the crate README for the issue that fills it in.
