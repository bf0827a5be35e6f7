//! `application/simple-message-summary` bodies (RFC 3842 5.2): the message-waiting indication
//! that a voicemail server NOTIFYs for the `message-summary` event package.
//!
//! [`MessageSummary::parse`] checks the grammar (the `Messages-Waiting` status line first, an
//! optional `Message-Account`, `<class>: new/old [(new-urgent/old-urgent)]` summary lines, and
//! after a blank line optional message headers kept as they came); [`MessageSummary::emit`]
//! writes the canonical form, and `parse(emit(m)) == m`.

use std::fmt::Write as _;

/// Longest body accepted.
pub const MAX_LEN: usize = 16 * 1024;

/// Why a message-summary body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MwiError {
    #[error("body longer than {MAX_LEN} bytes or not UTF-8")]
    Size,
    #[error("line {0}: {1}")]
    Line(usize, &'static str),
    #[error("no Messages-Waiting line")]
    NoStatus,
}

/// One summary line: `Voice-Message: 2/8 (0/2)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The message-context-class (RFC 3458): voice-message, fax-message, ...
    pub class: String,
    pub new: u32,
    pub old: u32,
    pub urgent: Option<(u32, u32)>,
}

/// A parsed message summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageSummary {
    pub waiting: bool,
    pub account: Option<String>,
    pub summaries: Vec<Summary>,
    /// Optional message headers after the blank line (RFC 3842 5.2 `opt-msg-headers`).
    pub headers: Vec<(String, String)>,
}

fn count(s: &str, n: usize) -> Result<u32, MwiError> {
    let s = s.trim();
    if s.is_empty() || s.len() > 9 || !s.bytes().all(|c| c.is_ascii_digit()) {
        return Err(MwiError::Line(n, "bad message count"));
    }
    s.parse()
        .map_err(|_| MwiError::Line(n, "bad message count"))
}

fn pair(s: &str, n: usize) -> Result<(u32, u32), MwiError> {
    let (a, b) = s.split_once('/').ok_or(MwiError::Line(n, "no '/'"))?;
    Ok((count(a, n)?, count(b, n)?))
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&c))
}

impl MessageSummary {
    pub fn parse(body: &[u8]) -> Result<MessageSummary, MwiError> {
        if body.len() > MAX_LEN {
            return Err(MwiError::Size);
        }
        let text = std::str::from_utf8(body).map_err(|_| MwiError::Size)?;
        let mut out = MessageSummary {
            waiting: false,
            account: None,
            summaries: Vec::new(),
            headers: Vec::new(),
        };
        let mut seen_status = false;
        let mut in_headers = false;
        for (i, raw) in text.split('\n').enumerate() {
            let n = i + 1;
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            if line.trim().is_empty() {
                if seen_status {
                    in_headers = true;
                }
                continue;
            }
            let (name, value) = line.split_once(':').ok_or(MwiError::Line(n, "no ':'"))?;
            let name = name.trim();
            let value = value.trim();
            if !is_token(name) {
                return Err(MwiError::Line(n, "bad header name"));
            }
            if value.bytes().any(|c| c < 0x20 && c != b'\t') {
                return Err(MwiError::Line(n, "control character"));
            }
            if in_headers {
                out.headers.push((name.to_string(), value.to_string()));
                continue;
            }
            if !seen_status {
                // RFC 3842 5.2: msg-status-line comes first.
                if !name.eq_ignore_ascii_case("Messages-Waiting") {
                    return Err(MwiError::NoStatus);
                }
                out.waiting = match value.to_ascii_lowercase().as_str() {
                    "yes" => true,
                    "no" => false,
                    _ => return Err(MwiError::Line(n, "Messages-Waiting is not yes/no")),
                };
                seen_status = true;
                continue;
            }
            if name.eq_ignore_ascii_case("Message-Account") {
                if out.account.is_some() || !out.summaries.is_empty() {
                    return Err(MwiError::Line(n, "misplaced Message-Account"));
                }
                if value.is_empty() || value.contains(' ') {
                    return Err(MwiError::Line(n, "bad account URI"));
                }
                out.account = Some(value.to_string());
                continue;
            }
            let (counts, urgent) = match value.split_once('(') {
                Some((c, u)) => {
                    let u = u
                        .trim_end()
                        .strip_suffix(')')
                        .ok_or(MwiError::Line(n, "no ')'"))?;
                    (c, Some(pair(u, n)?))
                }
                None => (value, None),
            };
            let (new, old) = pair(counts, n)?;
            if out.summaries.len() == 64 {
                return Err(MwiError::Line(n, "too many summary lines"));
            }
            out.summaries.push(Summary {
                class: name.to_ascii_lowercase(),
                new,
                old,
                urgent,
            });
        }
        if !seen_status {
            return Err(MwiError::NoStatus);
        }
        Ok(out)
    }

    /// The canonical body (CRLF line ends).
    pub fn emit(&self) -> String {
        let mut s = String::new();
        let _ = write!(
            s,
            "Messages-Waiting: {}\r\n",
            if self.waiting { "yes" } else { "no" }
        );
        if let Some(a) = &self.account {
            let _ = write!(s, "Message-Account: {a}\r\n");
        }
        for m in &self.summaries {
            // Classes are case-insensitive; written as RFC 3842 does (Voice-Message).
            let class: Vec<String> = m
                .class
                .split('-')
                .map(|w| {
                    let mut c = w.chars();
                    c.next()
                        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                        .unwrap_or_default()
                })
                .collect();
            let _ = write!(s, "{}: {}/{}", class.join("-"), m.new, m.old);
            if let Some((a, b)) = m.urgent {
                let _ = write!(s, " ({a}/{b})");
            }
            s.push_str("\r\n");
        }
        if !self.headers.is_empty() {
            s.push_str("\r\n");
            for (k, v) in &self.headers {
                let _ = write!(s, "{k}: {v}\r\n");
            }
        }
        s
    }

    /// New and old voice messages (the count the phone shows), if a voice line is present.
    pub fn voice(&self) -> Option<(u32, u32)> {
        self.summaries
            .iter()
            .find(|s| s.class == "voice-message")
            .map(|s| (s.new, s.old))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3842_example() {
        // RFC 3842 section 6, the first NOTIFY's body.
        let b = b"Messages-Waiting: yes\r\nMessage-Account: sip:alice@vmail.example.com\r\nVoice-Message: 2/8 (0/2)\r\n";
        let m = MessageSummary::parse(b).unwrap();
        assert!(m.waiting);
        assert_eq!(m.voice(), Some((2, 8)));
        assert_eq!(m.summaries[0].urgent, Some((0, 2)));
        assert_eq!(m.emit().as_bytes(), b);
        let h = b"Messages-Waiting: no\nvoice-message: 0/3\n\nTo: <sip:a@b>\nSubject: hi\n";
        let m = MessageSummary::parse(h).unwrap();
        assert_eq!(m.headers.len(), 2);
        assert_eq!(MessageSummary::parse(m.emit().as_bytes()).unwrap(), m);
        for bad in [
            &b""[..],
            b"Voice-Message: 1/2\r\n",
            b"Messages-Waiting: maybe\r\n",
            b"Messages-Waiting: yes\r\nVoice-Message: 1\r\n",
            b"Messages-Waiting: yes\r\nVoice-Message: 1/99999999999\r\n",
            b"Messages-Waiting: yes\r\nVoice-Message: 1/2 (3/4\r\n",
        ] {
            assert!(MessageSummary::parse(bad).is_err());
        }
    }
}
