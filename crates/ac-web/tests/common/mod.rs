//! Test harness: a real `ac-web` server on a loopback port over a temporary configuration
//! directory, and a raw HTTP/1.1 client (so tests can send exactly the bytes they mean).
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ac_cfg::Model;
use ac_prov::firmware::{
    build, image::verifying_key_to_pem, install_factory, BuildSpec, FileSlots, Keyring, Slot,
};
use ac_web::app::{App, Settings};
use ac_web::phone::FilePhone;
use ac_web::server::{Limits, Running, Server};
use ed25519_dalek::SigningKey;

/// A log sink the test can read.
#[derive(Clone, Default)]
pub struct LogBuf(pub Arc<Mutex<Vec<u8>>>);

impl Write for LogBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogBuf {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

pub struct Harness {
    pub dir: tempfile::TempDir,
    pub addr: SocketAddr,
    pub log: LogBuf,
    pub key: SigningKey,
    running: Option<Running>,
}

pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl std::fmt::Debug for Resp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {:?}\n{}",
            self.status,
            self.headers,
            String::from_utf8_lossy(&self.body)
        )
    }
}

impl Resp {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn header(&self, n: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.as_str())
    }
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            .find_map(|(_, v)| {
                let first = v.split(';').next()?;
                let (n, val) = first.split_once('=')?;
                (n == name).then(|| val.to_string())
            })
    }
}

/// The value of `name="csrf" value="..."` (or another hidden field) in a page.
pub fn hidden(page: &str, name: &str) -> Option<String> {
    let pat = format!("name=\"{name}\" value=\"");
    let i = page.find(&pat)? + pat.len();
    let j = page[i..].find('"')? + i;
    Some(page[i..j].to_string())
}

pub fn firmware_image(key: &SigningKey, version: &str, counter: u32) -> Vec<u8> {
    let kernel = vec![0x5au8; 3000];
    let rootfs: Vec<u8> = (0..5000u32).map(|i| (i * 7) as u8).collect();
    build(
        key,
        &BuildSpec {
            version,
            models: &[Model::Hd440],
            security_counter: counter,
            build_time: 1_700_000_000,
            sections: &[("kernel", &kernel), ("rootfs", &rootfs)],
        },
    )
    .unwrap()
}

impl Harness {
    pub fn start() -> Harness {
        Harness::start_with(None)
    }

    /// A 440HD with factory firmware 1.0.0 in slot A, signed by a key the phone trusts.
    pub fn start_with(tls: Option<Arc<rustls::ServerConfig>>) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let phone_dir = dir.path().to_path_buf();
        let mut seed = [0u8; 32];
        getrandom(&mut seed);
        let key = SigningKey::from_bytes(&seed);
        std::fs::write(
            phone_dir.join("firmware-keys.pem"),
            verifying_key_to_pem(&key.verifying_key()).unwrap(),
        )
        .unwrap();
        std::fs::write(
            phone_dir.join("calls.csv"),
            "1,received,4418,Anna Smith,2024-05-02 09:14,125\n2,missed,+4915112345678,,2024-05-02 10:01,0\n3,dialed,4403,Ops,2024-05-02 11:30,42\n",
        )
        .unwrap();
        std::fs::write(
            phone_dir.join("lines.txt"),
            "1,sip:anna@example.com,1,registered to 127.0.0.1:5060\n",
        )
        .unwrap();
        std::fs::write(
            phone_dir.join("trace.log"),
            "boot: ac-core starting\nsip: REGISTER 200 OK\n",
        )
        .unwrap();
        let phone = FilePhone::init(&phone_dir, Model::Hd440).unwrap();
        let fw = phone_dir.join("firmware");
        std::fs::create_dir_all(&fw).unwrap();
        let mut slots = FileSlots::open(&fw, 64 << 20).unwrap();
        let mut ring = Keyring::new();
        ring.add(key.verifying_key());
        install_factory(
            &mut slots,
            Slot::A,
            &firmware_image(&key, "1.0.0", 1),
            &ring,
            Model::Hd440,
        )
        .unwrap();
        let mut settings = Settings::new(&phone_dir);
        settings.tls_available = tls.is_some();
        settings.max_body = 256 * 1024;
        settings.max_firmware = 4 << 20;
        let log = LogBuf::default();
        let app = Arc::new(App::new(settings, Box::new(phone), Box::new(log.clone())).unwrap());
        let server = Server::bind("127.0.0.1:0", app, tls, Limits::default()).unwrap();
        let running = server.spawn().unwrap();
        Harness {
            addr: running.addr,
            dir,
            log,
            key,
            running: Some(running),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn url(&self, p: &str) -> String {
        format!("http://{}{}", self.addr, p)
    }

    /// Sends raw bytes, reads the whole answer (the server closes after one response).
    pub fn raw(&self, req: &[u8]) -> Resp {
        let mut s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        // The server may answer (413) before reading everything; ignore a reset on write.
        let _ = s.write_all(req);
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        parse_response(&out)
    }

    pub fn get(&self, path: &str, session: Option<&str>) -> Resp {
        let cookie = session
            .map(|s| format!("Cookie: acw_session={s}\r\n"))
            .unwrap_or_default();
        self.raw(format!("GET {path} HTTP/1.1\r\nHost: {}\r\n{cookie}\r\n", self.addr).as_bytes())
    }

    pub fn post(&self, path: &str, cookie: &str, ctype: &str, body: &[u8]) -> Resp {
        let mut req = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nCookie: {cookie}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            body.len()
        )
        .into_bytes();
        req.extend_from_slice(body);
        self.raw(&req)
    }

