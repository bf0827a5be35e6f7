//! 802.1X against hostapd (wired driver, internal EAP server) in the switch namespace: our
//! supplicant on a raw EAPOL socket in the phone namespace authenticates with EAP-MD5 and
//! EAP-TLS (test PKI made with openssl), is refused with a wrong password or an untrusted
//! certificate, and logs the PC off when the PC link drops. Needs root, hostapd, openssl.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use ac_prov::driver::net::{eap_tls_config, run_eapol};
use ac_prov::driver::raw::RawSocket;
use ac_prov::eapol::{EapolEvent, Method, Supplicant, Timers, ETHERTYPE};
use ac_prov::l2::Mac;
use common::{in_ns, Net};

const PC: Mac = [0x02, 0x00, 0x00, 0xaa, 0xbb, 0xcc];

fn openssl(dir: &Path, args: &[&str]) {
    let o = std::process::Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl");
    assert!(
        o.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A CA (`name`.pem/.key) and a leaf `leaf` signed by it with the given extended key usage.
fn pki(dir: &Path, ca: &str, leaf: &str, eku: &str) {
    if !dir.join(format!("{ca}.pem")).exists() {
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                &format!("{ca}.key"),
                "-out",
                &format!("{ca}.pem"),
                "-days",
                "2",
                "-subj",
                &format!("/CN={ca}"),
            ],
        );
    }
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &format!("{leaf}.key"),
            "-out",
            &format!("{leaf}.csr"),
            "-subj",
            &format!("/CN={leaf}"),
        ],
    );
    std::fs::write(
        dir.join(format!("{leaf}.ext")),
        format!(
            "basicConstraints=CA:FALSE\nextendedKeyUsage={eku}\nsubjectAltName=DNS:{leaf}.test\n"
        ),
    )
    .expect("ext");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{leaf}.csr"),
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-out",
            &format!("{leaf}.pem"),
            "-days",
            "2",
            "-extfile",
            &format!("{leaf}.ext"),
        ],
    );
}

fn start_hostapd(net: &mut Net) {
    let d = net.dir.path().to_path_buf();
    pki(&d, "ca", "radius", "serverAuth");
    pki(&d, "ca", "phone", "clientAuth");
    pki(&d, "rogue", "intruder", "clientAuth");
    std::fs::write(
        d.join("eap_users"),
        "\"phone\" MD5 \"secret\"\n\"pc\" MD5 \"pcpass\"\n\"phone-tls\" TLS\n\"intruder\" TLS\n",
    )
    .expect("users");
    let conf = format!(
        "interface={}\ndriver=wired\nieee8021x=1\neap_server=1\neap_user_file={d}/eap_users\n\
         ca_cert={d}/ca.pem\nserver_cert={d}/radius.pem\nprivate_key={d}/radius.key\n\
         ctrl_interface={d}/ctrl\nuse_pae_group_addr=0\neap_reauth_period=0\nfragment_size=300\n\
         logger_stdout=-1\nlogger_stdout_level=0\n",
        net.srv_if,
        d = d.display()
    );
    std::fs::write(d.join("hostapd.conf"), conf).expect("conf");
    let c = d.join("hostapd.conf");
    net.spawn_named("hostapd", &["hostapd", "-d", c.to_str().expect("p")]);
    net.wait_log("hostapd.log", "ENABLED");
}

