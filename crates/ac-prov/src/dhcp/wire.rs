//! DHCP message wire format (RFC 2131 section 2, RFC 2132, RFC 3396).
//!
//! [`Packet`] is a checked, zero-copy view over a received datagram: construction validates the
//! fixed header, the magic cookie and the framing of every option area (the `options` field and,
//! when option 52 says so, the `file` and `sname` fields). Accessors then cannot fail.
//! [`Message`] is the owned form used to build packets; [`Message::from_packet`] and
//! [`Message::encode`] round-trip (`parse -> emit -> re-parse` gives the same message).

use std::borrow::Cow;
use std::net::Ipv4Addr;

use super::DhcpError;

/// Size of the fixed BOOTP header (RFC 2131 section 2, figure 1), without the magic cookie.
pub const FIXED_LEN: usize = 236;
/// The magic cookie that starts the options field (RFC 2131 section 3).
pub const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];
/// Minimum size of a BOOTP message that relay agents accept (RFC 1542 section 2.1): we pad our
/// packets to it.
pub const MIN_LEN: usize = 300;
/// Largest datagram we accept; anything bigger is not a DHCP message (UDP over Ethernet).
pub const MAX_LEN: usize = 65_507;

/// Option codes used by this crate (RFC 2132 and the RFCs named per constant).
pub mod code {
    pub const PAD: u8 = 0;
    pub const SUBNET_MASK: u8 = 1;
    pub const TIME_OFFSET: u8 = 2;
    pub const ROUTER: u8 = 3;
    pub const TIME_SERVER: u8 = 4;
    pub const DNS: u8 = 6;
    pub const HOST_NAME: u8 = 12;
    pub const DOMAIN_NAME: u8 = 15;
    pub const NTP_SERVERS: u8 = 42;
    pub const VENDOR_SPECIFIC: u8 = 43;
    pub const REQUESTED_IP: u8 = 50;
    pub const LEASE_TIME: u8 = 51;
    pub const OVERLOAD: u8 = 52;
    pub const MESSAGE_TYPE: u8 = 53;
    pub const SERVER_ID: u8 = 54;
    pub const PARAMETER_REQUEST_LIST: u8 = 55;
    pub const MESSAGE: u8 = 56;
    pub const MAX_MESSAGE_SIZE: u8 = 57;
    pub const RENEWAL_TIME: u8 = 58;
    pub const REBINDING_TIME: u8 = 59;
    pub const VENDOR_CLASS_ID: u8 = 60;
    pub const CLIENT_ID: u8 = 61;
    pub const TFTP_SERVER_NAME: u8 = 66;
    pub const BOOTFILE_NAME: u8 = 67;
    /// RFC 3004.
    pub const USER_CLASS: u8 = 77;
    /// RFC 3397.
    pub const DOMAIN_SEARCH: u8 = 119;
    /// RFC 3361.
    pub const SIP_SERVERS: u8 = 120;
    /// Provisioning URL (site-specific; manual 3.5.1).
    pub const PROVISIONING_URL: u8 = 160;
    pub const END: u8 = 255;
}

/// DHCP message types (option 53, RFC 2132 section 9.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum MessageType {
    Discover = 1,
    Offer = 2,
    Request = 3,
    Decline = 4,
    Ack = 5,
    Nak = 6,
    Release = 7,
    Inform = 8,
}

impl MessageType {
    pub fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            1 => Self::Discover,
            2 => Self::Offer,
            3 => Self::Request,
            4 => Self::Decline,
            5 => Self::Ack,
            6 => Self::Nak,
            7 => Self::Release,
            8 => Self::Inform,
            _ => return None,
        })
    }
}

/// BOOTREQUEST / BOOTREPLY (the `op` field).
pub const BOOTREQUEST: u8 = 1;
pub const BOOTREPLY: u8 = 2;

/// Where an option instance was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    Options,
    File,
    Sname,
}

/// A checked view over a DHCP datagram.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    buf: &'a [u8],
    /// Value of option 52 (0 when absent).
    overload: u8,
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}
fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}
fn ip(b: &[u8]) -> Ipv4Addr {
    Ipv4Addr::new(b[0], b[1], b[2], b[3])
}