    pub fn post_form(&self, path: &str, session: &str, fields: &[(&str, &str)]) -> Resp {
        let pairs: Vec<(String, String)> = fields
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        self.post(
            path,
            &format!("acw_session={session}"),
            "application/x-www-form-urlencoded",
            ac_web::form::emit_urlencoded(&pairs).as_bytes(),
        )
    }

    pub fn post_multipart(
        &self,
        path: &str,
        session: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &str, &[u8])],
    ) -> Resp {
        let mut parts: Vec<ac_web::form::Part> = fields
            .iter()
            .map(|(n, v)| ac_web::form::Part {
                name: n.to_string(),
                filename: None,
                content_type: None,
                data: v.as_bytes().to_vec(),
            })
            .collect();
        for (n, f, d) in files {
            parts.push(ac_web::form::Part {
                name: n.to_string(),
                filename: Some(f.to_string()),
                content_type: Some("application/octet-stream".into()),
                data: d.to_vec(),
            });
        }
        let b = "----acwebtestboundary7MA4YWxk";
        self.post(
            path,
            &format!("acw_session={session}"),
            &format!("multipart/form-data; boundary={b}"),
            &ac_web::form::emit_multipart(&parts, b),
        )
    }

    /// Logs in; returns (session token, CSRF token) or the failed response.
    pub fn login(&self, user: &str, pw: &str) -> Result<(String, String), Resp> {
        let page = self.get("/login", None);
        let pre = page.cookie("acw_login").unwrap();
        let field = hidden(&page.text(), "pre").unwrap();
        let pairs = vec![
            ("username".to_string(), user.to_string()),
            ("password".to_string(), pw.to_string()),
            ("pre".to_string(), field),
        ];
        let r = self.post(
            "/login",
            &format!("acw_login={pre}"),
            "application/x-www-form-urlencoded",
            ac_web::form::emit_urlencoded(&pairs).as_bytes(),
        );
        let Some(tok) = r.cookie("acw_session") else {
            return Err(r);
        };
        let home = self.get("/status/system", Some(&tok));
        let csrf = hidden(&home.text(), "csrf").unwrap();
        Ok((tok, csrf))
    }

    pub fn cfg_text(&self) -> String {
        std::fs::read_to_string(self.path().join("phone.cfg")).unwrap_or_default()
    }

    pub fn events(&self) -> String {
        std::fs::read_to_string(self.path().join("events.log")).unwrap_or_default()
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(r) = self.running.take() {
            r.stop();
        }
    }
}

pub fn parse_response(out: &[u8]) -> Resp {
    let end = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(out)));
    let head = String::from_utf8_lossy(&out[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(a, b)| (a.to_string(), b.trim().to_string()))
        .collect();
    Resp {
        status,
        headers,
        body: out[end + 4..].to_vec(),
    }
}

fn getrandom(b: &mut [u8]) {
    // Test keys only: a time-seeded xorshift is enough to make each run's key differ.
    let mut x = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    for v in b.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *v = x as u8;
    }
}

/// A self-signed certificate for 127.0.0.1 made with the openssl CLI.
pub fn openssl_cert(dir: &Path) -> (PathBuf, PathBuf) {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let st = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl CLI (scripts/install-deps installs it)");
    assert!(st.success());
    (cert, key)
}
