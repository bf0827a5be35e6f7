//! Syslog client (manual 7.1, table 7-1): per-component levels, the Network / Console / Both
//! destinations, the "lightweight" mode (7.1.3), messages in RFC 5424 or RFC 3164 format
//! over UDP (RFC 5426). Formatting, filtering and parsing are pure; the socket is in
//! [`crate::driver::net`].

use ac_cfg::Config;

use crate::tz;
use crate::vlan::schema_default;

/// local7, as the phone's own logs use (`local7.err voip_task[440]: ...`, deployment notes).
pub const FACILITY_LOCAL7: u8 = 23;
/// RFC 5426 3.2: receivers SHOULD accept 2048 bytes; longer messages are cut.
pub const MAX_DATAGRAM: usize = 2048;

/// RFC 5424 6.2.1 severities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Emergency = 0,
    Alert,
    Critical,
    Error,
    Warning,
    Notice,
    Info,
    Debug,
}

impl Severity {
    pub fn from_code(c: u8) -> Option<Severity> {
        use Severity::*;
        [
            Emergency, Alert, Critical, Error, Warning, Notice, Info, Debug,
        ]
        .get(usize::from(c))
        .copied()
    }

    /// A component level of table 7-1: `NONE` (nothing) or a severity name.
    pub fn parse_level(s: &str) -> Result<Option<Severity>, SyslogError> {
        use Severity::*;
        Ok(Some(match s.trim().to_ascii_uppercase().as_str() {
            "NONE" | "" => return Ok(None),
            "EMERGENCY" | "EMERG" => Emergency,
            "ALERT" => Alert,
            "CRITICAL" | "CRIT" => Critical,
            "ERROR" | "ERR" => Error,
            "WARNING" | "WARN" => Warning,
            "NOTICE" => Notice,
            "INFO" => Info,
            "DEBUG" => Debug,
            _ => return Err(SyslogError::BadLevel(s.to_string())),
        }))
    }
}

/// The log modules of table 7-1, in order, with their configuration key suffix.
pub const COMPONENTS: [&str; 14] = [
    "voip_application",
    "sip_call_control",
    "sip_stack",
    "ice_stack",
    "control_center",
    "lcd_display",
    "web_server",
    "watchdog",
    "ieee802_1x",
    "kernel",
    "dsp",
    "lib",
    "sipe",
    "cgi",
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyslogError {
    #[error("unknown log level {0:?}")]
    BadLevel(String),
    #[error("unknown component {0:?}")]
    BadComponent(String),
    #[error("not a syslog message: {0}")]
    Parse(&'static str),
}

/// `system/syslog/mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    Disable,
    Network,
    Console,
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Rfc5424,
    Rfc3164,
}

/// Table 7-1 settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogSettings {
    pub destination: Destination,
    pub server: String,
    pub port: u16,
    /// Level of each of [`COMPONENTS`].
    pub levels: [Option<Severity>; 14],
}

/// In lightweight mode (network logging with every component at None, 7.1.3) the phone
/// sends only what needs attention: warnings and more severe, from every component.
pub const LIGHTWEIGHT_LEVEL: Severity = Severity::Warning;

impl SyslogSettings {
    pub fn from_config(c: &Config) -> Result<SyslogSettings, SyslogError> {
        let s = |k: &str| {
            c.get_str(k)
                .unwrap_or_else(|| schema_default(k))
                .to_string()
        };
        let destination = match s("system/syslog/mode").to_ascii_uppercase().as_str() {
            "NETWORK" => Destination::Network,
            "CONSOLE" => Destination::Console,
            "BOTH" => Destination::Both,
            _ => Destination::Disable,
        };
        let port = c
            .get_int("system/syslog/server_port")
            .or_else(|| schema_default("system/syslog/server_port").parse().ok())
            .unwrap_or(514)
            .clamp(0, 65535) as u16;
        let mut levels = [None; 14];
        for (l, name) in levels.iter_mut().zip(COMPONENTS) {
            *l = Severity::parse_level(&s(&format!("system/syslog/component/{name}")))?;
        }
        Ok(SyslogSettings {
            destination,
            server: s("system/syslog/server_address"),
            port,
            levels,
        })
    }

