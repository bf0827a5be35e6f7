//! Provisioning end to end: `ac-provd` in a phone namespace, real servers (dnsmasq DHCP + TFTP
//! + DNS, nginx HTTPS with mutual TLS, vsftpd FTP) in a server namespace.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::*;

const MAC: &str = "00908f112233";

fn write(p: &Path, data: &[u8]) {
    if let Some(d) = p.parent() {
        fs::create_dir_all(d).unwrap();
    }
    fs::write(p, data).unwrap();
}

fn image(version: &str) -> Vec<u8> {
    signed_image(version, 1, &vec![0xA5; 200_000])
}

/// Common assertions of a successful cycle.
fn assert_provisioned(ev: &[serde_json::Value], code: i32, state: &Path, fw: bool) {
    assert_eq!(code, 0, "{}", dump(ev));
    assert_eq!(events(ev, "cycle_done")[0]["ok"], true, "{}", dump(ev));
    let applied = events(ev, "config_applied");
    assert_eq!(applied.len(), 1, "{}", dump(ev));
    let cfg = fs::read_to_string(state.join("current.cfg")).unwrap();
    assert!(cfg.contains("network/lan_type=STATIC"), "{cfg}");
    let installed = events(ev, "firmware_installed");
    if fw {
        assert_eq!(installed.len(), 1, "{}", dump(ev));
        assert_eq!(installed[0]["version"], "3.4.6");
        // Streamed into the inactive slot B, verified, activated on trial.
        let want = image("3.4.6");
        let mut img = fs::read(state.join("slots/slot-b.img")).unwrap();
        img.truncate(want.len());
        assert_eq!(img, want);
    } else {
        assert!(installed.is_empty());
    }
}

/// A short 8 kHz mu-law WAV file.
fn wav() -> Vec<u8> {
    let data = vec![0xFFu8; 800];
    let mut w = Vec::new();
    w.extend_from_slice(b"RIFF");
    w.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&16u32.to_le_bytes());
    w.extend_from_slice(&7u16.to_le_bytes()); // mu-law
    w.extend_from_slice(&1u16.to_le_bytes());
    w.extend_from_slice(&8000u32.to_le_bytes());
    w.extend_from_slice(&8000u32.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes());
    w.extend_from_slice(&8u16.to_le_bytes());
    w.extend_from_slice(b"data");
    w.extend_from_slice(&(data.len() as u32).to_le_bytes());
    w.extend_from_slice(&data);
    w
}

const CFG: &[u8] =
    b"# model: 420HD\nnetwork/lan_type=STATIC\nnetwork/lan/fixed_ip/ip_address=10.0.0.5\n";

#[test]
fn tftp_option_160_then_up_to_date() {
    let mut net = Net::new();
    let ip = net.server_ip();
    let root = net.tftp_root();
    write(&root.join("420HD.img"), &image("3.4.6"));
    write(&root.join(format!("{MAC}.cfg")), CFG);
    net.dnsmasq(&[
        "--enable-tftp".into(),
        format!("--tftp-root={}", root.display()),
        format!("--dhcp-option=160,tftp://{ip}"),
    ]);
    let state = net.path("state");
    let (ev, code) = net.provision("420HD", &state, &["--firmware-version", "3.4.0"]);
    assert_provisioned(&ev, code, &state, true);
    assert!(!events(&ev, "reboot").is_empty());
    // dnsmasq served both files over TFTP.
    let log = net.server_log("dnsmasq-events.log");
    assert!(
        log.contains("sent") && log.contains(&format!("{MAC}.cfg")),
        "{log}"
    );
    // Second power-up: same firmware version, same configuration: nothing downloaded but
    // the header, nothing applied.
    let (ev, code) = net.provision("420HD", &state, &["--firmware-version", "3.4.6"]);
    assert_eq!(code, 0, "{}", dump(&ev));
    assert!(events(&ev, "firmware_offered").is_empty());
    assert!(events(&ev, "config_applied").is_empty());
    let fetched: Vec<&serde_json::Value> = events(&ev, "fetched");
    assert_eq!(
        fetched[0]["bytes"],
        ac_prov::firmware::MAX_HEADER_LEN,
        "only the header: {}",
        dump(&ev)
    );
}

