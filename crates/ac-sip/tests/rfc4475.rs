//! RFC 4475 (SIP torture test messages): every message of section 3, byte-exact from the
//! RFC's own Appendix A archive (`tests/fixtures/rfc4475/*.dat`, see the README there), goes
//! through the stack as a UDP datagram and must get the outcome `INDEX.tsv` gives for it, the
//! RFC's answer for a UA (not a proxy nor a registrar). None may panic.
//!
//! The pipeline is the real one: [`Transactions::handle_message`] (`Message::parse`, then for a
//! request `check_mandatory` and a 400 when either refuses it, for a response the client
//! transaction match), and for a request handed to the TU the UAS checks of RFC 3261 8.2
//! ([`precheck`]: 505, 405/501, 416, 420, 415, 406), as `ac-sip-ua` runs them. Responses meet
//! a client transaction we open for them first, so a drop is the response's own fault.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Instant;

use ac_sip::msg::{Contact, HeaderName, Message, MessageBuf, Method};
use ac_sip::transaction::{Timers, Transactions, Transport, TxEvent};
use ac_sip::uas::{precheck, UasPolicy};
use ac_sip::uri::Uri;

/// What INDEX.tsv may say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Parse,
    ParseThen(u16),
    ParseThenDrop,
    Reject400,
    Drop,
}

struct Case {
    name: String,
    section: String,
    expect: Expect,
    note: String,
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rfc4475")
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(format!("{name}.dat"))).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn index() -> Vec<Case> {
    let text = std::fs::read_to_string(dir().join("INDEX.tsv")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 4, "INDEX.tsv line: {l}");
            let expect = match f[2] {
                "parse" => Expect::Parse,
                "parse-then-drop" => Expect::ParseThenDrop,
                "reject-400" => Expect::Reject400,
                "drop" => Expect::Drop,
                o => Expect::ParseThen(
                    o.strip_prefix("parse-then-")
                        .and_then(|c| c.parse().ok())
                        .unwrap_or_else(|| panic!("INDEX.tsv: unknown outcome {o}")),
                ),
            };
            Case {
                name: f[0].into(),
                section: f[1].into(),
                expect,
                note: f[3].into(),
            }
        })
        .collect()
}

/// What the stack did with one datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    /// A request handed to the TU, which let it through the UAS checks; or a response handed
    /// to the TU.
    Delivered,
    /// A request handed to the TU, whose UAS checks answered this status.
    DeliveredThen(u16),
    /// Refused before the TU, with these statuses sent back (none: silently dropped).
    Refused(Vec<u16>),
}

const PEER: &str = "192.0.2.200:5060";

fn status_line(d: &[u8]) -> u16 {
    Message::parse(d)
        .expect("what we send parses")
        .status()
        .expect("a response")
}

/// The top Via branch and CSeq method of a response, read from its text without our parser,
/// to open the client transaction it answers.
fn response_key(raw: &[u8]) -> (String, String) {
    let text = String::from_utf8_lossy(raw);
    let branch = text
        .split_once("branch=")
        .map(|(_, r)| {
            r.split(|c: char| c == ';' || c == ',' || c.is_whitespace())
                .next()
                .unwrap_or("")
                .to_string()
        })
        .unwrap_or_default();
    let method = text
        .lines()
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case("cseq")
                .then(|| v.split_whitespace().last().unwrap_or("").to_string())
        })
        .unwrap_or_default();
    (branch, method)
}

