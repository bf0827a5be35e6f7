//! Methods and header names (RFC 3261 sections 7.1, 7.3.3, 20; compact forms from RFC 3261,
//! 3265, 3515, 3892, 4028, 3841).

use std::fmt;

/// A request method. Any token is a method (RFC 3261 section 7.1: methods are
/// case-sensitive and extensible); Microsoft's `SERVICE` and `BENOTIFY` ([MS-SIPRE]) are
/// known by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method<'a> {
    Invite,
    Ack,
    Bye,
    Cancel,
    Register,
    Options,
    Info,
    Prack,
    Update,
    Subscribe,
    Notify,
    Refer,
    Message,
    Publish,
    /// [MS-SIPRE] section 2.2.1: SERVICE.
    Service,
    /// [MS-SIPRE] section 2.2.2: BENOTIFY (best-effort NOTIFY, no response).
    Benotify,
    Other(&'a str),
}

impl<'a> Method<'a> {
    pub fn from_token(s: &'a str) -> Method<'a> {
        match s {
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "REGISTER" => Method::Register,
            "OPTIONS" => Method::Options,
            "INFO" => Method::Info,
            "PRACK" => Method::Prack,
            "UPDATE" => Method::Update,
            "SUBSCRIBE" => Method::Subscribe,
            "NOTIFY" => Method::Notify,
            "REFER" => Method::Refer,
            "MESSAGE" => Method::Message,
            "PUBLISH" => Method::Publish,
            "SERVICE" => Method::Service,
            "BENOTIFY" => Method::Benotify,
            other => Method::Other(other),
        }
    }

    pub fn as_str(&self) -> &'a str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Register => "REGISTER",
            Method::Options => "OPTIONS",
            Method::Info => "INFO",
            Method::Prack => "PRACK",
            Method::Update => "UPDATE",
            Method::Subscribe => "SUBSCRIBE",
            Method::Notify => "NOTIFY",
            Method::Refer => "REFER",
            Method::Message => "MESSAGE",
            Method::Publish => "PUBLISH",
            Method::Service => "SERVICE",
            Method::Benotify => "BENOTIFY",
            Method::Other(s) => s,
        }
    }
}

impl fmt::Display for Method<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! header_names {
    ($( $v:ident => $name:literal, $lower:literal $(, $compact:literal)? ;)*) => {
        /// Header field names ac-sip knows: every header of the manual's Table D-6, those the
        /// transaction and dialog layers need, and the Microsoft ones of [MS-SIPRE] /
        /// [MS-SIPAE] / [MS-PRES].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum HeaderName<'a> {
            $( $v, )*
            /// Any other header, as written.
            Other(&'a str),
        }

        /// Every known lower-case name and compact letter with its header.
        const NAMES: &[(&[u8], HeaderName<'static>)] = &[
            $( ($lower, HeaderName::$v), $( ($compact, HeaderName::$v), )? )*
        ];

        impl<'a> HeaderName<'a> {
            /// Header names are case-insensitive; compact forms map to their long form.
            pub fn parse(s: &'a str) -> HeaderName<'a> {
                let b = s.as_bytes();
                if b.is_empty() || b.len() > 32 {
                    return HeaderName::Other(s);
                }
                // Lower-case into a stack buffer while hashing, then one probe of a table
                // built at compile time (no comparison against every known name).
                let mut buf = [0u8; 32];
                let mut h = FNV_OFFSET;
                for (d, c) in buf.iter_mut().zip(b) {
                    let l = c.to_ascii_lowercase();
                    *d = l;
                    h = (h ^ l as u32).wrapping_mul(FNV_PRIME);
                }
                let lower = &buf[..b.len()];
                let mut slot = h as usize & (TABLE_SIZE - 1);
                loop {
                    let i = NAME_TABLE[slot];
                    if i == u16::MAX {
                        return HeaderName::Other(s);
                    }
                    let (n, v) = NAMES[i as usize];
                    if n == lower {
                        return v;
                    }
                    slot = (slot + 1) & (TABLE_SIZE - 1);
                }
            }

            /// The canonical (long) name.
            pub fn as_str(&self) -> &'a str {
                match self {
                    $( HeaderName::$v => $name, )*
                    HeaderName::Other(s) => s,
                }
            }

            /// The compact form, if the header has one.
            pub fn compact(&self) -> Option<&'static str> {
                match self {
                    $( $( HeaderName::$v => Some(
                        // The compact forms are single ASCII letters.
                        match $compact { [c] => ascii_letter(*c) }
                    ), )? )*
                    _ => None,
                }
            }
        }
    };
}

