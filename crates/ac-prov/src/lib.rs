//! `ac-prov`: DHCP options, provisioning engine, fetchers, firmware update and network bootstrap.
//!
//! This crate is a placeholder in the workspace layout of the design card; it has no
//! functionality yet. See the crate README for the issue that fills it in.
#![forbid(unsafe_code)]
