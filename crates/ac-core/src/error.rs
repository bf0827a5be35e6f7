//! Errors of the phone.

/// What can go wrong in the core and its driver.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoreError {
    /// A socket, thread or file operation failed.
    #[error("I/O: {0}")]
    Io(String),
    /// The command queue is full (the phone thread is not keeping up).
    #[error("phone busy: command queue full")]
    Busy,
    /// The phone thread has stopped.
    #[error("phone stopped")]
    Stopped,
    /// The phone thread panicked.
    #[error("phone thread panicked")]
    Panicked,
    /// The request is not possible in the phone's state (no call, wrong state, locked...).
    #[error("not possible now: {0}")]
    State(String),
    /// A bad argument (number, URI, digit, configuration).
    #[error("invalid: {0}")]
    Invalid(String),
    /// SIP call layer refused the operation.
    #[error("SIP: {0}")]
    Sip(String),
}
