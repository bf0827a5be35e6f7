//! The outbound proxy of the configuration on a virtual clock: an IP address is used as is
//! (UDP); a host name is resolved by the driver (RFC 3263, `Io::ResolveProxy`) and the
//! phone registers over the transport of the first target (TLS here), with that transport
//! in its Contact and Via.

use std::net::SocketAddr;
use std::time::Instant;

use ac_cfg::{Config, Model};
use ac_core::phone::{BootStage, Io, Transmit};
use ac_core::{Phone, SignIn};
use ac_sip::resolve::Target;
use ac_sip::transaction::Transport;

fn phone(extra: &[(&str, &str)]) -> (Phone, Instant) {
    let mut cfg = Config::defaults(Model::Hd440);
    cfg.set("provisioning/method", "DISABLE").expect("set");
    cfg.set("voip/signalling/sip/sip_outbound_proxy/enabled", "1")
        .expect("set");
    for (k, v) in extra {
        cfg.set(k, v).expect("set");
    }
    let mut p = Phone::new(
        cfg,
        [0, 0x90, 0x8f, 9, 9, 9],
        SignIn::new("alice", "example.com", "pw"),
        3,
    );
    let now = Instant::now();
    p.handle_network_up(now, "10.2.0.50:5060".parse().expect("addr"), None);
    (p, now)
}

fn ios(p: &mut Phone) -> Vec<Io> {
    std::iter::from_fn(|| p.poll_io()).collect()
}

fn sip(p: &mut Phone) -> Vec<ac_sip::transaction::Transmit> {
    std::iter::from_fn(|| p.poll_transmit())
        .filter_map(|t| match t {
            Transmit::Sip(t) => Some(t),
            _ => None,
        })
        .collect()
}

#[test]
fn ip_proxy_registers_over_udp_without_a_lookup() {
    let (mut p, _) = phone(&[("voip/signalling/sip/sip_outbound_proxy/addr", "10.2.0.1")]);
    assert!(ios(&mut p).is_empty());
    let out = sip(&mut p);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].transport, Transport::Udp);
    assert_eq!(
        out[0].dest,
        "10.2.0.1:5060".parse::<SocketAddr>().expect("addr")
    );
}

#[test]
fn named_proxy_is_resolved_then_registers_over_tls() {
    let (mut p, now) = phone(&[(
        "voip/signalling/sip/sip_outbound_proxy/addr",
        "sip.example.com",
    )]);
    // Default port: the whole RFC 3263 look-up (no port in the URI).
    assert_eq!(
        ios(&mut p),
        vec![Io::ResolveProxy {
            uri: "sip:sip.example.com".into()
        }]
    );
    assert_eq!(p.stage(), BootStage::Registration);
    assert!(sip(&mut p).is_empty(), "nothing is sent before the look-up");
    let dest: SocketAddr = "10.2.0.1:5061".parse().expect("addr");
    p.handle_proxy_resolved(
        now,
        Ok(vec![Target {
            transport: Transport::Tls,
            addr: dest,
            host: "sip.example.com".into(),
        }]),
    );
    let out = sip(&mut p);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].transport, Transport::Tls);
    assert_eq!(out[0].dest, dest);
    let msg = String::from_utf8_lossy(&out[0].data);
    assert!(
        msg.starts_with("REGISTER sip:example.com SIP/2.0\r\n"),
        "{msg}"
    );
    // RFC 5923: the proxy is asked to reuse this connection for requests to the phone.
    assert!(
        msg.contains("Via: SIP/2.0/TLS 10.2.0.50:5060;alias;"),
        "{msg}"
    );
    assert!(
        msg.contains("<sip:alice@10.2.0.50:5060;transport=tls>"),
        "{msg}"
    );
}

#[test]
fn explicit_port_skips_srv_and_a_failed_lookup_leaves_the_phone_unregistered() {
    let (mut p, now) = phone(&[
        (
            "voip/signalling/sip/sip_outbound_proxy/addr",
            "proxy.corp.test",
        ),
        ("voip/signalling/sip/sip_outbound_proxy/port", "5070"),
    ]);
    assert_eq!(
        ios(&mut p),
        vec![Io::ResolveProxy {
            uri: "sip:proxy.corp.test:5070".into()
        }]
    );
    p.handle_proxy_resolved(now, Err("no SIP server found".into()));
    assert_eq!(p.stage(), BootStage::Ready);
    assert!(!p.is_registered());
    assert!(sip(&mut p).is_empty());
}
