//! Errors of the message layer.

/// Why a message, URI or header value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("empty message")]
    Empty,
    #[error("message head is not UTF-8 (RFC 3261 section 25: UTF8-NONASCII only)")]
    NotUtf8,
    #[error("no blank line ends the header section")]
    NoHeaderEnd,
    #[error("bad start line: {0}")]
    StartLine(&'static str),
    #[error("bad SIP version {0:?}")]
    Version(String),
    #[error("bad status code {0:?}")]
    StatusCode(String),
    #[error("line {line}: {reason}")]
    HeaderLine { line: usize, reason: &'static str },
    #[error("bad {header} header: {reason}")]
    Header {
        header: &'static str,
        reason: &'static str,
    },
    #[error("header {0} is missing")]
    Missing(&'static str),
    #[error("Content-Length {declared} but {available} body bytes")]
    ShortBody { declared: usize, available: usize },
    #[error("conflicting Content-Length headers")]
    ContentLengthConflict,
    #[error("bad URI: {0}")]
    Uri(&'static str),
    #[error("message head longer than {0} bytes")]
    TooLong(usize),
    #[error("too many header fields (more than {0})")]
    TooManyHeaders(usize),
}

pub type Result<T> = std::result::Result<T, ParseError>;