    /// 7.1.3: Network destination and every component at None.
    pub fn lightweight(&self) -> bool {
        matches!(self.destination, Destination::Network | Destination::Both)
            && self.levels.iter().all(Option::is_none)
    }

    /// The level in force for a component.
    pub fn level(&self, component: &str) -> Result<Option<Severity>, SyslogError> {
        let i = COMPONENTS
            .iter()
            .position(|c| *c == component)
            .ok_or_else(|| SyslogError::BadComponent(component.to_string()))?;
        Ok(if self.lightweight() {
            Some(LIGHTWEIGHT_LEVEL)
        } else {
            self.levels[i]
        })
    }
}

/// A syslog message (RFC 5424 6 fields; RFC 3164 uses a subset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub facility: u8,
    pub severity: Severity,
    /// Unix nanoseconds, UTC; `None` is NILVALUE (time unknown, e.g. before NTP).
    pub timestamp: Option<i128>,
    pub hostname: Option<String>,
    pub app_name: Option<String>,
    pub procid: Option<String>,
    pub msgid: Option<String>,
    /// Structured data elements: (SD-ID, [(name, value)]).
    pub sd: Vec<(String, Vec<(String, String)>)>,
    pub msg: String,
}

fn nil(o: &Option<String>) -> &str {
    o.as_deref().unwrap_or("-")
}

/// PRINTUSASCII without space, at most `max` characters (RFC 5424 6).
fn header_field(s: &str, max: usize) -> Option<String> {
    let f: String = s
        .chars()
        .filter(|c| ('!'..='~').contains(c))
        .take(max)
        .collect();
    if f.is_empty() || f == "-" {
        None
    } else {
        Some(f)
    }
}

impl Message {
    pub fn new(severity: Severity, app: &str, msg: &str) -> Message {
        Message {
            facility: FACILITY_LOCAL7,
            severity,
            timestamp: None,
            hostname: None,
            app_name: header_field(app, 48),
            procid: None,
            msgid: None,
            sd: Vec::new(),
            msg: msg.to_string(),
        }
    }

    fn pri(&self) -> u16 {
        u16::from(self.facility.min(23)) * 8 + self.severity as u16
    }

    /// RFC 5424 6: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD [MSG]`; the timestamp
    /// in UTC with microseconds; the message as UTF-8 with a BOM (6.4). Cut to
    /// [`MAX_DATAGRAM`] bytes on a character boundary.
    pub fn to_rfc5424(&self) -> Vec<u8> {
        let ts = match self.timestamp {
            Some(n) => {
                let secs = n.div_euclid(1_000_000_000) as i64;
                let micros = n.rem_euclid(1_000_000_000) / 1000;
                let lt = tz::local_time(
                    &tz::TimeZone {
                        gmt_offset: 0,
                        dst: None,
                    },
                    secs,
                );
                format!(
                    "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
                    lt.year, lt.month, lt.day, lt.hour, lt.minute, lt.second, micros
                )
            }
            None => "-".into(),
        };
        let mut s = format!(
            "<{}>1 {} {} {} {} {} ",
            self.pri(),
            ts,
            nil(&self.hostname),
            nil(&self.app_name),
            nil(&self.procid),
            nil(&self.msgid)
        );
        // The datagram is cut to MAX_DATAGRAM (RFC 5426 3.2 lets a receiver drop longer ones).
        // Only MSG may be cut: a cut inside STRUCTURED-DATA would send a message no receiver
        // can parse, so SD elements that do not fit are left out whole.
        let mut sd_text = String::new();
        for (id, params) in &self.sd {
            let mut e = String::new();
            Self::push_sd_element(&mut e, id, params);
            if s.len() + sd_text.len() + e.len() > MAX_DATAGRAM {
                break;
            }
            sd_text.push_str(&e);
        }
        if sd_text.is_empty() {
            s.push('-');
        }
        s.push_str(&sd_text);
        let mut out = s.into_bytes();
        let header = out.len();
        if !self.msg.is_empty() {
            out.push(b' ');
            out.extend_from_slice("\u{feff}".as_bytes());
            out.extend_from_slice(self.msg.as_bytes());
        }
        let mut out = truncate_utf8(out);
        // Nothing of MSG left after the cut: no SP and BOM either (they announce a MSG).
        if out.len() <= header + 4 {
            out.truncate(header);
        }
        out
    }

