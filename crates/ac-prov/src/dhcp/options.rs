//! Decoding of the DHCP options the phone uses (manual 2.1.1, 3.5.1; RFC 2132, 3004, 3361,
//! 3397; Microsoft's option 43 sub-options for "MS-UC-Client").
//!
//! [`LeaseInfo::decode`] never fails as a whole on a semantically bad option: the option is
//! left out and an [`OptionError`] is recorded in [`LeaseInfo::problems`], so a server that sends
//! one malformed option still gives the phone an address. Structural damage (an option that
//! runs past the packet) is caught earlier, by [`super::wire::Packet::parse`].

use std::net::Ipv4Addr;

use super::wire::{code, MessageType, Packet};

/// A semantically invalid option: which one and why. Recorded, never fatal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("DHCP option {code}: {reason}")]
pub struct OptionError {
    pub code: u8,
    pub reason: String,
}

/// Option 43 sub-options of the "MS-UC-Client" vendor class (manual 2.1.1.1 / 2.1.1.2, table
/// 2-1 / 2-2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MsUcOptions {
    /// Sub-option 1, "UCIdentifier" (`MS-UC-Client`).
    pub uc_identifier: Option<String>,
    /// Sub-option 2, "URLScheme" (`https`).
    pub url_scheme: Option<String>,
    /// Sub-option 3, "WebServerFQDN".
    pub web_server_fqdn: Option<String>,
    /// Sub-option 4, "WebServerPort" (ASCII decimal).
    pub web_server_port: Option<u16>,
    /// Sub-option 5, "CertProvRelPath".
    pub cert_prov_rel_path: Option<String>,
    /// Sub-option 10, "VoiceVLAN" (1-4094).
    pub voice_vlan: Option<u16>,
}

impl MsUcOptions {
    /// The certificate provisioning service URL built from sub-options 2-5, if complete.
    pub fn cert_prov_url(&self) -> Option<String> {
        let scheme = self.url_scheme.as_deref()?;
        let host = self.web_server_fqdn.as_deref()?;
        let path = self.cert_prov_rel_path.as_deref().unwrap_or("/");
        let sep = if path.starts_with('/') { "" } else { "/" };
        Some(match self.web_server_port {
            Some(p) => format!("{scheme}://{host}:{p}{sep}{path}"),
            None => format!("{scheme}://{host}{sep}{path}"),
        })
    }
}

/// Option 120 (RFC 3361): SIP outbound proxy servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SipServers {
    /// Encoding 0: domain names.
    Names(Vec<String>),
    /// Encoding 1: IPv4 addresses.
    Addrs(Vec<Ipv4Addr>),
}

/// Everything the phone takes from an OFFER/ACK.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeaseInfo {
    pub message_type: Option<MessageType>,
    /// `yiaddr`.
    pub your_ip: Option<Ipv4Addr>,
    /// `siaddr` (next server, TFTP fallback).
    pub next_server: Option<Ipv4Addr>,
    /// Option 54.
    pub server_id: Option<Ipv4Addr>,
    /// Option 51, seconds (`u32::MAX` = infinite).
    pub lease_time: Option<u32>,
    /// Option 58.
    pub renewal_time: Option<u32>,
    /// Option 59.
    pub rebinding_time: Option<u32>,
    /// Option 1.
    pub subnet_mask: Option<Ipv4Addr>,
    /// Option 3.
    pub routers: Vec<Ipv4Addr>,
    /// Option 6.
    pub dns_servers: Vec<Ipv4Addr>,
    /// Option 15.
    pub domain_name: Option<String>,
    /// Option 119 (RFC 3397).
    pub domain_search: Vec<String>,
    /// Option 42 (NTP servers), preferred over option 4 for time (manual 2.1.1.4).
    pub ntp_servers: Vec<Ipv4Addr>,
    /// Option 4 (RFC 868 time servers), used for NTP when option 42 is absent.
    pub time_servers: Vec<Ipv4Addr>,
    /// Option 2, seconds east of UTC.
    pub time_offset: Option<i32>,
    /// Option 43, "MS-UC-Client" sub-options.
    pub ms_uc: Option<MsUcOptions>,
    /// Option 120.
    pub sip_servers: Option<SipServers>,
    /// Option 66, or the `sname` field when option 66 is absent (RFC 2132 section 9.4).
    pub tftp_server: Option<String>,
    /// Option 67, or the `file` field when option 67 is absent (RFC 2132 section 9.5).
    pub bootfile: Option<String>,
    /// Option 160, the provisioning URL (manual 3.5.1).
    pub provisioning_url: Option<String>,
    /// Text values of site-specific options 128-254 (for a non-default
    /// `provisioning/url_option_value`).
    pub site_options: Vec<(u8, String)>,
    /// Option 56, a server's explanation (NAK).
    pub server_message: Option<String>,
    /// Options that were present but could not be used.
    pub problems: Vec<OptionError>,
}

