//! Drivers of the network-service cores: blocking loops over a [`RawSocket`] or a UDP
//! socket, with deadlines; no threads.

use std::io;
use std::time::Instant;

use super::raw::RawSocket;
use crate::vlan::{VlanDiscovery, VlanEvent};

/// Runs VLAN discovery on `sock` (opened with `ETH_P_ALL`) until `on_event` returns true or
/// `deadline` passes (`Ok(false)`).
pub fn run_vlan(
    sock: &RawSocket,
    disc: &mut VlanDiscovery,
    deadline: Instant,
    mut on_event: impl FnMut(&VlanEvent) -> bool,
) -> io::Result<bool> {
    let _ = sock.join(crate::lldp::MULTICAST);
    let _ = sock.join(crate::cdp::MULTICAST);
    let mut buf = vec![0u8; 2048];
    loop {
        let now = Instant::now();
        disc.handle_timeout(now);
        while let Some(f) = disc.poll_transmit() {
            sock.send(&f)?;
        }
        while let Some(ev) = disc.poll_event() {
            if on_event(&ev) {
                return Ok(true);
            }
        }
        if now >= deadline {
            return Ok(false);
        }
        let wake = disc.poll_timeout().unwrap_or(deadline).min(deadline);
        if let Some(n) = sock.recv(&mut buf, wake.saturating_duration_since(now))? {
            disc.handle_frame(Instant::now(), &buf[..n]);
        }
    }
}
