//! Provisioning URLs: the four forms of DHCP option 160 and of `provisioning/firmware/url` /
//! `provisioning/configuration/url` (manual 3.5.1 table 3-42, appendix A.1 table A-1):
//!
//! ```text
//! <protocol>://<host>                               firmware <model>.img, configuration <MAC>.cfg
//! <protocol>://<host>/<firmware file>               configuration <MAC>.cfg
//! <protocol>://<host>/<firmware file>;<cfg file>
//! <protocol>://<host>/;<cfg file>                   firmware <model>.img
//! ```
//!
//! `<protocol>` is `tftp`, `ftp`, `http` or `https`. A single file name ending in `.cfg` or
//! `.cfx` names the configuration (the manual's "Global Configuration Example"
//! `http://192.168.2.1/<420HD>.cfg`). Names may hold the macros `<MAC>` (the phone's MAC as 12
//! lower-case hex digits, e.g. `00908f112233`) and a model macro (`<MODEL>`, or a model name in
//! angle brackets such as `<420HD>`), replaced by the phone's own model. A directory part
//! (`http://h/phones/420/fw.img`) is kept for both files.

use std::fmt;

/// Longest URL accepted (DHCP options are at most 255 bytes per instance; RFC 3396 joins
/// more, but a provisioning URL longer than this is a configuration mistake).
pub const MAX_URL_LEN: usize = 1024;

/// Transfer protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    Tftp,
    Ftp,
    Http,
    Https,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Tftp => "tftp",
            Scheme::Ftp => "ftp",
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Tftp => 69,
            Scheme::Ftp => 21,
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// Why a provisioning URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("URL is empty")]
    Empty,
    #[error("URL longer than {MAX_URL_LEN} bytes")]
    TooLong,
    #[error("URL has no '<protocol>://'")]
    NoScheme,
    #[error("unsupported protocol {0:?} (tftp, ftp, http or https)")]
    UnsupportedScheme(String),
    #[error("bad host {0:?}")]
    BadHost(String),
    #[error("bad port {0:?}")]
    BadPort(String),
    #[error("bad file name {0:?}")]
    BadName(String),
    #[error("unknown macro <{0}> (known: <MAC>, <MODEL>, <405HD>..<450HD>)")]
    UnknownMacro(String),
}

/// A parsed provisioning URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvUrl {
    pub scheme: Scheme,
    /// `user[:password]` for FTP/HTTP basic access, as written.
    pub userinfo: Option<String>,
    /// Host name, IPv4 literal, or `[IPv6]` literal (with brackets).
    pub host: String,
    pub port: Option<u16>,
    /// Directory part, starting and ending with `/`.
    pub dir: String,
    /// Firmware file name (with macros), `None` = `<model>.img`.
    pub firmware: Option<String>,
    /// Configuration file name (with macros), `None` = `<MAC>.cfg`.
    pub config: Option<String>,
}

/// The phone a URL is expanded for.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub model: &'a str,
    pub mac: [u8; 6],
}

impl Target<'_> {
    pub fn mac_hex(&self) -> String {
        self.mac.iter().map(|b| format!("{b:02x}")).collect()
    }
}

const MODEL_MACROS: [&str; 7] = [
    "MODEL", "model", "405HD", "420HD", "430HD", "440HD", "450HD",
];

fn check_name(n: &str) -> Result<(), UrlError> {
    let bad = n.is_empty()
        || n.chars()
            .any(|c| c.is_control() || c.is_whitespace() || matches!(c, '?' | '#'))
        || n.split('/').any(|seg| seg == ".." || seg == ".")
        || n.starts_with('/');
    if bad {
        return Err(UrlError::BadName(n.to_string()));
    }
    // Every <...> must be a known macro.
    let mut rest = n;
    while let Some(i) = rest.find('<') {
        let after = &rest[i + 1..];
        let j = after
            .find('>')
            .ok_or_else(|| UrlError::BadName(n.to_string()))?;
        let m = &after[..j];
        if m != "MAC" && m != "mac" && !MODEL_MACROS.contains(&m) {
            return Err(UrlError::UnknownMacro(m.to_string()));
        }
        rest = &after[j + 1..];
    }
    if rest.contains('>') {
        return Err(UrlError::BadName(n.to_string()));
    }
    Ok(())
}

fn check_host(h: &str) -> Result<(), UrlError> {
    let ok = if let Some(v6) = h.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        v6.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        !h.is_empty()
            && h.len() <= 253
            && h.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            })
    };
    if ok {
        Ok(())
    } else {
        Err(UrlError::BadHost(h.to_string()))
    }
}

fn is_cfg_name(n: &str) -> bool {
    let l = n.to_ascii_lowercase();
    l.ends_with(".cfg") || l.ends_with(".cfx")
}

