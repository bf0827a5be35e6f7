//! `ac-cfg`: the configuration engine of the 400HD phones.
//!
//! * [`document`]: a lossless `.cfg` parser/serializer (`parse -> emit` is byte-identical).
//! * [`schema`]: the typed table of every parameter of the administrator manual, generated at
//!   build time from `schema/params.toml` (the single source of truth).
//! * [`validate`]: diagnostics with line and column (unknown key, bad enum, out of range, wrong
//!   model, duplicates), and [`config::Config`], a typed view with defaults.
//! * [`delta`]: "modified fields only" (manual 2.2.4), defaults of a model, merge of a delta
//!   onto a configuration with the model check of 8.7.2.
//! * [`crypto`]: `.cfx` files compatible with `openssl enc -des-ede3-cbc -md md5`, per-value
//!   `{"base64"}` password encryption (manual 3.4.1, 3.4.2), and an authenticated AES-256-GCM
//!   format.
//! * [`companion`]: speed-dial CSV (3.2.3.1.2), personal directory files, function /
//!   programmable key files (3.2.3.2.3, 3.2.5.2.1).
//! * [`fsutil`]: atomic file replacement (temp file, fsync, rename).
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub mod companion;
pub mod config;
pub mod crypto;
pub mod delta;
pub mod docs;
pub mod document;
pub mod fsutil;
pub mod model;
pub mod schema;
pub mod validate;
mod value;

pub use config::{Config, Value};
pub use document::{Document, Eol, ParseError, ParseOptions};
pub use model::{Model, ModelSet};
pub use schema::{ParamDef, ParamType, Schema};
pub use validate::{DiagKind, Diagnostic, Severity};