/// Runs one datagram through the stack.
fn run(raw: &[u8]) -> (Seen, String) {
    let now = Instant::now();
    let peer: SocketAddr = PEER.parse().unwrap();
    let mut tx = Transactions::new(Timers::default());
    if raw.starts_with(b"SIP/") {
        let (branch, method) = response_key(raw);
        let mut req = MessageBuf::request(Method::from_token(&method), "sip:user@192.0.2.200");
        req.push(
            HeaderName::Via,
            format!("SIP/2.0/UDP 192.0.2.1:5060;branch={branch}"),
        );
        req.push(HeaderName::MaxForwards, "70");
        req.push(HeaderName::From, "<sip:phone@192.0.2.1>;tag=p1");
        req.push(HeaderName::To, "<sip:user@192.0.2.200>");
        req.push(HeaderName::CallId, "rfc4475");
        req.push(HeaderName::CSeq, format!("1 {method}"));
        tx.send_request(now, Transport::Udp, peer, req.to_bytes())
            .expect("client transaction for the response");
        while tx.poll_transmit().is_some() {}
    }
    tx.handle_message(now, Transport::Udp, peer, raw);
    let mut sent = Vec::new();
    while let Some(t) = tx.poll_transmit() {
        sent.push(status_line(&t.data));
    }
    let mut seen = Seen::Refused(sent);
    let mut detail = String::new();
    while let Some(e) = tx.poll_event() {
        match e {
            TxEvent::Request { data, .. } => {
                let m = Message::parse(&data).expect("a delivered request parses");
                seen = match precheck(&m, &UasPolicy::default(), "t") {
                    Some(r) => Seen::DeliveredThen(status_line(&r.to_bytes())),
                    None => Seen::Delivered,
                };
            }
            TxEvent::Response { .. } => seen = Seen::Delivered,
            TxEvent::Dropped { reason, .. } => detail = reason,
            _ => {}
        }
    }
    (seen, detail)
}

/// The typed reading of a message the RFC calls well formed: everything an element reads
/// from it must parse.
fn typed_ok(m: &Message<'_>) -> Result<(), String> {
    let e = |e: ac_sip::ParseError| e.to_string();
    m.call_id().map_err(e)?;
    m.cseq().map_err(e)?;
    m.from().map_err(e)?;
    m.to().map_err(e)?;
    if m.vias().map_err(e)?.is_empty() {
        return Err("no Via".into());
    }
    m.contacts().map_err(e)?;
    m.content_type().map_err(e)?;
    if let Some(cl) = m.content_length().map_err(e)? {
        if cl != m.body.len() {
            return Err(format!("Content-Length {cl}, body {}", m.body.len()));
        }
    }
    if let Some(uri) = m.request_uri() {
        // The Request-URI parsed once in the message; its text parses again on its own.
        Uri::parse(&uri.to_string()).map_err(e)?;
    }
    if m.is_request() {
        m.check_mandatory().map_err(e)?;
    }
    Ok(())
}

fn verdict(c: &Case, raw: &[u8]) -> Result<(), String> {
    let parsed = Message::parse(raw);
    let (seen, detail) = run(raw);
    let must_parse = matches!(
        c.expect,
        Expect::Parse | Expect::ParseThen(_) | Expect::ParseThenDrop
    );
    if must_parse {
        let m = parsed.map_err(|e| format!("must parse, parser says: {e}"))?;
        // RFC 3261 8.2 puts the version check first: SIP/7.0 is read as far as 505 needs.
        if c.expect != Expect::ParseThen(505) {
            typed_ok(&m).map_err(|e| format!("must parse, typed fields: {e}"))?;
        }
    }
    let ok = match c.expect {
        Expect::Parse => seen == Seen::Delivered,
        Expect::ParseThen(code) => seen == Seen::DeliveredThen(code),
        Expect::ParseThenDrop | Expect::Drop => seen == Seen::Refused(vec![]),
        Expect::Reject400 => seen == Seen::Refused(vec![400]),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("stack did {seen:?} ({detail})"))
    }
}

