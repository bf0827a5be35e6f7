//! `examples/c/board_demo.c`, a minimal C board layer over the C ABI only: three phones on
//! loopback (boot, call with audio both ways, DTMF, hold, resume, blind transfer, hang-up),
//! and two phones registered to kamailio calling baresip (the same steps, checked on both
//! sides).
//! Built like a vendor would (staged install, `pkg-config`, `-Wall -Wextra -Werror
//! -Wpedantic -std=c11`), run natively (every check, audio included) and under valgrind
//! (no memory error, no leak; alice and bob only, call, DTMF, hold, resume, hang-up; tone
//! checks printed only because valgrind cannot keep the 10 ms audio clock).

mod common;
#[path = "common/peers.rs"]
mod peers;
// The network-namespace test bed of ac-core's end-to-end test (dnsmasq, nginx with a test CA,
// chronyd, kamailio, baresip), shared so that the C demo faces exactly the same servers.
#[path = "../../ac-core/tests/netns/mod.rs"]
mod netns;

use common::{passed_failed, stage, valgrind, Link};

/// The two demos run one after the other: each runs real-time audio threads (and one of them
/// valgrind, which runs a program's threads one at a time), so they should not compete.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

#[test]
fn board_demo_three_phones_through_the_c_abi() {
    let _serial = one_at_a_time();
    let st = stage(Link::Shared);
    let src = common::repo_root().join("examples/c/board_demo.c");
    let exe = st.compile_with(&src, "board_demo", &["-lpthread", "-lm"]);

    let out = std::process::Command::new(&exe)
        .output()
        .expect("run board_demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (passed, failed) = passed_failed(&out.stdout);
    assert_eq!(failed, 0, "{stdout}");
    assert!(passed >= 15, "{stdout}");
    for line in [
        "ok: audio flows both ways",
        "ok: bob's display showed DTMF 1 2 3",
        "ok: alice held, bob sees remote hold",
        "ok: call resumed on both phones",
        "ok: bob and carol connected",
        "ok: audio flows between bob and carol",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in\n{stdout}");
    }

    let out = valgrind(&exe, &["--slow", "--timeout", "90"]);
    let (passed, failed) = passed_failed(&out.stdout);
    assert_eq!(failed, 0, "{}", String::from_utf8_lossy(&out.stdout));
    assert!(passed >= 10, "{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn board_demo_registers_to_kamailio_and_calls_baresip() {
    let _serial = one_at_a_time();
    let k = peers::Kamailio::start();
    let bob = peers::Baresip::start(&k, "bob");
    let st = stage(Link::Shared);
    let src = common::repo_root().join("examples/c/board_demo.c");
    let exe = st.compile_with(&src, "board_demo", &["-lpthread", "-lm"]);
    let out = std::process::Command::new(&exe)
        .args([
            "--registrar",
            &k.addr().to_string(),
            "--domain",
            "example.com",
        ])
        .args(["--alice-password", peers::password("alice")])
        .args(["--carol-password", peers::password("carol")])
        .args(["--callee", "sip:bob@example.com"])
        .output()
        .expect("run board_demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let baresip = bob.output().join("\n");
    assert!(
        out.status.success(),
        "{stdout}\n{}\n--- baresip:\n{baresip}\n--- kamailio:\n{}",
        String::from_utf8_lossy(&out.stderr),
        k.log()
    );
    let (passed, failed) = passed_failed(&out.stdout);
    assert_eq!(failed, 0, "{stdout}");
    assert!(passed >= 10, "{stdout}");
    for line in [
        "ok: alice and carol registered",
        "ok: alice hears the callee",
        "ok: call held",
        "ok: call resumed",
        "ok: the callee and carol connected",
        "ok: carol hears the callee",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in\n{stdout}");
    }
    // kamailio authenticated both registrations (digest against its user table).
    assert!(
        k.registered("alice") && k.registered("carol"),
        "{}",
        k.log()
    );
    // What baresip saw: the call from alice, the RFC 4733 digits, the hold and resume
    // re-INVITEs, the REFER to carol and its own call to her.
    let seen = |needle: &str| baresip.matches(needle).count();
    assert!(
        seen("answering call on line 1 from sip:alice@example.com") == 1,
        "{baresip}"
    );
    for d in ['1', '2', '3'] {
        assert_eq!(
            seen(&format!("received event: '{d}' (end=1)")),
            1,
            "DTMF {d}: {baresip}"
        );
    }
    assert!(seen("got re-INVITE") >= 2, "{baresip}");
    assert!(
        seen("transferring call") == 1 && seen("to '<sip:carol@example.com>'") >= 1,
        "{baresip}"
    );
    assert_eq!(
        seen("Call established: sip:carol@example.com"),
        1,
        "{baresip}"
    );
}

/// The end-to-end test of issue 10 through the C ABI: the C board boots a factory-configured
/// phone in a network namespace (DHCP from dnsmasq with option 160, its `.cfg` over HTTPS from
/// nginx with a test CA, SNTP from chronyd, digest registration to kamailio), calls baresip
/// (G.722), sends DTMF, holds, resumes and blind-transfers bob to a second baresip.
#[test]
fn board_demo_boots_from_dhcp_and_https_in_a_network_namespace() {
    let _serial = one_at_a_time();
    let mut net = netns::Net::new();
    let ip = net.server_ip();
    let pki = net.pki();
    let www = net.nginx(&pki);
    let cfg = format!(
        "# model: 440HD\n\
         voip/signalling/sip/sip_outbound_proxy/enabled=1\n\
         voip/signalling/sip/sip_outbound_proxy/addr={ip}\n\
         voip/signalling/sip/sip_outbound_proxy/port=5060\n\
         voip/line/0/auth_password={}\n\
         voip/codec/codec_info/0/name=G722\n",
        netns::password("alice")
    );
    std::fs::create_dir_all(www.join("p")).unwrap();
    std::fs::write(www.join(format!("p/{}.cfg", netns::MAC_HEX)), cfg).unwrap();
    net.dnsmasq(
        false,
        &[
            format!("--dhcp-option=3,{ip}"),
            format!("--dhcp-option=42,{ip}"),
            format!("--dhcp-option=160,https://{ip}:8443/p/"),
        ],
    );
    net.chronyd();
    net.kamailio(None);
    net.baresip("bob", 5070, 700.0);
    net.baresip("carol", 5080, 500.0);

    let st = stage(Link::Shared);
    let src = common::repo_root().join("examples/c/board_demo.c");
    let exe = st.compile_with(&src, "board_demo", &["-lpthread", "-lm"]);
    let ca = pki.join("ca.pem");
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", &net.phone_ns])
        .arg(&exe)
        .args(["--dhcp", &net.phone_if, "--mac", netns::MAC_HEX, "--ca"])
        .arg(&ca)
        .args([
            "--callee",
            "sip:bob@example.com",
            "--callee-hz",
            "700",
            "--codec",
            "G722",
        ])
        .args(["--transfer-to", "sip:carol@example.com"])
        .output()
        .expect("ip netns exec board_demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let k = net.log("kamailio");
    assert!(
        out.status.success(),
        "{stdout}\n{}\n--- kamailio:\n{k}\n--- dnsmasq:\n{}",
        String::from_utf8_lossy(&out.stderr),
        net.log("dnsmasq")
    );
    // The demo's steps and figures, shown with --nocapture.
    eprintln!("{stdout}");
    let (passed, failed) = passed_failed(&out.stdout);
    assert_eq!(failed, 0, "{stdout}");
    assert!(passed >= 8, "{stdout}");
    for line in [
        "ok: registered with the provisioned configuration",
        "ok: the codec the configuration puts first",
        "ok: alice hears the callee",
        "ok: call held",
        "ok: alice hears the callee after resume",
        "ok: alice's call ended after the transfer",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in\n{stdout}");
    }
    // The servers saw the same: the lease, the .cfg fetched over HTTPS, the registration, the
    // digits at bob, bob's call to carol.
    assert!(
        net.log("dnsmasq").contains("DHCPACK("),
        "{}",
        net.log("dnsmasq")
    );
    let access = std::fs::read_to_string(net.path("nginx-access.log")).unwrap_or_default();
    assert!(
        access.contains(&format!("GET /p/{}.cfg HTTP/1.1\" 200", netns::MAC_HEX)),
        "{access}"
    );
    assert!(k.contains("REGISTERED sip:alice@example.com"), "{k}");
    let bob = net.log("baresip-bob");
    for d in ['1', '2', '3'] {
        assert!(
            bob.contains(&format!("received event: '{d}' (end=1)")),
            "{bob}"
        );
    }
    net.wait_log(
        "baresip-carol",
        "Call established: sip:bob@example.com",
        std::time::Duration::from_secs(10),
    );
}
