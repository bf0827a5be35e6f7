//! DHCP for the phone: wire format ([`wire`]), option decoding ([`options`]) and a sans-IO
//! client state machine ([`client`]). The socket driver lives in [`crate::driver`].

pub mod client;
pub mod options;
pub mod wire;

pub use client::{ClientConfig, DhcpClient, Event, Lease, State, Transmit};
pub use options::{LeaseInfo, MsUcOptions, OptionError, SipServers};
pub use wire::{Message, MessageType, Packet};

/// A datagram that is not a usable DHCP message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DhcpError {
    #[error("DHCP message too short ({0} bytes; at least 240 needed)")]
    TooShort(usize),
    #[error("DHCP message too long ({0} bytes)")]
    TooLong(usize),
    #[error("no DHCP magic cookie (not a DHCP message)")]
    NoMagicCookie,
    #[error("hardware address length {0} is over 16")]
    BadHardwareLength(u8),
    #[error("option {code} runs past the end of the {area:?} field")]
    TruncatedOption { code: u8, area: wire::Area },
    #[error("the overloaded {area:?} field has no END option")]
    MissingEnd { area: wire::Area },
    #[error("option {code}: {reason}")]
    BadOption { code: u8, reason: &'static str },
}