/// Walks one option area and checks its framing; returns the overload value if option 52 is
/// present in it.
fn check_area(area: &[u8], which: Area) -> Result<Option<u8>, DhcpError> {
    let mut overload = None;
    let mut i = 0;
    while i < area.len() {
        let c = area[i];
        match c {
            code::PAD => i += 1,
            code::END => return Ok(overload),
            _ => {
                let Some(&len) = area.get(i + 1) else {
                    return Err(DhcpError::TruncatedOption {
                        code: c,
                        area: which,
                    });
                };
                let end = i + 2 + len as usize;
                if end > area.len() {
                    return Err(DhcpError::TruncatedOption {
                        code: c,
                        area: which,
                    });
                }
                if c == code::OVERLOAD {
                    // RFC 2131 section 4.1: option 52 is only meaningful in the options field.
                    if which != Area::Options {
                        return Err(DhcpError::BadOption {
                            code: c,
                            reason: "option overload outside the options field",
                        });
                    }
                    if len != 1 || !(1..=3).contains(&area[i + 2]) {
                        return Err(DhcpError::BadOption {
                            code: c,
                            reason: "option overload must be one byte of 1, 2 or 3",
                        });
                    }
                    if overload.replace(area[i + 2]).is_some() {
                        return Err(DhcpError::BadOption {
                            code: c,
                            reason: "option overload given twice",
                        });
                    }
                }
                i = end;
            }
        }
    }
    // A missing END is tolerated at the end of the datagram (many relays strip padding), but
    // only for the options field; overloaded fields have fixed sizes and must be terminated.
    if which == Area::Options {
        Ok(overload)
    } else {
        Err(DhcpError::MissingEnd { area: which })
    }
}