header_names! {
    Accept => "Accept", b"accept";
    AcceptContact => "Accept-Contact", b"accept-contact", b"a";
    AcceptEncoding => "Accept-Encoding", b"accept-encoding";
    AcceptLanguage => "Accept-Language", b"accept-language";
    AlertInfo => "Alert-Info", b"alert-info";
    Allow => "Allow", b"allow";
    AllowEvents => "Allow-Events", b"allow-events", b"u";
    AuthenticationInfo => "Authentication-Info", b"authentication-info";
    Authorization => "Authorization", b"authorization";
    CallId => "Call-ID", b"call-id", b"i";
    CallInfo => "Call-Info", b"call-info";
    Contact => "Contact", b"contact", b"m";
    ContentDisposition => "Content-Disposition", b"content-disposition";
    ContentEncoding => "Content-Encoding", b"content-encoding", b"e";
    ContentLanguage => "Content-Language", b"content-language";
    ContentLength => "Content-Length", b"content-length", b"l";
    ContentType => "Content-Type", b"content-type", b"c";
    CSeq => "CSeq", b"cseq";
    Date => "Date", b"date";
    Diversion => "Diversion", b"diversion";
    ErrorInfo => "Error-Info", b"error-info";
    Event => "Event", b"event", b"o";
    Expires => "Expires", b"expires";
    From => "From", b"from", b"f";
    HistoryInfo => "History-Info", b"history-info";
    InReplyTo => "In-Reply-To", b"in-reply-to";
    Join => "Join", b"join";
    MaxForwards => "Max-Forwards", b"max-forwards";
    MimeVersion => "MIME-Version", b"mime-version";
    MinExpires => "Min-Expires", b"min-expires";
    MinSe => "Min-SE", b"min-se";
    Organization => "Organization", b"organization";
    PAssertedIdentity => "P-Asserted-Identity", b"p-asserted-identity";
    PPreferredIdentity => "P-Preferred-Identity", b"p-preferred-identity";
    Priority => "Priority", b"priority";
    Privacy => "Privacy", b"privacy";
    ProxyAuthenticate => "Proxy-Authenticate", b"proxy-authenticate";
    ProxyAuthorization => "Proxy-Authorization", b"proxy-authorization";
    ProxyRequire => "Proxy-Require", b"proxy-require";
    RAck => "RAck", b"rack";
    Reason => "Reason", b"reason";
    RecordRoute => "Record-Route", b"record-route";
    ReferTo => "Refer-To", b"refer-to", b"r";
    ReferredBy => "Referred-By", b"referred-by", b"b";
    RejectContact => "Reject-Contact", b"reject-contact", b"j";
    RemotePartyId => "Remote-Party-ID", b"remote-party-id";
    Replaces => "Replaces", b"replaces";
    ReplyTo => "Reply-To", b"reply-to";
    RequestDisposition => "Request-Disposition", b"request-disposition", b"d";
    Require => "Require", b"require";
    RetryAfter => "Retry-After", b"retry-after";
    Route => "Route", b"route";
    RSeq => "RSeq", b"rseq";
    Server => "Server", b"server";
    SessionExpires => "Session-Expires", b"session-expires", b"x";
    SipEtag => "SIP-ETag", b"sip-etag";
    SipIfMatch => "SIP-If-Match", b"sip-if-match";
    Subject => "Subject", b"subject", b"s";
    SubscriptionState => "Subscription-State", b"subscription-state";
    Supported => "Supported", b"supported", b"k";
    Timestamp => "Timestamp", b"timestamp";
    To => "To", b"to", b"t";
    Unsupported => "Unsupported", b"unsupported";
    UserAgent => "User-Agent", b"user-agent";
    Via => "Via", b"via", b"v";
    Warning => "Warning", b"warning";
    WwwAuthenticate => "WWW-Authenticate", b"www-authenticate";
    MsKeepAlive => "ms-keep-alive", b"ms-keep-alive";
    MsDiagnostics => "ms-diagnostics", b"ms-diagnostics";
    MsDiagnosticsPublic => "ms-diagnostics-public", b"ms-diagnostics-public";
    MsEndpointLocationData => "ms-endpoint-location-data", b"ms-endpoint-location-data";
    MsSubnet => "ms-subnet", b"ms-subnet";
    MsConversationId => "ms-conversation-id", b"ms-conversation-id";
    MsTextFormat => "ms-text-format", b"ms-text-format";
    PPreferredRegistrar => "P-Preferred-Registrar", b"p-preferred-registrar";
}