fn sta(net: &Net, mac: &str) -> String {
    let ctrl = net.path("ctrl");
    let o = common::sh(
        "ip",
        &[
            "netns",
            "exec",
            &net.srv_ns,
            "hostapd_cli",
            "-p",
            ctrl.to_str().expect("p"),
            "-i",
            &net.srv_if,
            "sta",
            mac,
        ],
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn open_phone(net: &Net) -> RawSocket {
    let ifname = net.phone_if.clone();
    in_ns(&net.phone_ns, move || {
        RawSocket::open(&ifname, ETHERTYPE).expect("raw socket")
    })
}

fn timers() -> Timers {
    Timers {
        start_period: Duration::from_secs(2),
        max_start: 5,
        held_period: Duration::from_secs(60),
    }
}

/// Runs `sup` until it authenticates or fails; returns the first decisive event.
fn authenticate(sock: &RawSocket, sup: &mut Supplicant) -> EapolEvent {
    let mut last = None;
    run_eapol(sock, sup, Instant::now() + Duration::from_secs(20), |e| {
        last = Some(e.clone());
        matches!(e, EapolEvent::Authenticated | EapolEvent::Failed(_))
    })
    .expect("driver");
    last.expect("no EAP outcome within 20 s")
}

fn md5(identity: &str, password: &str) -> Method {
    Method::Md5 {
        identity: identity.into(),
        password: password.as_bytes().to_vec(),
    }
}

#[test]
fn eap_md5_authorized_wrong_password_refused_and_pc_logged_off() {
    let mut net = Net::new();
    start_hostapd(&mut net);
    let sock = open_phone(&net);
    let me = sock.mac();

    let mut bad = Supplicant::new(me, md5("phone", "wrong"), timers(), Instant::now());
    assert!(matches!(
        authenticate(&sock, &mut bad),
        EapolEvent::Failed(_)
    ));
    assert!(!sta(&net, "00:90:8f:11:22:33").contains("[AUTHORIZED]"));

    // The PC behind the phone authenticates through the phone's port.
    let mut pc = Supplicant::new(PC, md5("pc", "pcpass"), timers(), Instant::now());
    assert_eq!(authenticate(&sock, &mut pc), EapolEvent::Authenticated);
    let mut phone = Supplicant::new(me, md5("phone", "secret"), timers(), Instant::now());
    assert_eq!(authenticate(&sock, &mut phone), EapolEvent::Authenticated);
    let pc_sta = sta(&net, "02:00:00:aa:bb:cc");
    assert!(pc_sta.contains("[AUTHORIZED]"), "{pc_sta}");
    assert!(sta(&net, "00:90:8f:11:22:33").contains("[AUTHORIZED]"));

    // The PC link drops: the phone sends EAPOL-Logoff for the PC (3.4.4).
    phone.handle_pc_link(false, PC);
    let mut logged_off = false;
    run_eapol(
        &sock,
        &mut phone,
        Instant::now() + Duration::from_secs(2),
        |e| {
            logged_off |= *e == EapolEvent::LoggedOffPc(PC);
            logged_off
        },
    )
    .expect("driver");
    assert!(logged_off);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let s = sta(&net, "02:00:00:aa:bb:cc");
        if !s.contains("[AUTHORIZED]") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "PC still authorized after Logoff: {s}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(net.server_log("hostapd.log").contains("EAPOL-Logoff"));
    // The phone itself stays authorized.
    assert!(sta(&net, "00:90:8f:11:22:33").contains("[AUTHORIZED]"));
}

fn tls(net: &Net, identity: &str, roots: &str, cert: &str) -> Method {
    let r = |f: &str| std::fs::read(net.path(f)).expect("pki file");
    Method::Tls {
        identity: identity.into(),
        config: eap_tls_config(
            &[r(&format!("{roots}.pem"))],
            &r(&format!("{cert}.pem")),
            &r(&format!("{cert}.key")),
        )
        .expect("tls config"),
    }
}

#[test]
fn eap_tls_authorized_and_untrusted_certificates_refused() {
    let mut net = Net::new();
    start_hostapd(&mut net);
    let sock = open_phone(&net);
    let me = sock.mac();

    // Our client certificate from a CA hostapd does not trust: EAP-Failure.
    let mut s = Supplicant::new(
        me,
        tls(&net, "intruder", "ca", "intruder"),
        timers(),
        Instant::now(),
    );
    match authenticate(&sock, &mut s) {
        EapolEvent::Failed(why) => assert!(why.contains("EAP-Failure"), "{why}"),
        e => panic!("{e:?}"),
    }
    // hostapd's certificate from a CA we do not trust: we abort the handshake.
    let mut s = Supplicant::new(
        me,
        tls(&net, "phone-tls", "rogue", "phone"),
        timers(),
        Instant::now(),
    );
    match authenticate(&sock, &mut s) {
        EapolEvent::Failed(why) => {
            assert!(why.contains("TLS") && why.contains("certificate"), "{why}")
        }
        e => panic!("{e:?}"),
    }
    assert!(!sta(&net, "00:90:8f:11:22:33").contains("[AUTHORIZED]"));

    // Small fragments both ways (hostapd fragment_size=300, ours 200) exercise the L/M
    // flags, reassembly and ACKs of RFC 5216 2.1.5.
    let mut s = Supplicant::new(
        me,
        tls(&net, "phone-tls", "ca", "phone"),
        timers(),
        Instant::now(),
    )
    .with_fragment_size(200);
    assert_eq!(authenticate(&sock, &mut s), EapolEvent::Authenticated);
    let st = sta(&net, "00:90:8f:11:22:33");
    assert!(st.contains("[AUTHORIZED]"), "{st}");
    let log = net.server_log("hostapd.log");
    assert!(log.contains("EAP-TLS"), "hostapd did not run EAP-TLS");
    // hostapd reassembled our fragments (L+M on the first, M on the middle ones).
    assert!(log.contains("Flags 0xc0"), "no fragmented message from us");
    assert!(log.contains("Flags 0x40"), "no middle fragment from us");
}