    fn push_sd_element(s: &mut String, id: &str, params: &[(String, String)]) {
        s.push('[');
        s.push_str(id);
        for (k, v) in params {
            s.push(' ');
            s.push_str(k);
            s.push_str("=\"");
            for ch in v.chars() {
                // RFC 5424 6.3.3: '"', '\' and ']' MUST be escaped.
                if matches!(ch, '"' | '\\' | ']') {
                    s.push('\\');
                }
                s.push(ch);
            }
            s.push('"');
        }
        s.push(']');
    }

    /// RFC 3164 4.1: `<PRI>Mmm dd hh:mm:ss HOSTNAME TAG[PID]: MSG` (local time).
    pub fn to_rfc3164(&self, zone: &tz::TimeZone) -> Vec<u8> {
        const MON: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let secs = self
            .timestamp
            .map_or(0, |n| n.div_euclid(1_000_000_000) as i64);
        let lt = tz::local_time(zone, secs);
        let tag: String = nil(&self.app_name)
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(32)
            .collect();
        let pid = self
            .procid
            .as_ref()
            .map(|p| format!("[{p}]"))
            .unwrap_or_default();
        let s = format!(
            "<{}>{} {:>2} {:02}:{:02}:{:02} {} {}{}: {}",
            self.pri(),
            MON[(lt.month as usize).clamp(1, 12) - 1],
            lt.day,
            lt.hour,
            lt.minute,
            lt.second,
            nil(&self.hostname),
            tag,
            pid,
            self.msg
        );
        truncate_utf8(s.into_bytes())
    }

    /// Parses an RFC 5424 message.
    pub fn parse_rfc5424(b: &[u8]) -> Result<Message, SyslogError> {
        let e = SyslogError::Parse;
        let s = std::str::from_utf8(b).map_err(|_| e("not UTF-8"))?;
        let rest = s.strip_prefix('<').ok_or(e("no PRI"))?;
        let (pri, rest) = rest.split_once('>').ok_or(e("no PRI"))?;
        if pri.is_empty() || pri.len() > 3 || !pri.bytes().all(|c| c.is_ascii_digit()) {
            return Err(e("bad PRI"));
        }
        let pri: u16 = pri.parse().map_err(|_| e("bad PRI"))?;
        if pri > 191 || (pri.to_string().len() != s[1..].find('>').unwrap_or(0)) {
            return Err(e("bad PRI"));
        }
        let rest = rest.strip_prefix("1 ").ok_or(e("not version 1"))?;
        let mut it = rest.splitn(6, ' ');
        let mut field = || it.next().ok_or(e("missing header field"));
        let ts = field()?;
        let host = field()?;
        let app = field()?;
        let procid = field()?;
        let msgid = field()?;
        let rest = field()?;
        let opt = |f: &str, max: usize| -> Result<Option<String>, SyslogError> {
            if f == "-" {
                return Ok(None);
            }
            if f.is_empty() || f.len() > max || !f.bytes().all(|c| (33..=126).contains(&c)) {
                return Err(e("bad header field"));
            }
            Ok(Some(f.to_string()))
        };
        let timestamp = if ts == "-" {
            None
        } else {
            Some(parse_timestamp(ts).ok_or(e("bad TIMESTAMP"))?)
        };
        let (sd, msg) = parse_sd(rest)?;
        let msg = match msg {
            None => String::new(),
            Some(m) => m.strip_prefix('\u{feff}').unwrap_or(m).to_string(),
        };
        Ok(Message {
            facility: (pri / 8) as u8,
            severity: Severity::from_code((pri % 8) as u8).ok_or(e("bad PRI"))?,
            timestamp,
            hostname: opt(host, 255)?,
            app_name: opt(app, 48)?,
            procid: opt(procid, 128)?,
            msgid: opt(msgid, 32)?,
            sd,
            msg,
        })
    }
}