impl ProvUrl {
    /// Parses one of the four forms.
    pub fn parse(s: &str) -> Result<ProvUrl, UrlError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(UrlError::Empty);
        }
        if s.len() > MAX_URL_LEN {
            return Err(UrlError::TooLong);
        }
        let (scheme, rest) = s.split_once("://").ok_or(UrlError::NoScheme)?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "tftp" => Scheme::Tftp,
            "ftp" => Scheme::Ftp,
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            other => return Err(UrlError::UnsupportedScheme(other.to_string())),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) if !u.is_empty() => (Some(u.to_string()), h),
            Some(_) => return Err(UrlError::BadHost(authority.to_string())),
            None => (None, authority),
        };
        if userinfo
            .as_deref()
            .is_some_and(|u| u.chars().any(|c| c.is_control() || c.is_whitespace()))
        {
            return Err(UrlError::BadHost(authority.to_string()));
        }
        let (host, port) = if hostport.starts_with('[') {
            match hostport.find(']') {
                Some(i) if i + 1 == hostport.len() => (hostport, None),
                Some(i) if hostport.as_bytes()[i + 1] == b':' => {
                    (&hostport[..=i], Some(&hostport[i + 2..]))
                }
                _ => return Err(UrlError::BadHost(hostport.to_string())),
            }
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        check_host(host)?;
        let port = match port {
            None => None,
            Some(p) => Some(
                p.parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| UrlError::BadPort(p.to_string()))?,
            ),
        };
        // Path: "/dir/.../name[;cfg]".
        let (path, cfg) = match path.split_once(';') {
            Some((p, c)) => (p, Some(c)),
            None => (path, None),
        };
        let (dir, name) = match path.rfind('/') {
            Some(i) => (&path[..=i], &path[i + 1..]),
            None => ("/", ""),
        };
        if dir.contains("//") {
            return Err(UrlError::BadName(dir.to_string()));
        }
        if dir.len() > 1 {
            check_name(&dir[1..dir.len() - 1])?;
        }
        let mut firmware = (!name.is_empty()).then(|| name.to_string());
        let mut config = match cfg {
            Some("") => None,
            Some(c) => Some(c.to_string()),
            None => None,
        };
        if cfg.is_none() && firmware.as_deref().is_some_and(is_cfg_name) {
            config = firmware.take();
        }
        for n in firmware.iter().chain(config.iter()) {
            check_name(n)?;
        }
        Ok(ProvUrl {
            scheme,
            userinfo,
            host: host.to_string(),
            port,
            dir: dir.to_string(),
            firmware,
            config,
        })
    }

    /// `tftp://ProvisioningServer/<model>/` (manual appendix A.1, static DNS record method).
    pub fn static_dns(model: &str) -> ProvUrl {
        ProvUrl {
            scheme: Scheme::Tftp,
            userinfo: None,
            host: "ProvisioningServer".into(),
            port: None,
            dir: format!("/{model}/"),
            firmware: None,
            config: None,
        }
    }

    fn base(&self) -> String {
        let mut s = format!("{}://", self.scheme.as_str());
        if let Some(u) = &self.userinfo {
            s.push_str(u);
            s.push('@');
        }
        s.push_str(&self.host);
        if let Some(p) = self.port {
            s.push_str(&format!(":{p}"));
        }
        s
    }

    /// Host and port to connect to.
    pub fn host_port(&self) -> (&str, u16) {
        let h = self
            .host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(&self.host);
        (h, self.port.unwrap_or(self.scheme.default_port()))
    }

    /// Expands macros of a file name for `t`.
    pub fn expand(name: &str, t: &Target<'_>) -> String {
        let mut out = String::with_capacity(name.len() + 16);
        let mut rest = name;
        while let Some(i) = rest.find('<') {
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            match after.find('>') {
                Some(j) => {
                    let m = &after[..j];
                    if m.eq_ignore_ascii_case("mac") {
                        out.push_str(&t.mac_hex());
                    } else {
                        out.push_str(t.model);
                    }
                    rest = &after[j + 1..];
                }
                None => {
                    out.push_str(&rest[i..]);
                    rest = "";
                }
            }
        }
        out.push_str(rest);
        out
    }

    /// Path (directory + expanded file name) of the firmware file for `t`.
    pub fn firmware_path(&self, t: &Target<'_>) -> String {
        let name = self.firmware.as_deref().unwrap_or("<MODEL>.img");
        format!("{}{}", Self::expand(&self.dir, t), Self::expand(name, t))
    }

    /// Path of the configuration file for `t`.
    pub fn config_path(&self, t: &Target<'_>) -> String {
        let name = self.config.as_deref().unwrap_or("<MAC>.cfg");
        format!("{}{}", Self::expand(&self.dir, t), Self::expand(name, t))
    }

    /// Full firmware URL for `t`.
    pub fn firmware_url(&self, t: &Target<'_>) -> String {
        format!("{}{}", self.base(), self.firmware_path(t))
    }

    /// Full configuration URL for `t`.
    pub fn config_url(&self, t: &Target<'_>) -> String {
        format!("{}{}", self.base(), self.config_path(t))
    }
}

