//! The Management, Configuration and Status pages over HTTP: what each action changes.

mod common;

use common::Harness;

#[test]
fn directory_add_edit_delete_load_save() {
    let h = Harness::start();
    let (tok, csrf) = h.login("user", "1234").unwrap();
    let add = |name: &str, office: &str| {
        h.post_form(
            "/config/directory",
            &tok,
            &[
                ("csrf", &csrf),
                ("action", "add"),
                ("name", name),
                ("office", office),
            ],
        )
    };
    assert_eq!(add("Anna", "4418").status, 303);
    assert_eq!(add("Ops", "ops@pbx.example.com").status, 303);
    // Validated through the directory file format: a contact needs a number.
    assert_eq!(add("Nobody", "").status, 422);
    let r = h.post_form(
        "/config/directory",
        &tok,
        &[
            ("csrf", &csrf),
            ("action", "update"),
            ("idx", "0"),
            ("name", "Anna Smith"),
            ("office", "4419"),
        ],
    );
    assert_eq!(r.status, 303);
    let r = h.post_form(
        "/config/directory",
        &tok,
        &[("csrf", &csrf), ("action", "delete"), ("idx", "1")],
    );
    assert_eq!(r.status, 303);
    let saved = h.get("/config/directory/save", Some(&tok));
    assert!(saved
        .header("content-disposition")
        .unwrap()
        .contains("directory.csv"));
    assert_eq!(saved.text(), "name,office,home,mobile\nAnna Smith,4419,,\n");
    let file = b"name,office,home,mobile\nBob,1000,,\nCarol,,2000,\n";
    let r = h.post_multipart(
        "/config/directory",
        &tok,
        &[("csrf", &csrf), ("action", "load")],
        &[("file", "d.csv", file)],
    );
    assert_eq!(r.status, 303);
    assert_eq!(h.get("/config/directory/save", Some(&tok)).body, file);
    let r = h.post_multipart(
        "/config/directory",
        &tok,
        &[("csrf", &csrf), ("action", "load")],
        &[("file", "d.csv", b"who,what\n")],
    );
    assert!(r.text().contains("line 1"));
    assert_eq!(h.get("/config/directory/save", Some(&tok)).body, file);
}

