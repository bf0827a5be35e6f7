//! Real peers for call tests, all on 127.0.0.1 and stopped by Drop: kamailio as registrar and
//! record-routing proxy (db_text users alice, bob, carol, dave), our `ac-sip-phone`, baresip
//! (headless, G.711 only: audio from an 8 kHz WAV file by `aufile` (which needs the codec's
//! rate), played into ALSA's null device, driven over
//! its `cons` UDP console) and linphonec (headless: `soundcard use files`, driven on stdin).
#![allow(dead_code)]

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// A UDP port free now (and its TCP twin, which some peers also bind).
pub fn free_port() -> u16 {
    loop {
        let u = UdpSocket::bind("127.0.0.1:0").unwrap();
        let p = u.local_addr().unwrap().port();
        if TcpListener::bind(("127.0.0.1", p)).is_ok() {
            return p;
        }
    }
}

pub const PASSWORDS: &[(&str, &str)] = &[
    ("alice", "pa55-a"),
    ("bob", "pa55-b"),
    ("carol", "pa55-c"),
    ("dave", "pa55-d"),
];

pub fn password(user: &str) -> &'static str {
    PASSWORDS
        .iter()
        .find(|(u, _)| *u == user)
        .map(|(_, p)| *p)
        .unwrap()
}

pub struct Kamailio {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl Drop for Kamailio {
    fn drop(&mut self) {
        // kamailio forks workers into its own process group: stop the group.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Kamailio {
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("kamailio.log")).unwrap_or_default()
    }

    /// Registered users (from the log lines of the script).
    pub fn registered(&self, user: &str) -> bool {
        self.log()
            .lines()
            .any(|l| l.contains(&format!("REGISTERED sip:{user}@example.com")))
    }

