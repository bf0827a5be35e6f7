//! Errors of the crate.

/// A malformed frame (from the network: never a panic).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("frame truncated in {0}")]
    Truncated(&'static str),
    #[error("bad magic or protocol marker")]
    BadMagic,
    #[error("unknown {what} {value}")]
    Unknown { what: &'static str, value: u8 },
    #[error("{0} too long")]
    TooLong(&'static str),
    #[error("invalid {0}")]
    Invalid(&'static str),
    #[error("{0} trailing bytes after the frame")]
    Trailing(usize),
}

/// Errors of the protocol cores, the driver and the configuration.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("malformed frame: {0}")]
    Wire(#[from] WireError),
    #[error("cryptographic check failed: {0}")]
    Crypto(&'static str),
    #[error("not allowed in this state: {0}")]
    State(&'static str),
    #[error("configuration: {0}")]
    Config(String),
    #[error("pair code: {0}")]
    PairCode(&'static str),
    #[error("refused by the phone: {0}")]
    Refused(crate::wire::AlertCode),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}
