//! DHCP against dnsmasq in network namespaces, checked on the wire with tshark.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Our DISCOVER carries options 55, 57, 60, 61 and 77 as specified (issue 3; manual 2.1.1.5
/// table 2-5 for option 77, appendix B for 66/67 in option 55), and dnsmasq's answer with
/// options 43 (MS-UC-Client sub-options, VLAN), 120, 42, 4, 2, 15, 119, 66, 67 and 160 is
/// decoded.
#[test]
fn discover_on_the_wire_and_options_decoded() {
    let mut net = Net::new();
    let ip = net.server_ip();
    net.dnsmasq(&[
        // Matching on the model (option 77, RFC 3004) and vendor class (option 60).
        "--dhcp-userclass=set:m440,440HD".into(),
        "--dhcp-vendorclass=set:audc,AUDC-IPPHONE".into(),
        format!("--dhcp-option=tag:m440,160,http://{ip}/440/;<MAC>.cfg"),
        "--dhcp-option=tag:audc,vendor:AUDC-IPPHONE,1,MS-UC-Client".into(),
        "--dhcp-option=vendor:AUDC-IPPHONE,2,https".into(),
        "--dhcp-option=vendor:AUDC-IPPHONE,3,lyncserver.domain.com".into(),
        "--dhcp-option=vendor:AUDC-IPPHONE,4,443".into(),
        "--dhcp-option=vendor:AUDC-IPPHONE,5,/CertProv/CertProvisioningService.svc".into(),
        "--dhcp-option=vendor:AUDC-IPPHONE,10,100".into(),
        "--dhcp-option=option:sip-server,lyncserver.domain.com".into(),
        format!("--dhcp-option=42,{ip},10.59.0.21"),
        format!("--dhcp-option=4,{ip}"),
        "--dhcp-option=2,-18000".into(),
        "--dhcp-option=15,corp.example".into(),
        "--dhcp-option=119,eng.corp.example,corp.example".into(),
        format!("--dhcp-option=66,{ip}"),
        "--dhcp-option=67,440HD_3.4.6.img".into(),
    ]);
    let pcap = net.path("dhcp.pcap");
    let mut tshark = Command::new("ip")
        .args([
            "netns",
            "exec",
            &net.srv_ns,
            "tshark",
            "-i",
            &net.srv_if,
            "-f",
            "udp port 67 or udp port 68",
            "-c",
            "4",
            "-w",
        ])
        .arg(&pcap)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tshark (installed by .ci/run)");
    // tshark needs a moment before it captures; wait for the pcap file header.
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::metadata(&pcap).map(|m| m.len()).unwrap_or(0) == 0 {
        assert!(Instant::now() < deadline, "tshark did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(300));

    let (ev, code) = net.provd(&[
        "dhcp",
        "--iface",
        &net.phone_if,
        "--model",
        "440HD",
        "--seed",
        "5",
    ]);
    assert_eq!(code, 0, "{}", dump(&ev));
    let bound = &events(&ev, "dhcp_bound")[0];
    let l = &bound["lease"];
    assert!(bound["address"]
        .as_str()
        .unwrap()
        .starts_with(&format!("10.77.{}.", net.subnet)));
    assert_eq!(l["provisioning_url"], format!("http://{ip}/440/;<MAC>.cfg"));
    assert_eq!(l["ms_uc"]["uc_identifier"], "MS-UC-Client");
    assert_eq!(l["ms_uc"]["voice_vlan"], 100);
    assert_eq!(
        l["ms_uc"]["cert_prov_url"],
        "https://lyncserver.domain.com:443/CertProv/CertProvisioningService.svc"
    );
    assert_eq!(l["sip_servers"]["names"][0], "lyncserver.domain.com");
    assert_eq!(l["ntp"], serde_json::json!([ip, "10.59.0.21"]));
    assert_eq!(l["time_offset"], -18000);
    assert_eq!(l["domain_name"], "corp.example");
    assert_eq!(
        l["domain_search"],
        serde_json::json!(["eng.corp.example", "corp.example"])
    );
    assert_eq!(l["tftp_server"], ip);
    assert_eq!(l["bootfile"], "440HD_3.4.6.img");
    assert_eq!(l["problems"], serde_json::json!([]));

    let st = tshark.wait().expect("tshark");
    assert!(st.success(), "tshark failed");
    // The DISCOVER, as Wireshark's dissector reads it.
    let o = sh(
        "tshark",
        &[
            "-r",
            pcap.to_str().unwrap(),
            "-Y",
            "dhcp.option.dhcp == 1",
            "-T",
            "fields",
            "-E",
            "separator=|",
            "-e",
            "dhcp.option.type",
            "-e",
            "dhcp.option.request_list_item",
            "-e",
            "dhcp.option.dhcp_max_message_size",
            "-e",
            "dhcp.option.vendor_class_id",
            "-e",
            "dhcp.option.user_class.data",
            "-e",
            "dhcp.hw.mac_addr",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    let line = text.lines().next().expect("a DISCOVER in the capture");
    let f: Vec<&str> = line.split('|').collect();
    let types: Vec<&str> = f[0].split(',').collect();
    for t in ["53", "55", "57", "60", "61", "77"] {
        assert!(
            types.contains(&t),
            "option {t} missing from DISCOVER: {line}"
        );
    }
    assert_eq!(f[1], "1,3,6,15,42,4,2,43,66,67,119,120,160", "{line}");
    assert_eq!(f[2], "1500");
    assert_eq!(f[3], "AUDC-IPPHONE-440HD");
    let f4 = f[4].to_string();
    // Option 61 is hardware type 1 + the MAC.
    let v = sh(
        "tshark",
        &[
            "-r",
            pcap.to_str().unwrap(),
            "-Y",
            "dhcp.option.dhcp == 1",
            "-V",
        ],
    );
    let verbose = String::from_utf8_lossy(&v.stdout);
    // RFC 3004: one user-class instance of length 5, "440HD" (hex 34 34 30 48 44).
    assert_eq!(f4, "3434304844", "{verbose}");
    assert!(verbose.contains("User Class Length: 5"), "{verbose}");
    assert!(
        verbose.contains("Option: (61) Client identifier") && verbose.contains("00:90:8f:11:22:33"),
        "{verbose}"
    );
}

/// Malformed options in an offer: the lease is still taken, each bad option is reported with
/// its number, and provisioning falls back instead of using it.
#[test]
fn malformed_options_are_reported_not_fatal() {
    let mut net = Net::new();
    net.dnsmasq(&[
        // Sub-option 10 with VLAN 9999 (outside 1-4094) and a truncated sub-option.
        "--dhcp-option=43,0a:04:39:39:39:39:03:01:61:02:20:61".into(),
        // An option-160 URL with an unsupported protocol.
        "--dhcp-option=160,gopher://x/".into(),
        // Option 120 with the reserved encoding 2.
        "--dhcp-option=120,02:01:02".into(),
    ]);
    let (ev, code) = net.provd(&["dhcp", "--iface", &net.phone_if, "--model", "420HD"]);
    assert_eq!(code, 0, "{}", dump(&ev));
    let l = &events(&ev, "dhcp_bound")[0]["lease"];
    let problems: Vec<String> = l["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    assert!(
        problems.iter().any(|p| p.starts_with("DHCP option 43")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.starts_with("DHCP option 120")),
        "{problems:?}"
    );
    // The good sub-option 3 is kept; 10 and the truncated one are reported.
    assert_eq!(l["ms_uc"]["voice_vlan"], serde_json::Value::Null);
    assert!(l["sip_servers"].is_null());
    // The URL itself is text; the engine refuses it (tested in provisioning tests).
    assert_eq!(l["provisioning_url"], "gopher://x/");
}

/// A statically addressed phone asks for its configuration with DHCPINFORM and vendor class
/// MS-UC-Client (the Lync/SfB phone convention); dnsmasq answers with the MS-UC-Client
/// option 43 sub-options and the NTP servers, without leasing an address.
#[test]
fn inform_for_a_static_phone() {
    let mut net = Net::new();
    let ip = net.server_ip();
    net.dnsmasq(&[
        "--dhcp-option=vendor:MS-UC-Client,1,MS-UC-Client".into(),
        "--dhcp-option=vendor:MS-UC-Client,3,lyncserver.domain.com".into(),
        format!("--dhcp-option=42,{ip}"),
    ]);
    let me = format!("10.77.{}.7", net.subnet);
    net.exec_ok(
        &net.phone_ns.clone(),
        &[
            "ip",
            "addr",
            "add",
            &format!("{me}/24"),
            "dev",
            &net.phone_if.clone(),
        ],
    );
    let (ev, code) = net.provd(&[
        "dhcp",
        "--iface",
        &net.phone_if,
        "--model",
        "430HD",
        "--inform",
        &me,
        "--vendor-class",
        "MS-UC-Client",
    ]);
    assert_eq!(code, 0, "{}", dump(&ev));
    let l = &events(&ev, "dhcp_informed")[0]["lease"];
    assert_eq!(l["ms_uc"]["uc_identifier"], "MS-UC-Client");
    assert_eq!(l["ms_uc"]["web_server_fqdn"], "lyncserver.domain.com");
    assert_eq!(l["ntp"], serde_json::json!([ip]));
    // INFORM leases nothing: no address in the ACK, no lease recorded by dnsmasq.
    assert!(l["your_ip"].is_null(), "{l}");
    let log = net.server_log("dnsmasq-events.log");
    assert!(log.contains("DHCPINFORM"), "{log}");
    assert!(std::fs::read_to_string(net.path("leases"))
        .unwrap_or_default()
        .trim()
        .is_empty());
}