fn err(code: u8, reason: impl Into<String>) -> OptionError {
    OptionError {
        code,
        reason: reason.into(),
    }
}

/// Text of an option: ASCII/UTF-8, trailing NULs dropped (several servers send a C string).
pub fn text(code: u8, v: &[u8]) -> Result<String, OptionError> {
    let end = v.iter().rposition(|&b| b != 0).map_or(0, |n| n + 1);
    let v = &v[..end];
    if v.is_empty() {
        return Err(err(code, "empty text"));
    }
    if v.contains(&0) {
        return Err(err(code, "NUL inside text"));
    }
    let s = std::str::from_utf8(v).map_err(|_| err(code, "text is not UTF-8"))?;
    if s.chars().any(|c| c.is_control()) {
        return Err(err(code, "control character in text"));
    }
    Ok(s.to_string())
}

fn addrs(code: u8, v: &[u8], min: usize) -> Result<Vec<Ipv4Addr>, OptionError> {
    if v.len() % 4 != 0 || v.len() < 4 * min {
        return Err(err(
            code,
            format!("length {} is not a list of IPv4 addresses", v.len()),
        ));
    }
    Ok(v.chunks_exact(4)
        .map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3]))
        .collect())
}

fn u32_opt(code: u8, v: &[u8]) -> Result<u32, OptionError> {
    <[u8; 4]>::try_from(v)
        .map(u32::from_be_bytes)
        .map_err(|_| err(code, format!("length {} where 4 is required", v.len())))
}

/// Decodes a list of DNS names in RFC 1035 section 3.1 wire form with the compression of
/// section 4.1.4, pointers relative to the start of `buf` (RFC 3397 section 2; RFC 3361
/// section 3.1 uses the same encoding). Pointers must point backwards, so decoding terminates.
pub fn dns_names(code: u8, buf: &[u8]) -> Result<Vec<String>, OptionError> {
    const MAX_NAMES: usize = 64;
    let mut names = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        if names.len() == MAX_NAMES {
            return Err(err(code, "too many names"));
        }
        let (name, next) = dns_name_at(code, buf, pos)?;
        names.push(name);
        pos = next;
    }
    if names.is_empty() {
        return Err(err(code, "no names"));
    }
    Ok(names)
}

/// One name starting at `start`; returns it and the offset after it in the uncompressed stream.
fn dns_name_at(code: u8, buf: &[u8], start: usize) -> Result<(String, usize), OptionError> {
    let mut out = String::new();
    let mut pos = start;
    let mut resume: Option<usize> = None;
    // Each pointer must go strictly backwards: at most `buf.len()` jumps.
    let mut limit = pos;
    loop {
        let Some(&len) = buf.get(pos) else {
            return Err(err(code, "name runs past the option"));
        };
        match len {
            0 => {
                let next = resume.unwrap_or(pos + 1);
                if out.is_empty() {
                    return Err(err(code, "empty (root) name"));
                }
                return Ok((out, next));
            }
            l if l & 0xC0 == 0xC0 => {
                let Some(&lo) = buf.get(pos + 1) else {
                    return Err(err(code, "truncated compression pointer"));
                };
                let target = (((l & 0x3F) as usize) << 8) | lo as usize;
                if target >= limit {
                    return Err(err(code, "compression pointer does not point backwards"));
                }
                resume.get_or_insert(pos + 2);
                limit = target;
                pos = target;
            }
            l if l & 0xC0 != 0 => return Err(err(code, "reserved label type")),
            l => {
                let l = l as usize;
                let label = buf
                    .get(pos + 1..pos + 1 + l)
                    .ok_or_else(|| err(code, "label runs past the option"))?;
                if !label
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
                {
                    return Err(err(code, "label is not a host name label"));
                }
                if !out.is_empty() {
                    out.push('.');
                }
                // Checked ASCII above.
                out.extend(label.iter().map(|&b| b as char));
                if out.len() > 253 {
                    return Err(err(code, "name longer than 253 characters"));
                }
                pos += 1 + l;
            }
        }
    }
}

