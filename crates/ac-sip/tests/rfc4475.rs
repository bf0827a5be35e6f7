//! RFC 4475 (SIP torture test messages): every message of section 3, byte-exact from the
//! RFC's Appendix A archive (`tests/fixtures/rfc4475/*.dat`), goes through what a UAS does with a
//! datagram, and the outcome must be the one the RFC gives for it. None may panic.
//!
//! The pipeline: `Message::parse` (the checked view: start line, header lines, Request-URI,
//! Content-Length), then for a request `check_mandatory` (RFC 3261 8.1.1 / 20: Call-ID, CSeq,
//! From, To, Via, Max-Forwards, Expires, Contact typed and single-valued) and `uas::precheck`
//! (RFC 3261 8.2: 505, 405/501, 416, 420, 415, 406); for a response the same typed fields a
//! client transaction reads. A request that fails parsing or the mandatory checks is answered
//! 400 (`Reject`); a response that fails is dropped (`Drop`).

use std::path::Path;

use ac_sip::msg::{HeaderName, Message};
use ac_sip::uas::{precheck, UasPolicy};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Well-formed: processed normally.
    Accept,
    /// A request answered 400 Bad Request.
    Reject,
    /// A response dropped.
    Drop,
    /// A request answered with this status by the UAS checks of RFC 3261 8.2.
    Respond(u16),
}
use Outcome::*;