#[test]
fn tftp_options_66_67() {
    let mut net = Net::new();
    let ip = net.server_ip();
    let root = net.tftp_root();
    write(&root.join("420HD_3.4.6.img"), &image("3.4.6"));
    write(&root.join(format!("{MAC}.cfg")), CFG);
    net.dnsmasq(&[
        "--enable-tftp".into(),
        format!("--tftp-root={}", root.display()),
        format!("--dhcp-option=66,{ip}"),
        "--dhcp-userclass=set:m420,420HD".into(),
        "--dhcp-option=tag:m420,67,420HD_3.4.6.img".into(),
    ]);
    let state = net.path("state");
    let (ev, code) = net.provision("420HD", &state, &["--firmware-version", "3.4.0"]);
    assert_provisioned(&ev, code, &state, true);
    assert_eq!(
        events(&ev, "fetch")[0]["url"],
        format!("tftp://{ip}/420HD_3.4.6.img")
    );
}

#[test]
fn static_dns_record_fallback() {
    let mut net = Net::new();
    let root = net.tftp_root();
    write(&root.join("420HD/420HD.img"), &image("3.4.6"));
    // The configuration names companion files: relative ones come from the configuration's
    // directory, absolute ones from their URL.
    let mut cfg = CFG.to_vec();
    cfg.extend_from_slice(
        b"provisioning/speed_dial_uri=sd.txt\nprovisioning/ring_tone_uri=tones.tgz\n\
          lync/moh/url=tftp://ProvisioningServer/media/moh.wav\nsecurity/ca_certificate/0/uri=ca.pem\n",
    );
    write(&root.join(format!("420HD/{MAC}.cfg")), &cfg);
    write(
        &root.join("420HD/sd.txt"),
        b"1,1001,0\n2,sip:alice@example.com,0\n",
    );
    let tones = net.path("tones");
    write(&tones.join("Ring12.wav"), &wav());
    must(
        "tar",
        &[
            "-czf",
            root.join("420HD/tones.tgz").to_str().unwrap(),
            "-C",
            tones.to_str().unwrap(),
            "Ring12.wav",
        ],
    );
    write(&root.join("media/moh.wav"), &wav());
    let pki = make_pki(&net);
    fs::copy(pki.join("ca.pem"), root.join("420HD/ca.pem")).unwrap();
    // No provisioning option at all: the phone falls back to
    // tftp://ProvisioningServer/<model>/ (appendix A.1), resolved by dnsmasq's DNS.
    net.dnsmasq(&[
        "--enable-tftp".into(),
        format!("--tftp-root={}", root.display()),
        format!("--host-record=ProvisioningServer,{}", net.server_ip()),
    ]);
    let state = net.path("state");
    let (ev, code) = net.provision("420HD", &state, &["--firmware-version", "3.4.0"]);
    assert_provisioned(&ev, code, &state, true);
    assert_eq!(
        events(&ev, "fetch")[0]["url"],
        "tftp://ProvisioningServer/420HD/420HD.img"
    );
    assert!(net
        .server_log("dnsmasq-events.log")
        .contains("query[A] ProvisioningServer"));
    let stored: Vec<String> = events(&ev, "file_stored")
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        stored,
        ["SpeedDial", "RingTones", "MusicOnHold", "CaCertificate(0)"],
        "{}",
        dump(&ev)
    );
    assert_eq!(fs::read(state.join("files/moh.wav")).unwrap(), wav());
    assert_eq!(
        fs::read(state.join("files/ca-0.pem")).unwrap(),
        fs::read(pki.join("ca.pem")).unwrap()
    );
    assert_eq!(
        fs::read(state.join("files/ring_tones.archive")).unwrap(),
        fs::read(root.join("420HD/tones.tgz")).unwrap()
    );
}

