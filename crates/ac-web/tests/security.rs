//! Security tests over plain HTTP requests against a running server: authentication,
//! CSRF, path traversal, size limits, throttling, secrets kept out of pages and logs, roles,
//! and HTTPS-only.

mod common;

use common::{hidden, Harness};

/// Every page a browser can open (GET), including downloads.
const PAGES: &[&str] = &[
    "/",
    "/config/network",
    "/config/voip",
    "/config/system",
    "/config/lync",
    "/config/provisioning",
    "/config/security",
    "/config/personal_settings",
    "/config/management",
    "/config/function-keys",
    "/config/function-keys/save",
    "/config/programmable-keys",
    "/config/programmable-keys/save",
    "/config/directory",
    "/config/directory/save",
    "/config/tones",
    "/config/sign-in",
    "/mgmt/config",
    "/mgmt/config?modified=1",
    "/mgmt/config/download",
    "/mgmt/config/download?modified=1",
    "/mgmt/firmware",
    "/mgmt/provisioning",
    "/mgmt/users",
    "/mgmt/restart",
    "/mgmt/defaults",
    "/mgmt/telnet",
    "/status/system",
    "/status/network",
    "/status/voip",
    "/status/calls",
    "/status/logging",
    "/status/tracing",
    "/status/tracing/save",
    "/status/monitoring",
];

#[test]
fn unauthenticated_requests_are_refused() {
    let h = Harness::start();
    std::fs::write(
        h.path().join("phone.cfg"),
        "# model: 440HD\nnetwork/lan_type=STATIC\n",
    )
    .unwrap();
    for p in PAGES {
        let r = h.get(p, None);
        assert_eq!(r.status, 303, "{p}");
        assert_eq!(r.header("location"), Some("/login"), "{p}");
        assert!(r.body.is_empty(), "{p} leaked a body");
    }
    // A forged or expired session is no session.
    let r = h.get("/mgmt/config/download", Some(&"ab".repeat(32)));
    assert_eq!(r.status, 303);
    // State-changing requests without a session: 401, nothing changes.
    let before = h.cfg_text();
    let r = h.post_multipart(
        "/mgmt/config/load",
        "nope",
        &[],
        &[("file", "x.cfg", b"network/lan_type=DHCP\n")],
    );
    assert_eq!(r.status, 401);
    let r = h.post_form("/mgmt/restart", &"00".repeat(32), &[]);
    assert_eq!(r.status, 401);
    assert_eq!(h.cfg_text(), before);
    assert!(!h.events().contains("restart"));
    // The login page and the static files are public.
    assert_eq!(h.get("/login", None).status, 200);
    assert_eq!(h.get("/static/app.css", None).status, 200);
}