/// Encodes names in RFC 1035 wire form without compression (for servers in tests and for
/// the round-trip property).
pub fn encode_dns_names(names: &[&str]) -> Vec<u8> {
    let mut v = Vec::new();
    for n in names {
        for label in n.split('.').filter(|l| !l.is_empty()) {
            v.push(label.len() as u8);
            v.extend_from_slice(label.as_bytes());
        }
        v.push(0);
    }
    v
}

/// A small number in a sub-option: ASCII decimal (the form of manual tables 2-1 / 2-2 and of
/// Microsoft's DHCP server) or 1-2 bytes big-endian binary (what dnsmasq and ISC dhcpd send for
/// a numeric value).
fn small_number(val: &[u8]) -> Option<u16> {
    if !val.is_empty() && val.iter().all(u8::is_ascii_digit) {
        std::str::from_utf8(val).ok()?.parse().ok()
    } else {
        match val {
            [b] => Some(*b as u16),
            [a, b] => Some(u16::from_be_bytes([*a, *b])),
            _ => None,
        }
    }
}

/// Option 43: vendor-specific sub-options as a TLV list (RFC 2132 section 8.4). A bad
/// sub-option is reported and skipped; the others are kept.
pub fn ms_uc(v: &[u8]) -> (Option<MsUcOptions>, Vec<OptionError>) {
    const C: u8 = code::VENDOR_SPECIFIC;
    let mut o = MsUcOptions::default();
    let mut problems = Vec::new();
    let mut i = 0;
    let mut any = false;
    while i < v.len() {
        let sub = v[i];
        if sub == 0 {
            i += 1;
            continue;
        }
        if sub == 255 {
            break;
        }
        let Some(val) = v
            .get(i + 1)
            .and_then(|&len| v.get(i + 2..i + 2 + len as usize))
        else {
            problems.push(err(C, format!("sub-option {sub} runs past the option")));
            break;
        };
        i += 2 + val.len();
        let t = |val: &[u8]| {
            text(C, val).map_err(|e| err(C, format!("sub-option {sub}: {}", e.reason)))
        };
        let r: Result<(), OptionError> = (|| {
            match sub {
                1 => o.uc_identifier = Some(t(val)?),
                2 => o.url_scheme = Some(t(val)?),
                3 => o.web_server_fqdn = Some(t(val)?),
                4 => {
                    o.web_server_port = Some(
                        small_number(val)
                            .filter(|p| *p != 0)
                            .ok_or_else(|| err(C, "sub-option 4: bad port"))?,
                    )
                }
                5 => o.cert_prov_rel_path = Some(t(val)?),
                10 => {
                    o.voice_vlan = Some(
                        small_number(val)
                            .filter(|v| (1..=4094).contains(v))
                            .ok_or_else(|| err(C, "sub-option 10: VLAN id outside 1-4094"))?,
                    )
                }
                // Unknown sub-options belong to other vendors' encapsulations: ignored.
                _ => {}
            }
            Ok(())
        })();
        match r {
            Ok(()) => any = true,
            Err(e) => problems.push(e),
        }
    }
    if !any && problems.is_empty() {
        problems.push(err(C, "no sub-options"));
    }
    (any.then_some(o), problems)
}

/// Option 120 (RFC 3361 section 3): encoding byte then names or addresses. "All
/// implementations MUST support both encodings" (section 3).
pub fn sip_servers(v: &[u8]) -> Result<SipServers, OptionError> {
    const C: u8 = code::SIP_SERVERS;
    match v.split_first() {
        Some((0, rest)) => Ok(SipServers::Names(dns_names(C, rest)?)),
        Some((1, rest)) => Ok(SipServers::Addrs(addrs(C, rest, 1)?)),
        Some((e, _)) => Err(err(C, format!("unknown encoding {e}"))),
        None => Err(err(C, "empty")),
    }
}

