//! `ac_dhcp_*`: decoding of the DHCP option values the phone uses (manual 2.1.1, 3.5.1;
//! RFC 2132, 3361, 3397; option 43 "MS-UC-Client"), for a firmware whose own DHCP client
//! (udhcpc, dhcpcd...) hands over raw option values. The decoding is `ac-prov`'s.

use std::ffi::c_char;
use std::fmt::Write as _;
use std::net::Ipv4Addr;

use ac_prov::dhcp::options::{self, SipServers};
use ac_prov::dhcp::wire::code;
use ac_prov::dhcp::MessageType;

use crate::{ac_result, boundary, boundary_or, in_bytes, OutBuf};

fn addrs(v: &[u8], exactly_one: bool) -> Result<Vec<Ipv4Addr>, ac_result> {
    if v.is_empty() || v.len() % 4 != 0 || (exactly_one && v.len() != 4) {
        return Err(ac_result::AC_RESULT_DHCP_OPTION_INVALID);
    }
    Ok(v.chunks_exact(4)
        .map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3]))
        .collect())
}

fn join<T: std::fmt::Display>(items: &[T]) -> String {
    let mut s = String::new();
    for (i, x) in items.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        // Writing to a String cannot fail.
        let _ = write!(s, "{x}");
    }
    s
}

fn u32_be(v: &[u8]) -> Result<u32, ac_result> {
    <[u8; 4]>::try_from(v)
        .map(u32::from_be_bytes)
        .map_err(|_| ac_result::AC_RESULT_DHCP_OPTION_INVALID)
}

fn message_type_name(t: MessageType) -> &'static str {
    match t {
        MessageType::Discover => "DHCPDISCOVER",
        MessageType::Offer => "DHCPOFFER",
        MessageType::Request => "DHCPREQUEST",
        MessageType::Decline => "DHCPDECLINE",
        MessageType::Ack => "DHCPACK",
        MessageType::Nak => "DHCPNAK",
        MessageType::Release => "DHCPRELEASE",
        MessageType::Inform => "DHCPINFORM",
    }
}

/// The text form of one option value (see [`ac_dhcp_option_decode`]).
pub(crate) fn decode(c: u8, v: &[u8]) -> Result<String, ac_result> {
    let invalid = |_| ac_result::AC_RESULT_DHCP_OPTION_INVALID;
    Ok(match c {
        code::SUBNET_MASK | code::SERVER_ID => join(&addrs(v, true)?),
        code::ROUTER | code::TIME_SERVER | code::DNS | code::NTP_SERVERS => join(&addrs(v, false)?),
        code::TIME_OFFSET => (u32_be(v)? as i32).to_string(),
        code::LEASE_TIME | code::RENEWAL_TIME | code::REBINDING_TIME => u32_be(v)?.to_string(),
        code::MESSAGE_TYPE => match v {
            [t] => message_type_name(
                MessageType::from_u8(*t).ok_or(ac_result::AC_RESULT_DHCP_OPTION_INVALID)?,
            )
            .to_string(),
            _ => return Err(ac_result::AC_RESULT_DHCP_OPTION_INVALID),
        },
        code::HOST_NAME
        | code::DOMAIN_NAME
        | code::MESSAGE
        | code::TFTP_SERVER_NAME
        | code::BOOTFILE_NAME
        | 128..=254 => options::text(c, v).map_err(invalid)?,
        code::DOMAIN_SEARCH => join(&options::dns_names(c, v).map_err(invalid)?),
        code::SIP_SERVERS => match options::sip_servers(v).map_err(invalid)? {
            SipServers::Names(n) => join(&n),
            SipServers::Addrs(a) => join(&a),
        },
        code::VENDOR_SPECIFIC => {
            // Lenient like the phone: bad sub-options are skipped when others are usable.
            let (o, _problems) = options::ms_uc(v);
            let o = o.ok_or(ac_result::AC_RESULT_DHCP_OPTION_INVALID)?;
            let mut s = String::new();
            let mut line = |k: &str, val: Option<String>| {
                if let Some(val) = val {
                    let _ = writeln!(s, "{k}={val}");
                }
            };
            line("uc_identifier", o.uc_identifier.clone());
            line("url_scheme", o.url_scheme.clone());
            line("web_server_fqdn", o.web_server_fqdn.clone());
            line("web_server_port", o.web_server_port.map(|p| p.to_string()));
            line("cert_prov_rel_path", o.cert_prov_rel_path.clone());
            line("voice_vlan", o.voice_vlan.map(|p| p.to_string()));
            line("cert_prov_url", o.cert_prov_url());
            s
        }
        _ => return Err(ac_result::AC_RESULT_DHCP_OPTION_UNSUPPORTED),
    })
}