impl<'a> Packet<'a> {
    /// Checks `buf` and returns a view over it.
    pub fn parse(buf: &'a [u8]) -> Result<Self, DhcpError> {
        if buf.len() > MAX_LEN {
            return Err(DhcpError::TooLong(buf.len()));
        }
        if buf.len() < FIXED_LEN + 4 {
            return Err(DhcpError::TooShort(buf.len()));
        }
        if buf[FIXED_LEN..FIXED_LEN + 4] != MAGIC_COOKIE {
            return Err(DhcpError::NoMagicCookie);
        }
        let hlen = buf[2];
        if hlen > 16 {
            return Err(DhcpError::BadHardwareLength(hlen));
        }
        let overload = check_area(&buf[FIXED_LEN + 4..], Area::Options)?.unwrap_or(0);
        let p = Packet { buf, overload };
        // RFC 2131 section 4.1: the file field is scanned first, then sname.
        if overload & 1 != 0 {
            check_area(p.file_raw(), Area::File)?;
        }
        if overload & 2 != 0 {
            check_area(p.sname_raw(), Area::Sname)?;
        }
        Ok(p)
    }

    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }
    pub fn op(&self) -> u8 {
        self.buf[0]
    }
    pub fn htype(&self) -> u8 {
        self.buf[1]
    }
    pub fn hlen(&self) -> u8 {
        self.buf[2]
    }
    pub fn hops(&self) -> u8 {
        self.buf[3]
    }
    pub fn xid(&self) -> u32 {
        be32(&self.buf[4..8])
    }
    pub fn secs(&self) -> u16 {
        be16(&self.buf[8..10])
    }
    pub fn flags(&self) -> u16 {
        be16(&self.buf[10..12])
    }
    pub fn ciaddr(&self) -> Ipv4Addr {
        ip(&self.buf[12..16])
    }
    pub fn yiaddr(&self) -> Ipv4Addr {
        ip(&self.buf[16..20])
    }
    pub fn siaddr(&self) -> Ipv4Addr {
        ip(&self.buf[20..24])
    }
    pub fn giaddr(&self) -> Ipv4Addr {
        ip(&self.buf[24..28])
    }
    /// The client hardware address (`hlen` bytes of `chaddr`).
    pub fn chaddr(&self) -> &'a [u8] {
        &self.buf[28..28 + self.hlen() as usize]
    }
    fn sname_raw(&self) -> &'a [u8] {
        &self.buf[44..108]
    }
    fn file_raw(&self) -> &'a [u8] {
        &self.buf[108..236]
    }
    /// Value of option 52 (0: not overloaded, 1: `file`, 2: `sname`, 3: both).
    pub fn overload(&self) -> u8 {
        self.overload
    }
    /// The `sname` field as a NUL-terminated string, unless it carries options.
    pub fn sname(&self) -> Option<&'a [u8]> {
        (self.overload & 2 == 0).then(|| cstr(self.sname_raw()))
    }
    /// The `file` field as a NUL-terminated string, unless it carries options.
    pub fn file(&self) -> Option<&'a [u8]> {
        (self.overload & 1 == 0).then(|| cstr(self.file_raw()))
    }

    /// Every option instance in wire order (options, then `file`, then `sname`), pads and the
    /// overload option itself excluded.
    pub fn options(&self) -> OptionIter<'a> {
        let mut areas = [(&[][..], Area::Options); 3];
        let mut n = 0;
        areas[n] = (&self.buf[FIXED_LEN + 4..], Area::Options);
        n += 1;
        if self.overload & 1 != 0 {
            areas[n] = (self.file_raw(), Area::File);
            n += 1;
        }
        if self.overload & 2 != 0 {
            areas[n] = (self.sname_raw(), Area::Sname);
            n += 1;
        }
        OptionIter {
            areas,
            n,
            cur: 0,
            pos: 0,
        }
    }

    /// The value of option `code`; several instances are concatenated in order (RFC 3396
    /// section 7). `None` when the option is absent.
    pub fn option(&self, code: u8) -> Option<Cow<'a, [u8]>> {
        let mut out: Option<Cow<'a, [u8]>> = None;
        for (c, v, _) in self.options() {
            if c != code {
                continue;
            }
            out = Some(match out {
                None => Cow::Borrowed(v),
                Some(prev) => {
                    let mut o = prev.into_owned();
                    o.extend_from_slice(v);
                    Cow::Owned(o)
                }
            });
        }
        out
    }

    /// Option 53, if present and known.
    pub fn message_type(&self) -> Option<MessageType> {
        match self.option(code::MESSAGE_TYPE)?.as_ref() {
            [t] => MessageType::from_u8(*t),
            _ => None,
        }
    }
}

fn cstr(b: &[u8]) -> &[u8] {
    match b.iter().position(|&c| c == 0) {
        Some(n) => &b[..n],
        None => b,
    }
}