impl LeaseInfo {
    /// Decodes the options of a checked packet.
    pub fn decode(p: &Packet<'_>) -> LeaseInfo {
        let mut info = LeaseInfo {
            message_type: p.message_type(),
            your_ip: Some(p.yiaddr()).filter(|a| !a.is_unspecified()),
            next_server: Some(p.siaddr()).filter(|a| !a.is_unspecified()),
            ..LeaseInfo::default()
        };
        let mut seen = [false; 256];
        for (c, _, _) in p.options() {
            if std::mem::replace(&mut seen[c as usize], true) {
                continue;
            }
            let Some(v) = p.option(c) else { continue };
            let v = v.as_ref();
            let r: Result<(), OptionError> = (|| {
                match c {
                    code::SUBNET_MASK => {
                        let a = addrs(c, v, 1)?;
                        if a.len() != 1 {
                            return Err(err(c, "length must be 4"));
                        }
                        info.subnet_mask = Some(a[0]);
                    }
                    code::TIME_OFFSET => {
                        info.time_offset = Some(u32_opt(c, v)? as i32);
                    }
                    code::ROUTER => info.routers = addrs(c, v, 1)?,
                    code::TIME_SERVER => info.time_servers = addrs(c, v, 1)?,
                    code::DNS => info.dns_servers = addrs(c, v, 1)?,
                    code::DOMAIN_NAME => info.domain_name = Some(text(c, v)?),
                    code::NTP_SERVERS => info.ntp_servers = addrs(c, v, 1)?,
                    code::VENDOR_SPECIFIC => {
                        let (o, mut p) = ms_uc(v);
                        info.ms_uc = o;
                        if let Some(last) = p.pop() {
                            info.problems.extend(p);
                            return Err(last);
                        }
                    }
                    code::LEASE_TIME => info.lease_time = Some(u32_opt(c, v)?),
                    code::RENEWAL_TIME => info.renewal_time = Some(u32_opt(c, v)?),
                    code::REBINDING_TIME => info.rebinding_time = Some(u32_opt(c, v)?),
                    code::SERVER_ID => {
                        let a = addrs(c, v, 1)?;
                        if a.len() != 1 {
                            return Err(err(c, "length must be 4"));
                        }
                        info.server_id = Some(a[0]);
                    }
                    code::MESSAGE_TYPE if info.message_type.is_none() => {
                        return Err(err(c, "unknown or malformed message type"));
                    }
                    code::MESSAGE => info.server_message = Some(text(c, v)?),
                    code::TFTP_SERVER_NAME => info.tftp_server = Some(text(c, v)?),
                    code::BOOTFILE_NAME => info.bootfile = Some(text(c, v)?),
                    code::DOMAIN_SEARCH => info.domain_search = dns_names(c, v)?,
                    code::SIP_SERVERS => info.sip_servers = Some(sip_servers(v)?),
                    code::PROVISIONING_URL => {
                        let t = text(c, v)?;
                        info.site_options.push((c, t.clone()));
                        info.provisioning_url = Some(t);
                    }
                    128..=254 => {
                        if let Ok(t) = text(c, v) {
                            info.site_options.push((c, t));
                        }
                    }
                    _ => {}
                }
                Ok(())
            })();
            if let Err(e) = r {
                info.problems.push(e);
            }
        }
        // RFC 2132 sections 9.4 / 9.5: sname / file carry the server name / boot file when the
        // options are absent and the fields are not overloaded.
        if info.tftp_server.is_none() {
            info.tftp_server = p.sname().and_then(|s| text(0, s).ok());
        }
        if info.bootfile.is_none() {
            info.bootfile = p.file().and_then(|s| text(0, s).ok());
        }
        info
    }

    /// NTP servers: option 42, else option 4 (manual 2.1.1.4).
    pub fn time_sources(&self) -> &[Ipv4Addr] {
        if self.ntp_servers.is_empty() {
            &self.time_servers
        } else {
            &self.ntp_servers
        }
    }
}

/// Option 77 value: one RFC 3004 user-class instance per class.
pub fn encode_user_class(classes: &[&[u8]]) -> Vec<u8> {
    let mut v = Vec::new();
    for c in classes {
        let n = c.len().min(255);
        v.push(n as u8);
        v.extend_from_slice(&c[..n]);
    }
    v
}