type Sd = Vec<(String, Vec<(String, String)>)>;

fn parse_sd(s: &str) -> Result<(Sd, Option<&str>), SyslogError> {
    let e = SyslogError::Parse;
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.len() <= 32
            && n.bytes()
                .all(|c| (33..=126).contains(&c) && !matches!(c, b'=' | b']' | b'"'))
    };
    if let Some(r) = s.strip_prefix('-') {
        return match r {
            "" => Ok((Vec::new(), None)),
            r => Ok((
                Vec::new(),
                Some(r.strip_prefix(' ').ok_or(e("no SP after SD"))?),
            )),
        };
    }
    let mut out = Vec::new();
    let mut r = s;
    while let Some(body) = r.strip_prefix('[') {
        let end = body.find([' ', ']']).ok_or(e("unterminated SD"))?;
        let id = &body[..end];
        if !name_ok(id) {
            return Err(e("bad SD-ID"));
        }
        let mut params = Vec::new();
        let mut p = &body[end..];
        loop {
            if let Some(after) = p.strip_prefix(']') {
                r = after;
                break;
            }
            p = p.strip_prefix(' ').ok_or(e("bad SD"))?;
            let eq = p.find('=').ok_or(e("bad SD-PARAM"))?;
            let name = &p[..eq];
            if !name_ok(name) {
                return Err(e("bad PARAM-NAME"));
            }
            p = p[eq + 1..].strip_prefix('"').ok_or(e("bad PARAM-VALUE"))?;
            let mut val = String::new();
            let mut chars = p.char_indices();
            let close = loop {
                match chars.next() {
                    None => return Err(e("unterminated PARAM-VALUE")),
                    Some((i, '"')) => break i,
                    Some((_, '\\')) => match chars.next() {
                        Some((_, c @ ('"' | '\\' | ']'))) => val.push(c),
                        Some((_, c)) => {
                            val.push('\\');
                            val.push(c);
                        }
                        None => return Err(e("unterminated PARAM-VALUE")),
                    },
                    Some((_, c)) => val.push(c),
                }
            };
            params.push((name.to_string(), val));
            p = &p[close + 1..];
        }
        out.push((id.to_string(), params));
    }
    if out.is_empty() {
        return Err(e("bad STRUCTURED-DATA"));
    }
    match r {
        "" => Ok((out, None)),
        r => Ok((out, Some(r.strip_prefix(' ').ok_or(e("no SP after SD"))?))),
    }
}

/// RFC 5424 6.2.3 TIMESTAMP (RFC 3339 with at most 6 fraction digits) -> Unix nanoseconds.
fn parse_timestamp(s: &str) -> Option<i128> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let f = s.get(r)?;
        f.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| f.parse().ok())?
    };
    let (y, mo, d, h, mi, se) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    if !(1..=12).contains(&mo)
        || d < 1
        || d > i64::from(tz::days_in_month(y, mo as u32))
        || h > 23
        || mi > 59
        || se > 60
    {
        return None;
    }
    let mut rest = &s[19..];
    let mut nanos: i128 = 0;
    if let Some(f) = rest.strip_prefix('.') {
        let n = f.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 || n > 6 {
            return None;
        }
        let frac: i128 = f[..n].parse().ok()?;
        nanos = frac * 10i128.pow(9 - n as u32);
        rest = &f[n..];
    }
    let off_min: i64 = match rest {
        "Z" => 0,
        o if o.len() == 6 && (o.starts_with('+') || o.starts_with('-')) => {
            let m = tz::parse_gmt_offset(o).ok()?;
            i64::from(m)
        }
        _ => return None,
    };
    let secs = tz::days_from_civil(y, mo as u32, d as u32) * 86_400 + h * 3600 + mi * 60 + se
        - off_min * 60;
    Some(i128::from(secs) * 1_000_000_000 + nanos)
}

