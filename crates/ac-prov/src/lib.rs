//! `ac-prov`: how a 400HD phone finds its network and its configuration.
//!
//! * [`dhcp`]: DHCP wire format, the options of manual 2.1 / 3.5.1 (43 "MS-UC-Client", 66/67,
//!   120, 160, 42/4/2, 15/119) and a sans-IO client (RFC 2131).
//! * [`url`]: the provisioning URL forms of DHCP option 160 and the static URLs (manual 3.5.1,
//!   appendix A.1), with the `<MAC>` and model macros.
//! * [`tftp`]: TFTP packets and a sans-IO read client (RFC 1350, 2347, 2348, 2349, 7440).
// `unsafe` is denied everywhere but `driver::raw` (AF_PACKET structures, see there).
#![deny(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub mod cdp;
pub mod dhcp;
#[cfg(feature = "driver")]
pub mod driver;
pub mod eapol;
pub mod engine;
pub mod firmware;
pub mod l2;
pub mod ldap;
pub mod lldp;
pub mod sipnotify;
pub mod sntp;
pub mod syslog;
pub mod t9;
pub mod tftp;
pub mod tz;
pub mod url;
pub mod vlan;
