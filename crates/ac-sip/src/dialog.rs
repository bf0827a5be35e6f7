//! Dialogs (RFC 3261 section 12): creation from an INVITE (or SUBSCRIBE/REFER) and its
//! response on either side, requests within a dialog (12.2.1.1: Request-URI, Route from the
//! route set, loose and strict routing), the ordering check of 12.2.2, target refresh, and
//! matching of incoming requests and responses to a dialog.
//!
//! A [`Dialog`] holds state only; it reads no clock and sends nothing.

use std::net::SocketAddr;

use crate::msg::{HeaderName, Message, MessageBuf, Method, NameAddr};
use crate::uri::Uri;

/// Why a message could not create or use a dialog.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialogError {
    #[error("message does not parse: {0}")]
    Parse(#[from] crate::ParseError),
    #[error("no tag in {0}")]
    NoTag(&'static str),
    #[error("no Contact (RFC 3261 12.1.1 / 12.1.2 needs the remote target)")]
    NoContact,
    /// RFC 3261 12.2.2: a CSeq lower than the last one seen (answer 500).
    #[error("CSeq {got} is lower than the last one seen ({last})")]
    OutOfOrder { got: u32, last: u32 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogState {
    Early,
    Confirmed,
}

/// Dialog identifier (RFC 3261 12): Call-ID, local tag, remote tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DialogId {
    pub call_id: String,
    pub local_tag: String,
    pub remote_tag: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    pub id: DialogId,
    pub state: DialogState,
    /// Our CSeq for requests in the dialog (12.1.2: the INVITE's; 12.1.1: none yet).
    pub local_seq: u32,
    /// The last CSeq the peer used (12.2.2).
    pub remote_seq: Option<u32>,
    /// Our URI with display name (From of our requests), without tag.
    pub local_uri: String,
    /// The peer's (To of our requests), without tag.
    pub remote_uri: String,
    /// Where requests go (the peer's Contact URI).
    pub remote_target: String,
    /// Route set: Record-Route values (12.1.1 in order, 12.1.2 reversed).
    pub route_set: Vec<String>,
    /// A SIPS Request-URI started it (12.1.1).
    pub secure: bool,
}

fn without_tag(v: &str) -> Result<String, DialogError> {
    let mut na = NameAddr::parse(v)?;
    na.params.retain(|(n, _)| !n.eq_ignore_ascii_case("tag"));
    // Keep angle brackets: a URI with parameters must be in <> to be unambiguous.
    na.angle = true;
    Ok(na.to_string())
}

fn contact_uri(m: &Message<'_>) -> Result<String, DialogError> {
    let c = m
        .contacts()?
        .into_iter()
        .find_map(|c| match c {
            crate::msg::Contact::Addr(a) => Some(a.uri.to_string()),
            crate::msg::Contact::Star => None,
        })
        .ok_or(DialogError::NoContact)?;
    Ok(c)
}

/// The URI inside a Route / Record-Route value.
pub fn route_uri(v: &str) -> Option<String> {
    NameAddr::parse(v).ok().map(|n| n.uri.to_string())
}

/// The address of a SIP URI whose host is an IP literal (port 5060 by default); `None` for
/// a host name (the owner resolves it, RFC 3263) or another scheme.
pub fn uri_addr(uri: &str) -> Option<SocketAddr> {
    let u = Uri::parse(uri).ok()?;
    let s = u.as_sip()?;
    let host = s.host.trim_start_matches('[').trim_end_matches(']');
    let ip: std::net::IpAddr = host.parse().ok()?;
    let port = s.port.unwrap_or(if s.secure { 5061 } else { 5060 });
    Some(SocketAddr::new(ip, port))
}

impl Dialog {
    /// The UAS side (RFC 3261 12.1.1): from the request and our To tag.
    pub fn uas(req: &Message<'_>, local_tag: &str) -> Result<Dialog, DialogError> {
        let from = req.from()?;
        let remote_tag = from.tag().ok_or(DialogError::NoTag("From"))?.into_owned();
        let secure = matches!(req.request_uri(), Some(Uri::Sip(s)) if s.secure);
        Ok(Dialog {
            id: DialogId {
                call_id: req.call_id()?.to_string(),
                local_tag: local_tag.to_string(),
                remote_tag,
            },
            state: DialogState::Confirmed,
            local_seq: 0,
            remote_seq: Some(req.cseq()?.seq),
            local_uri: without_tag(req.first(HeaderName::To).unwrap_or(""))?,
            remote_uri: without_tag(req.first(HeaderName::From).unwrap_or(""))?,
            remote_target: contact_uri(req)?,
            route_set: req
                .values(HeaderName::RecordRoute)
                .into_iter()
                .map(str::to_string)
                .collect(),
            secure,
        })
    }

    /// The UAC side (RFC 3261 12.1.2): from our request and a response with a To tag (a
    /// 1xx makes an early dialog, a 2xx a confirmed one).
    pub fn uac(req: &Message<'_>, resp: &Message<'_>) -> Result<Dialog, DialogError> {
        let to = resp.to()?;
        let remote_tag = to.tag().ok_or(DialogError::NoTag("To"))?.into_owned();
        let local_tag = req
            .from()?
            .tag()
            .ok_or(DialogError::NoTag("From"))?
            .into_owned();
        let secure = matches!(req.request_uri(), Some(Uri::Sip(s)) if s.secure);
        let code = resp.status().unwrap_or(0);
        let mut route_set: Vec<String> = resp
            .values(HeaderName::RecordRoute)
            .into_iter()
            .map(str::to_string)
            .collect();
        route_set.reverse();
        Ok(Dialog {
            id: DialogId {
                call_id: req.call_id()?.to_string(),
                local_tag,
                remote_tag,
            },
            state: if (200..300).contains(&code) {
                DialogState::Confirmed
            } else {
                DialogState::Early
            },
            local_seq: req.cseq()?.seq,
            remote_seq: None,
            local_uri: without_tag(req.first(HeaderName::From).unwrap_or(""))?,
            remote_uri: without_tag(req.first(HeaderName::To).unwrap_or(""))?,
            // A 1xx without Contact still makes an early dialog; the target is then the
            // Request-URI until a response brings one.
            remote_target: contact_uri(resp)
                .or_else(|e| req.request_uri().map(|u| u.to_string()).ok_or(e))?,
            route_set,
            secure,
        })
    }

    /// A response in the dialog updates it: a 2xx confirms it and (like a 1xx) refreshes
    /// the target and the route set of an early dialog (RFC 3261 12.1.2, 12.2.1.2).
    pub fn update_from_response(&mut self, resp: &Message<'_>) {
        let code = resp.status().unwrap_or(0);
        if let Ok(t) = contact_uri(resp) {
            self.remote_target = t;
        }
        if self.state == DialogState::Early {
            let mut rs: Vec<String> = resp
                .values(HeaderName::RecordRoute)
                .into_iter()
                .map(str::to_string)
                .collect();
            rs.reverse();
            if (200..300).contains(&code) || !rs.is_empty() {
                self.route_set = rs;
            }
            if (200..300).contains(&code) {
                self.state = DialogState::Confirmed;
            }
        }
    }

    /// An incoming request in the dialog: the CSeq check of 12.2.2 and a target refresh
    /// (re-INVITE, UPDATE: 12.2.2 / RFC 3311 5.2).
    pub fn handle_request(&mut self, req: &Message<'_>) -> Result<(), DialogError> {
        let seq = req.cseq()?.seq;
        let method = req.method();
        // ACK and CANCEL carry the CSeq number of the INVITE they belong to.
        if !matches!(method, Some(Method::Ack | Method::Cancel)) {
            if let Some(last) = self.remote_seq {
                if seq < last {
                    return Err(DialogError::OutOfOrder { got: seq, last });
                }
            }
            self.remote_seq = Some(seq);
        }
        if matches!(method, Some(Method::Invite | Method::Update)) {
            if let Ok(t) = contact_uri(req) {
                self.remote_target = t;
            }
        }
        Ok(())
    }

    /// Whether an incoming request belongs to this dialog (To tag ours, From tag theirs).
    pub fn matches_request(&self, req: &Message<'_>) -> bool {
        let (Ok(cid), Ok(from), Ok(to)) = (req.call_id(), req.from(), req.to()) else {
            return false;
        };
        cid == self.id.call_id
            && from.tag().as_deref() == Some(self.id.remote_tag.as_str())
            && to.tag().as_deref() == Some(self.id.local_tag.as_str())
    }

    /// The Request-URI and Route values of a request in the dialog (12.2.1.1): loose
    /// routing when the first route has `lr`, strict routing otherwise.
    pub fn request_target(&self) -> (String, Vec<String>) {
        let first_lr = self
            .route_set
            .first()
            .and_then(|r| NameAddr::parse(r).ok())
            .map(|n| matches!(&n.uri, Uri::Sip(s) if s.param("lr").is_some()));
        match first_lr {
            None | Some(true) => (self.remote_target.clone(), self.route_set.clone()),
            Some(false) => {
                let ruri = route_uri(&self.route_set[0]).unwrap_or_default();
                let mut routes: Vec<String> = self.route_set[1..].to_vec();
                routes.push(format!("<{}>", self.remote_target));
                (ruri, routes)
            }
        }
    }

    /// Where a request in the dialog goes first: the first route, else the remote target
    /// (IP literals only; `None` when the owner must resolve a name).
    pub fn next_hop(&self) -> Option<SocketAddr> {
        match self.route_set.first() {
            Some(r) => route_uri(r).and_then(|u| uri_addr(&u)),
            None => uri_addr(&self.remote_target),
        }
    }

    /// A new request in the dialog with the next CSeq (ACK and CANCEL use
    /// [`Dialog::request_with_seq`]). `via` is the full Via value with its branch.
    pub fn request(&mut self, method: Method<'_>, via: &str, contact: &str) -> MessageBuf {
        self.local_seq = self.local_seq.wrapping_add(1) & 0x7fff_ffff;
        let seq = self.local_seq;
        self.request_with_seq(method, seq, via, contact)
    }

    pub fn request_with_seq(
        &self,
        method: Method<'_>,
        seq: u32,
        via: &str,
        contact: &str,
    ) -> MessageBuf {
        let (ruri, routes) = self.request_target();
        let mut b = MessageBuf::request(method, &ruri);
        b.push(HeaderName::Via, via);
        b.push(HeaderName::MaxForwards, "70");
        for r in routes {
            b.push(HeaderName::Route, r);
        }
        b.push(
            HeaderName::From,
            format!("{};tag={}", self.local_uri, self.id.local_tag),
        );
        b.push(
            HeaderName::To,
            format!("{};tag={}", self.remote_uri, self.id.remote_tag),
        );
        b.push(HeaderName::CallId, self.id.call_id.clone());
        b.push(HeaderName::CSeq, format!("{seq} {method}"));
        if !matches!(method, Method::Ack | Method::Cancel | Method::Bye) && !contact.is_empty() {
            b.push(HeaderName::Contact, format!("<{contact}>"));
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &str = "INVITE sip:bob@192.0.2.4 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\nRecord-Route: <sip:p2.example.com;lr>\r\nRecord-Route: <sip:p1.example.com;lr>\r\nFrom: Alice <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.com>\r\nCall-ID: c1\r\nCSeq: 7 INVITE\r\nContact: <sip:alice@192.0.2.1>\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn uas_and_uac_route_sets_mirror() {
        let req = Message::parse(INVITE.as_bytes()).unwrap();
        let mut d = Dialog::uas(&req, "b1").unwrap();
        assert_eq!(d.route_set[0], "<sip:p2.example.com;lr>");
        assert_eq!(d.remote_seq, Some(7));
        let bye = d.request(
            Method::Bye,
            "SIP/2.0/UDP h;branch=z9hG4bKx",
            "sip:bob@192.0.2.4",
        );
        let bytes = bye.to_bytes();
        let m = Message::parse(&bytes).unwrap();
        assert_eq!(m.request_uri().unwrap().to_string(), "sip:alice@192.0.2.1");
        assert_eq!(
            m.values(HeaderName::Route),
            ["<sip:p2.example.com;lr>", "<sip:p1.example.com;lr>"]
        );
        assert_eq!(m.from().unwrap().tag().as_deref(), Some("b1"));
        assert_eq!(m.to().unwrap().tag().as_deref(), Some("a1"));
        // The 200 seen by the UAC: reversed route set.
        let resp = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\nRecord-Route: <sip:p2.example.com;lr>\r\nRecord-Route: <sip:p1.example.com;lr>\r\nFrom: Alice <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.com>;tag=b1\r\nCall-ID: c1\r\nCSeq: 7 INVITE\r\nContact: <sip:bob@192.0.2.4:5062>\r\nContent-Length: 0\r\n\r\n";
        let r = Message::parse(resp.as_bytes()).unwrap();
        let u = Dialog::uac(&req, &r).unwrap();
        assert_eq!(u.route_set[0], "<sip:p1.example.com;lr>");
        assert_eq!(u.state, DialogState::Confirmed);
        assert_eq!(
            uri_addr(&u.remote_target),
            Some("192.0.2.4:5062".parse().unwrap())
        );
        assert!(d.matches_request(
            &Message::parse(
                resp.replace("SIP/2.0 200 OK", "BYE sip:bob@192.0.2.4 SIP/2.0")
                    .replace("7 INVITE", "8 BYE")
                    .as_bytes()
            )
            .unwrap()
        ));
    }

    #[test]
    fn strict_route_and_cseq_order() {
        let text = INVITE.replace(";lr>\r\nRecord-Route: <sip:p1.example.com;lr>", ">");
        let req = Message::parse(text.as_bytes()).unwrap();
        let mut d = Dialog::uas(&req, "b1").unwrap();
        let (ruri, routes) = d.request_target();
        assert_eq!(ruri, "sip:p2.example.com");
        assert_eq!(routes, ["<sip:alice@192.0.2.1>"]);
        let old_text = INVITE.replace("7 INVITE", "6 INVITE");
        let old = Message::parse(old_text.as_bytes()).unwrap();
        assert_eq!(
            d.handle_request(&old),
            Err(DialogError::OutOfOrder { got: 6, last: 7 })
        );
    }
}
