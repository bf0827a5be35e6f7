//! Errors of the media crate.

/// Why a packet could not be parsed or emitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    /// Fewer bytes than the header or a length field requires.
    #[error("{what}: truncated (need {need} bytes, have {have})")]
    Truncated {
        what: &'static str,
        need: usize,
        have: usize,
    },
    /// The version field is not 2 (RFC 3550 5.1 / 6.4).
    #[error("bad RTP/RTCP version {0}")]
    BadVersion(u8),
    /// The padding count is 0 or exceeds the packet (RFC 3550 5.1).
    #[error("bad padding length {0}")]
    BadPadding(u8),
    /// A length or count field contradicts the data.
    #[error("{0}: inconsistent length")]
    BadLength(&'static str),
    /// A value does not fit its field on emit.
    #[error("{0}: value out of range for its field")]
    OutOfRange(&'static str),
}
