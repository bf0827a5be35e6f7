//! SIP message parsing (issue 5): ac-sip side by side with rsip 0.4 (Rust) and sofia-sip's
//! parser (C, libsofia-sip-ua through csrc/sofia_parse.c), on a typical INVITE with SDP and
//! a 200 OK to it. Criterion reports time per message; msg/s = 1 / time.
//!
//! * `parse`: each library's own "parse a message" (ac-sip: the checked zero-copy view with
//!   the Request-URI parsed; rsip: `SipMessage::try_from`; sofia: `msg_make`, which parses
//!   every header it knows into structures).
//! * `parse+typed`: parse, then read the typed Via, From, To, CSeq, Call-ID and Contact that a
//!   transaction and dialog layer need (ac-sip and rsip; sofia's parse already did this).

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use rsip::prelude::*;

fn sofia(b: &[u8]) -> i32 {
    ac_benches::sofia_parse(b)
}

const INVITE: &str = "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/TLS client.atlanta.example.com:5061;branch=z9hG4bK74bf9\r\n\
Max-Forwards: 70\r\n\
From: Alice <sips:alice@atlanta.example.com>;tag=9fxced76sl\r\n\
To: Bob <sips:bob@biloxi.example.com>\r\n\
Call-ID: 3848276298220188511@atlanta.example.com\r\n\
CSeq: 2 INVITE\r\n\
Contact: <sips:alice@client.atlanta.example.com>\r\n\
Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, MESSAGE, SUBSCRIBE, INFO\r\n\
Supported: replaces, timer\r\n\
User-Agent: AUDC-IPPhone/3.4.6 (440HD)\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 228\r\n\
\r\n\
v=0\r\n\
o=alice 2890844526 2890844526 IN IP4 client.atlanta.example.com\r\n\
s=-\r\n\
c=IN IP4 192.0.2.101\r\n\
t=0 0\r\n\
m=audio 49172 RTP/AVP 9 0 8 101\r\n\
a=rtpmap:9 G722/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=sendrecv\r\n";

const OK: &str = "SIP/2.0 200 OK\r\n\
Via: SIP/2.0/TLS client.atlanta.example.com:5061;branch=z9hG4bK74bf9;received=192.0.2.101\r\n\
From: Alice <sips:alice@atlanta.example.com>;tag=9fxced76sl\r\n\
To: Bob <sips:bob@biloxi.example.com>;tag=8321234356\r\n\
Call-ID: 3848276298220188511@atlanta.example.com\r\n\
CSeq: 2 INVITE\r\n\
Contact: <sips:bob@client.biloxi.example.com>\r\n\
Server: ac-phone\r\n\
Content-Length: 0\r\n\
\r\n";

fn ac_sip_typed(b: &[u8]) -> usize {
    let m = ac_sip::Message::parse(b).expect("parses");
    let v = m.vias().expect("via").len();
    let f = m.from().expect("from").tag().map_or(0, |t| t.len());
    let t = m.to().expect("to").params.len();
    let c = m.cseq().expect("cseq").seq as usize;
    let i = m.call_id().expect("call-id").len();
    let k = m.contacts().expect("contact").len();
    v + f + t + c + i + k
}

fn rsip_typed(b: &[u8]) -> usize {
    let m = rsip::SipMessage::try_from(b).expect("parses");
    let v = m
        .via_header()
        .expect("via")
        .typed()
        .expect("typed via")
        .params
        .len();
    let f = m
        .from_header()
        .expect("from")
        .typed()
        .expect("typed from")
        .params
        .len();
    let t = m
        .to_header()
        .expect("to")
        .typed()
        .expect("typed to")
        .params
        .len();
    let c = m
        .cseq_header()
        .expect("cseq")
        .typed()
        .expect("typed cseq")
        .seq as usize;
    let i = m.call_id_header().expect("call-id").value().len();
    let k = m
        .contact_header()
        .expect("contact")
        .typed()
        .expect("typed contact")
        .params
        .len();
    v + f + t + c + i + k
}

fn parsers(c: &mut Criterion) {
    for (name, msg) in [("invite", INVITE), ("200ok", OK)] {
        let b = msg.as_bytes();
        // All three accept the message before anything is timed.
        assert!(ac_sip::Message::parse(b).is_ok());
        assert!(rsip::SipMessage::try_from(b).is_ok());
        assert_eq!(sofia(b), 0, "sofia-sip parses the {name}");
        let mut g = c.benchmark_group(format!("sip_parse/{name}"));
        g.throughput(Throughput::Elements(1));
        g.bench_function("ac-sip parse", |x| {
            x.iter(|| ac_sip::Message::parse(black_box(b)).map(|m| m.headers.len()))
        });
        g.bench_function("rsip parse", |x| {
            x.iter(|| rsip::SipMessage::try_from(black_box(b)).map(|m| m.headers().iter().count()))
        });
        g.bench_function("sofia-sip parse (C)", |x| x.iter(|| sofia(black_box(b))));
        g.bench_function("ac-sip parse+typed", |x| {
            x.iter(|| ac_sip_typed(black_box(b)))
        });
        g.bench_function("rsip parse+typed", |x| x.iter(|| rsip_typed(black_box(b))));
        g.finish();
    }
}

criterion_group!(benches, parsers);
criterion_main!(benches);
