//! The BToE parameters of manual 4.11, read from an `ac_cfg::Config` (defaults come from
//! `ac_cfg::schema`; nothing here repeats them).

use std::net::IpAddr;

use ac_cfg::schema::Lookup;
use ac_cfg::{Config, Schema};

use crate::error::Error;

/// `lync/BToE/TcpPortNumber` (manual 4.11.6).
pub const KEY_TCP_PORT: &str = "lync/BToE/TcpPortNumber";
/// `lync/BToE/pairing_mode` (manual 4.11.11).
pub const KEY_PAIRING_MODE: &str = "lync/BToE/pairing_mode";
/// `lync/BToE/CheckNetwork` (manual 4.11.12).
pub const KEY_CHECK_NETWORK: &str = "lync/BToE/CheckNetwork";
/// UDP port of discovery (manual 4.11.1: "UDP port 9999 for the first steps of automatic
/// pairing"; not configurable).
pub const DISCOVERY_PORT: u16 = 9999;

/// `lync/BToE/pairing_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PairingMode {
    /// Only automatic pairing on the PC port.
    Automatic,
    /// Automatic pairing and manual pairing with the pair code.
    Both,
}

/// The phone's BToE settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BtoeConfig {
    /// Control channel TCP port; audio uses this minus one (manual 4.11.1 note).
    pub tcp_port: u16,
    pub pairing_mode: PairingMode,
    /// `true`: pairing only from the phone's own subnet (CheckNetwork=1).
    pub check_network: bool,
}

impl BtoeConfig {
    /// Reads the three parameters (explicit or schema default).
    pub fn from_config(c: &Config) -> Result<BtoeConfig, Error> {
        let port = c
            .get_int(KEY_TCP_PORT)
            .ok_or_else(|| Error::Config(format!("{KEY_TCP_PORT} missing")))?;
        let tcp_port = check_port(port)?;
        let mode = c
            .get_raw(KEY_PAIRING_MODE)
            .ok_or_else(|| Error::Config(format!("{KEY_PAIRING_MODE} missing")))?;
        let pairing_mode = if mode.eq_ignore_ascii_case("BOTH") {
            PairingMode::Both
        } else {
            PairingMode::Automatic
        };
        let check_network = c
            .get_bool(KEY_CHECK_NETWORK)
            .ok_or_else(|| Error::Config(format!("{KEY_CHECK_NETWORK} missing")))?;
        Ok(BtoeConfig {
            tcp_port,
            pairing_mode,
            check_network,
        })
    }

    /// The audio UDP port: TcpPortNumber - 1.
    pub fn audio_port(&self) -> u16 {
        self.tcp_port - 1
    }
}

fn check_port(port: i64) -> Result<u16, Error> {
    // Port 1 would put audio on port 0, which cannot be addressed.
    match u16::try_from(port) {
        Ok(p) if p >= 2 => Ok(p),
        _ => Err(Error::Config(format!(
            "{KEY_TCP_PORT}={port}: must be 2..65535 (audio uses the port minus 1)"
        ))),
    }
}

/// The schema default of `lync/BToE/TcpPortNumber` (for the PC side, which has no
/// configuration file).
pub fn default_tcp_port() -> u16 {
    match Schema::get().lookup(KEY_TCP_PORT, None) {
        Lookup::Found(def, idx) => def
            .default_for(None, idx.as_slice())
            .parse::<i64>()
            .ok()
            .and_then(|p| check_port(p).ok())
            .unwrap_or(DISCOVERY_PORT),
        _ => DISCOVERY_PORT,
    }
}

/// An IPv4 or IPv6 prefix (the phone's own network, for CheckNetwork).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnet {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Subnet {
    /// Parses `a.b.c.d/len`.
    pub fn parse(s: &str) -> Result<Subnet, Error> {
        let (a, p) = s
            .split_once('/')
            .ok_or_else(|| Error::Config(format!("{s}: expected address/prefix")))?;
        let addr: IpAddr = a
            .parse()
            .map_err(|_| Error::Config(format!("{a}: not an address")))?;
        let prefix: u8 = p
            .parse()
            .map_err(|_| Error::Config(format!("{p}: not a prefix length")))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return Err(Error::Config(format!("/{prefix}: too long")));
        }
        Ok(Subnet { addr, prefix })
    }

    /// `true` if `ip` is in this subnet.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                let m = if self.prefix == 0 {
                    0
                } else {
                    u32::MAX << (32 - u32::from(self.prefix))
                };
                u32::from(a) & m == u32::from(b) & m
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                let m = if self.prefix == 0 {
                    0
                } else {
                    u128::MAX << (128 - u32::from(self.prefix))
                };
                u128::from(a) & m == u128::from(b) & m
            }
            _ => false,
        }
    }

    /// The IPv4 directed broadcast address of the subnet.
    pub fn broadcast(&self) -> Option<IpAddr> {
        match self.addr {
            IpAddr::V4(a) => {
                let host = if self.prefix >= 32 {
                    0
                } else {
                    u32::MAX >> u32::from(self.prefix)
                };
                Some(IpAddr::V4((u32::from(a) | host).into()))
            }
            IpAddr::V6(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ac_cfg::{Document, Model};

    #[test]
    fn defaults_come_from_the_schema() {
        let c = BtoeConfig::from_config(&Config::defaults(Model::Hd450)).unwrap();
        assert_eq!(c.tcp_port, default_tcp_port());
        assert_eq!(c.audio_port(), c.tcp_port - 1);
        assert_eq!(c.pairing_mode, PairingMode::Automatic);
        assert!(!c.check_network);
    }

    #[test]
    fn explicit_values_and_port_one() {
        let doc = Document::parse(
            "lync/BToE/TcpPortNumber=5000\nlync/BToE/pairing_mode=BOTH\nlync/BToE/CheckNetwork=1\n",
        )
        .unwrap();
        let c =
            BtoeConfig::from_config(&Config::from_document(&doc, Model::Hd450).unwrap()).unwrap();
        assert_eq!(
            c,
            BtoeConfig {
                tcp_port: 5000,
                pairing_mode: PairingMode::Both,
                check_network: true
            }
        );
        let doc = Document::parse("lync/BToE/TcpPortNumber=1\n").unwrap();
        let cfg = Config::from_document(&doc, Model::Hd450).unwrap();
        assert!(BtoeConfig::from_config(&cfg).is_err());
    }

    #[test]
    fn subnets() {
        let s = Subnet::parse("10.1.2.3/24").unwrap();
        assert!(s.contains("10.1.2.200".parse().unwrap()));
        assert!(!s.contains("10.1.3.1".parse().unwrap()));
        assert_eq!(s.broadcast(), Some("10.1.2.255".parse().unwrap()));
    }
}