/// (file, RFC 4475 section, expected outcome, what the RFC says).
const CASES: &[(&str, &str, Outcome, &str)] = &[
    // 3.1.1 Valid messages: "must parse".
    (
        "wsinv",
        "3.1.1.1",
        Accept,
        "short tortuous INVITE: folding, compact forms, odd spacing",
    ),
    (
        "intmeth",
        "3.1.1.2",
        Respond(501),
        "valid; an unknown method is answered 501 (RFC 3261 8.2.1)",
    ),
    ("esc01", "3.1.1.3", Accept, "valid use of % escapes"),
    (
        "escnull",
        "3.1.1.4",
        Respond(405),
        "escaped NULs in URIs: valid; a REGISTER to a phone (not a registrar) -> 405",
    ),
    (
        "esc02",
        "3.1.1.5",
        Respond(501),
        "% not an escape: method RE%47IST%45R is not REGISTER, unknown -> 501",
    ),
    (
        "lwsdisp",
        "3.1.1.6",
        Accept,
        "no LWS between display name and <",
    ),
    ("longreq", "3.1.1.7", Accept, "long values in header fields"),
    (
        "dblreq",
        "3.1.1.8",
        Respond(405),
        "extra trailing octets in a UDP datagram are ignored; a REGISTER to a phone -> 405",
    ),
    (
        "semiuri",
        "3.1.1.9",
        Accept,
        "semicolon-separated parameters in URI user part",
    ),
    (
        "transports",
        "3.1.1.10",
        Accept,
        "varied and unknown transport types",
    ),
    ("mpart01", "3.1.1.11", Accept, "multipart MIME message"),
    ("unreason", "3.1.1.12", Accept, "unusual reason phrase"),
    ("noreason", "3.1.1.13", Accept, "empty reason phrase"),
    // 3.1.2 Invalid messages.
    (
        "badinv01",
        "3.1.2.1",
        Reject,
        "extraneous header field separators -> 400",
    ),
    (
        "clerr",
        "3.1.2.2",
        Reject,
        "Content-Length larger than the message, over UDP -> 400",
    ),
    ("ncl", "3.1.2.3", Reject, "negative Content-Length -> 400"),
    (
        "scalar02",
        "3.1.2.4",
        Reject,
        "request scalar fields with overlarge values -> 400 (CSeq)",
    ),
    (
        "scalarlg",
        "3.1.2.5",
        Drop,
        "response scalar fields with overlarge values -> drop",
    ),
    (
        "quotbal",
        "3.1.2.6",
        Reject,
        "unterminated quoted string in display name -> 400",
    ),
    (
        "ltgtruri",
        "3.1.2.7",
        Reject,
        "<> enclosing the Request-URI -> 400",
    ),
    (
        "lwsruri",
        "3.1.2.8",
        Reject,
        "LWS inside the Request-URI -> 400",
    ),
    (
        "lwsstart",
        "3.1.2.9",
        Reject,
        "multiple SP separating Request-Line elements -> 400",
    ),
    (
        "trws",
        "3.1.2.10",
        Reject,
        "SP at the end of the Request-Line -> 400",
    ),
    (
        "escruri",
        "3.1.2.11",
        Reject,
        "escaped headers in the SIP Request-URI: 400 is acceptable",
    ),
    (
        "baddate",
        "3.1.2.12",
        Accept,
        "non-GMT Date: an element that does not use Date may ignore it (we never use Date)",
    ),
    (
        "regbadct",
        "3.1.2.13",
        Reject,
        "URI with escaped header not in <> in Contact: 400 is reasonable",
    ),
    (
        "badaspec",
        "3.1.2.14",
        Reject,
        "spaces within addr-spec -> 400",
    ),
    (
        "baddn",
        "3.1.2.15",
        Reject,
        "non-token characters in an unquoted display name -> 400",
    ),
    (
        "badvers",
        "3.1.2.16",
        Respond(505),
        "unknown protocol version -> 505",
    ),
    (
        "mismatch01",
        "3.1.2.17",
        Reject,
        "start line and CSeq method mismatch -> 400",
    ),
    (
        "mismatch02",
        "3.1.2.18",
        Reject,
        "unknown method with CSeq mismatch: 501, 400 also acceptable",
    ),
    (
        "bigcode",
        "3.1.2.19",
        Drop,
        "response code larger than 699 -> drop",
    ),
    // 3.2 Transaction layer.
    (
        "badbranch",
        "3.2.1",
        Accept,
        "z9hG4bK with no identifier: a parser must not break",
    ),
    // 3.3 Application layer semantics.
    ("insuf", "3.3.1", Reject, "missing Call-ID, From, To -> 400"),
    (
        "unkscm",
        "3.3.2",
        Respond(416),
        "unknown Request-URI scheme -> 416",
    ),
    (
        "novelsc",
        "3.3.3",
        Respond(416),
        "known but atypical Request-URI scheme (soap.beep) -> 416",
    ),
    (
        "unksm2",
        "3.3.4",
        Respond(405),
        "unknown URI schemes in To/From/Contact: syntactically valid; a REGISTER to a phone -> 405",
    ),
    (
        "bext01",
        "3.3.5",
        Respond(420),
        "Require with unknown option tags -> 420 with Unsupported",
    ),
    (
        "invut",
        "3.3.6",
        Respond(415),
        "body of unknown type -> 415 with Accept",
    ),
    (
        "regaut01",
        "3.3.7",
        Respond(405),
        "unknown Authorization scheme: parses; a phone is no registrar -> 405",
    ),
    (
        "multi01",
        "3.3.8",
        Reject,
        "multiple values in single-value fields -> 400",
    ),
    (
        "mcl01",
        "3.3.9",
        Reject,
        "several different Content-Length values -> 400",
    ),
    (
        "bcast",
        "3.3.10",
        Accept,
        "200 OK with a broadcast Via: parses",
    ),
    (
        "zeromf",
        "3.3.11",
        Accept,
        "Max-Forwards of zero: a UAS processes it",
    ),
    (
        "cparam01",
        "3.3.12",
        Respond(405),
        "REGISTER with a Contact header parameter: parses; not a registrar -> 405",
    ),
    (
        "cparam02",
        "3.3.13",
        Respond(405),
        "REGISTER with a URI parameter in Contact: parses; not a registrar -> 405",
    ),
    (
        "regescrt",
        "3.3.14",
        Respond(405),
        "REGISTER with a URL-escaped header in Contact: parses; not a registrar -> 405",
    ),
    (
        "sdp01",
        "3.3.15",
        Respond(406),
        "Accept without application/sdp on an INVITE with SDP -> 406",
    ),
    // 3.4 Backward compatibility.
    (
        "inv2543",
        "3.4.1",
        Accept,
        "RFC 2543 syntax: accepted for backward compatibility",
    ),
];

fn dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rfc4475")
}