#[test]
fn csrf_token_is_required_on_every_state_change() {
    let h = Harness::start();
    let (tok, csrf) = h.login("admin", "1234").unwrap();
    let change = "network/lan/fixed_ip/ip_address";
    // No token, a wrong token, a token of another session: refused, nothing written.
    let (tok2, csrf2) = h.login("admin", "1234").unwrap();
    assert_ne!(csrf, csrf2);
    for bad in [None, Some("0".repeat(64)), Some(csrf2.clone())] {
        let mut f = vec![(change, "10.9.8.7")];
        if let Some(b) = &bad {
            f.push(("csrf", b.as_str()));
        }
        let r = h.post_form("/config/network", &tok, &f);
        assert_eq!(r.status, 403, "{bad:?}");
    }
    for (path, fields) in [
        ("/mgmt/restart", vec![]),
        ("/mgmt/defaults", vec![]),
        ("/mgmt/users", vec![("account", "admin"), ("username", "x")]),
        ("/logout", vec![]),
        ("/status/tracing/clean", vec![]),
    ] {
        assert_eq!(h.post_form(path, &tok, &fields).status, 403, "{path}");
    }
    let r = h.post_multipart(
        "/mgmt/config/load",
        &tok,
        &[],
        &[("file", "x.cfg", b"network/lan_type=STATIC\n")],
    );
    assert_eq!(r.status, 403);
    assert!(!h.cfg_text().contains("10.9.8.7"));
    assert!(!h.cfg_text().contains("STATIC"));
    assert!(!h.events().contains("restart"));
    assert!(h
        .get("/status/tracing", Some(&tok))
        .text()
        .contains("REGISTER"));
    // A cross-origin POST is refused even with the right token.
    let body = format!("csrf={csrf}&{change}=10.9.8.7");
    let r = h.raw(
        format!(
            "POST /config/network HTTP/1.1\r\nHost: {}\r\nOrigin: http://evil.example\r\nCookie: acw_session={tok}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            h.addr,
            body.len()
        )
        .as_bytes(),
    );
    assert_eq!(r.status, 403);
    // With its own token: applied.
    let r = h.post_form(
        "/config/network",
        &tok,
        &[("csrf", &csrf), (change, "10.9.8.7")],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    assert!(h.cfg_text().contains(&format!("{change}=10.9.8.7")));
    // The login form has its own token (login CSRF): without it, no session.
    let r = h.post(
        "/login",
        "",
        "application/x-www-form-urlencoded",
        b"username=admin&password=1234",
    );
    assert_eq!(r.status, 403);
    assert!(r.cookie("acw_session").is_none());
    let _ = tok2;
}

#[test]
fn path_traversal_is_refused() {
    let h = Harness::start();
    let (tok, csrf) = h.login("admin", "1234").unwrap();
    for p in [
        "/../../../../etc/passwd",
        "/static/../../etc/passwd",
        "/static/%2e%2e/%2e%2e/etc/passwd",
        "/config/..%2f..%2f..%2fetc%2fpasswd",
        "/status/tracing/save/%2E%2E/%2E%2E/etc/passwd",
        "/static/..%5c..%5cetc%5cpasswd",
        "/mgmt/config/download%00.cfg",
    ] {
        let r = h.get(p, Some(&tok));
        assert_eq!(r.status, 400, "{p}");
        assert!(!r.text().contains("root:"), "{p}");
    }
    // A tone name cannot leave the tones directory.
    let wav = wav16k();
    for name in ["../../evil", "..", "a/b", "x\\y"] {
        let r = h.post_multipart(
            "/config/tones",
            &tok,
            &[("csrf", &csrf), ("action", "upload"), ("tone_name", name)],
            &[("file", "ring.wav", &wav)],
        );
        assert_eq!(r.status, 422, "{name}");
    }
    assert!(!h.path().parent().unwrap().join("evil.wav").exists());
    // A file name with a path is reduced to its last segment.
    let r = h.post_multipart(
        "/config/tones",
        &tok,
        &[("csrf", &csrf), ("action", "upload"), ("tone_name", "")],
        &[("file", "../../Ring12.wav", &wav)],
    );
    assert_eq!(r.status, 200);
    assert!(h.path().join("tones/Ring12.wav").exists());
    // A file that is not a WAV of the phone's formats is refused.
    let r = h.post_multipart(
        "/config/tones",
        &tok,
        &[("csrf", &csrf), ("action", "upload"), ("tone_name", "bad")],
        &[("file", "bad.wav", b"RIFF....WAVEjunk")],
    );
    assert_eq!(r.status, 422);
}

fn wav16k() -> Vec<u8> {
    let mut w = Vec::new();
    w.extend_from_slice(b"RIFF");
    w.extend_from_slice(&(36u32 + 64).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&16u32.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes());
    w.extend_from_slice(&16000u32.to_le_bytes());
    w.extend_from_slice(&32000u32.to_le_bytes());
    w.extend_from_slice(&2u16.to_le_bytes());
    w.extend_from_slice(&16u16.to_le_bytes());
    w.extend_from_slice(b"data");
    w.extend_from_slice(&64u32.to_le_bytes());
    w.extend_from_slice(&[0u8; 64]);
    w
}

#[test]
fn oversize_requests_are_rejected() {
    let h = Harness::start();
    let (tok, _) = h.login("admin", "1234").unwrap();
    // A body over the limit (256 KiB in the harness) is refused from its Content-Length,
    // before a byte of it is read.
    let r = h.raw(
        format!(
            "POST /mgmt/config/load HTTP/1.1\r\nHost: {}\r\nCookie: acw_session={tok}\r\nContent-Type: multipart/form-data; boundary=x\r\nContent-Length: {}\r\n\r\n",
            h.addr,
            10 << 20
        )
        .as_bytes(),
    );
    assert_eq!(r.status, 413);
    // Firmware uploads have their own, larger, limit, still finite.
    let r = h.raw(
        format!(
            "POST /mgmt/firmware HTTP/1.1\r\nHost: {}\r\nCookie: acw_session={tok}\r\nContent-Length: {}\r\n\r\n",
            h.addr,
            5 << 20
        )
        .as_bytes(),
    );
    assert_eq!(r.status, 413);
    // An actual oversize body sent in full is refused too (unauthenticated or not).
    let big = vec![b'a'; 300 * 1024];
    let r = h.post_multipart("/mgmt/config/load", &tok, &[], &[("file", "big.cfg", &big)]);
    assert_eq!(r.status, 413);
    // Head limits: 8 KiB, 64 header fields, 2 KiB target.
    let r = h.raw(
        format!(
            "GET / HTTP/1.1\r\nHost: a\r\nX-Big: {}\r\n\r\n",
            "b".repeat(9000)
        )
        .as_bytes(),
    );
    assert_eq!(r.status, 431);
    let many: String = (0..80).map(|i| format!("X-{i}: 1\r\n")).collect();
    let r = h.raw(format!("GET / HTTP/1.1\r\nHost: a\r\n{many}\r\n").as_bytes());
    assert_eq!(r.status, 431);
    let r = h.raw(format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(3000)).as_bytes());
    assert_eq!(r.status, 414);
    // Request smuggling shapes.
    let r =
        h.raw(b"POST /login HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    assert_eq!(r.status, 501);
    let r = h.raw(
        b"POST /login HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    );
    assert_eq!(r.status, 400);
    // The server still works.
    assert_eq!(h.get("/login", None).status, 200);
}

#[test]
fn brute_force_is_throttled() {
    let h = Harness::start();
    for _ in 0..5 {
        let r = h.login("admin", "wrong").unwrap_err();
        assert_eq!(r.status, 401);
        assert!(r.text().contains("Wrong user name or password"));
    }
    // Locked: even the right password is refused now, with a wait.
    let r = h.login("admin", "1234").unwrap_err();
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("30"));
    assert!(r.text().contains("Too many failed logins"));
    assert!(h.log.text().contains("login refused: throttled"));
}

#[test]
fn default_password_warns_until_changed() {
    let h = Harness::start();
    let (tok, csrf) = h.login("admin", "1234").unwrap();
    let page = h.get("/status/system", Some(&tok)).text();
    assert!(page.contains("id=\"default-password-warning\""));
    assert!(page.contains("default password 1234"));
    // Wrong current password / mismatch: nothing changes.
    let r = h.post_form(
        "/mgmt/users",
        &tok,
        &[
            ("csrf", &csrf),
            ("account", "admin"),
            ("username", "admin"),
            ("password", "N3w-Adm1n-Pw"),
            ("confirm", "N3w-Adm1n-Pw"),
            ("current", "0000"),
        ],
    );
    assert_eq!(r.status, 422);
    let r = h.post_form(
        "/mgmt/users",
        &tok,
        &[
            ("csrf", &csrf),
            ("account", "admin"),
            ("username", "admin"),
            ("password", "N3w-Adm1n-Pw"),
            ("confirm", "other"),
            ("current", "1234"),
        ],
    );
    assert_eq!(r.status, 422);
    let r = h.post_form(
        "/mgmt/users",
        &tok,
        &[
            ("csrf", &csrf),
            ("account", "admin"),
            ("username", "boss"),
            ("password", "N3w-Adm1n-Pw"),
            ("confirm", "N3w-Adm1n-Pw"),
            ("current", "1234"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let page = h.get("/mgmt/users?updated=1", Some(&tok)).text();
    assert!(page.contains("The account was updated"));
    assert!(!page.contains("default-password-warning"));
    assert!(h.cfg_text().contains("system/user_name=boss"));
    assert!(h.login("admin", "1234").is_err());
    assert!(h.login("boss", "1234").is_err());
    let (tok2, _) = h.login("boss", "N3w-Adm1n-Pw").unwrap();
    assert!(!h
        .get("/", Some(&tok2))
        .text()
        .contains("default-password-warning"));
    // The user account still has 1234: it is warned.
    let (tok3, _) = h.login("user", "1234").unwrap();
    assert!(h
        .get("/status/system", Some(&tok3))
        .text()
        .contains("default-password-warning"));
}

#[test]
fn user_account_sees_no_management() {
    let h = Harness::start();
    let (tok, csrf) = h.login("user", "1234").unwrap();
    for p in [
        "/mgmt/config",
        "/mgmt/config/download",
        "/mgmt/firmware",
        "/mgmt/users",
        "/config/network",
    ] {
        assert_eq!(h.get(p, Some(&tok)).status, 403, "{p}");
    }
    assert_eq!(
        h.post_form("/mgmt/restart", &tok, &[("csrf", &csrf)])
            .status,
        403
    );
    assert!(!h.events().contains("restart"));
    assert_eq!(h.get("/status/calls", Some(&tok)).status, 200);
    assert_eq!(h.get("/config/directory", Some(&tok)).status, 200);
    let page = h.get("/status/system", Some(&tok)).text();
    assert!(!page.contains(">Management<"));
}

#[test]
fn no_password_in_any_page_or_log() {
    let h = Harness::start();
    let secrets = [
        "Adm1n-Secret!",
        "UserSecret77",
        "SipSecret99",
        "PinCode4242",
        "Ldap-Pw-555",
    ];
    let (tok, csrf) = h.login("admin", "1234").unwrap();
    // Passwords arrive through every door: Users page, a loaded configuration file, a
    // generated page, the sign-in form.
    let r = h.post_form(
        "/mgmt/users",
        &tok,
        &[
            ("csrf", &csrf),
            ("account", "admin"),
            ("username", "admin"),
            ("password", secrets[0]),
            ("confirm", secrets[0]),
            ("current", "1234"),
        ],
    );
    assert_eq!(r.status, 303);
    let cfg = format!(
        "# model: 440HD\nsystem/web_user_password={}\nvoip/line/0/auth_password={}\n",
        secrets[1], secrets[2]
    );
    let r = h.post_multipart(
        "/mgmt/config/load",
        &tok,
        &[("csrf", &csrf)],
        &[("file", "secrets.cfg", cfg.as_bytes())],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = h.post_form(
        "/config/system",
        &tok,
        &[("csrf", &csrf), ("system/ldap/password", secrets[4])],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let r = h.post_form(
        "/config/sign-in",
        &tok,
        &[
            ("csrf", &csrf),
            ("action", "sign-in"),
            ("method", "pin"),
            ("phone_number", "4418"),
            ("secret", secrets[3]),
        ],
    );
    assert_eq!(r.status, 303);
    // The new passwords work (so they really were set).
    assert!(h.login("user", secrets[1]).is_ok());
    let (tok, _) = h.login("admin", secrets[0]).unwrap();
    let mut seen = 0;
    for p in PAGES {
        let r = h.get(p, Some(&tok));
        assert_eq!(r.status, 200, "{p}");
        let t = r.text();
        for s in secrets {
            assert!(!t.contains(s), "{p} shows a password");
        }
        seen += t.len();
    }
    assert!(seen > 100_000);
    let page = h.get("/mgmt/config", Some(&tok)).text();
    assert!(page.contains("voip/line/0/auth_password=********"));
    assert!(page.contains("system/ldap/password=********"));
    // The log has the requests, but no password.
    let log = h.log.text();
    assert!(log.contains("POST /mgmt/users"));
    assert!(log.contains("login ok"));
    for s in secrets {
        assert!(!log.contains(s), "the log holds a password");
    }
    // Account passwords are hashed: neither the credentials file nor phone.cfg holds them.
    let creds = std::fs::read_to_string(h.path().join("credentials")).unwrap();
    assert!(creds.contains("$argon2id$"));
    for s in &secrets[..2] {
        assert!(!creds.contains(s) && !h.cfg_text().contains(s));
    }
    // A downloaded file loaded back keeps the current (masked) passwords.
    let dl = h.get("/mgmt/config/download?modified=1", Some(&tok)).text();
    let (tok, csrf) = h.login("admin", secrets[0]).unwrap();
    let r = h.post_multipart(
        "/mgmt/config/load",
        &tok,
        &[("csrf", &csrf)],
        &[("file", "back.cfg", dl.as_bytes())],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(h
        .cfg_text()
        .contains(&format!("voip/line/0/auth_password={}", secrets[2])));
}

#[test]
fn configuration_upload_is_validated_and_atomic() {
    let h = Harness::start();
    let (tok, csrf) = h.login("admin", "1234").unwrap();
    let before = h.cfg_text();
    // Errors are reported with their line; nothing is applied.
    let bad = b"# model: 440HD\nnetwork/lan_type=STATIC\nvoip/codec/codec_info/0/name=NOPE\nnetwork/lan/vlan/id=99999\n";
    let r = h.post_multipart(
        "/mgmt/config/load",
        &tok,
        &[("csrf", &csrf)],
        &[("file", "bad.cfg", bad)],
    );
    assert_eq!(r.status, 422);
    let t = r.text();
    assert!(t.contains("line 3, column"), "{t}");
    assert!(t.contains("line 4, column"), "{t}");
    assert_eq!(h.cfg_text(), before);
    // Another model's file is refused (manual 8.7.2).
    let r = h.post_multipart(
        "/mgmt/config/load",
        &tok,
        &[("csrf", &csrf)],
        &[(
            "file",
            "x.cfg",
            b"# model: 420HD\nnetwork/lan_type=STATIC\n",
        )],
    );
    assert_eq!(r.status, 422);
    assert!(r.text().contains("420HD"));
    // An encrypted .cfx (OpenSSL-compatible 3DES) with its passphrase is applied.
    let cfx = ac_cfg::crypto::encrypt_cfx(
        b"network/lan_type=STATIC\n",
        &ac_cfg::crypto::TdesKey::passphrase("k3y"),
    );
    let r = h.post_multipart(
        "/mgmt/config/load",
        &tok,
        &[("csrf", &csrf)],
        &[("file", "p.cfx", &cfx)],
    );
    assert_eq!(r.status, 422);
    assert!(r.text().contains("passphrase"));
    let r = h.post_multipart(
        "/mgmt/config/load",
        &tok,
        &[("csrf", &csrf), ("passphrase", "wrong")],
        &[("file", "p.cfx", &cfx)],
    );
    assert_eq!(r.status, 422);
    let r = h.post_multipart(
        "/mgmt/config/load",
        &tok,
        &[("csrf", &csrf), ("passphrase", "k3y")],
        &[("file", "p.cfx", &cfx)],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(h.cfg_text().contains("network/lan_type=STATIC"));
    assert!(h.events().contains("restart"));
    // A generated page refuses invalid values with the validator's message, all or nothing.
    let r = h.post_form(
        "/config/network",
        &tok,
        &[
            ("csrf", &csrf),
            ("network/lan/vlan/id", "70000"),
            ("network/lan/fixed_ip/ip_address", "10.0.0.1"),
        ],
    );
    assert_eq!(r.status, 422);
    let t = r.text();
    assert!(t.contains("id=\"err-network/lan/vlan/id\""), "{t}");
    assert!(!h.cfg_text().contains("10.0.0.1"));
    // HTTPS-only cannot be switched on without a certificate (it would lock everyone out).
    let r = h.post_form(
        "/config/security",
        &tok,
        &[("csrf", &csrf), ("security/web/https_only", "1")],
    );
    assert_eq!(r.status, 422);
    assert!(r.text().contains("no HTTPS certificate"));
}

#[test]
fn https_only_blocks_plain_http() {
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = common::openssl_cert(certs.path());
    let tls = ac_web::server::load_tls(&cert, &key).unwrap();
    let h = Harness::start_with(Some(tls));
    let (tok, csrf) = h.login("admin", "1234").unwrap();
    let r = h.post_form(
        "/config/security",
        &tok,
        &[("csrf", &csrf), ("security/web/https_only", "1")],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    // Plain HTTP: refused, whatever the request (no login over HTTP).
    let r = h.get("/login", None);
    assert_eq!(r.status, 403);
    assert!(r.text().contains("HTTPS only"));
    let r = h.get("/status/system", Some(&tok));
    assert_eq!(r.status, 403);
    // HTTPS on the same port works: log in, with a Secure cookie.
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(&cert).unwrap();
    for c in rustls_pemfile::certs(&mut &pem[..]) {
        roots.add(c.unwrap()).unwrap();
    }
    let cfg = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let agent = ureq::AgentBuilder::new()
        .tls_config(std::sync::Arc::new(cfg))
        .redirects(0)
        .build();
    let base = format!("https://{}", h.addr);
    let page = agent.get(&format!("{base}/login")).call().unwrap();
    let pre_cookie = page.header("set-cookie").unwrap().to_string();
    assert!(pre_cookie.contains("Secure"));
    let pre = pre_cookie.split(';').next().unwrap().to_string();
    let field = hidden(&page.into_string().unwrap(), "pre").unwrap();
    let r = agent
        .post(&format!("{base}/login"))
        .set("Cookie", &pre)
        .send_form(&[("username", "admin"), ("password", "1234"), ("pre", &field)])
        .unwrap();
    assert_eq!(r.status(), 303);
    let sc = r.header("set-cookie").unwrap().to_string();
    assert!(sc.contains("HttpOnly") && sc.contains("SameSite=Strict") && sc.contains("Secure"));
    let sess = sc.split(';').next().unwrap().to_string();
    let home = agent
        .get(&format!("{base}/status/system"))
        .set("Cookie", &sess)
        .call()
        .unwrap();
    assert_eq!(home.status(), 200);
    assert!(home.into_string().unwrap().contains("System Information"));
}
