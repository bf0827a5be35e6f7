//! Real SIP peers on 127.0.0.1 for the C demo, stopped by Drop: kamailio as registrar and
//! record-routing proxy (db_text users alice, bob, carol with digest passwords) and baresip
//! (headless, G.711: a 440 Hz tone from an 8 kHz WAV file as microphone, auto-answer).

use std::fs;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A UDP port free now (and its TCP twin).
pub fn free_port() -> u16 {
    loop {
        let u = UdpSocket::bind("127.0.0.1:0").unwrap();
        let p = u.local_addr().unwrap().port();
        if TcpListener::bind(("127.0.0.1", p)).is_ok() {
            return p;
        }
    }
}

pub const USERS: &[(&str, &str)] = &[
    ("alice", "pw-alice"),
    ("bob", "pw-bob"),
    ("carol", "pw-carol"),
];

pub fn password(user: &str) -> &'static str {
    USERS
        .iter()
        .find(|(u, _)| *u == user)
        .map(|(_, p)| *p)
        .unwrap()
}

pub struct Kamailio {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Kamailio {
    fn drop(&mut self) {
        // kamailio forks its workers into its own process group: stop that group only.
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

    pub fn registered(&self, user: &str) -> bool {
        self.log()
            .lines()
            .any(|l| l.contains(&format!("REGISTERED sip:{user}@example.com")))
    }

    /// kamailio on 127.0.0.1: REGISTER with digest against db_text users, dialog-creating
    /// requests record-routed to the callee's registered contact, in-dialog requests loose-routed.
    pub fn start() -> Kamailio {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::create_dir(d.join("db")).unwrap();
        fs::write(
            d.join("db/version"),
            "id(int,auto) table_name(string) table_version(int) \n0:subscriber:7\n",
        )
        .unwrap();
        let mut users =
            String::from("id(int,auto) username(string) domain(string) password(string) \n");
        for (i, (u, p)) in USERS.iter().enumerate() {
            users.push_str(&format!("{}:{u}:example.com:{p}\n", i + 1));
        }
        fs::write(d.join("db/subscriber"), users).unwrap();
        let port = free_port();
        let mpath = [
            "/usr/lib/x86_64-linux-gnu/kamailio/modules/",
            "/usr/lib/kamailio/modules/",
        ]
        .into_iter()
        .find(|p| Path::new(p).join("tm.so").exists())
        .expect("kamailio modules (scripts/install-deps installs kamailio)");
        let cfg = format!(
            r#"#!KAMAILIO
debug=2
log_stderror=yes
children=2
auto_aliases=no
listen=udp:127.0.0.1:{port}
alias=example.com
mpath="{mpath}"
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
request_route {{
  if (!mf_process_maxfwd_header("10")) {{ sl_send_reply("483","Too Many Hops"); exit; }}
  xlog("L_NOTICE", "REQ $rm $ru from $si:$sp\n");
  if (has_totag()) {{
    if (loose_route()) {{ t_relay(); exit; }}
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
        // Up when it answers an OPTIONS.
        let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
        probe
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let opts = format!(
            "OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP {};branch=z9hG4bKprobe\r\n\
             From: <sip:probe@test>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: probe\r\n\
             CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
            probe.local_addr().unwrap()
        );
        let start = Instant::now();
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
}

/// An 8 kHz mono WAV of a 440 Hz tone.
fn tone_wav(path: &Path, secs: u32) {
    let rate = 8000u32;
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
        let s = (8000.0
            * (2.0 * std::f64::consts::PI * 440.0 * f64::from(i) / f64::from(rate)).sin())
            as i16;
        b.extend_from_slice(&s.to_le_bytes());
    }
    fs::write(path, b).unwrap();
}

/// baresip registered as `user` through kamailio, answering every call.
pub struct Baresip {
    child: Child,
    out: Arc<Mutex<Vec<String>>>,
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
        let rtp = 40000 + (free_port() % 20000) / 2 * 2;
        tone_wav(&d.join("tone.wav"), 60);
        fs::write(
            d.join("config"),
            format!(
                "poll_method epoll\nsip_listen 127.0.0.1:{port}\nsip_trans_def udp\n\
                 audio_player alsa,null\naudio_alert alsa,null\n\
                 audio_source aufile,{}\n\
                 module_path /usr/lib/baresip/modules\nmodule g711.so\n\
                 module aufile.so\nmodule alsa.so\nmodule account.so\nmodule menu.so\n\
                 rtp_ports {rtp}-{}\n",
                d.join("tone.wav").display(),
                rtp + 40
            ),
        )
        .unwrap();
        fs::write(
            d.join("accounts"),
            format!(
                "<sip:{user}@example.com>;auth_pass={};outbound=\"sip:{}\";regint=300;answermode=auto\n",
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
        let out = Arc::new(Mutex::new(Vec::new()));
        let (o, stdout) = (out.clone(), child.stdout.take().unwrap());
        std::thread::spawn(move || {
            for l in BufReader::new(stdout).lines().map_while(Result::ok) {
                o.lock().unwrap().push(l);
            }
        });
        let b = Baresip {
            child,
            out,
            _dir: dir,
        };
        b.wait(Duration::from_secs(10), |l| {
            l.contains("200 OK") && l.contains(user)
        });
        b
    }

    pub fn output(&self) -> Vec<String> {
        self.out.lock().unwrap().clone()
    }

    /// Waits for an output line matching `f`.
    pub fn wait(&self, timeout: Duration, f: impl Fn(&str) -> bool) -> String {
        let end = Instant::now() + timeout;
        loop {
            if let Some(l) = self.output().into_iter().find(|l| f(l)) {
                return l;
            }
            assert!(
                Instant::now() < end,
                "baresip: no such line in\n{}",
                self.output().join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