fn outcome(raw: &[u8]) -> (Outcome, String) {
    let m = match Message::parse(raw) {
        Ok(m) => m,
        Err(e) => {
            let is_response = raw.starts_with(b"SIP/");
            return (if is_response { Drop } else { Reject }, e.to_string());
        }
    };
    if m.is_request() {
        // RFC 3261 8.2: the version check comes first (505), then the header checks.
        if let StartVersion::Other = version(&m) {
            let r = precheck(&m, &UasPolicy::default(), "t").expect("505");
            return (Respond(status_of(&r.to_bytes())), "version".into());
        }
        if let Err(e) = m.check_mandatory() {
            return (Reject, e.to_string());
        }
        match precheck(&m, &UasPolicy::default(), "t") {
            Some(r) => (Respond(status_of(&r.to_bytes())), "precheck".into()),
            None => (Accept, String::new()),
        }
    } else {
        // What a client transaction and the TU read from a response.
        let typed = m
            .cseq()
            .map(|_| ())
            .and_then(|_| m.vias().map(|_| ()))
            .and_then(|_| m.from().map(|_| ()))
            .and_then(|_| m.to().map(|_| ()))
            .and_then(|_| m.call_id().map(|_| ()))
            .and_then(|_| m.check_mandatory());
        match typed {
            Ok(()) => (Accept, String::new()),
            Err(e) => (Drop, e.to_string()),
        }
    }
}

enum StartVersion {
    Sip2,
    Other,
}

fn version(m: &Message<'_>) -> StartVersion {
    match &m.start {
        ac_sip::msg::StartLine::Request { version, .. }
            if !version.eq_ignore_ascii_case("SIP/2.0") =>
        {
            StartVersion::Other
        }
        _ => StartVersion::Sip2,
    }
}

fn status_of(response: &[u8]) -> u16 {
    Message::parse(response)
        .expect("our response parses")
        .status()
        .expect("a response")
}

#[test]
fn every_torture_message_has_the_outcome_rfc4475_gives() {
    let mut failures = Vec::new();
    for (name, section, want, why) in CASES {
        let raw = std::fs::read(dir().join(format!("{name}.dat"))).expect(name);
        let got = std::panic::catch_unwind(|| outcome(&raw));
        match got {
            Err(_) => failures.push(format!("{section} {name}: PANIC")),
            Ok((got, detail)) if got != *want => failures.push(format!(
                "{section} {name}: want {want:?} ({why}), got {got:?} {detail}"
            )),
            Ok(_) => {}
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn every_fixture_is_listed_and_the_set_is_complete() {
    let mut files: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .filter_map(|e| {
            let n = e.unwrap().file_name().into_string().unwrap();
            n.strip_suffix(".dat").map(str::to_string)
        })
        .collect();
    files.sort();
    let mut listed: Vec<String> = CASES.iter().map(|c| c.0.to_string()).collect();
    listed.sort();
    assert_eq!(files, listed);
    // RFC 4475 section 3: 13 valid + 19 invalid + 1 transaction + 15 application + 1 compat.
    assert_eq!(CASES.len(), 49);
}

/// Details the RFC calls out for some valid messages.
#[test]
fn valid_messages_read_as_the_rfc_describes() {
    let read = |n: &str| std::fs::read(dir().join(format!("{n}.dat"))).unwrap();

    // 3.1.1.1: folded and compact headers, the SDP body of 150 octets, three Vias, unknown
    // headers kept.
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
    assert_eq!(m.contacts().unwrap().len(), 1);

    // 3.1.1.8: only the first message of the datagram, its body cut at Content-Length.
    let raw = read("dblreq");
    let m = Message::parse(&raw).unwrap();
    assert_eq!(Some(m.body.len()), m.content_length().unwrap());
    assert!(raw.len() > m.emit().len());

    // 3.1.1.13: an empty reason phrase.
    let raw = read("noreason");
    let m = Message::parse(&raw).unwrap();
    assert_eq!(m.status(), Some(100));

    // 3.3.5: 420 lists exactly the Require tags.
    let raw = read("bext01");
    let m = Message::parse(&raw).unwrap();
    let r = precheck(&m, &UasPolicy::default(), "t").unwrap().to_bytes();
    let r = Message::parse(&r).unwrap();
    assert_eq!(
        r.values(HeaderName::Unsupported),
        ["nothingSupportsThis", "nothingSupportsThisEither"]
    );
}

/// Every torture message also goes through emit: a message we accept re-parses to itself.
#[test]
fn accepted_messages_round_trip_through_emit() {
    for (name, section, _, _) in CASES {
        let raw = std::fs::read(dir().join(format!("{name}.dat"))).unwrap();
        if let Ok(m) = Message::parse(&raw) {
            let out = m.emit();
            let again = Message::parse(&out)
                .unwrap_or_else(|e| panic!("{section} {name}: emitted form does not parse: {e}"));
            assert_eq!(again.emit(), out, "{section} {name}");
        }
    }
}
