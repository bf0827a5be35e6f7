//! End-to-end tests in a real browser: Debian's headless Chromium driven through
//! chromedriver's W3C WebDriver protocol (a small blocking client over ureq + serde_json).
//! Screenshots of the main pages go to `target/ac-web-screenshots/`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use common::{firmware_image, Harness};
use serde_json::{json, Value};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Driver {
    child: Child,
    base: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_driver() -> Driver {
    let port = free_port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver (Debian chromium-driver; scripts/install-deps installs it)");
    let d = Driver {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let t0 = Instant::now();
    loop {
        if let Ok(r) = ureq::get(&format!("{}/status", d.base)).call() {
            let v: Value = r.into_json().unwrap();
            if v["value"]["ready"] == true {
                return d;
            }
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "chromedriver did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

struct Session<'d> {
    d: &'d Driver,
    id: String,
}

fn call(method: &str, url: &str, body: Option<Value>) -> Value {
    let req = ureq::request(method, url).timeout(Duration::from_secs(60));
    let r = match body {
        Some(b) => req.send_json(b),
        None => req.call(),
    };
    match r {
        Ok(r) => r.into_json::<Value>().unwrap()["value"].clone(),
        Err(ureq::Error::Status(code, r)) => {
            panic!(
                "WebDriver {method} {url}: {code} {}",
                r.into_string().unwrap_or_default()
            )
        }
        Err(e) => panic!("WebDriver {method} {url}: {e}"),
    }
}

impl<'d> Session<'d> {
    fn new(d: &'d Driver, downloads: &Path) -> Session<'d> {
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1400,1000", "--no-first-run", "--password-store=basic"],
                "prefs": {"download.default_directory": downloads.to_str().unwrap(),
                          "download.prompt_for_download": false}
            }
        }}});
        let v = call("POST", &format!("{}/session", d.base), Some(caps));
        let id = v["sessionId"].as_str().unwrap().to_string();
        let s = Session { d, id };
        // Headless Chromium saves downloads only when told where (CDP).
        s.post(
            "goog/cdp/execute",
            json!({"cmd": "Browser.setDownloadBehavior",
                   "params": {"behavior": "allow", "downloadPath": downloads.to_str().unwrap()}}),
        );
        s
    }

    fn url(&self, p: &str) -> String {
        format!("{}/session/{}/{p}", self.d.base, self.id)
    }

    fn post(&self, p: &str, body: Value) -> Value {
        call("POST", &self.url(p), Some(body))
    }

    fn get(&self, p: &str) -> Value {
        call("GET", &self.url(p), None)
    }

    fn goto(&self, url: &str) {
        self.post("url", json!({ "url": url }));
    }

    fn find(&self, css: &str) -> String {
        let t0 = Instant::now();
        loop {
            let r = ureq::post(&self.url("element"))
                .send_json(json!({"using": "css selector", "value": css}));
            if let Ok(r) = r {
                let v: Value = r.into_json().unwrap();
                return v["value"][ELEMENT].as_str().unwrap().to_string();
            }
            assert!(t0.elapsed() < Duration::from_secs(10), "no element {css}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn click(&self, css: &str) {
        let e = self.find(css);
        self.post(&format!("element/{e}/click"), json!({}));
    }

    /// Clicks something that loads a new page, and waits until the new page is there.
    fn submit(&self, css: &str) {
        self.submit_then(css, || {});
    }

    /// Like `submit`, running `between` after the click (to answer a confirmation).
    fn submit_then(&self, css: &str, between: impl FnOnce()) {
        let old = self.find("html");
        self.click(css);
        between();
        let t0 = Instant::now();
        loop {
            let gone = ureq::get(&self.url(&format!("element/{old}/name")))
                .call()
                .is_err();
            if gone {
                let ready = self.post(
                    "execute/sync",
                    json!({"script": "return document.readyState", "args": []}),
                );
                if ready == "complete" {
                    return;
                }
            }
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "no new page after clicking {css}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn clear(&self, css: &str) {
        let e = self.find(css);
        self.post(&format!("element/{e}/clear"), json!({}));
    }

    fn type_in(&self, css: &str, text: &str) {
        let e = self.find(css);
        self.post(&format!("element/{e}/value"), json!({ "text": text }));
    }

    fn text(&self, css: &str) -> String {
        let e = self.find(css);
        self.get(&format!("element/{e}/text"))
            .as_str()
            .unwrap()
            .to_string()
    }

    fn source(&self) -> String {
        self.get("source").as_str().unwrap().to_string()
    }

    fn current_url(&self) -> String {
        self.get("url").as_str().unwrap().to_string()
    }

    fn title(&self) -> String {
        self.get("title").as_str().unwrap().to_string()
    }

    fn accept_alert(&self) {
        self.post("alert/accept", json!({}));
    }

    fn screenshot(&self, name: &str) {
        let b64 = self.get("screenshot");
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap())
            .unwrap();
        assert_eq!(&png[..4], b"\x89PNG");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        let _ = ureq::delete(&format!("{}/session/{}", self.d.base, self.id)).call();
    }
}

fn screenshot_dir() -> PathBuf {
    // target/ of the workspace: CARGO_MANIFEST_DIR is crates/ac-web.
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("ac-web-screenshots")
}

fn wait_for_file(p: &Path) -> String {
    let t0 = Instant::now();
    loop {
        if let Ok(s) = std::fs::read_to_string(p) {
            if !s.is_empty() {
                return s;
            }
        }
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "download {} not saved",
            p.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The manual's workflow (2.2, 8.7.2, 5.1) in Chromium: log in, change parameters, see them
/// in "modified fields only", download the file, load a bad file and read the located
/// error, upgrade the firmware with a signed image; plus screenshots of the main pages.
#[test]
fn admin_workflow_in_chromium() {
    let h = Harness::start();
    let work = tempfile::tempdir().unwrap();
    let downloads = work.path().join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let driver = start_driver();
    let b = Session::new(&driver, &downloads);

    // Log in with the factory account: the default-password warning shows.
    b.goto(&h.url("/"));
    assert!(b.current_url().ends_with("/login"));
    b.screenshot("01-login");
    b.type_in("#username", "admin");
    b.type_in("#password", "1234");
    b.submit("#login");
    b.find("#default-password-warning");
    assert!(b.title().starts_with("System Information"));
    assert!(b.source().contains("1.0.0"), "firmware version shown");
    b.screenshot("02-system-information");

    // A wrong value is refused with the schema validator's message; nothing is saved.
    b.goto(&h.url("/config/network"));
    b.click("select[name='network/lan_type'] option[value='STATIC']");
    b.clear("input[name='network/lan/fixed_ip/ip_address']");
    b.type_in(
        "input[name='network/lan/fixed_ip/ip_address']",
        "10.1.2.999",
    );
    b.submit("#submit");
    let err = b.text("[id='err-network/lan/fixed_ip/ip_address']");
    assert!(err.contains("network/lan/fixed_ip/ip_address"), "{err}");
    b.screenshot("03-network-validation-error");
    assert!(!h.cfg_text().contains("STATIC"));
    b.clear("input[name='network/lan/fixed_ip/ip_address']");
    b.type_in("input[name='network/lan/fixed_ip/ip_address']", "10.1.2.3");
    b.submit("#submit");
    assert!(b.text(".ok").contains("2 parameter(s) changed"));
    assert!(h.cfg_text().contains("network/lan_type=STATIC"));

    // Configuration File page: the full configuration, then "modified fields only".
    b.goto(&h.url("/mgmt/config"));
    let full = b.text("#config-text");
    assert!(full.lines().count() > 300, "every parameter is shown");
    b.click("#modified");
    let t0 = Instant::now();
    while !b.current_url().contains("modified=1") {
        assert!(t0.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(50));
    }
    let delta = b.text("#config-text");
    let lines: Vec<&str> = delta.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        lines,
        [
            "network/lan_type=STATIC",
            "network/lan/fixed_ip/ip_address=10.1.2.3"
        ],
        "{delta}"
    );
    b.screenshot("04-configuration-file-modified-only");

    // Download it.
    b.click("#save-config");
    let saved = wait_for_file(&downloads.join("440HD_modified.cfg"));
    assert!(saved.starts_with("# model: 440HD"));
    assert!(saved.contains("network/lan_type=STATIC\n"));
    assert!(saved.contains("network/lan/fixed_ip/ip_address=10.1.2.3\n"));

    // Load a bad file: the error names its line; nothing changes.
    let before = h.cfg_text();
    let bad = work.path().join("bad.cfg");
    std::fs::write(
        &bad,
        "# model: 440HD\nnetwork/lan_type=DHCP\nnetwork/lan/vlan/id=99999\n",
    )
    .unwrap();
    b.type_in("#config-file", bad.to_str().unwrap());
    b.submit("#load-config");
    let errors = b.text("#load-errors");
    assert!(errors.contains("line 3, column"), "{errors}");
    assert!(errors.contains("network/lan/vlan/id"), "{errors}");
    b.screenshot("05-configuration-file-bad-upload");
    assert_eq!(h.cfg_text(), before);

    // Load the downloaded delta back after changing one value: applied.
    let good = work.path().join("good.cfg");
    std::fs::write(&good, saved.replace("10.1.2.3", "10.1.2.4")).unwrap();
    b.type_in("#config-file", good.to_str().unwrap());
    b.submit("#load-config");
    assert!(b.text(".ok").contains("loaded"));
    assert!(h
        .cfg_text()
        .contains("network/lan/fixed_ip/ip_address=10.1.2.4"));

    // Manual firmware upgrade with a signed image: written to slot B, verified, activated
    // on trial. A tampered image is refused first, leaving slot A running.
    let mut tampered = firmware_image(&h.key, "1.1.0", 2);
    let n = tampered.len();
    tampered[n - 10] ^= 0xff;
    let tampered_path = work.path().join("tampered.img");
    std::fs::write(&tampered_path, &tampered).unwrap();
    b.goto(&h.url("/mgmt/firmware"));
    b.type_in("#fw-file", tampered_path.to_str().unwrap());
    b.submit("#fw-submit");
    assert!(b.text("#fw-result").contains("Firmware refused"));
    let img = work.path().join("440HD-1.1.0.img");
    std::fs::write(&img, firmware_image(&h.key, "1.1.0", 2)).unwrap();
    b.type_in("#fw-file", img.to_str().unwrap());
    b.submit("#fw-submit");
    let result = b.text("#fw-result");
    assert!(
        result.contains("Firmware 1.1.0 was written and verified"),
        "{result}"
    );
    let slots = b.text("#slots");
    assert!(slots.contains("B (active, on trial)"), "{slots}");
    b.screenshot("06-firmware-upgrade");
    let mut fs = ac_prov::firmware::FileSlots::open(&h.path().join("firmware"), 64 << 20).unwrap();
    use ac_prov::firmware::SlotStore;
    let st = fs.state().unwrap();
    assert_eq!(st.active, ac_prov::firmware::Slot::B);
    assert!(st.trial);
    assert_eq!(st.slot(ac_prov::firmware::Slot::B).version, "1.1.0");
    assert_eq!(st.slot(ac_prov::firmware::Slot::A).version, "1.0.0");
    assert!(h.events().contains("restart"));

    // Directory: add a contact.
    b.goto(&h.url("/config/directory"));
    b.type_in("#dir-name", "Anna Smith");
    b.type_in("#dir-office", "4418");
    b.submit("#dir-add");
    assert!(b.source().contains("Anna Smith"));
    b.screenshot("07-directory");
    assert!(std::fs::read_to_string(h.path().join("directory.csv"))
        .unwrap()
        .contains("Anna Smith,4418"));

    // Check Now (Automatic Provisioning) and Restart (confirmation dialog).
    b.goto(&h.url("/mgmt/provisioning"));
    b.submit("#check-now");
    assert!(b.text(".ok").contains("Check Now"));
    b.screenshot("08-automatic-provisioning");
    assert!(h.events().contains("check-now"));
    b.goto(&h.url("/mgmt/restart"));
    let restarts = h.events().matches("restart").count();
    b.submit_then("#confirm-submit", || b.accept_alert());
    assert!(b.text(".ok").contains("restarting"));
    assert_eq!(h.events().matches("restart").count(), restarts + 1);

    // Sign in (4.21) with a PIN.
    b.goto(&h.url("/config/sign-in"));
    b.type_in("#signin-number", "4418");
    b.type_in("#signin-secret", "9876");
    b.submit("#signin-submit");
    assert!(b.text("#signin-state").contains("Signed in as 4418"));
    b.screenshot("09-sign-in");

    // Status pages.
    for (path, name, expect) in [
        ("/status/calls", "10-call-history", "Anna Smith"),
        ("/status/voip", "11-voip-status", "Registered"),
        ("/status/tracing", "12-tracing", "REGISTER 200 OK"),
        (
            "/config/function-keys",
            "13-function-keys",
            "personal_settings/functional_key/0/type",
        ),
        ("/mgmt/users", "14-users", "Administrator account"),
        ("/status/logging", "15-logging", "system/syslog/mode"),
    ] {
        b.goto(&h.url(path));
        assert!(b.source().contains(expect), "{path}");
        b.screenshot(name);
    }
    // Monitoring: ping the loopback with the system's ping.
    b.goto(&h.url("/status/monitoring"));
    b.clear("#ping-count");
    b.type_in("#ping-count", "1");
    b.submit("#ping-go");
    let out = b.text("#ping-result");
    assert!(
        out.contains("127.0.0.1") && out.contains("1 received"),
        "{out}"
    );
    b.screenshot("16-monitoring");
}
