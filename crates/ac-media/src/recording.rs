//! Debug recording (manual 7.3, `voip/packet_recording/...`): copies of the call's RTP
//! packets sent to `remote_ip:remote_port` for capture with a sniffer.
//!
//! The manual names no encapsulation for the recorded packets, so each copy is the RTP
//! packet itself (as sent or as received, before SRTP unprotect when the call is SRTP),
//! alone in one UDP datagram; a sniffer tells the directions apart by SSRC. Only RTP
//! recording (`enabled` and `rtp_recording/enabled`) is produced: the EC, noise-reduction,
//! network (TDM out) and TDM-in recordings are DSP-internal streams whose format the manual
//! does not describe. Sans-IO: the caller sends the [`RecordDatagram`]s (see
//! [`crate::driver::Recorder`]).

use std::net::{IpAddr, SocketAddr};

use ac_cfg::Config;

/// Where copies go: an IP literal, or a host name the driver resolves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordTarget {
    Addr(SocketAddr),
    Host(String, u16),
}

/// A configuration that does not make a recording setup.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad packet recording setting {key} = {value:?}")]
pub struct RecordingError {
    pub key: String,
    pub value: String,
}

/// One copy to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordDatagram<'a> {
    pub target: &'a RecordTarget,
    pub data: &'a [u8],
}

/// The recording switch and target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketRecorder {
    target: Option<RecordTarget>,
    copies: u64,
}

impl PacketRecorder {
    /// From `voip/packet_recording/{enabled, rtp_recording/enabled, remote_ip, remote_port}`
    /// (defaults from `ac_cfg::schema`). Off when either switch is 0 or the address is
    /// 0.0.0.0 (the default: no recording PC).
    pub fn from_config(cfg: &Config) -> Result<PacketRecorder, RecordingError> {
        let p = "voip/packet_recording/";
        let get = |k: &str| -> Result<String, RecordingError> {
            cfg.get_raw(&format!("{p}{k}"))
                .map(|v| v.trim().to_owned())
                .ok_or_else(|| RecordingError {
                    key: format!("{p}{k}"),
                    value: String::new(),
                })
        };
        let bad = |k: &str, v: &str| RecordingError {
            key: format!("{p}{k}"),
            value: v.to_owned(),
        };
        let on = get("enabled")? == "1" && get("rtp_recording/enabled")? == "1";
        let host = get("remote_ip")?;
        let port_s = get("remote_port")?;
        let port: u16 = port_s.parse().map_err(|_| bad("remote_port", &port_s))?;
        if host.is_empty() {
            return Err(bad("remote_ip", &host));
        }
        let target = match host.parse::<IpAddr>() {
            Ok(ip) if ip.is_unspecified() => None,
            Ok(ip) => Some(RecordTarget::Addr(SocketAddr::new(ip, port))),
            Err(_) => Some(RecordTarget::Host(host, port)),
        };
        Ok(PacketRecorder {
            target: if on { target } else { None },
            copies: 0,
        })
    }

    pub fn target(&self) -> Option<&RecordTarget> {
        self.target.as_ref()
    }

    /// The copy of one RTP packet (sent or received), or `None` when recording is off.
    pub fn record<'a>(&'a mut self, rtp: &'a [u8]) -> Option<RecordDatagram<'a>> {
        let target = self.target.as_ref()?;
        self.copies += 1;
        Some(RecordDatagram { target, data: rtp })
    }

    /// Copies produced so far.
    pub fn copies(&self) -> u64 {
        self.copies
    }
}