/// The largest output [`ac_dhcp_option_decode`] writes for a value of `value_len` bytes,
/// NUL included: a buffer of this size never gives `AC_RESULT_INSUFFICIENT_SIZE`.
#[no_mangle]
pub extern "C" fn ac_dhcp_option_decoded_max(value_len: usize) -> usize {
    // Addresses grow 4 bytes -> at most 16 characters; compressed names are bounded by 64
    // names of 253 characters; option 43 repeats its texts once in cert_prov_url.
    boundary_or(usize::MAX, || {
        value_len.saturating_mul(4).saturating_add(16 * 1024 + 1)
    })
}

/// Decodes the value of DHCP option `code` (the bytes after code and length; for an option
/// split per RFC 3396, the concatenated value) into NUL-terminated text:
///
/// * 1 subnet mask, 54 server identifier: one dotted address;
///   3 routers, 4 time servers, 6 DNS, 42 NTP servers: addresses separated by `,`;
/// * 2 time offset: signed seconds; 51, 58, 59 lease/renewal/rebinding time: seconds;
/// * 53: the message type (`DHCPACK`...);
/// * 12 host name, 15 domain name, 56 message, 66 TFTP server, 67 boot file, 128-254 (160 is
///   the provisioning URL of manual 3.5.1): the text (trailing NULs dropped);
/// * 119 domain search (RFC 3397), 120 SIP servers (RFC 3361, names or addresses): `,`-separated;
/// * 43 "MS-UC-Client" sub-options (manual 2.1.1.1): `name=value` lines, each ending in
///   `\n`, among `uc_identifier`, `url_scheme`, `web_server_fqdn`, `web_server_port`,
///   `cert_prov_rel_path`, `voice_vlan` and `cert_prov_url` (built from sub-options 2-5).
///
/// `AC_RESULT_DHCP_OPTION_INVALID` for a malformed value, `AC_RESULT_DHCP_OPTION_UNSUPPORTED`
/// for another code. [`ac_dhcp_option_decoded_max`] bounds the output size.
///
/// # Safety
/// `value` valid for reads of `value_len` bytes; `buf` for writes of `len` bytes; `out_n` for
/// a `size_t`.
#[no_mangle]
pub unsafe extern "C" fn ac_dhcp_option_decode(
    code: u8,
    value: *const u8,
    value_len: usize,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> ac_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let v = unsafe { in_bytes(value, value_len) }?;
        let out = OutBuf::new(buf.cast(), len, out_n)?;
        let s = decode(code, v)?;
        // SAFETY: the caller's contract.
        unsafe { out.text(&s) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ac_result::*;
    use proptest::prelude::*;
    use std::ptr::{null, null_mut};

    fn dec(code: u8, v: &[u8]) -> Result<String, ac_result> {
        let mut buf = vec![0u8; ac_dhcp_option_decoded_max(v.len())];
        let mut n = usize::MAX;
        let r = unsafe {
            ac_dhcp_option_decode(
                code,
                v.as_ptr(),
                v.len(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut n,
            )
        };
        if r != AC_RESULT_OK {
            assert_eq!(n, usize::MAX, "out_n untouched on failure");
            return Err(r);
        }
        assert_eq!(buf[n], 0);
        Ok(String::from_utf8(buf[..n].to_vec()).unwrap())
    }

    #[test]
    fn options_of_the_manual_decode() {
        assert_eq!(dec(1, &[255, 255, 255, 0]).unwrap(), "255.255.255.0");
        assert_eq!(
            dec(3, &[10, 0, 0, 1, 10, 0, 0, 2]).unwrap(),
            "10.0.0.1,10.0.0.2"
        );
        assert_eq!(dec(42, &[192, 0, 2, 7]).unwrap(), "192.0.2.7");
        assert_eq!(dec(2, &(-3600i32).to_be_bytes()).unwrap(), "-3600");
        assert_eq!(dec(51, &u32::MAX.to_be_bytes()).unwrap(), "4294967295");
        assert_eq!(dec(53, &[5]).unwrap(), "DHCPACK");
        assert_eq!(dec(15, b"corp.example\0\0").unwrap(), "corp.example");
        assert_eq!(
            dec(160, b"https://prov.example/cfg/").unwrap(),
            "https://prov.example/cfg/"
        );
        assert_eq!(dec(200, b"site").unwrap(), "site");
        // RFC 3397 with a compression pointer to offset 5 ("example").
        let search = b"\x04corp\x07example\x00\x03lab\xc0\x05";
        assert_eq!(dec(119, search).unwrap(), "corp.example,lab.example");
        // RFC 3361: both encodings.
        let mut names = vec![0u8];
        names.extend_from_slice(&options::encode_dns_names(&["sip.example", "sip2.example"]));
        assert_eq!(dec(120, &names).unwrap(), "sip.example,sip2.example");
        assert_eq!(dec(120, &[1, 192, 0, 2, 1]).unwrap(), "192.0.2.1");
        // Option 43, manual table 2-1, with the port in ASCII and the VLAN in binary.
        let mut v = Vec::new();
        for (sub, val) in [
            (1u8, &b"MS-UC-Client"[..]),
            (2, b"https"),
            (3, b"lync.corp.example"),
            (4, b"443"),
            (5, b"/CertProv/CertProvisioningService.svc"),
            (10, &[0, 100]),
        ] {
            v.push(sub);
            v.push(val.len() as u8);
            v.extend_from_slice(val);
        }
        assert_eq!(
            dec(43, &v).unwrap(),
            "uc_identifier=MS-UC-Client\nurl_scheme=https\nweb_server_fqdn=lync.corp.example\n\
             web_server_port=443\ncert_prov_rel_path=/CertProv/CertProvisioningService.svc\n\
             voice_vlan=100\ncert_prov_url=https://lync.corp.example:443/CertProv/CertProvisioningService.svc\n"
        );
    }

    #[test]
    fn malformed_and_unsupported_options_are_refused() {
        assert_eq!(dec(1, &[255, 255, 255]), Err(AC_RESULT_DHCP_OPTION_INVALID));
        assert_eq!(
            dec(1, &[1, 2, 3, 4, 5, 6, 7, 8]),
            Err(AC_RESULT_DHCP_OPTION_INVALID)
        );
        assert_eq!(dec(6, &[]), Err(AC_RESULT_DHCP_OPTION_INVALID));
        assert_eq!(dec(51, &[0, 0, 1]), Err(AC_RESULT_DHCP_OPTION_INVALID));
        assert_eq!(dec(53, &[9]), Err(AC_RESULT_DHCP_OPTION_INVALID));
        assert_eq!(dec(15, b"bad\xffutf8"), Err(AC_RESULT_DHCP_OPTION_INVALID));
        assert_eq!(dec(15, b"nul\0inside"), Err(AC_RESULT_DHCP_OPTION_INVALID));
        assert_eq!(dec(66, b""), Err(AC_RESULT_DHCP_OPTION_INVALID));
        // A forward compression pointer (would loop) and a truncated label.
        assert_eq!(dec(119, b"\xc0\x00"), Err(AC_RESULT_DHCP_OPTION_INVALID));
        assert_eq!(dec(119, b"\x10abc"), Err(AC_RESULT_DHCP_OPTION_INVALID));
        assert_eq!(
            dec(120, &[2, 1, 2, 3, 4]),
            Err(AC_RESULT_DHCP_OPTION_INVALID)
        );
        assert_eq!(dec(43, &[1, 200, b'x']), Err(AC_RESULT_DHCP_OPTION_INVALID));
        assert_eq!(dec(61, &[1, 2, 3]), Err(AC_RESULT_DHCP_OPTION_UNSUPPORTED));
        assert_eq!(dec(0, &[]), Err(AC_RESULT_DHCP_OPTION_UNSUPPORTED));
        assert_eq!(dec(255, &[]), Err(AC_RESULT_DHCP_OPTION_UNSUPPORTED));
    }

    #[test]
    fn bad_arguments() {
        let mut buf = [0u8; 16];
        let mut n = 77usize;
        unsafe {
            assert_eq!(
                ac_dhcp_option_decode(1, null(), 0, buf.as_mut_ptr().cast(), 16, &mut n),
                AC_RESULT_NULL_PARAMETER
            );
            assert_eq!(
                ac_dhcp_option_decode(1, [1, 2, 3, 4].as_ptr(), 4, null_mut(), 16, &mut n),
                AC_RESULT_NULL_PARAMETER
            );
            assert_eq!(
                ac_dhcp_option_decode(
                    1,
                    [1, 2, 3, 4].as_ptr(),
                    4,
                    buf.as_mut_ptr().cast(),
                    16,
                    null_mut()
                ),
                AC_RESULT_NULL_PARAMETER
            );
            // "255.255.255.255" needs 16 bytes with its NUL.
            let v = [255u8; 4];
            assert_eq!(
                ac_dhcp_option_decode(1, v.as_ptr(), 4, buf.as_mut_ptr().cast(), 15, &mut n),
                AC_RESULT_INSUFFICIENT_SIZE
            );
            assert_eq!(n, 77);
            assert_eq!(
                ac_dhcp_option_decode(1, v.as_ptr(), 4, buf.as_mut_ptr().cast(), 16, &mut n),
                AC_RESULT_OK
            );
            assert_eq!(n, 15);
        }
        assert_eq!(ac_dhcp_option_decoded_max(usize::MAX), usize::MAX);
    }

    proptest! {
        // Arbitrary values for every code: a clear result, never a panic, and the output
        // always within ac_dhcp_option_decoded_max.
        #[test]
        fn arbitrary_values_stay_within_the_bound(code in any::<u8>(), v in proptest::collection::vec(any::<u8>(), 0..600)) {
            match decode(code, &v) {
                Ok(s) => prop_assert!(s.len() < ac_dhcp_option_decoded_max(v.len())),
                Err(e) => prop_assert!(matches!(e, AC_RESULT_DHCP_OPTION_INVALID | AC_RESULT_DHCP_OPTION_UNSUPPORTED)),
            }
        }

        // Names with compression pointers expand the most: 2-byte pointers to long names.
        #[test]
        fn compressed_names_stay_within_the_bound(labels in proptest::collection::vec("[a-z]{1,63}", 1..5), ptrs in 1usize..120) {
            let name: Vec<&str> = labels.iter().map(String::as_str).collect();
            let mut v = options::encode_dns_names(&[&name.join(".")]);
            for _ in 0..ptrs {
                v.extend_from_slice(&[0xC0, 0]);
            }
            match decode(119, &v) {
                Ok(s) => prop_assert!(s.len() < ac_dhcp_option_decoded_max(v.len())),
                Err(e) => prop_assert_eq!(e, AC_RESULT_DHCP_OPTION_INVALID),
            }
        }
    }
}
