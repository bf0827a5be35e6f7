//! The sans-IO phone core.

use std::net::SocketAddr;

/// The user's sign-in (the SfB sign-in screen: address, user, password).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignIn {
    /// Address of record, `sip:alice@example.com`.
    pub aor: String,
    /// Digest user name (empty: the AOR's user part).
    pub user: String,
    /// Digest password (empty: `voip/line/0/auth_password`).
    pub password: String,
    pub display_name: Option<String>,
}

/// Boot stages (manual 2.1-2.5: network, provisioning, time, registration).
#[repr(u32)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum BootStage {
    #[default]
    Network = 0,
    Provisioning = 1,
    Time = 2,
    Registration = 3,
    /// Registered (or registration is not configured): ready for calls.
    Ready = 4,
}

/// Where a call stands, as the UI sees it.
#[repr(u32)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum CallPhase {
    #[default]
    Dialing = 0,
    Ringback = 1,
    Incoming = 2,
    Connected = 3,
    Held = 4,
    RemoteHeld = 5,
    Ended = 6,
}

/// One call in [`PhoneStatus`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallStatus {
    pub id: u32,
    pub phase: CallPhase,
    pub peer: String,
    pub incoming: bool,
    /// Negotiated codec ("G722", "PCMU", ...), empty before media.
    pub codec: String,
    pub packets_sent: u64,
    pub packets_received: u64,
}

/// Voice quality of a call from RTCP-XR VoIP metrics (RFC 3611 4.7) and RTCP reports.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CallQuality {
    /// MOS listening quality (1.0..=5.0).
    pub mos_lq: f64,
    /// MOS conversational quality.
    pub mos_cq: f64,
    /// R factor (0..=100).
    pub r_factor: u8,
    /// Loss of received packets, percent.
    pub loss_pct: f64,
    /// Interarrival jitter reported by the far end about our stream, ms.
    pub jitter_ms: f64,
    /// Round-trip time, ms (from RTCP SR/RR).
    pub rtt_ms: f64,
    pub packets_received: u64,
}

/// A snapshot of the phone.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PhoneStatus {
    pub stage: BootStage,
    pub registered: bool,
    /// Our SIP address once the network is up.
    pub sip_addr: Option<SocketAddr>,
    pub calls: Vec<CallStatus>,
    /// Quality of the last call that had media.
    pub last_quality: Option<CallQuality>,
    pub missed_calls: u32,
}

/// The sans-IO phone (filled in by the next commits).
#[derive(Debug, Default)]
pub struct Phone {}