#[test]
fn key_files_save_and_load() {
    let h = Harness::start();
    let (tok, csrf) = h.login("admin", "1234").unwrap();
    let r = h.post_form(
        "/config/function-keys",
        &tok,
        &[
            ("csrf", &csrf),
            (
                "personal_settings/functional_key/2/speed_dial_number",
                "4418",
            ),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let saved = h.get("/config/function-keys/save", Some(&tok)).text();
    assert!(saved.contains("personal_settings/functional_key/2/speed_dial_number=4418"));
    assert!(!saved.contains("network/"));
    // Loaded into another phone.
    let h2 = Harness::start();
    let (tok2, csrf2) = h2.login("admin", "1234").unwrap();
    let r = h2.post_multipart(
        "/config/function-keys/load",
        &tok2,
        &[("csrf", &csrf2)],
        &[("file", "k.cfg", saved.as_bytes())],
    );
    assert!(r.text().contains("Loaded"), "{}", r.text());
    assert!(h2
        .cfg_text()
        .contains("personal_settings/functional_key/2/speed_dial_number=4418"));
    // A key file may set keys only.
    let r = h2.post_multipart(
        "/config/function-keys/load",
        &tok2,
        &[("csrf", &csrf2)],
        &[("file", "k.cfg", b"network/lan_type=STATIC\n")],
    );
    assert!(
        r.text().contains("a key file sets keys only"),
        "{}",
        r.text()
    );
    assert!(!h2.cfg_text().contains("STATIC"));
}

#[test]
fn management_actions() {
    let h = Harness::start();
    let (tok, csrf) = h.login("admin", "1234").unwrap();
    // Telnet toggle and Logging page write their parameters.
    assert_eq!(
        h.post_form(
            "/mgmt/telnet",
            &tok,
            &[("csrf", &csrf), ("management/telnet/enabled", "1")]
        )
        .status,
        303
    );
    assert!(h.cfg_text().contains("management/telnet/enabled=1"));
    assert_eq!(
        h.post_form(
            "/status/logging",
            &tok,
            &[
                ("csrf", &csrf),
                ("system/syslog/server_address", "192.0.2.5")
            ]
        )
        .status,
        303
    );
    assert!(h
        .cfg_text()
        .contains("system/syslog/server_address=192.0.2.5"));
    // A page only writes its own keys.
    assert_eq!(
        h.post_form(
            "/mgmt/telnet",
            &tok,
            &[("csrf", &csrf), ("network/lan_type", "STATIC")]
        )
        .status,
        303
    );
    assert!(!h.cfg_text().contains("STATIC"));
    // Check Now and Restart reach the phone.
    assert!(h
        .post_form("/mgmt/provisioning/check", &tok, &[("csrf", &csrf)])
        .text()
        .contains("Check Now:"));
    assert!(h.events().contains("check-now"));
    assert!(h
        .post_form("/mgmt/restart", &tok, &[("csrf", &csrf)])
        .text()
        .contains("restarting"));
    assert!(h.events().contains("restart"));
    // Call history: filter and delete.
    let missed = h.get("/status/calls?type=missed", Some(&tok)).text();
    assert!(missed.contains("+4915112345678") && !missed.contains("Anna Smith"));
    assert_eq!(
        h.post_form(
            "/status/calls/delete",
            &tok,
            &[("csrf", &csrf), ("id", "1")]
        )
        .status,
        303
    );
    assert!(!h
        .get("/status/calls", Some(&tok))
        .text()
        .contains("Anna Smith"));
    // Tracing: save, clean.
    let log = h.get("/status/tracing/save", Some(&tok));
    assert!(log.text().contains("REGISTER 200 OK"));
    assert!(log
        .header("content-disposition")
        .unwrap()
        .contains("trace.log"));
    h.post_form("/status/tracing/clean", &tok, &[("csrf", &csrf)]);
    assert!(h.get("/status/tracing/save", Some(&tok)).body.is_empty());
    // Monitoring refuses option-like or shell-like destinations.
    for d in ["-f", "a;rm -rf /", "$(id)"] {
        let r = h.post_form(
            "/status/monitoring",
            &tok,
            &[("csrf", &csrf), ("dest", d), ("count", "1")],
        );
        assert!(
            r.text().contains("Destination: an IP address or host name"),
            "{d}"
        );
    }
    assert!(!h.events().contains("ping"));
    // Restore Defaults: configuration, passwords, directory; every session ends.
    h.post_form(
        "/config/directory",
        &tok,
        &[
            ("csrf", &csrf),
            ("action", "add"),
            ("name", "A"),
            ("office", "1"),
        ],
    );
    h.post_form(
        "/mgmt/users",
        &tok,
        &[
            ("csrf", &csrf),
            ("account", "user"),
            ("username", "user"),
            ("password", "Xy-987654"),
            ("confirm", "Xy-987654"),
            ("current", "1234"),
        ],
    );
    assert!(h.login("user", "Xy-987654").is_ok());
    let r = h.post_form("/mgmt/defaults", &tok, &[("csrf", &csrf)]);
    assert!(r.text().contains("Factory defaults restored"));
    assert_eq!(h.cfg_text(), "# model: 440HD\n");
    assert!(!h.path().join("directory.csv").exists());
    assert_eq!(h.get("/status/system", Some(&tok)).status, 303);
    assert!(h.login("user", "1234").is_ok());
}

#[test]
fn user_account_configuration_tab() {
    let h = Harness::start();
    let (tok, _) = h.login("user", "1234").unwrap();
    let r = h.get("/config", Some(&tok));
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/config/function-keys"));
    assert_eq!(h.get("/config/function-keys", Some(&tok)).status, 200);
}

#[test]
fn ac_webd_serves_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = dir.path().join("web.log");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ac-webd"))
        .arg("--config-dir")
        .arg(dir.path().join("phone"))
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--model",
            "420HD",
            "--log",
        ])
        .arg(&log)
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    let page = loop {
        if let Ok(r) = ureq::get(&format!("http://127.0.0.1:{port}/login")).call() {
            break r.into_string().unwrap();
        }
        assert!(t0.elapsed() < std::time::Duration::from_secs(20));
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(page.contains("420HD Web Login"));
    assert!(dir.path().join("phone/credentials").exists());
    assert!(std::fs::read_to_string(&log)
        .unwrap()
        .contains("listening on"));
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_ac-webd"))
        .arg("--nope")
        .status()
        .unwrap();
    assert_eq!(bad.code(), Some(2));
}