    pub fn wait_registered(&self, user: &str) {
        let start = Instant::now();
        while !self.registered(user) {
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "{user} did not register:\n{}",
                self.log()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }
}

/// kamailio on 127.0.0.1: REGISTER with digest (db_text users), every dialog-creating
/// request record-routed and relayed to the callee's registered contact (`lookup`), in-dialog
/// requests by loose routing.
pub fn kamailio() -> Kamailio {
    kamailio_with(false, None)
}

/// The db_text tables of kamailio's presence modules, from the package's own schema
/// (`/usr/share/kamailio/dbtext/kamailio`, kamailio's db_text definitions).
const PRESENCE_TABLES: &[&str] = &["presentity", "active_watchers", "watchers", "xcap", "pua"];

/// [`kamailio`] that is also a presence server (RFC 3856/3903 PUBLISH and SUBSCRIBE for the
/// `presence` and `dialog` packages: modules presence, presence_xml, presence_dialoginfo)
/// and that publishes the state of the calls it proxies itself (dialog + pua_dialoginfo,
/// RFC 4235 bodies, PUBLISHed to itself through pua).
pub fn kamailio_presence() -> Kamailio {
    kamailio_with(true, None)
}

/// [`kamailio_presence`] on a given port (a fresh server in place of one that was stopped).
pub fn kamailio_presence_on(port: u16) -> Kamailio {
    kamailio_with(true, Some(port))
}

fn kamailio_with(presence: bool, port: Option<u16>) -> Kamailio {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::create_dir(d.join("db")).unwrap();
    let mut version =
        String::from("id(int,auto) table_name(string) table_version(int) \n0:subscriber:7\n");
    if presence {
        let schema = Path::new("/usr/share/kamailio/dbtext/kamailio");
        let versions = fs::read_to_string(schema.join("version"))
            .expect("kamailio's db_text schema (scripts/install-deps installs kamailio)");
        for t in PRESENCE_TABLES {
            fs::copy(schema.join(t), d.join("db").join(t)).unwrap();
            let line = versions
                .lines()
                .find(|l| l.split(':').nth(1) == Some(t))
                .unwrap_or_else(|| panic!("no version of table {t}"));
            version.push_str(line);
            version.push('\n');
        }
    }
    fs::write(d.join("db/version"), version).unwrap();
    let mut users =
        String::from("id(int,auto) username(string) domain(string) password(string) \n");
    for (i, (u, p)) in PASSWORDS.iter().enumerate() {
        users.push_str(&format!("{}:{u}:example.com:{p}\n", i + 1));
    }
    fs::write(d.join("db/subscriber"), users).unwrap();
    let port = port.unwrap_or_else(free_port);
    let (pres_modules, pres_route, dlg) = if presence {
        (
            format!(
                r#"loadmodule "dialog.so"
loadmodule "presence.so"
loadmodule "presence_xml.so"
loadmodule "presence_dialoginfo.so"
loadmodule "pua.so"
loadmodule "pua_dialoginfo.so"
modparam("presence", "db_url", "text://{dir}/db")
modparam("presence", "server_address", "sip:127.0.0.1:{port}")
modparam("presence", "subs_db_mode", 0)
modparam("presence", "publ_cache", 0)
modparam("presence_xml", "db_url", "text://{dir}/db")
modparam("presence_xml", "force_active", 1)
modparam("pua", "db_url", "text://{dir}/db")
modparam("pua", "db_mode", 0)
modparam("pua", "outbound_proxy", "sip:127.0.0.1:{port}")
modparam("pua_dialoginfo", "include_callid", 1)
modparam("pua_dialoginfo", "include_tags", 1)
modparam("pua_dialoginfo", "include_localremote", 1)
"#,
                dir = d.display()
            ),
            // PUBLISH and SUBSCRIBE need digest credentials (kamailio's own PUBLISHes of
            // call state, from its own socket, excepted).
            format!(
                r#"  if (is_method("PUBLISH|SUBSCRIBE")) {{
    if (!($si == "127.0.0.1" && $sp == {port})) {{
      if (!auth_check("$fd", "subscriber", "1")) {{ auth_challenge("$fd", "1"); exit; }}
      xlog("L_NOTICE", "AUTHORIZED $rm $fu\n");
    }}
    xlog("L_NOTICE", "PRESENCE $rm $ru event $hdr(Event) from $si:$sp\n");
    if (!t_newtran()) {{ sl_reply_error(); exit; }}
    if (is_method("PUBLISH")) {{ handle_publish(); }} else {{ handle_subscribe(); }}
    t_release();
    exit;
  }}
"#
            ),
            "  if (is_method(\"INVITE\")) { dlg_manage(); }\n",
        )
    } else {
        (String::new(), String::new(), "")
    };
    let cfg = format!(
        r#"#!KAMAILIO
debug=2
log_stderror=yes
children=2
auto_aliases=no
listen=udp:127.0.0.1:{port}
alias=example.com
mpath="/usr/lib/x86_64-linux-gnu/kamailio/modules/"
loadmodule "db_text.so"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "auth.so"
loadmodule "auth_db.so"
modparam("auth_db", "db_url", "text://{dir}/db")
modparam("auth_db", "calculate_ha1", yes)
modparam("auth_db", "password_column", "password")
modparam("auth_db", "load_credentials", "")
modparam("registrar", "min_expires", 30)
{pres_modules}
request_route {{
  if (!mf_process_maxfwd_header("10")) {{ sl_send_reply("483","Too Many Hops"); exit; }}
  xlog("L_NOTICE", "REQ $rm $ru from $si:$sp\n");
{pres_route}
  if (has_totag()) {{
    if (loose_route()) {{
      # A GRUU target (linphone's Contact, RFC 5627) is resolved through the location table.
      if ($rd == "example.com") {{ lookup("location"); }}
      t_relay(); exit;
    }}
    if (is_method("ACK")) {{ if (t_check_trans()) {{ t_relay(); }} exit; }}
    sl_send_reply("404","Not here"); exit;
  }}
  if (is_method("CANCEL")) {{ if (t_check_trans()) {{ t_relay(); }} exit; }}
  t_check_trans();
  if (is_method("REGISTER")) {{
    if (!www_authenticate("$fd", "subscriber")) {{ www_challenge("$fd", "1"); exit; }}
    if (!save("location")) {{ sl_reply_error(); }}
    xlog("L_NOTICE", "REGISTERED $fu contact $ct\n");
    exit;
  }}
  if (is_method("OPTIONS") && $rU == $null) {{ sl_send_reply("200","OK"); exit; }}
  record_route();
{dlg}
  if (!lookup("location")) {{ sl_send_reply("404","Not Found"); exit; }}
  t_relay();
}}
"#,
        dir = d.display()
    );
    fs::write(d.join("k.cfg"), cfg).unwrap();
    let log = fs::File::create(d.join("kamailio.log")).unwrap();
    let child = Command::new("kamailio")
        .process_group(0)
        .args(["-f", "k.cfg", "-DD", "-E", "-Y"])
        .arg(d)
        .current_dir(d)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("kamailio (scripts/install-deps installs it)");
    let k = Kamailio { child, port, dir };
    let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
    probe
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let start = Instant::now();
    let opts = format!("OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP {};branch=z9hG4bKprobe\r\nFrom: <sip:probe@test>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: probe\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n", probe.local_addr().unwrap());
    loop {
        let _ = probe.send_to(opts.as_bytes(), ("127.0.0.1", port));
        let mut b = [0u8; 2048];
        if probe.recv(&mut b).is_ok() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "kamailio did not start: {}",
            k.log()
        );
    }
    k
}

/// Lines of a child's output, with a wait that shows everything seen on failure.
pub struct Lines {
    rx: mpsc::Receiver<String>,
    pub seen: Vec<String>,
    what: String,
}

