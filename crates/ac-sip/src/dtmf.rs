//! DTMF in SIP INFO bodies: `application/dtmf-relay` (`Signal=5` / `Duration=160` lines, the
//! form most PBXs and phones send) and `application/dtmf` (the bare key). RFC 6086 keeps such
//! legacy INFO usages; neither body has an RFC of its own, so the grammar taken here is the
//! common one: `key=value` lines (CRLF or LF, blanks around both), keys without regard to
//! case, unknown keys ignored, `Signal` mandatory; keys 0-9, `*`, `#`, A-D (also `10` for `*`
//! and `11` for `#`, and `!` or `16` for a hook flash, as some senders write them).
//!
//! [`Dtmf::parse`] checks a body; [`Dtmf::emit`] writes the canonical form of either format,
//! and `parse(emit(d)) == d`.

use std::fmt::Write as _;

/// Longest body accepted.
pub const MAX_LEN: usize = 1024;
/// Longest duration accepted (ms): a key press of more than a minute is not one.
pub const MAX_DURATION_MS: u32 = 60_000;

/// Why a DTMF body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DtmfError {
    #[error("body longer than {MAX_LEN} bytes or not UTF-8")]
    Size,
    #[error("no Signal")]
    NoSignal,
    #[error("bad key {0:?}")]
    Key(String),
    #[error("bad Duration")]
    Duration,
    #[error("malformed line")]
    Line,
}

/// The two body formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtmfFormat {
    /// `application/dtmf-relay`.
    Relay,
    /// `application/dtmf`.
    Plain,
}

impl DtmfFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            DtmfFormat::Relay => "application/dtmf-relay",
            DtmfFormat::Plain => "application/dtmf",
        }
    }

    /// The format of a Content-Type (`type/subtype`, parameters ignored).
    pub fn from_content_type(ct: &str) -> Option<DtmfFormat> {
        let t = ct.split(';').next().unwrap_or("").trim();
        if t.eq_ignore_ascii_case("application/dtmf-relay") {
            Some(DtmfFormat::Relay)
        } else if t.eq_ignore_ascii_case("application/dtmf") {
            Some(DtmfFormat::Plain)
        } else {
            None
        }
    }
}

/// One key press.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dtmf {
    /// `0`-`9`, `*`, `#`, `A`-`D`, or `!` (hook flash).
    pub key: char,
    pub duration_ms: Option<u32>,
}

fn key(s: &str) -> Result<char, DtmfError> {
    let k = match s {
        "10" => '*',
        "11" => '#',
        "16" => '!',
        _ => {
            let mut it = s.chars();
            match (it.next(), it.next()) {
                (Some(c), None) => c.to_ascii_uppercase(),
                _ => return Err(DtmfError::Key(s.chars().take(16).collect())),
            }
        }
    };
    if k.is_ascii_digit() || matches!(k, '*' | '#' | 'A'..='D' | '!') {
        Ok(k)
    } else {
        Err(DtmfError::Key(s.chars().take(16).collect()))
    }
}

fn duration(s: &str) -> Result<u32, DtmfError> {
    if s.is_empty() || s.len() > 6 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DtmfError::Duration);
    }
    let d: u32 = s.parse().map_err(|_| DtmfError::Duration)?;
    if d > MAX_DURATION_MS {
        return Err(DtmfError::Duration);
    }
    Ok(d)
}

impl Dtmf {
    /// Is `key` one we can send?
    pub fn valid_key(k: char) -> bool {
        key(&k.to_string()).is_ok_and(|c| c == k)
    }

    /// Parses a body of the given format.
    pub fn parse(format: DtmfFormat, body: &[u8]) -> Result<Dtmf, DtmfError> {
        if body.len() > MAX_LEN {
            return Err(DtmfError::Size);
        }
        let text = std::str::from_utf8(body).map_err(|_| DtmfError::Size)?;
        match format {
            DtmfFormat::Plain => {
                // The bare key; some senders use the relay's `Signal=` form here too.
                let t = text.trim();
                if t.contains('=') {
                    return Dtmf::parse(DtmfFormat::Relay, body);
                }
                Ok(Dtmf {
                    key: key(t)?,
                    duration_ms: None,
                })
            }
            DtmfFormat::Relay => {
                let mut signal = None;
                let mut dur = None;
                for line in text.split('\n') {
                    let line = line.trim();
                    if line.is_empty() {
                        continue;
                    }
                    let (k, v) = line.split_once('=').ok_or(DtmfError::Line)?;
                    let (k, v) = (k.trim(), v.trim());
                    if k.eq_ignore_ascii_case("signal") {
                        if signal.is_some() {
                            return Err(DtmfError::Line);
                        }
                        signal = Some(key(v)?);
                    } else if k.eq_ignore_ascii_case("duration") {
                        if dur.is_some() {
                            return Err(DtmfError::Line);
                        }
                        dur = Some(duration(v)?);
                    }
                }
                Ok(Dtmf {
                    key: signal.ok_or(DtmfError::NoSignal)?,
                    duration_ms: dur,
                })
            }
        }
    }

    /// The canonical body (`Plain` carries the key only).
    pub fn emit(&self, format: DtmfFormat) -> String {
        match format {
            DtmfFormat::Plain => self.key.to_string(),
            DtmfFormat::Relay => {
                let mut s = format!("Signal={}\r\n", self.key);
                if let Some(d) = self.duration_ms {
                    let _ = write!(s, "Duration={d}\r\n");
                }
                s
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let d = Dtmf::parse(DtmfFormat::Relay, b"Signal=5\r\nDuration=160\r\n").unwrap();
        assert_eq!(
            d,
            Dtmf {
                key: '5',
                duration_ms: Some(160)
            }
        );
        let d = Dtmf::parse(DtmfFormat::Relay, b"signal = 11\nduration= 250\nx=y\n").unwrap();
        assert_eq!(d.key, '#');
        assert_eq!(d.duration_ms, Some(250));
        assert_eq!(Dtmf::parse(DtmfFormat::Plain, b"*").unwrap().key, '*');
        assert_eq!(Dtmf::parse(DtmfFormat::Plain, b"d\r\n").unwrap().key, 'D');
        assert_eq!(
            Dtmf::parse(DtmfFormat::Plain, b"Signal=7\r\nDuration=100")
                .unwrap()
                .duration_ms,
            Some(100)
        );
        for bad in [
            &b""[..],
            b"Duration=100",
            b"Signal=E",
            b"Signal=55",
            b"Signal=1\r\nSignal=2",
            b"Signal=1\r\nDuration=-1",
            b"Signal=1\r\nDuration=99999999",
            b"garbage",
            b"\xff",
        ] {
            assert!(Dtmf::parse(DtmfFormat::Relay, bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            DtmfFormat::from_content_type("Application/DTMF-Relay ; x=1"),
            Some(DtmfFormat::Relay)
        );
        for f in [DtmfFormat::Relay, DtmfFormat::Plain] {
            for k in "0123456789*#ABCD!".chars() {
                let d = Dtmf {
                    key: k,
                    duration_ms: (f == DtmfFormat::Relay).then_some(120),
                };
                assert_eq!(Dtmf::parse(f, d.emit(f).as_bytes()).unwrap(), d);
            }
        }
    }
}