fn truncate_utf8(mut v: Vec<u8>) -> Vec<u8> {
    if v.len() > MAX_DATAGRAM {
        let mut n = MAX_DATAGRAM;
        while n > 0 && (v[n] & 0xc0) == 0x80 {
            n -= 1;
        }
        v.truncate(n);
    }
    v
}

/// What to do with one log call.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Output {
    /// The datagram for the syslog server.
    pub network: Option<Vec<u8>>,
    /// The line for the serial console.
    pub console: Option<String>,
}

/// The phone's logger: filters by component level and formats.
#[derive(Debug, Clone)]
pub struct Logger {
    pub settings: SyslogSettings,
    pub format: Format,
    pub hostname: String,
    pub zone: tz::TimeZone,
}

impl Logger {
    /// Logs `msg` of `component` at `severity`; `utc_nanos` is the phone's time if known.
    pub fn log(
        &self,
        component: &str,
        severity: Severity,
        msg: &str,
        utc_nanos: Option<i128>,
    ) -> Result<Output, SyslogError> {
        let Some(level) = self.settings.level(component)? else {
            return Ok(Output::default());
        };
        if severity > level || self.settings.destination == Destination::Disable {
            return Ok(Output::default());
        }
        let mut m = Message::new(severity, component, msg);
        m.timestamp = utc_nanos;
        m.hostname = header_field(&self.hostname, 255);
        let d = self.settings.destination;
        let network =
            matches!(d, Destination::Network | Destination::Both).then(|| match self.format {
                Format::Rfc5424 => m.to_rfc5424(),
                Format::Rfc3164 => m.to_rfc3164(&self.zone),
            });
        let console = matches!(d, Destination::Console | Destination::Both)
            .then(|| String::from_utf8_lossy(&m.to_rfc3164(&self.zone)).into_owned());
        Ok(Output { network, console })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `syslog_message` fuzz target: a cut inside MSG that leaves only SP + BOM,
    /// or an SD element longer than the datagram, must still give a parseable datagram that
    /// emits the same bytes again.
    #[test]
    fn oversize_datagrams_are_cut_only_in_msg() {
        let base = Message {
            facility: 20,
            severity: Severity::Notice,
            timestamp: None,
            hostname: Some("phone".into()),
            app_name: Some("ac".into()),
            procid: None,
            msgid: None,
            sd: vec![("a@1".into(), vec![("k".into(), "v".into())])],
            msg: String::new(),
        };
        let head = base.to_rfc5424().len();
        // MSG entirely cut away: exactly the header and SD, no SP + BOM.
        let mut m = base.clone();
        m.msg = "x".repeat(MAX_DATAGRAM);
        let w = m.to_rfc5424();
        assert_eq!(w.len(), MAX_DATAGRAM);
        let mut m2 = base.clone();
        m2.msg = "y".into();
        let pad = MAX_DATAGRAM - head - 2; // SP + BOM + 1 byte would be head + 5
        m2.sd[0].1[0].1 = "v".repeat(pad);
        let w2 = m2.to_rfc5424();
        assert!(w2.len() <= MAX_DATAGRAM);
        let r2 = Message::parse_rfc5424(&w2).expect("parses");
        assert_eq!(r2.msg, "");
        assert_eq!(r2.to_rfc5424(), w2);
        // An SD element that cannot fit is left out whole.
        let mut m3 = base.clone();
        m3.sd
            .push(("b@1".into(), vec![("k".into(), "\\".repeat(MAX_DATAGRAM))]));
        m3.msg = "hello".into();
        let w3 = m3.to_rfc5424();
        let r3 = Message::parse_rfc5424(&w3).expect("parses");
        assert_eq!(r3.sd, base.sd);
        assert_eq!(r3.msg, "hello");
    }

    #[test]
    fn rfc5424_example_and_roundtrip() {
        // RFC 5424 6.5 example 3 (structured data).
        let ex = b"<165>1 2003-10-11T22:14:15.003000Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"] \xef\xbb\xbfAn application event log entry...";
        let m = Message::parse_rfc5424(ex).unwrap();
        assert_eq!(m.facility, 20);
        assert_eq!(m.severity, Severity::Notice);
        assert_eq!(m.sd[0].1[1], ("eventSource".into(), "Application".into()));
        assert_eq!(m.msg, "An application event log entry...");
        assert_eq!(m.to_rfc5424(), ex.to_vec());
        let mut m2 = m.clone();
        m2.sd[0].1[0].1 = "a\"b]c\\".into();
        assert_eq!(Message::parse_rfc5424(&m2.to_rfc5424()).unwrap(), m2);
        for bad in [
            &b"<>1 - - - - - -"[..],
            b"<192>1 - - - - - -",
            b"<13>2 - - - - - -",
            b"<13>1 2003-13-11T22:14:15Z - - - - -",
            b"<013>1 - - - - - -",
            b"<13>1 - - - - - [x",
        ] {
            assert!(
                Message::parse_rfc5424(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn levels_and_lightweight() {
        let mut c = Config::defaults(ac_cfg::Model::Hd420);
        let s = SyslogSettings::from_config(&c).unwrap();
        assert_eq!(s.destination, Destination::Disable);
        assert_eq!(s.port, 514);
        assert_eq!(s.level("lcd_display").unwrap(), Some(Severity::Debug));
        assert_eq!(s.level("sip_stack").unwrap(), None);
        c.set("system/syslog/mode", "NETWORK").unwrap();
        c.set("system/syslog/component/lcd_display", "NONE")
            .unwrap();
        let s = SyslogSettings::from_config(&c).unwrap();
        assert!(s.lightweight());
        let lg = Logger {
            settings: s,
            format: Format::Rfc5424,
            hostname: "420HD-1".into(),
            zone: tz::TimeZone {
                gmt_offset: 0,
                dst: None,
            },
        };
        assert!(lg
            .log("sip_stack", Severity::Warning, "w", None)
            .unwrap()
            .network
            .is_some());
        assert!(lg
            .log("sip_stack", Severity::Info, "i", None)
            .unwrap()
            .network
            .is_none());
        c.set("system/syslog/component/sip_stack", "INFO").unwrap();
        c.set("system/syslog/mode", "BOTH").unwrap();
        let lg = Logger {
            settings: SyslogSettings::from_config(&c).unwrap(),
            ..lg
        };
        let o = lg
            .log(
                "sip_stack",
                Severity::Info,
                "REGISTER sent",
                Some(1_767_225_600_000_000_000),
            )
            .unwrap();
        let net = o.network.unwrap();
        assert_eq!(
            String::from_utf8(net).unwrap(),
            "<190>1 2026-01-01T00:00:00.000000Z 420HD-1 sip_stack - - - \u{feff}REGISTER sent"
        );
        assert_eq!(
            o.console.unwrap(),
            "<190>Jan  1 00:00:00 420HD-1 sipstack: REGISTER sent"
        );
        assert!(lg
            .log("sip_stack", Severity::Debug, "d", None)
            .unwrap()
            .network
            .is_none());
        assert!(lg
            .log("web_server", Severity::Emergency, "e", None)
            .unwrap()
            .network
            .is_none());
        assert!(lg.log("nope", Severity::Emergency, "e", None).is_err());
        c.set("system/syslog/component/dsp", "LOUD").unwrap();
        assert!(SyslogSettings::from_config(&c).is_err());
    }

    #[test]
    fn long_messages_cut_on_char_boundary() {
        let m = Message::new(Severity::Info, "x", &"é".repeat(3000));
        let w = m.to_rfc5424();
        assert!(w.len() <= MAX_DATAGRAM);
        assert!(std::str::from_utf8(&w).is_ok());
    }
}