const FNV_OFFSET: u32 = 0x811c_9dc5;
const FNV_PRIME: u32 = 0x0100_0193;
const TABLE_SIZE: usize = 512;

const fn fnv(b: &[u8]) -> u32 {
    let mut h = FNV_OFFSET;
    let mut i = 0;
    while i < b.len() {
        h = (h ^ b[i] as u32).wrapping_mul(FNV_PRIME);
        i += 1;
    }
    h
}

/// Open-addressing table (linear probing) of indices into `NAMES`, `u16::MAX` = empty.
static NAME_TABLE: [u16; TABLE_SIZE] = {
    let mut t = [u16::MAX; TABLE_SIZE];
    assert!(NAMES.len() < TABLE_SIZE / 2);
    let mut i = 0;
    while i < NAMES.len() {
        let mut slot = fnv(NAMES[i].0) as usize & (TABLE_SIZE - 1);
        while t[slot] != u16::MAX {
            slot = (slot + 1) & (TABLE_SIZE - 1);
        }
        t[slot] = i as u16;
        i += 1;
    }
    t
};

/// The `&'static str` of a compact-form letter.
fn ascii_letter(c: u8) -> &'static str {
    const L: [&str; 26] = [
        "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r",
        "s", "t", "u", "v", "w", "x", "y", "z",
    ];
    L.get(c.wrapping_sub(b'a') as usize).copied().unwrap_or("")
}

impl HeaderName<'_> {
    /// Same header (extension names compare case-insensitively).
    pub fn same(&self, o: &HeaderName<'_>) -> bool {
        match (self, o) {
            (HeaderName::Other(a), HeaderName::Other(b)) => a.eq_ignore_ascii_case(b),
            (HeaderName::Other(_), _) | (_, HeaderName::Other(_)) => false,
            _ => std::mem::discriminant(self) == std::mem::discriminant(o),
        }
    }

    /// Whether the header's grammar is a comma-separated list (RFC 3261 section 7.3.1), so
    /// several values may share one line.
    pub fn is_list(&self) -> bool {
        use HeaderName::*;
        matches!(
            self,
            Accept
                | AcceptContact
                | AcceptEncoding
                | AcceptLanguage
                | AlertInfo
                | Allow
                | AllowEvents
                | CallInfo
                | Contact
                | ContentEncoding
                | ContentLanguage
                | Diversion
                | ErrorInfo
                | HistoryInfo
                | InReplyTo
                | PAssertedIdentity
                | PPreferredIdentity
                | Privacy
                | ProxyRequire
                | Reason
                | RecordRoute
                | RejectContact
                | RemotePartyId
                | RequestDisposition
                | Require
                | Route
                | Supported
                | Unsupported
                | Via
                | Warning
        )
    }
}

impl fmt::Display for HeaderName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(HeaderName::parse("v"), HeaderName::Via);
        assert_eq!(HeaderName::parse("CALL-id"), HeaderName::CallId);
        assert_eq!(HeaderName::parse("l"), HeaderName::ContentLength);
        assert_eq!(HeaderName::parse("X-Foo"), HeaderName::Other("X-Foo"));
        assert_eq!(HeaderName::Via.compact(), Some("v"));
        assert_eq!(HeaderName::CSeq.compact(), None);
        assert!(HeaderName::Via.is_list() && !HeaderName::CallId.is_list());
        assert_eq!(Method::from_token("SERVICE"), Method::Service);
        assert_eq!(Method::from_token("invite"), Method::Other("invite"));
        assert_eq!(Method::from_token("BENOTIFY").as_str(), "BENOTIFY");
    }

    #[test]
    fn every_known_name_and_compact_form_is_found() {
        for (lower, v) in NAMES {
            let name = std::str::from_utf8(lower).unwrap();
            assert_eq!(HeaderName::parse(name), *v, "{name}");
            assert_eq!(HeaderName::parse(&name.to_ascii_uppercase()), *v, "{name}");
            if lower.len() > 1 {
                assert_eq!(v.as_str().to_ascii_lowercase(), name);
                assert_eq!(HeaderName::parse(v.as_str()), *v);
            } else {
                assert_eq!(v.compact(), Some(name));
            }
        }
        // Near misses stay extension headers.
        for other in [
            "vias",
            "q",
            "Content-Lengt",
            "ms-keep-alive2",
            "",
            &"a".repeat(40),
        ] {
            assert_eq!(HeaderName::parse(other), HeaderName::Other(other));
        }
    }
}