impl Lines {
    fn new(what: &str, r: impl std::io::Read + Send + 'static) -> Lines {
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for l in BufReader::new(r).lines().map_while(Result::ok) {
                // Console programs redraw status lines with CR: split them.
                for part in l.split('\r') {
                    if tx.send(part.to_string()).is_err() {
                        return;
                    }
                }
            }
        });
        Lines {
            rx,
            seen: Vec::new(),
            what: what.to_string(),
        }
    }

    /// Waits for a line (new, or already seen after `from`) that satisfies `f`.
    pub fn wait(&mut self, timeout: Duration, f: impl Fn(&str) -> bool) -> String {
        let end = Instant::now() + timeout;
        loop {
            let now = Instant::now();
            if now >= end {
                panic!(
                    "{}: no matching line in {timeout:?}; saw:\n{}",
                    self.what,
                    self.seen.join("\n")
                );
            }
            match self.rx.recv_timeout(end - now) {
                Ok(l) => {
                    let hit = f(&l);
                    self.seen.push(l.clone());
                    if hit {
                        return l;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    panic!("{}: exited; saw:\n{}", self.what, self.seen.join("\n"))
                }
            }
        }
    }

    /// Takes what arrived so far without waiting.
    pub fn drain(&mut self) {
        while let Ok(l) = self.rx.try_recv() {
            self.seen.push(l);
        }
    }
}

/// Our `ac-sip-phone`.
pub struct Ours {
    child: Child,
    stdin: Option<ChildStdin>,
    pub out: Lines,
    pub port: u16,
}

impl Drop for Ours {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Ours {
    pub fn start(k: &Kamailio, user: &str, extra: &[&str]) -> Ours {
        let port = free_port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_ac-sip-phone"))
            .args([
                "--udp",
                &format!("127.0.0.1:{port}"),
                "--proxy",
                &k.addr().to_string(),
                "--aor",
                &format!("sip:{user}@example.com"),
                "--user",
                user,
                "--password",
                password(user),
                "--register",
                "--duration",
                "60",
                "--stop-on-eof",
            ])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let out = Lines::new(
            &format!("ac-sip-phone {user}"),
            child.stdout.take().unwrap(),
        );
        let mut o = Ours {
            child,
            stdin,
            out,
            port,
        };
        o.event(Duration::from_secs(10), |v| v["event"] == "registered");
        o
    }

    /// Without a proxy or registration: requests come straight to our port.
    pub fn direct(user: &str, extra: &[&str]) -> Ours {
        let port = free_port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_ac-sip-phone"))
            .args([
                "--udp",
                &format!("127.0.0.1:{port}"),
                "--aor",
                &format!("sip:{user}@127.0.0.1:{port}"),
                "--duration",
                "60",
                "--stop-on-eof",
            ])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let out = Lines::new(
            &format!("ac-sip-phone {user}"),
            child.stdout.take().unwrap(),
        );
        let mut o = Ours {
            child,
            stdin,
            out,
            port,
        };
        o.event(Duration::from_secs(10), |v| v["event"] == "listening");
        o
    }

    pub fn cmd(&mut self, line: &str) {
        let s = self.stdin.as_mut().unwrap();
        writeln!(s, "{line}").unwrap();
        s.flush().unwrap();
    }

    /// Waits for an event satisfying `f`.
    pub fn event(
        &mut self,
        timeout: Duration,
        f: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let l = self.out.wait(timeout, |l| {
            serde_json::from_str::<serde_json::Value>(l).is_ok_and(|v| f(&v))
        });
        serde_json::from_str(&l).unwrap()
    }

    /// Events seen so far named `name`.
    pub fn seen(&self, name: &str) -> Vec<serde_json::Value> {
        self.out
            .seen
            .iter()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["event"] == name)
            .collect()
    }
}

/// A mono 16-bit WAV of a 440 Hz tone (what the peers send as their microphone).
pub fn tone_wav(path: &Path, rate: u32, secs: u32) {
    let n = rate * secs;
    let mut b = Vec::with_capacity(44 + 2 * n as usize);
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + 2 * n).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&(rate * 2).to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&16u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&(2 * n).to_le_bytes());
    for i in 0..n {
        let s =
            (8000.0 * (2.0 * std::f64::consts::PI * 440.0 * i as f64 / rate as f64).sin()) as i16;
        b.extend_from_slice(&s.to_le_bytes());
    }
    fs::write(path, b).unwrap();
}

/// baresip, registered as `user`, driven over its UDP console.
pub struct Baresip {
    child: Child,
    pub out: Lines,
    pub port: u16,
    cons: SocketAddr,
    sock: UdpSocket,
    _dir: tempfile::TempDir,
}