#[test]
fn every_torture_message_has_the_outcome_rfc4475_gives() {
    let mut failures = Vec::new();
    for c in index() {
        let raw = read(&c.name);
        match std::panic::catch_unwind(|| verdict(&c, &raw)) {
            Err(_) => failures.push(format!("{} {}: PANIC", c.section, c.name)),
            Ok(Err(e)) => failures.push(format!(
                "{} {}: want {:?} ({}): {e}",
                c.section, c.name, c.expect, c.note
            )),
            Ok(Ok(())) => {}
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn index_lists_every_fixture_and_every_rfc_message() {
    let cases = index();
    let mut files: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != "INDEX.tsv" && n != "README.md")
        .collect();
    files.sort();
    let mut listed: Vec<String> = cases.iter().map(|c| format!("{}.dat", c.name)).collect();
    listed.sort();
    assert_eq!(files, listed, "fixture files and INDEX.tsv lines differ");
    let mut sections: Vec<&str> = cases.iter().map(|c| c.section.as_str()).collect();
    sections.sort_unstable();
    sections.dedup();
    assert_eq!(sections.len(), cases.len(), "a section listed twice");
    // RFC 4475 section 3: 3.1.1.1-13 valid, 3.1.2.1-19 invalid, 3.2.1, 3.3.1-15, 3.4.1.
    let count = |p: &str| {
        cases
            .iter()
            .filter(|c| c.section.starts_with(p) && c.section.len() > p.len())
            .count()
    };
    assert_eq!(count("3.1.1."), 13);
    assert_eq!(count("3.1.2."), 19);
    assert_eq!(count("3.2."), 1);
    assert_eq!(count("3.3."), 15);
    assert_eq!(count("3.4."), 1);
    assert_eq!(cases.len(), 49);
}

/// The valid messages carry their framing right: Content-Length, where present, is the body.
#[test]
fn valid_messages_declare_their_own_length() {
    for c in index().iter().filter(|c| c.section.starts_with("3.1.1.")) {
        let raw = read(&c.name);
        let m = Message::parse(&raw).unwrap();
        let declared = m.content_length().unwrap();
        match c.name.as_str() {
            // 3.1.1.8: the datagram goes on past the first message.
            "dblreq" => assert!(raw.len() > m.emit().len()),
            _ => assert_eq!(declared, Some(m.body.len()), "{}", c.name),
        }
        let head = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        if c.name != "dblreq" {
            assert_eq!(
                raw.len() - head,
                m.body.len(),
                "{}: trailing octets",
                c.name
            );
        }
    }
}

/// One round of % HEX HEX decoding (RFC 3986 2.1), written here to check the parser's.
fn pct_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (b[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

/// What the RFC says about the insides of some valid messages.
#[test]
fn valid_messages_read_as_the_rfc_describes() {
    // 3.1.1.1: folded and compact headers, the SDP body of 150 octets, three Vias, unknown
    // headers kept, leading zeros in integers.
    let raw = read("wsinv");
    let m = Message::parse(&raw).unwrap();
    assert_eq!(m.body.len(), 150);
    assert_eq!(m.vias().unwrap().len(), 3);
    assert_eq!(m.cseq().unwrap().seq, 9);
    assert_eq!(m.max_forwards().unwrap(), Some(68));
    assert_eq!(m.from().unwrap().tag().as_deref(), Some("98asjd8"));
    assert_eq!(m.to().unwrap().tag().as_deref(), Some("1918181833n"));
    assert_eq!(
        m.first(HeaderName::parse("NewFangledHeader")),
        Some("newfangled value continued newfangled value")
    );
    assert_eq!(
        m.first(HeaderName::parse("UnknownHeaderWithUnusualValue")),
        Some(";;,,;;,;")
    );
    assert_eq!(m.contacts().unwrap().len(), 1);

    // 3.1.1.2: the method IN%56ITE is not INVITE.
    let raw = read("intmeth");
    let m = Message::parse(&raw).unwrap();
    assert_eq!(
        m.method().unwrap().as_str(),
        "!interesting-Method0123456789_*+`.%indeed'~"
    );
    assert_ne!(m.method(), Some(Method::Invite));

    // 3.1.1.3: escapes in the user parts are decoded; "value%41" is no "valueA".
    let raw = read("esc01");
    let m = Message::parse(&raw).unwrap();
    let ruri = m.request_uri().unwrap().as_sip().unwrap().clone();
    assert_eq!(
        ruri.user_decoded().as_deref(),
        Some("sips:user@example.com")
    );
    let contact = match &m.contacts().unwrap()[0] {
        Contact::Addr(a) => a.uri.as_sip().unwrap().param("name").flatten(),
        Contact::Star => None,
    }
    .map(str::to_string);
    // "n%61me=v%61lue%25%34%31": the name decodes to "name", the value once to "value%41".
    let value = contact.map(|v| pct_decode(&v));
    assert_eq!(value.as_deref(), Some("value%41"));

    // 3.1.1.4: the NULs stay in the user parts; two distinct contacts.
    let raw = read("escnull");
    let m = Message::parse(&raw).unwrap();
    let to = m.to().unwrap();
    let user = to
        .uri
        .as_sip()
        .unwrap()
        .user_decoded()
        .unwrap()
        .into_owned();
    assert_eq!(user, "null-\0-null");
    assert_eq!(m.contacts().unwrap().len(), 2);

    // 3.1.1.5: the method is not REGISTER; two Contact values, not three.
    let raw = read("esc02");
    let m = Message::parse(&raw).unwrap();
    assert_eq!(m.method().unwrap().as_str(), "RE%47IST%45R");
    assert_eq!(m.contacts().unwrap().len(), 2);
    assert_eq!(m.to().unwrap().display_name().as_deref(), Some("%Z%45"));

    // 3.1.1.8: only the first message of the datagram, a REGISTER.
    let raw = read("dblreq");
    let m = Message::parse(&raw).unwrap();
    assert_eq!(m.method(), Some(Method::Register));
    assert!(m.body.is_empty());

    // 3.1.1.9: the user part is "user;par=u@example.net".
    let raw = read("semiuri");
    let m = Message::parse(&raw).unwrap();
    let ruri = m.request_uri().unwrap().as_sip().unwrap().clone();
    assert_eq!(
        ruri.user_decoded().as_deref(),
        Some("user;par=u@example.net")
    );

    // 3.1.1.10: every Via value read, the unknown transport kept.
    let raw = read("transports");
    let m = Message::parse(&raw).unwrap();
    let vias = m.vias().unwrap();
    let t: Vec<&str> = vias.iter().map(|v| v.transport).collect();
    assert_eq!(t, ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]);

    // 3.1.1.11: the binary part (with NULs) is framed by Content-Length.
    let raw = read("mpart01");
    let m = Message::parse(&raw).unwrap();
    assert!(m.body.contains(&0));

    // 3.1.1.13: an empty reason phrase.
    let m = Message::parse(&read("noreason"))
        .map(|m| m.status())
        .unwrap();
    assert_eq!(m, Some(100));

    // 3.3.5: 420 lists exactly the Require tags.
    let raw = read("bext01");
    let m = Message::parse(&raw).unwrap();
    let r = precheck(&m, &UasPolicy::default(), "t").unwrap().to_bytes();
    let r = Message::parse(&r).unwrap();
    assert_eq!(
        r.values(HeaderName::Unsupported),
        ["nothingSupportsThis", "nothingSupportsThisEither"]
    );

    // 3.3.12 / 3.3.13 / 3.3.14: contact-param, url-parameter, escaped header in the URI.
    let contact = |n: &str| {
        let raw = read(n);
        let m = Message::parse(&raw).unwrap();
        let c = m.contacts().unwrap();
        assert_eq!(c.len(), 1);
        match &c[0] {
            Contact::Addr(a) => {
                let u = a.uri.as_sip().unwrap();
                (
                    a.param("unknownparam").is_some(),
                    u.param("unknownparam").is_some(),
                    u.headers
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>(),
                )
            }
            Contact::Star => panic!("{n}: *"),
        }
    };
    assert_eq!(contact("cparam01"), (true, false, vec![]));
    assert_eq!(contact("cparam02"), (false, true, vec![]));
    assert_eq!(
        contact("regescrt"),
        (
            false,
            false,
            vec!["Route=%3Csip:sip.example.com%3E".to_string()]
        )
    );

    // 3.4.1: no Content-Length: the body is the rest of the datagram; no From tag.
    let raw = read("inv2543");
    let m = Message::parse(&raw).unwrap();
    assert_eq!(m.content_length().unwrap(), None);
    assert!(m.body.ends_with(b"m=audio 49217 RTP/AVP 0\r\n"));
    assert_eq!(m.from().unwrap().tag(), None);
}

/// The refusals are for the reason the RFC names, not for something else in the message.
#[test]
fn refusals_are_for_the_rfc_reason() {
    // 3.1.2.15: the RFC's archive ends baddn without the empty line; completed, it is still
    // refused with 400, and for its display names.
    let mut raw = read("baddn");
    assert!(!raw.ends_with(b"\r\n\r\n"));
    raw.extend_from_slice(b"\r\n");
    let m = Message::parse(&raw).unwrap();
    assert!(m.from().is_err() && m.to().is_err());
    assert_eq!(run(&raw).0, Seen::Refused(vec![400]));

    // 3.3.10: the same 200 with only its first Via reaches the TU.
    let raw = String::from_utf8(read("bcast")).unwrap();
    let one_via = raw.replace(
        "Via: SIP/2.0/UDP 255.255.255.255;branch=z9hG4bK1saber23\r\n",
        "",
    );
    assert_ne!(one_via, raw);
    assert_eq!(run(one_via.as_bytes()).0, Seen::Delivered);

    // 3.1.2.17: with the CSeq method mended, mismatch01 is an ordinary OPTIONS.
    let raw = String::from_utf8(read("mismatch01")).unwrap();
    let mended = raw.replace("CSeq: 8 INVITE", "CSeq: 8 OPTIONS");
    assert_ne!(mended, raw);
    assert_eq!(run(mended.as_bytes()).0, Seen::Delivered);

    // 3.1.2.10: without the trailing SP, trws is an ordinary OPTIONS.
    let raw = String::from_utf8(read("trws")).unwrap();
    let mended = raw.replacen("SIP/2.0  \r\n", "SIP/2.0\r\n", 1);
    assert_ne!(mended, raw);
    assert_eq!(run(mended.as_bytes()).0, Seen::Delivered);
}

/// 3.2.1: a branch of just the cookie falls back to RFC 2543 matching: two different requests
/// are two transactions, the same one again is a retransmission.
#[test]
fn bare_cookie_branch_falls_back_to_rfc2543_matching() {
    let raw = String::from_utf8(read("badbranch")).unwrap();
    let other = raw.replace("CSeq: 8 OPTIONS", "CSeq: 9 OPTIONS");
    assert_ne!(other, raw);
    let now = Instant::now();
    let peer: SocketAddr = PEER.parse().unwrap();
    let mut tx = Transactions::new(Timers::default());
    let mut requests = 0;
    for d in [&raw, &other, &raw] {
        tx.handle_message(now, Transport::Udp, peer, d.as_bytes());
        while let Some(e) = tx.poll_event() {
            if let TxEvent::Request { tx: id, .. } = e {
                requests += 1;
                let m = Message::parse(d.as_bytes()).unwrap();
                let r = ac_sip::msg::response_to(&m, 200, Some("x")).to_bytes();
                tx.respond(now, id, r).unwrap();
            }
        }
    }
    assert_eq!(
        requests, 2,
        "two transactions, the third datagram a retransmission"
    );
    // The retransmission got the 200 again.
    let mut sent = Vec::new();
    while let Some(t) = tx.poll_transmit() {
        sent.push(status_line(&t.data));
    }
    assert_eq!(sent, [200, 200, 200]);
}

/// No prefix of any torture message makes the parser, the typed accessors or the stack panic.
#[test]
fn no_prefix_of_a_torture_message_panics() {
    for c in index() {
        let raw = read(&c.name);
        for n in 0..=raw.len() {
            let part = &raw[..n];
            let r = std::panic::catch_unwind(|| {
                if let Ok(m) = Message::parse(part) {
                    let _ = typed_ok(&m);
                    let _ = Message::parse(&m.emit());
                }
                let _ = ac_sip::uas::bad_request(part, "x");
            });
            assert!(
                r.is_ok(),
                "{} {}: panic on the first {n} octets",
                c.section,
                c.name
            );
        }
        assert!(std::panic::catch_unwind(|| run(&raw)).is_ok(), "{}", c.name);
    }
}

/// Every torture message we parse goes through emit and re-parses to itself.
#[test]
fn parsed_messages_round_trip_through_emit() {
    for c in index() {
        let raw = read(&c.name);
        if let Ok(m) = Message::parse(&raw) {
            let out = m.emit();
            let again = Message::parse(&out).unwrap_or_else(|e| {
                panic!("{} {}: emitted form does not parse: {e}", c.section, c.name)
            });
            assert_eq!(again.emit(), out, "{} {}", c.section, c.name);
        }
    }
}
