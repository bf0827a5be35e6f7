//! `ac-sip`: SIP message layer, transports, transactions, dialogs and the SIPE (Microsoft) extensions.
//!
//! This crate is a placeholder in the workspace layout of the design card; it has no
//! functionality yet. See the crate README for the issue that fills it in.
#![forbid(unsafe_code)]
