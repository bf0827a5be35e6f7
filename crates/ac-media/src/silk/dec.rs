//! The SILK decoder (in progress).

/// SILK decoder state.
#[derive(Debug, Clone, Default)]
pub struct Decoder {}