impl Drop for Baresip {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Baresip {
    pub fn start(k: &Kamailio, user: &str) -> Baresip {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let port = free_port();
        let cons = free_port();
        let rtp = 40000 + (free_port() % 20000) / 2 * 2;
        tone_wav(&d.join("tone.wav"), 8000, 30);
        fs::write(
            d.join("config"),
            format!(
                "poll_method epoll\nsip_listen 127.0.0.1:{port}\nsip_trans_def udp\n\
                 audio_player alsa,null\naudio_alert alsa,null\n\
                 audio_source aufile,{}\n\
                 module_path /usr/lib/baresip/modules\nmodule g711.so\n\
                 module aufile.so\nmodule alsa.so\nmodule account.so\nmodule menu.so\n\
                 module cons.so\ncons_listen 127.0.0.1:{cons}\nrtp_ports {rtp}-{}\n",
                d.join("tone.wav").display(),
                rtp + 40
            ),
        )
        .unwrap();
        fs::write(
            d.join("accounts"),
            format!(
                "<sip:{user}@example.com>;auth_pass={};outbound=\"sip:{}\";regint=300\n",
                password(user),
                k.addr()
            ),
        )
        .unwrap();
        let mut child = Command::new("baresip")
            .arg("-f")
            .arg(d)
            .env("HOME", d)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("baresip (scripts/install-deps installs baresip-core)");
        let out = Lines::new(&format!("baresip {user}"), child.stdout.take().unwrap());
        let mut b = Baresip {
            child,
            out,
            port,
            cons: SocketAddr::from(([127, 0, 0, 1], cons)),
            sock: UdpSocket::bind("127.0.0.1:0").unwrap(),
            _dir: dir,
        };
        b.out.wait(Duration::from_secs(10), |l| {
            l.contains("200 OK") && l.contains(user)
        });
        b
    }

    /// A console command (`/dial URI`, `/accept`, `/hangup`, `/hold`, `/resume`).
    pub fn cmd(&self, c: &str) {
        self.sock
            .send_to(format!("{c}\n").as_bytes(), self.cons)
            .unwrap();
    }
}

/// linphonec, registered as `user`, commands on stdin.
pub struct Linphonec {
    child: Child,
    stdin: Option<ChildStdin>,
    pub out: Lines,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Linphonec {
    fn drop(&mut self) {
        if let Some(s) = self.stdin.as_mut() {
            let _ = writeln!(s, "quit");
        }
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Linphonec {
    pub fn start(k: &Kamailio, user: &str) -> Linphonec {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let port = free_port();
        let rtp = 42000 + (free_port() % 20000) / 2 * 2;
        // ALSA's null device stands in for a sound card; `soundcard use files` plays a
        // WAV file into calls instead.
        fs::write(
            d.join(".asoundrc"),
            "pcm.!default { type null }\nctl.!default { type hw card 0 }\n",
        )
        .unwrap();
        fs::create_dir_all(d.join(".local/share/linphone")).unwrap();
        tone_wav(&d.join("tone.wav"), 8000, 30);
        fs::write(
            d.join("rc"),
            format!(
                "[sip]\nuse_ipv6=0\nbind_address=127.0.0.1\nsip_udp_port={port}\nsip_port={port}\n\
                 sip_tcp_port=0\nsip_tls_port=0\ndefault_proxy=0\nregister_only_when_network_is_up=0\n\
                 [rtp]\naudio_rtp_port={rtp}\n[sound]\nechocancellation=0\nplay_file={}\n\
                 [auth_info_0]\nusername={user}\npasswd={}\nrealm=example.com\ndomain=example.com\n\
                 [proxy_0]\nreg_proxy=<sip:{k};transport=udp>\nreg_route=<sip:{k};transport=udp;lr>\nreg_identity=sip:{user}@example.com\n\
                 reg_expires=300\nreg_sendregister=1\npublish=0\n",
                d.join("tone.wav").display(),
                password(user),
                k = k.addr()
            ),
        )
        .unwrap();
        let mut child = Command::new("linphonec")
            .arg("-c")
            .arg(d.join("rc"))
            .args(["-d", "0"])
            .env("HOME", d)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("linphonec (scripts/install-deps installs linphone-cli)");
        let stdin = child.stdin.take();
        let out = Lines::new(&format!("linphonec {user}"), child.stdout.take().unwrap());
        let mut l = Linphonec {
            child,
            stdin,
            out,
            port,
            _dir: dir,
        };
        l.cmd("soundcard use files");
        l.out
            .wait(Duration::from_secs(10), |s| s.contains("Using wav files"));
        k.wait_registered(user);
        l
    }

    pub fn cmd(&mut self, c: &str) {
        let s = self.stdin.as_mut().unwrap();
        writeln!(s, "{c}").unwrap();
        s.flush().unwrap();
    }
}
