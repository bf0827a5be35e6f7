//! Raw Ethernet (AF_PACKET) sockets for LLDP, CDP and EAPOL (packet(7)).
//!
//! This is the one module of the crate with `unsafe`: the `sockaddr_ll`, `packet_mreq` and
//! `ifreq` structures have no safe wrapper in socket2 or std. Each block is a single libc
//! call on structures that are fully initialised here, with the size passed alongside.
#![allow(unsafe_code)]

use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use crate::l2::Mac;

/// Every protocol (needed for 802.3/LLC frames such as CDP).
pub const ETH_P_ALL: u16 = 0x0003;

/// A packet socket bound to one interface and one EtherType.
#[derive(Debug)]
pub struct RawSocket {
    sock: Socket,
    ifindex: i32,
    mac: Mac,
}

fn ifreq(name: &str) -> io::Result<libc::ifreq> {
    let b = name.as_bytes();
    if b.is_empty() || b.len() >= libc::IFNAMSIZ || b.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "bad interface name",
        ));
    }
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut r: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in r.ifr_name.iter_mut().zip(b) {
        *d = *s as libc::c_char;
    }
    Ok(r)
}

impl RawSocket {
    /// Opens a packet socket on `iface` for `protocol` (an EtherType, or [`ETH_P_ALL`]).
    pub fn open(iface: &str, protocol: u16) -> io::Result<RawSocket> {
        let sock = Socket::new(
            Domain::PACKET,
            Type::RAW,
            Some(Protocol::from(i32::from(protocol.to_be()))),
        )?;
        let fd = sock.as_raw_fd();
        let mut r = ifreq(iface)?;
        // SAFETY: SIOCGIFINDEX reads ifr_name and writes ifr_ifindex of a valid ifreq.
        if unsafe { libc::ioctl(fd, libc::SIOCGIFINDEX, &mut r) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the union member written by SIOCGIFINDEX.
        let ifindex = unsafe { r.ifr_ifru.ifru_ifindex };
        let mut r = ifreq(iface)?;
        // SAFETY: SIOCGIFHWADDR writes ifr_hwaddr of a valid ifreq.
        if unsafe { libc::ioctl(fd, libc::SIOCGIFHWADDR, &mut r) } < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut mac = [0u8; 6];
        // SAFETY: the union member written by SIOCGIFHWADDR.
        let hw = unsafe { r.ifr_ifru.ifru_hwaddr };
        for (d, s) in mac.iter_mut().zip(hw.sa_data.iter()) {
            *d = *s as u8;
        }
        // SAFETY: sockaddr_ll is plain old data.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = protocol.to_be();
        sll.sll_ifindex = ifindex;
        // SAFETY: bind with a fully initialised sockaddr_ll and its exact size.
        let rc = unsafe {
            libc::bind(
                fd,
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(RawSocket { sock, ifindex, mac })
    }

    /// The interface's MAC address.
    pub fn mac(&self) -> Mac {
        self.mac
    }

    pub fn ifindex(&self) -> i32 {
        self.ifindex
    }

    /// Receives frames sent to `group` (PACKET_ADD_MEMBERSHIP, packet(7)), so that a NIC
    /// with a multicast filter passes the LLDP, CDP or EAPOL group address up.
    pub fn join(&self, group: Mac) -> io::Result<()> {
        // SAFETY: packet_mreq is plain old data.
        let mut m: libc::packet_mreq = unsafe { std::mem::zeroed() };
        m.mr_ifindex = self.ifindex;
        m.mr_type = libc::PACKET_MR_MULTICAST as u16;
        m.mr_alen = 6;
        m.mr_address[..6].copy_from_slice(&group);
        // SAFETY: setsockopt with a fully initialised packet_mreq and its exact size.
        let rc = unsafe {
            libc::setsockopt(
                self.sock.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_ADD_MEMBERSHIP,
                (&m as *const libc::packet_mreq).cast(),
                std::mem::size_of::<libc::packet_mreq>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Sends one complete Ethernet frame (without FCS).
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        self.sock.send(frame).map(|_| ())
    }

    /// Receives one frame, waiting at most `timeout`; `Ok(None)` on timeout.
    pub fn recv(&self, buf: &mut [u8], timeout: Duration) -> io::Result<Option<usize>> {
        self.sock
            .set_read_timeout(Some(timeout.max(Duration::from_millis(1))))?;
        match (&self.sock).read(buf) {
            Ok(n) => Ok(Some(n)),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}