/// Test PKI made with the openssl CLI: a root CA (SHA-256), a server certificate for the
/// server's IP and a client certificate.
fn make_pki(net: &Net) -> std::path::PathBuf {
    let d = net.path("pki");
    fs::create_dir_all(&d).unwrap();
    let p = |f: &str| d.join(f).to_str().unwrap().to_string();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let mut a = vec!["req", "-x509"];
    a.extend_from_slice(&ec);
    let (cak, cap) = (p("ca.key"), p("ca.pem"));
    a.extend_from_slice(&[
        "-keyout",
        &cak,
        "-out",
        &cap,
        "-days",
        "2",
        "-sha256",
        "-subj",
        "/CN=Test Provisioning Root",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    must("openssl", &a);
    for (name, ext) in [
        (
            "srv",
            format!(
                "subjectAltName=IP:{}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n",
                net.server_ip()
            ),
        ),
        (
            "cli",
            "extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n".to_string(),
        ),
    ] {
        let (key, csr, pem, extf) = (
            p(&format!("{name}.key")),
            p(&format!("{name}.csr")),
            p(&format!("{name}.pem")),
            p(&format!("{name}.ext")),
        );
        fs::write(&extf, ext).unwrap();
        let mut a = vec!["req"];
        a.extend_from_slice(&ec);
        let subj = format!("/CN={name}");
        a.extend_from_slice(&["-keyout", &key, "-out", &csr, "-subj", &subj]);
        must("openssl", &a);
        must(
            "openssl",
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                &cap,
                "-CAkey",
                &cak,
                "-CAcreateserial",
                "-out",
                &pem,
                "-days",
                "2",
                "-sha256",
                "-extfile",
                &extf,
            ],
        );
    }
    d
}

fn nginx(net: &mut Net, pki: &Path) {
    let www = net.path("www");
    fs::create_dir_all(&www).unwrap();
    let dir = net.dir.path().display().to_string();
    let ip = net.server_ip();
    let conf = format!(
        "user root;\nworker_processes 1;\ndaemon off;\npid {dir}/nginx.pid;\nerror_log {dir}/nginx-error.log info;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n access_log {dir}/nginx-access.log;\n client_body_temp_path {dir}/ngx-body;\n proxy_temp_path {dir}/ngx-proxy;\n\
          fastcgi_temp_path {dir}/ngx-fcgi;\n uwsgi_temp_path {dir}/ngx-uwsgi;\n scgi_temp_path {dir}/ngx-scgi;\n\
          server {{ listen {ip}:8443 ssl; ssl_certificate {p}/srv.pem; ssl_certificate_key {p}/srv.key;\n\
            ssl_client_certificate {p}/ca.pem; ssl_verify_client on; root {www};\n\
            location /redirect/ {{ return 302 https://{ip}:8443/p/; }} }}\n\
          server {{ listen {ip}:8080; root {www}; }}\n}}\n",
        p = pki.display(),
        www = www.display()
    );
    let cf = net.path("nginx.conf");
    fs::write(&cf, conf).unwrap();
    let cfs = cf.to_str().unwrap().to_string();
    let pfx = format!("{dir}/");
    net.spawn_srv(&["nginx", "-c", &cfs, "-p", &pfx]);
    net.wait_tcp(8443);
    net.wait_tcp(8080);
}

#[test]
fn https_mutual_tls_and_its_refusals() {
    let mut net = Net::new();
    let ip = net.server_ip();
    let pki = make_pki(&net);
    nginx(&mut net, &pki);
    let www = net.path("www");
    write(&www.join("p/420HD.img"), &image("3.4.6"));
    write(&www.join(format!("p/{MAC}.cfg")), CFG);
    net.dnsmasq(&[format!("--dhcp-option=160,https://{ip}:8443/p/")]);
    let pk = |f: &str| pki.join(f).to_str().unwrap().to_string();
    let (ca, cert, key) = (pk("ca.pem"), pk("cli.pem"), pk("cli.key"));

    // Without the client certificate nginx refuses: typed error, nothing stored.
    let state = net.path("state");
    let (ev, code) = net.provision("420HD", &state, &["--ca", &ca]);
    assert_eq!(code, 1, "{}", dump(&ev));
    assert!(!state.join("current.cfg").exists());
    let failed = events(&ev, "fetch_failed");
    assert!(!failed.is_empty(), "{}", dump(&ev));
    // Without the root CA the server is not trusted.
    let (ev, code) = net.provision(
        "420HD",
        &state,
        &["--client-cert", &cert, "--client-key", &key],
    );
    assert_eq!(code, 1, "{}", dump(&ev));
    assert_eq!(
        events(&ev, "fetch_failed")[0]["kind"],
        "Tls",
        "{}",
        dump(&ev)
    );

    let (ev, code) = net.provision(
        "420HD",
        &state,
        &[
            "--ca",
            &ca,
            "--client-cert",
            &cert,
            "--client-key",
            &key,
            "--firmware-version",
            "3.4.0",
        ],
    );
    assert_provisioned(&ev, code, &state, true);
    // Nothing from DHCP and no ProvisioningServer record: the redirect server (appendix A.2,
    // with the client certificate) sends the phone to the provisioning server.
    net.stop_dnsmasq();
    net.dnsmasq(&[]);
    let state2 = net.path("state-redirect");
    write(
        &state2.join("current.cfg"),
        format!("provisioning/redirect_server_url=https://{ip}:8443/redirect\n").as_bytes(),
    );
    let (ev, code) = net.provision(
        "420HD",
        &state2,
        &[
            "--ca",
            &ca,
            "--client-cert",
            &cert,
            "--client-key",
            &key,
            "--firmware-version",
            "3.4.6",
        ],
    );
    assert_eq!(code, 0, "{}", dump(&ev));
    let urls: Vec<&str> = events(&ev, "fetch")
        .iter()
        .map(|e| e["url"].as_str().unwrap())
        .collect();
    assert_eq!(
        urls,
        [
            "tftp://ProvisioningServer/420HD/420HD.img".to_string(),
            format!("https://{ip}:8443/redirect/{MAC}"),
            format!("https://{ip}:8443/p/420HD.img"),
            format!("https://{ip}:8443/p/{MAC}.cfg"),
        ],
        "{}",
        dump(&ev)
    );
    assert!(fs::read_to_string(state2.join("current.cfg"))
        .unwrap()
        .contains("network/lan_type=STATIC"));
    // The header check used a Range request (206), the download a full GET.
    let access = net.server_log("nginx-access.log");
    assert!(
        access.contains("\"GET /p/420HD.img HTTP/1.1\" 206"),
        "{access}"
    );
    assert!(
        access.contains("\"GET /p/420HD.img HTTP/1.1\" 200"),
        "{access}"
    );
}

fn vsftpd(net: &mut Net) -> std::path::PathBuf {
    let ftp = net.path("ftp");
    fs::create_dir_all(&ftp).unwrap();
    let empty = net.path("empty");
    fs::create_dir_all(&empty).unwrap();
    // vsftpd serves anonymous users as `ftp` (created by the Debian package): the tree must
    // be world-readable.
    for p in [net.dir.path(), &ftp] {
        fs::set_permissions(p, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let conf = format!(
        "listen=YES\nlisten_ipv6=NO\nlisten_address={ip}\nlisten_port=21\nbackground=NO\nanonymous_enable=YES\n\
         no_anon_password=YES\nanon_root={root}\nnopriv_user=nobody\nlocal_enable=NO\nwrite_enable=NO\n\
         pasv_enable=YES\npasv_min_port=30000\npasv_max_port=30100\nseccomp_sandbox=NO\nsecure_chroot_dir={empty}\n\
         xferlog_enable=YES\nvsftpd_log_file={log}\nanon_world_readable_only=NO\n",
        ip = net.server_ip(),
        root = ftp.display(),
        empty = empty.display(),
        log = net.path("vsftpd-xfer.log").display()
    );
    let cf = net.path("vsftpd.conf");
    fs::write(&cf, conf).unwrap();
    let cfs = cf.to_str().unwrap().to_string();
    net.spawn_srv(&["vsftpd", &cfs]);
    net.wait_tcp(21);
    ftp
}

#[test]
fn ftp_option_160_with_file_names() {
    let mut net = Net::new();
    let ip = net.server_ip();
    let ftp = vsftpd(&mut net);
    write(&ftp.join("fw/different.img"), &image("3.4.6"));
    write(&ftp.join("fw/site-420HD.cfg"), CFG);
    for p in [
        ftp.join("fw"),
        ftp.join("fw/different.img"),
        ftp.join("fw/site-420HD.cfg"),
    ] {
        let mode = if p.is_dir() { 0o755 } else { 0o644 };
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
    }
    net.dnsmasq(&[format!(
        "--dhcp-option=160,ftp://{ip}/fw/different.img;site-<MODEL>.cfg"
    )]);
    let state = net.path("state");
    let (ev, code) = net.provision("420HD", &state, &["--firmware-version", "3.4.0"]);
    assert_provisioned(&ev, code, &state, true);
    assert_eq!(
        events(&ev, "fetch").last().unwrap()["url"],
        format!("ftp://{ip}/fw/site-420HD.cfg")
    );
}

/// Every bad case: a typed error is reported, the exit status is 1 and the last good
/// configuration stays in place byte for byte.
#[test]
fn negative_cases_keep_the_last_good_state() {
    let mut net = Net::new();
    let ip = net.server_ip();
    let pki = make_pki(&net);
    nginx(&mut net, &pki);
    let www = net.path("www");
    let root = net.tftp_root();
    fs::create_dir_all(&root).unwrap();
    // wrong model, corrupt .cfx, oversize, and a truncating server.
    write(&www.join("wrong/420HD.img"), &[]);
    write(
        &www.join(format!("wrong/{MAC}.cfg")),
        b"# model: 450HD\nnetwork/lan_type=STATIC\n",
    );
    write(
        &www.join(format!("cfx/{MAC}.cfx")),
        b"Salted__\x01\x02\x03\x04\x05\x06\x07\x08not really encrypted at all!",
    );
    write(&www.join(format!("big/{MAC}.cfg")), &vec![b'#'; 5 << 20]);
    let py = format!(
        "import socket\ns=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
         s.bind(('{ip}', 8099)); s.listen(8)\nwhile True:\n c,_=s.accept(); c.recv(4096)\n \
         c.sendall(b'HTTP/1.1 200 OK\\r\\nContent-Length: 100000\\r\\n\\r\\n' + b'x'*1000); c.close()\n"
    );
    let pyf = net.path("trunc.py");
    fs::write(&pyf, py).unwrap();
    let pys = pyf.to_str().unwrap().to_string();
    net.spawn_srv(&["python3", &pys]);
    net.wait_tcp(8099);
    let cases: [(&str, String, &str); 6] = [
        ("server down", format!("tftp://{ip}/"), "Fetch"),
        ("404", format!("http://{ip}:8080/nothing/"), "Fetch"),
        (
            "wrong model",
            format!("http://{ip}:8080/wrong/"),
            "WrongModel",
        ),
        (
            "corrupt cfx",
            format!("http://{ip}:8080/cfx/;<MAC>.cfx"),
            "Decrypt",
        ),
        ("oversize", format!("http://{ip}:8080/big/"), "Fetch"),
        ("truncated", format!("http://{ip}:8099/t/"), "Fetch"),
    ];
    let good = b"network/lan_type=DHCP\nvoip/codec/codec_info/0/name=G722\n";
    for (name, url, kind) in cases {
        let state = net.path(&format!("state-{}", name.replace(' ', "_")));
        write(&state.join("current.cfg"), good);
        let (ev, code) = provision_case(&mut net, &url, &state);
        assert_eq!(code, 1, "{name}: {}", dump(&ev));
        let errs = events(&ev, "error");
        assert!(
            errs.iter()
                .any(|e| e["kind"].as_str().unwrap_or("").starts_with(kind)),
            "{name}: wanted {kind}: {}",
            dump(&ev)
        );
        assert_eq!(fs::read(state.join("current.cfg")).unwrap(), good, "{name}");
        assert!(events(&ev, "firmware_installed").is_empty(), "{name}");
        if name == "truncated" {
            assert!(
                events(&ev, "fetch_failed")
                    .iter()
                    .any(|e| e["kind"] == "Truncated"),
                "{}",
                dump(&ev)
            );
        }
        if name == "oversize" {
            assert!(
                events(&ev, "fetch_failed")
                    .iter()
                    .any(|e| e["kind"] == "TooLarge"),
                "{}",
                dump(&ev)
            );
        }
        if name == "404" {
            assert!(
                events(&ev, "fetch_failed")
                    .iter()
                    .any(|e| e["kind"] == "NotFound"),
                "{}",
                dump(&ev)
            );
        }
    }
}

/// Restarts dnsmasq of `net` with option 160 = `url` and runs one provisioning cycle.
fn provision_case(net: &mut Net, url: &str, state: &Path) -> (Vec<serde_json::Value>, i32) {
    net.stop_dnsmasq();
    net.dnsmasq(&[format!("--dhcp-option=160,{url}")]);
    net.provision("420HD", state, &["--passphrase", "secret"])
}

/// The four option-160 forms of table 3-42 over plain HTTP (nginx), each with the default and
/// explicit file names they imply.
#[test]
fn option_160_forms_over_http() {
    let mut net = Net::new();
    let ip = net.server_ip();
    let pki = make_pki(&net);
    nginx(&mut net, &pki);
    let www = net.path("www");
    write(&www.join("420HD.img"), &image("3.4.6"));
    write(&www.join("different.img"), &image("3.4.6"));
    write(&www.join(format!("{MAC}.cfg")), CFG);
    write(&www.join("global.cfg"), CFG);
    let forms = [
        (
            format!("http://{ip}:8080"),
            "/420HD.img",
            format!("/{MAC}.cfg"),
        ),
        (
            format!("http://{ip}:8080/different.img"),
            "/different.img",
            format!("/{MAC}.cfg"),
        ),
        (
            format!("http://{ip}:8080/different.img;global.cfg"),
            "/different.img",
            "/global.cfg".to_string(),
        ),
        (
            format!("http://{ip}:8080/;global.cfg"),
            "/420HD.img",
            "/global.cfg".to_string(),
        ),
    ];
    for (i, (url, fw, cfg)) in forms.iter().enumerate() {
        net.stop_dnsmasq();
        net.dnsmasq(&[format!("--dhcp-option=160,{url}")]);
        let state = net.path(&format!("state-{i}"));
        let (ev, code) = net.provision("420HD", &state, &["--firmware-version", "3.4.0"]);
        assert_provisioned(&ev, code, &state, true);
        let urls: Vec<String> = events(&ev, "fetch")
            .iter()
            .map(|e| e["url"].as_str().unwrap().to_string())
            .collect();
        let base = format!("http://{ip}:8080");
        // The header is read first (a ranged GET), then the image body streams into the slot
        // (`firmware_offered` names the same URL), then the configuration file.
        assert_eq!(
            urls,
            [format!("{base}{fw}"), format!("{base}{cfg}")],
            "{url}"
        );
        assert_eq!(
            events(&ev, "firmware_offered")[0]["url"],
            format!("{base}{fw}"),
            "{url}"
        );
        assert_eq!(events(&ev, "firmware_installed").len(), 1, "{url}");
    }
}
