//! RFC 3263 server location and the manual's Skype for Business discovery order against a
//! real DNS server (dnsmasq on loopback serving NAPTR, SRV and A records).

mod common;

use std::process::Command;

fn resolve(dns: &common::Dnsmasq, args: &[&str]) -> Vec<(String, String)> {
    let o = Command::new(env!("CARGO_BIN_EXE_ac-sip-ua"))
        .args(["resolve", "--dns", &dns.addr.to_string()])
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event"] == "target")
        .map(|v| {
            (
                v["transport"].as_str().unwrap().to_string(),
                v["addr"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn t(tr: &str, a: &str) -> (String, String) {
    (tr.to_string(), a.to_string())
}

#[test]
fn naptr_then_srv_by_priority_then_a() {
    let dns = common::dnsmasq(&[
        // RFC 3263 4.1: TLS preferred by order, then TCP, then UDP.
        "--naptr-record=example.test,10,50,s,SIPS+D2T,,_sips._tcp.example.test".into(),
        "--naptr-record=example.test,20,50,s,SIP+D2T,,_sip._tcp.example.test".into(),
        "--naptr-record=example.test,30,50,s,SIP+D2U,,_sip._udp.example.test".into(),
        "--srv-host=_sips._tcp.example.test,a.example.test,5061,10,10".into(),
        "--srv-host=_sip._tcp.example.test,b.example.test,5060,20,10".into(),
        "--srv-host=_sip._tcp.example.test,a.example.test,5060,10,10".into(),
        "--srv-host=_sip._udp.example.test,a.example.test,5060,10,10".into(),
        "--host-record=a.example.test,127.0.0.21".into(),
        "--host-record=b.example.test,127.0.0.22".into(),
    ]);
    assert_eq!(
        resolve(&dns, &["--uri", "sip:example.test"]),
        [
            t("TLS", "127.0.0.21:5061"),
            t("TCP", "127.0.0.21:5060"),
            t("TCP", "127.0.0.22:5060"),
            t("UDP", "127.0.0.21:5060"),
        ]
    );
    // A sips: URI only uses TLS (RFC 3263 4.1).
    assert_eq!(
        resolve(&dns, &["--uri", "sips:example.test"]),
        [t("TLS", "127.0.0.21:5061")]
    );
    // An explicit transport skips NAPTR; an explicit port skips SRV.
    assert_eq!(
        resolve(&dns, &["--uri", "sip:example.test;transport=udp"]),
        [t("UDP", "127.0.0.21:5060")]
    );
    assert!(resolve(&dns, &["--uri", "sip:a.example.test:5080"]) == [t("UDP", "127.0.0.21:5080")]);
}

#[test]
fn without_naptr_srv_per_transport_then_a_on_the_default_port() {
    let dns = common::dnsmasq(&[
        "--srv-host=_sip._udp.nonaptr.test,c.nonaptr.test,5070,10,10".into(),
        "--host-record=c.nonaptr.test,127.0.0.23".into(),
        "--host-record=nosrv.test,127.0.0.24".into(),
    ]);
    assert_eq!(
        resolve(&dns, &["--uri", "sip:nonaptr.test"]),
        [t("UDP", "127.0.0.23:5070")]
    );
    assert_eq!(
        resolve(&dns, &["--uri", "sip:nosrv.test"]),
        [t("UDP", "127.0.0.24:5060")]
    );
    assert!(resolve(&dns, &["--uri", "sip:nothing.test"]).is_empty());
}

#[test]
fn skype_for_business_discovery_order_of_manual_2_5_1() {
    let dns = common::dnsmasq(&[
        "--srv-host=_sipinternal._tcp.contoso.test,pool.contoso.test,5060,0,0".into(),
        "--srv-host=_sip._tls.contoso.test,edge.contoso.test,443,0,0".into(),
        "--srv-host=_sip._tls.fabrikam.test,edge.fabrikam.test,443,0,0".into(),
        "--srv-host=_sipinternaltls._tcp.litware.test,fe.litware.test,5061,0,0".into(),
        "--srv-host=_sip._tcp.litware.test,old.litware.test,5060,0,0".into(),
        "--host-record=pool.contoso.test,127.0.0.31".into(),
        "--host-record=edge.contoso.test,127.0.0.32".into(),
        "--host-record=dhcp120.contoso.test,127.0.0.33".into(),
        "--host-record=edge.fabrikam.test,127.0.0.34".into(),
        "--host-record=fe.litware.test,127.0.0.35".into(),
        "--host-record=old.litware.test,127.0.0.36".into(),
    ]);
    // No _sipinternaltls: _sipinternal (TCP) is the first found; _sip._tls is not used.
    assert_eq!(
        resolve(&dns, &["--lync", "contoso.test"]),
        [t("TCP", "127.0.0.31:5060")]
    );
    // DHCP option 120 comes right after _sipinternaltls (TLS), and after _sipinternal (TCP).
    assert_eq!(
        resolve(
            &dns,
            &[
                "--lync",
                "contoso.test",
                "--option120",
                "dhcp120.contoso.test"
            ]
        ),
        [
            t("TLS", "127.0.0.33:5061"),
            t("TCP", "127.0.0.31:5060"),
            t("TCP", "127.0.0.33:5060")
        ]
    );
    assert_eq!(
        resolve(&dns, &["--lync", "fabrikam.test"]),
        [t("TLS", "127.0.0.34:443")]
    );
    assert_eq!(
        resolve(&dns, &["--lync", "litware.test"]),
        [t("TLS", "127.0.0.35:5061")]
    );
}
