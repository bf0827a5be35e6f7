//! The SIP provisioning trigger: a NOTIFY with `Event: check-sync` (the de-facto event package
//! SIP phones use for "re-check your configuration"; an optional `reboot=true` parameter asks
//! for a restart afterwards). The SIP stack (ac-sip) receives and answers the request; this
//! module only decides whether a received NOTIFY is such a trigger, from the raw message, so
//! that the provisioning engine does not depend on the SIP stack.

use crate::engine::Trigger;

/// Longest message looked at (a check-sync NOTIFY is a few hundred bytes).
const MAX: usize = 64 * 1024;

/// Returns the trigger if `msg` is a SIP NOTIFY request whose Event header (or its compact
/// form `o`, RFC 3265 section 7.2.1 / RFC 6665 section 8.2.1) names the `check-sync` package.
pub fn check_sync(msg: &[u8]) -> Option<Trigger> {
    let msg = msg.get(..msg.len().min(MAX))?;
    let text = std::str::from_utf8(msg).ok()?;
    let mut lines = text.split("\r\n").flat_map(|l| l.split('\n'));
    let request_line = lines.next()?;
    let mut parts = request_line.split_whitespace();
    if parts.next()? != "NOTIFY" || parts.next().is_none() || !parts.next()?.starts_with("SIP/2.0")
    {
        return None;
    }
    for line in lines {
        if line.is_empty() {
            break; // end of headers
        }
        let (name, value) = line.split_once(':')?;
        let name = name.trim();
        if !(name.eq_ignore_ascii_case("event") || name == "o") {
            continue;
        }
        let mut params = value.split(';').map(str::trim);
        // Event package names are case-sensitive tokens (RFC 6665 section 8.2.1); phones
        // accept the lower-case spelling every server sends.
        if params.next()? != "check-sync" {
            return None;
        }
        let reboot = params.any(|p| {
            p.split_once('=').is_some_and(|(k, v)| {
                k.trim().eq_ignore_ascii_case("reboot") && v.trim().eq_ignore_ascii_case("true")
            })
        });
        return Some(Trigger::CheckSync { reboot });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const N: &str = "NOTIFY sip:1001@10.0.0.5:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\n\
        From: <sip:pbx@10.0.0.1>;tag=1\r\nTo: <sip:1001@10.0.0.1>\r\nCall-ID: a@b\r\nCSeq: 1 NOTIFY\r\n";

    #[test]
    fn recognises_check_sync() {
        let m = format!("{N}Event: check-sync\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(
            check_sync(m.as_bytes()),
            Some(Trigger::CheckSync { reboot: false })
        );
        let m = format!("{N}o: check-sync;reboot=true\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(
            check_sync(m.as_bytes()),
            Some(Trigger::CheckSync { reboot: true })
        );
        let m = format!("{N}Event: message-summary\r\n\r\n");
        assert_eq!(check_sync(m.as_bytes()), None);
        let m = "INVITE sip:x SIP/2.0\r\nEvent: check-sync\r\n\r\n";
        assert_eq!(check_sync(m.as_bytes()), None);
        assert_eq!(check_sync(b"\xff\xfe"), None);
        // Event in the body, not the headers, does not count.
        let m = format!("{N}Content-Length: 19\r\n\r\nEvent: check-sync\r\n");
        assert_eq!(check_sync(m.as_bytes()), None);
    }
}