/// The canonical text form; `parse(to_string())` gives the same value.
impl fmt::Display for ProvUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.base())?;
        f.write_str(&self.dir)?;
        match (&self.firmware, &self.config) {
            // The manual's "global configuration" form: a lone `.cfg` name.
            (None, Some(c)) if is_cfg_name(c) && !c.contains(['/', ';']) => f.write_str(c),
            (None, Some(c)) => write!(f, ";{c}"),
            // A firmware file whose name looks like a configuration keeps its `;`.
            (Some(fw), None) if is_cfg_name(fw) => write!(f, "{fw};"),
            (Some(fw), None) => f.write_str(fw),
            (Some(fw), Some(c)) => write!(f, "{fw};{c}"),
            (None, None) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Target<'static> = Target {
        model: "420HD",
        mac: [0x00, 0x11, 0x22, 0x33, 0x44, 0x55],
    };

    #[test]
    fn the_four_forms() {
        let u = ProvUrl::parse("tftp://192.168.2.1").unwrap();
        assert_eq!(u.firmware_url(&T), "tftp://192.168.2.1/420HD.img");
        assert_eq!(u.config_url(&T), "tftp://192.168.2.1/001122334455.cfg");
        let u = ProvUrl::parse("ftp://192.168.2.1/Different_Firmware_Name.img").unwrap();
        assert_eq!(
            u.firmware_url(&T),
            "ftp://192.168.2.1/Different_Firmware_Name.img"
        );
        assert_eq!(u.config_url(&T), "ftp://192.168.2.1/001122334455.cfg");
        let u = ProvUrl::parse("http://192.168.2.1/different.img;<MAC>.cfg").unwrap();
        assert_eq!(u.firmware_url(&T), "http://192.168.2.1/different.img");
        assert_eq!(u.config_url(&T), "http://192.168.2.1/001122334455.cfg");
        let u = ProvUrl::parse("https://prov.example:8443/phones/;site.cfx").unwrap();
        assert_eq!(
            u.firmware_url(&T),
            "https://prov.example:8443/phones/420HD.img"
        );
        assert_eq!(
            u.config_url(&T),
            "https://prov.example:8443/phones/site.cfx"
        );
        assert_eq!(u.host_port(), ("prov.example", 8443));
    }

    #[test]
    fn global_configuration_example() {
        let u = ProvUrl::parse("http://192.168.2.1/<420HD>.cfg").unwrap();
        assert_eq!(u.firmware, None);
        assert_eq!(u.config_url(&T), "http://192.168.2.1/420HD.cfg");
        let t440 = Target {
            model: "440HD",
            ..T
        };
        assert_eq!(u.config_url(&t440), "http://192.168.2.1/440HD.cfg");
    }

    #[test]
    fn static_dns() {
        let u = ProvUrl::static_dns("420HD");
        assert_eq!(
            u.firmware_url(&T),
            "tftp://ProvisioningServer/420HD/420HD.img"
        );
        assert_eq!(
            u.config_url(&T),
            "tftp://ProvisioningServer/420HD/001122334455.cfg"
        );
    }

    #[test]
    fn refusals() {
        for (s, e) in [
            ("", UrlError::Empty),
            ("192.168.2.1/x.img", UrlError::NoScheme),
            ("gopher://h/", UrlError::UnsupportedScheme("gopher".into())),
            ("http://h:0/", UrlError::BadPort("0".into())),
            ("http://h:99999/", UrlError::BadPort("99999".into())),
            ("http://bad host/", UrlError::BadHost("bad host".into())),
            (
                "http://h/<SERIAL>.cfg",
                UrlError::UnknownMacro("SERIAL".into()),
            ),
            ("http://h/../etc/passwd", UrlError::BadName("../etc".into())),
        ] {
            assert_eq!(ProvUrl::parse(s), Err(e), "{s}");
        }
        assert!(ProvUrl::parse(&format!("http://h/{}", "a".repeat(2000))).is_err());
    }

    #[test]
    fn display_round_trip() {
        for s in [
            "tftp://10.0.0.1/",
            "ftp://user:pw@10.0.0.1:2121/dir/fw.img;<MAC>.cfg",
            "https://[::1]:8443/;a.cfg",
            "http://h/<MODEL>.img",
            "http://h/<MODEL>.cfg",
            "http://18.9p/+&<420HD>./.cfg;",
            "http://192.1e.p/;<420HD>./.cfg",
        ] {
            let u = ProvUrl::parse(s).unwrap();
            assert_eq!(ProvUrl::parse(&u.to_string()).unwrap(), u, "{s}");
        }
    }
}