/// Iterator over `(code, value, area)` of a checked packet.
pub struct OptionIter<'a> {
    areas: [(&'a [u8], Area); 3],
    n: usize,
    cur: usize,
    pos: usize,
}

impl<'a> Iterator for OptionIter<'a> {
    type Item = (u8, &'a [u8], Area);
    fn next(&mut self) -> Option<Self::Item> {
        while self.cur < self.n {
            let (area, which) = self.areas[self.cur];
            if self.pos >= area.len() {
                self.cur += 1;
                self.pos = 0;
                continue;
            }
            let c = area[self.pos];
            match c {
                code::PAD => self.pos += 1,
                code::END => self.pos = area.len(),
                _ => {
                    // Framing was checked by `Packet::parse`; stay defensive anyway.
                    let len = *area.get(self.pos + 1)? as usize;
                    let start = self.pos + 2;
                    let v = area.get(start..start + len)?;
                    self.pos = start + len;
                    if c == code::OVERLOAD {
                        continue;
                    }
                    return Some((c, v, which));
                }
            }
        }
        None
    }
}

/// An owned DHCP message, for building packets and as the round-trip oracle of the parser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub op: u8,
    pub htype: u8,
    pub hlen: u8,
    pub hops: u8,
    pub xid: u32,
    pub secs: u16,
    pub flags: u16,
    pub ciaddr: Ipv4Addr,
    pub yiaddr: Ipv4Addr,
    pub siaddr: Ipv4Addr,
    pub giaddr: Ipv4Addr,
    pub chaddr: [u8; 16],
    /// `sname` bytes up to the first NUL (at most 63).
    pub sname: Vec<u8>,
    /// `file` bytes up to the first NUL (at most 127).
    pub file: Vec<u8>,
    /// Options in order of first appearance, instances of one code concatenated (RFC 3396).
    pub options: Vec<(u8, Vec<u8>)>,
}

impl Default for Message {
    fn default() -> Self {
        Message {
            op: BOOTREQUEST,
            htype: 1,
            hlen: 6,
            hops: 0,
            xid: 0,
            secs: 0,
            flags: 0,
            ciaddr: Ipv4Addr::UNSPECIFIED,
            yiaddr: Ipv4Addr::UNSPECIFIED,
            siaddr: Ipv4Addr::UNSPECIFIED,
            giaddr: Ipv4Addr::UNSPECIFIED,
            chaddr: [0; 16],
            sname: Vec::new(),
            file: Vec::new(),
            options: Vec::new(),
        }
    }
}

impl Message {
    /// The owned form of a checked packet.
    pub fn from_packet(p: &Packet<'_>) -> Message {
        let mut chaddr = [0u8; 16];
        chaddr.copy_from_slice(&p.buf[28..44]);
        let mut options: Vec<(u8, Vec<u8>)> = Vec::new();
        for (c, v, _) in p.options() {
            match options.iter_mut().find(|(oc, _)| *oc == c) {
                Some((_, val)) => val.extend_from_slice(v),
                None => options.push((c, v.to_vec())),
            }
        }
        let field = |f: Option<&[u8]>, max: usize| {
            let mut v = f.unwrap_or_default().to_vec();
            v.truncate(max);
            v
        };
        Message {
            op: p.op(),
            htype: p.htype(),
            hlen: p.hlen(),
            hops: p.hops(),
            xid: p.xid(),
            secs: p.secs(),
            flags: p.flags(),
            ciaddr: p.ciaddr(),
            yiaddr: p.yiaddr(),
            siaddr: p.siaddr(),
            giaddr: p.giaddr(),
            chaddr,
            sname: field(p.sname(), 63),
            file: field(p.file(), 127),
            options,
        }
    }

    /// Value of option `code`.
    pub fn option(&self, code: u8) -> Option<&[u8]> {
        self.options
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, v)| v.as_slice())
    }

    /// Sets (replaces) option `code`.
    pub fn set_option(&mut self, code: u8, value: impl Into<Vec<u8>>) {
        let value = value.into();
        match self.options.iter_mut().find(|(c, _)| *c == code) {
            Some((_, v)) => *v = value,
            None => self.options.push((code, value)),
        }
    }

    /// Serializes the message. Options longer than 255 bytes are split into consecutive
    /// instances (RFC 3396 section 5); the packet is padded to [`MIN_LEN`].
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(MIN_LEN + 64);
        b.extend_from_slice(&[self.op, self.htype, self.hlen.min(16), self.hops]);
        b.extend_from_slice(&self.xid.to_be_bytes());
        b.extend_from_slice(&self.secs.to_be_bytes());
        b.extend_from_slice(&self.flags.to_be_bytes());
        for a in [self.ciaddr, self.yiaddr, self.siaddr, self.giaddr] {
            b.extend_from_slice(&a.octets());
        }
        b.extend_from_slice(&self.chaddr);
        let mut fixed = |v: &[u8], size: usize| {
            let n = v
                .iter()
                .position(|&c| c == 0)
                .unwrap_or(v.len())
                .min(size - 1);
            b.extend_from_slice(&v[..n]);
            b.resize(b.len() + size - n, 0);
        };
        fixed(&self.sname, 64);
        fixed(&self.file, 128);
        b.extend_from_slice(&MAGIC_COOKIE);
        for (c, v) in &self.options {
            if matches!(*c, code::PAD | code::END | code::OVERLOAD) {
                continue;
            }
            if v.is_empty() {
                b.extend_from_slice(&[*c, 0]);
            }
            for chunk in v.chunks(255) {
                b.push(*c);
                b.push(chunk.len() as u8);
                b.extend_from_slice(chunk);
            }
        }
        b.push(code::END);
        if b.len() < MIN_LEN {
            b.resize(MIN_LEN, 0);
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Vec<u8> {
        let mut m = Message {
            xid: 0x1234_5678,
            ..Message::default()
        };
        m.chaddr[..6].copy_from_slice(&[0, 0x90, 0x8f, 1, 2, 3]);
        m.set_option(code::MESSAGE_TYPE, [1]);
        m.encode()
    }

    #[test]
    fn encode_parse() {
        let b = base();
        assert_eq!(b.len(), MIN_LEN);
        let p = Packet::parse(&b).unwrap();
        assert_eq!(p.xid(), 0x1234_5678);
        assert_eq!(p.chaddr(), &[0, 0x90, 0x8f, 1, 2, 3]);
        assert_eq!(p.message_type(), Some(MessageType::Discover));
    }

    #[test]
    fn long_options_split_and_joined() {
        let mut m = Message::default();
        let long: Vec<u8> = (0..600u32).map(|i| (i % 251) as u8).collect();
        m.set_option(code::VENDOR_SPECIFIC, long.clone());
        let b = m.encode();
        let p = Packet::parse(&b).unwrap();
        assert_eq!(p.options().count(), 3);
        assert_eq!(p.option(code::VENDOR_SPECIFIC).unwrap().as_ref(), &long[..]);
        assert_eq!(Message::from_packet(&p), m);
    }

    #[test]
    fn overloaded_fields_are_read() {
        let mut b = base();
        // Put option 52 = 3 before END, and options in file and sname.
        let end = FIXED_LEN + 4 + 3; // after 53,1,1
        b[end] = code::OVERLOAD;
        b[end + 1] = 1;
        b[end + 2] = 3;
        b[end + 3] = code::END;
        b[108..108 + 6].copy_from_slice(&[code::BOOTFILE_NAME, 3, b'a', b'b', b'c', code::END]);
        b[44..44 + 7].copy_from_slice(&[code::BOOTFILE_NAME, 2, b'd', b'e', code::DNS, 0, 255]);
        let p = Packet::parse(&b).unwrap();
        assert_eq!(p.overload(), 3);
        assert_eq!(p.option(code::BOOTFILE_NAME).unwrap().as_ref(), b"abcde");
        assert!(p.file().is_none() && p.sname().is_none());
        let areas: Vec<Area> = p.options().map(|(_, _, a)| a).collect();
        assert_eq!(areas, [Area::Options, Area::File, Area::Sname, Area::Sname]);
        let m = Message::from_packet(&p);
        let again = Message::from_packet(&Packet::parse(&m.encode()).unwrap());
        assert_eq!(m, again);
    }

    #[test]
    fn malformed_is_rejected() {
        assert!(matches!(
            Packet::parse(&[0; 10]),
            Err(DhcpError::TooShort(10))
        ));
        let mut b = base();
        b[FIXED_LEN] = 0;
        assert!(matches!(Packet::parse(&b), Err(DhcpError::NoMagicCookie)));
        let mut b = base();
        let end = FIXED_LEN + 4 + 3;
        b[end] = code::DOMAIN_NAME;
        b[end + 1] = 200;
        b.truncate(end + 10);
        assert!(matches!(
            Packet::parse(&b),
            Err(DhcpError::TruncatedOption { code: 15, .. })
        ));
        let mut b = base();
        b[end] = code::OVERLOAD;
        b[end + 1] = 1;
        b[end + 2] = 1; // file overloaded but holds no END
        b[end + 3] = code::END;
        b[108..236].fill(b'x');
        assert!(Packet::parse(&b).is_err());
        let mut b = base();
        b[2] = 17;
        assert!(matches!(
            Packet::parse(&b),
            Err(DhcpError::BadHardwareLength(17))
        ));
    }
}