/// Decodes an RFC 3004 option 77 value. A value that is not a well-formed RFC 3004 list is
/// taken as one raw class (the pre-RFC form Microsoft's DHCP server matches on).
pub fn decode_user_class(v: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let n = v[i] as usize;
        match v.get(i + 1..i + 1 + n) {
            Some(c) if n > 0 => out.push(c.to_vec()),
            _ => return vec![v.to_vec()],
        }
        i += 1 + n;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::wire::Message;
    use super::*;

    #[test]
    fn ms_uc_table_2_1() {
        let mut v = Vec::new();
        for (s, t) in [
            (1u8, &b"MS-UC-Client"[..]),
            (2, b"https"),
            (3, b"lyncserver.domain.com"),
            (4, b"443"),
            (5, b"/CertProv/CertProvisioningService.svc"),
            (10, b"100"),
        ] {
            v.push(s);
            v.push(t.len() as u8);
            v.extend_from_slice(t);
        }
        let (o, p) = ms_uc(&v);
        assert!(p.is_empty());
        let o = o.unwrap();
        assert_eq!(o.uc_identifier.as_deref(), Some("MS-UC-Client"));
        assert_eq!(o.voice_vlan, Some(100));
        assert_eq!(
            o.cert_prov_url().unwrap(),
            "https://lyncserver.domain.com:443/CertProv/CertProvisioningService.svc"
        );
        let (o, p) = ms_uc(&[
            10, 4, b'5', b'0', b'0', b'0', 2, 5, b'h', b't', b't', b'p', b's',
        ]);
        assert_eq!(p.len(), 1);
        assert_eq!(o.unwrap().url_scheme.as_deref(), Some("https"));
        assert_eq!(ms_uc(&[10, 2, 0x01, 0x00]).0.unwrap().voice_vlan, Some(256));
        let (o, p) = ms_uc(&[3, 40, b'x']);
        assert!(o.is_none() && p.len() == 1);
    }

    #[test]
    fn option_120_both_encodings() {
        let mut v = vec![0];
        v.extend_from_slice(&encode_dns_names(&["lyncserver.domain.com", "b.example"]));
        assert_eq!(
            sip_servers(&v).unwrap(),
            SipServers::Names(vec!["lyncserver.domain.com".into(), "b.example".into()])
        );
        assert_eq!(
            sip_servers(&[1, 10, 0, 0, 1, 10, 0, 0, 2]).unwrap(),
            SipServers::Addrs(vec![Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2)])
        );
        assert!(sip_servers(&[1, 10, 0, 0]).is_err());
        assert!(sip_servers(&[2, 1]).is_err());
    }

    #[test]
    fn option_119_compression() {
        // "eng.apple.com", "marketing.apple.com" with a pointer to "apple.com" (RFC 3397 s. 4).
        let mut v = encode_dns_names(&["eng.apple.com"]);
        v.extend_from_slice(&[9]);
        v.extend_from_slice(b"marketing");
        v.extend_from_slice(&[0xC0, 4]);
        assert_eq!(
            dns_names(119, &v).unwrap(),
            vec![
                "eng.apple.com".to_string(),
                "marketing.apple.com".to_string()
            ]
        );
        // A pointer to itself or forwards is refused (no loops).
        assert!(dns_names(119, &[0xC0, 0]).is_err());
        assert!(dns_names(119, &[1, b'a', 0xC0, 5, 0, 0]).is_err());
    }

    #[test]
    fn decode_lease() {
        let mut m = Message {
            op: 2,
            yiaddr: Ipv4Addr::new(10, 1, 0, 50),
            ..Message::default()
        };
        m.set_option(code::MESSAGE_TYPE, [2]);
        m.set_option(code::SERVER_ID, [10, 1, 0, 1]);
        m.set_option(code::LEASE_TIME, 3600u32.to_be_bytes());
        m.set_option(code::NTP_SERVERS, [10, 59, 0, 20, 10, 59, 0, 21]);
        m.set_option(code::TIME_OFFSET, (-18000i32).to_be_bytes());
        m.set_option(code::PROVISIONING_URL, &b"tftp://10.1.0.1/;<MAC>.cfg\0"[..]);
        m.set_option(code::SUBNET_MASK, [255, 255, 255]); // malformed
        m.file = b"420HD.img".to_vec();
        let b = m.encode();
        let info = LeaseInfo::decode(&Packet::parse(&b).unwrap());
        assert_eq!(info.message_type, Some(MessageType::Offer));
        assert_eq!(info.your_ip, Some(Ipv4Addr::new(10, 1, 0, 50)));
        assert_eq!(info.lease_time, Some(3600));
        assert_eq!(info.time_offset, Some(-18000));
        assert_eq!(info.time_sources().len(), 2);
        assert_eq!(
            info.provisioning_url.as_deref(),
            Some("tftp://10.1.0.1/;<MAC>.cfg")
        );
        assert_eq!(info.bootfile.as_deref(), Some("420HD.img"));
        assert_eq!(info.subnet_mask, None);
        assert_eq!(info.problems.len(), 1);
        assert_eq!(info.problems[0].code, code::SUBNET_MASK);
    }

    #[test]
    fn user_class_rfc3004() {
        let v = encode_user_class(&[b"420HD"]);
        assert_eq!(v, b"\x05420HD");
        assert_eq!(decode_user_class(&v), vec![b"420HD".to_vec()]);
        assert_eq!(decode_user_class(b"420HD"), vec![b"420HD".to_vec()]);
    }
}
