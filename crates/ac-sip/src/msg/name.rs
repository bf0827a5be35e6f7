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
    ($( $v:ident => $name:literal $(, $compact:literal)? ;)*) => {
        /// Header field names ac-sip knows: every header of the manual's Table D-6, those the
        /// transaction and dialog layers need, and the Microsoft ones of [MS-SIPRE] /
        /// [MS-SIPAE] / [MS-PRES].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum HeaderName<'a> {
            $( $v, )*
            /// Any other header, as written.
            Other(&'a str),
        }

        impl<'a> HeaderName<'a> {
            /// Header names are case-insensitive; compact forms map to their long form.
            pub fn parse(s: &'a str) -> HeaderName<'a> {
                $(
                    if s.eq_ignore_ascii_case($name) $(|| s.eq_ignore_ascii_case($compact))? {
                        return HeaderName::$v;
                    }
                )*
                HeaderName::Other(s)
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
                    $( $( HeaderName::$v => Some($compact), )? )*
                    _ => None,
                }
            }
        }
    };
}

header_names! {
    Accept => "Accept";
    AcceptContact => "Accept-Contact", "a";
    AcceptEncoding => "Accept-Encoding";
    AcceptLanguage => "Accept-Language";
    AlertInfo => "Alert-Info";
    Allow => "Allow";
    AllowEvents => "Allow-Events", "u";
    AuthenticationInfo => "Authentication-Info";
    Authorization => "Authorization";
    CallId => "Call-ID", "i";
    CallInfo => "Call-Info";
    Contact => "Contact", "m";
    ContentDisposition => "Content-Disposition";
    ContentEncoding => "Content-Encoding", "e";
    ContentLanguage => "Content-Language";
    ContentLength => "Content-Length", "l";
    ContentType => "Content-Type", "c";
    CSeq => "CSeq";
    Date => "Date";
    Diversion => "Diversion";
    ErrorInfo => "Error-Info";
    Event => "Event", "o";
    Expires => "Expires";
    From => "From", "f";
    HistoryInfo => "History-Info";
    InReplyTo => "In-Reply-To";
    Join => "Join";
    MaxForwards => "Max-Forwards";
    MimeVersion => "MIME-Version";
    MinExpires => "Min-Expires";
    MinSe => "Min-SE";
    Organization => "Organization";
    PAssertedIdentity => "P-Asserted-Identity";
    PPreferredIdentity => "P-Preferred-Identity";
    Priority => "Priority";
    Privacy => "Privacy";
    ProxyAuthenticate => "Proxy-Authenticate";
    ProxyAuthorization => "Proxy-Authorization";
    ProxyRequire => "Proxy-Require";
    RAck => "RAck";
    Reason => "Reason";
    RecordRoute => "Record-Route";
    ReferTo => "Refer-To", "r";
    ReferredBy => "Referred-By", "b";
    RejectContact => "Reject-Contact", "j";
    RemotePartyId => "Remote-Party-ID";
    Replaces => "Replaces";
    ReplyTo => "Reply-To";
    RequestDisposition => "Request-Disposition", "d";
    Require => "Require";
    RetryAfter => "Retry-After";
    Route => "Route";
    RSeq => "RSeq";
    Server => "Server";
    SessionExpires => "Session-Expires", "x";
    SipEtag => "SIP-ETag";
    SipIfMatch => "SIP-If-Match";
    Subject => "Subject", "s";
    SubscriptionState => "Subscription-State";
    Supported => "Supported", "k";
    Timestamp => "Timestamp";
    To => "To", "t";
    Unsupported => "Unsupported";
    UserAgent => "User-Agent";
    Via => "Via", "v";
    Warning => "Warning";
    WwwAuthenticate => "WWW-Authenticate";
    MsKeepAlive => "ms-keep-alive";
    MsDiagnostics => "ms-diagnostics";
    MsDiagnosticsPublic => "ms-diagnostics-public";
    MsEndpointLocationData => "ms-endpoint-location-data";
    MsSubnet => "ms-subnet";
    MsConversationId => "ms-conversation-id";
    MsTextFormat => "ms-text-format";
    PPreferredRegistrar => "P-Preferred-Registrar";
}

impl HeaderName<'_> {
    /// Same header (extension names compare case-insensitively).
    pub fn same(&self, o: &HeaderName<'_>) -> bool {
        match (self, o) {
            (HeaderName::Other(a), HeaderName::Other(b)) => a.eq_ignore_ascii_case(b),
            (HeaderName::Other(_), _) | (_, HeaderName::Other(_)) => false,
            _ => self.as_str() == o.as_str(),
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
}
