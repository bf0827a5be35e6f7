//! Test bed for the end-to-end tests: a server and a phone network namespace joined by a veth
//! pair; real servers (dnsmasq, nginx with a test CA, kamailio, baresip) run in the server
//! namespace, the `PhoneDriver` on threads that entered the phone namespace. Every process is
//! killed and both namespaces are removed on drop. Needs root and the tools
//! scripts/install-deps installs; a missing tool fails the test (it is never skipped).
#![allow(dead_code)]

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static NEXT: AtomicU32 = AtomicU32::new(1);

/// The board MAC of the phone (its veth carries it, so the DHCP server sees it too).
pub const MAC: [u8; 6] = [0x00, 0x90, 0x8f, 0x5e, 0x0c, 0x0e];
pub const MAC_HEX: &str = "00908f5e0c0e";

pub const USERS: &[(&str, &str)] = &[("alice", "pa55-a"), ("bob", "pa55-b"), ("carol", "pa55-c")];

pub fn password(user: &str) -> &'static str {
    USERS
        .iter()
        .find(|(u, _)| *u == user)
        .map(|(_, p)| *p)
        .expect("known user")
}

pub fn sh(cmd: &str, args: &[&str]) -> Output {
    Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd} (scripts/install-deps installs it): {e}"))
}

pub fn must(cmd: &str, args: &[&str]) {
    let o = sh(cmd, args);
    assert!(
        o.status.success(),
        "{cmd} {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The two namespaces, their veth ends and the servers started in the server namespace.
pub struct Net {
    pub srv_ns: String,
    pub phone_ns: String,
    pub srv_if: String,
    pub phone_if: String,
    /// Third octet of 10.78.x.0/24.
    pub subnet: u32,
    pub dir: tempfile::TempDir,
    children: Vec<(String, Child)>,
}

impl Net {
    pub fn new() -> Net {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id() % 10_000;
        let tag = format!("{pid}c{n}");
        let subnet = (pid * 7 + n) % 250 + 1;
        let net = Net {
            srv_ns: format!("acc-{tag}-srv"),
            phone_ns: format!("acc-{tag}-ph"),
            srv_if: format!("cs{tag}"),
            phone_if: format!("cp{tag}"),
            subnet,
            dir: tempfile::tempdir().expect("tempdir"),
            children: Vec::new(),
        };
        must("ip", &["netns", "add", &net.srv_ns]);
        must("ip", &["netns", "add", &net.phone_ns]);
        must(
            "ip",
            &[
                "link",
                "add",
                &net.srv_if,
                "type",
                "veth",
                "peer",
                "name",
                &net.phone_if,
            ],
        );
        must("ip", &["link", "set", &net.srv_if, "netns", &net.srv_ns]);
        must(
            "ip",
            &["link", "set", &net.phone_if, "netns", &net.phone_ns],
        );
        let cidr = format!("{}/24", net.server_ip());
        net.exec_ok(
            &net.srv_ns,
            &["ip", "addr", "add", &cidr, "dev", &net.srv_if],
        );
        net.exec_ok(&net.srv_ns, &["ip", "link", "set", &net.srv_if, "up"]);
        net.exec_ok(&net.srv_ns, &["ip", "link", "set", "lo", "up"]);
        net.exec_ok(&net.phone_ns, &["ip", "link", "set", "lo", "up"]);
        let mac = MAC
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":");
        net.exec_ok(
            &net.phone_ns,
            &["ip", "link", "set", &net.phone_if, "address", &mac],
        );
        net.exec_ok(&net.phone_ns, &["ip", "link", "set", &net.phone_if, "up"]);
        net
    }

    pub fn server_ip(&self) -> String {
        format!("10.78.{}.1", self.subnet)
    }

    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    pub fn exec_ok(&self, ns: &str, args: &[&str]) {
        let mut a = vec!["netns", "exec", ns];
        a.extend_from_slice(args);
        must("ip", &a);
    }

    /// Starts a long-running process in the server namespace, output to `<name>.log`, in its
    /// own process group (`ip netns exec` execs the program, so the child is the server).
    pub fn spawn(&mut self, name: &str, args: &[&str], cwd: Option<&Path>) {
        let log = fs::File::create(self.path(&format!("{name}.log"))).expect("log");
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.srv_ns])
            .args(args)
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        if let Some(d) = cwd {
            c.current_dir(d);
        }
        let child = c
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", args[0]));
        self.children.push((name.to_string(), child));
    }

    pub fn log(&self, name: &str) -> String {
        fs::read_to_string(self.path(&format!("{name}.log"))).unwrap_or_default()
    }

    /// Waits for a line of `<name>.log` containing `needle`.
    pub fn wait_log(&self, name: &str, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.log(name).contains(needle) {
            assert!(
                Instant::now() < deadline,
                "{name}.log: no {needle:?} in {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Waits for a line of `<name>.log` that contains every one of `parts`.
    pub fn wait_line(&self, name: &str, parts: &[&str], timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self
            .log(name)
            .lines()
            .any(|l| parts.iter().all(|p| l.contains(p)))
        {
            assert!(
                Instant::now() < deadline,
                "{name}.log: no line with {parts:?} in {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Waits until a TCP port accepts connections in the server namespace.
    pub fn wait_tcp(&self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let probe = format!("exec 3<>/dev/tcp/{}/{port}", self.server_ip());
        loop {
            let o = sh("ip", &["netns", "exec", &self.srv_ns, "bash", "-c", &probe]);
            if o.status.success() {
                return;
            }
            assert!(Instant::now() < deadline, "port {port} never opened");
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// dnsmasq serving DHCP (and DNS on the server address when `dns`) with the given extra
    /// options.
    pub fn dnsmasq(&mut self, dns: bool, extra: &[String]) {
        let s = self.subnet;
        let mut args: Vec<String> = vec![
            "dnsmasq".into(),
            "--keep-in-foreground".into(),
            "--conf-file=/dev/null".into(),
            "--user=root".into(),
            "--no-resolv".into(),
            "--no-hosts".into(),
            if dns { "--log-queries" } else { "--port=0" }.into(),
            format!("--interface={}", self.srv_if),
            "--bind-interfaces".into(),
            format!("--listen-address={}", self.server_ip()),
            format!("--dhcp-range=10.78.{s}.50,10.78.{s}.99,255.255.255.0,10m"),
            format!("--dhcp-leasefile={}", self.path("leases").display()),
            "--pid-file=".into(),
            "--log-dhcp".into(),
            // No ICMP probe before an offer: the segment holds only the phone.
            "--no-ping".into(),
            format!("--log-facility={}", self.path("dnsmasq.log").display()),
        ];
        args.extend(extra.iter().cloned());
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        self.spawn("dnsmasq-out", &a, None);
        self.wait_log("dnsmasq", "DHCP, IP range", Duration::from_secs(10));
    }

    /// A test PKI made with the openssl CLI: root CA, `srv.pem` for the server's IP address
    /// (nginx) and `sip.pem` for `sip.example.com` only (kamailio's TLS). Returns the
    /// directory.
    pub fn pki(&self) -> PathBuf {
        let d = self.path("pki");
        fs::create_dir_all(&d).expect("pki dir");
        let p = |f: &str| d.join(f).to_str().expect("utf-8").to_string();
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ];
        let (cak, cap) = (p("ca.key"), p("ca.pem"));
        let mut a = vec!["req", "-x509"];
        a.extend_from_slice(&ec);
        a.extend_from_slice(&[
            "-keyout",
            &cak,
            "-out",
            &cap,
            "-days",
            "2",
            "-sha256",
            "-subj",
            "/CN=Test Phone Root",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        must("openssl", &a);
        // srv: nginx (by IP address); sip: kamailio's TLS port, by name only (RFC 5922 7.2:
        // the phone must check the name it resolved, not the address).
        for (name, san) in [
            ("srv", format!("IP:{}", self.server_ip())),
            ("sip", "DNS:sip.example.com".to_string()),
        ] {
            let (key, csr, pem, extf) = (
                p(&format!("{name}.key")),
                p(&format!("{name}.csr")),
                p(&format!("{name}.pem")),
                p(&format!("{name}.ext")),
            );
            fs::write(
                &extf,
                format!(
                    "subjectAltName={san}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n"
                ),
            )
            .expect("ext");
            let subj = format!("/CN={name}");
            let mut a = vec!["req"];
            a.extend_from_slice(&ec);
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

    /// nginx serving `www/` over HTTPS on port 8443 with the server certificate of `pki`.
    pub fn nginx(&mut self, pki: &Path) -> PathBuf {
        let www = self.path("www");
        fs::create_dir_all(&www).expect("www");
        let dir = self.dir.path().display().to_string();
        let ip = self.server_ip();
        let conf = format!(
            "user root;\nworker_processes 1;\ndaemon off;\npid {dir}/nginx.pid;\nerror_log {dir}/nginx-error.log info;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n access_log {dir}/nginx-access.log;\n client_body_temp_path {dir}/ngx-body;\n proxy_temp_path {dir}/ngx-proxy;\n\
              fastcgi_temp_path {dir}/ngx-fcgi;\n uwsgi_temp_path {dir}/ngx-uwsgi;\n scgi_temp_path {dir}/ngx-scgi;\n\
              server {{ listen {ip}:8443 ssl; ssl_certificate {p}/srv.pem; ssl_certificate_key {p}/srv.key; root {www}; }}\n}}\n",
            p = pki.display(),
            www = www.display()
        );
        let cf = self.path("nginx.conf");
        fs::write(&cf, conf).expect("nginx.conf");
        let cfs = cf.to_str().expect("utf-8").to_string();
        let pfx = format!("{dir}/");
        self.spawn("nginx", &["nginx", "-c", &cfs, "-p", &pfx], None);
        self.wait_tcp(8443);
        www
    }

    /// kamailio on the server address: registrar with digest authentication (db_text
    /// `subscriber` table of [`USERS`]), record-routing proxy to registered contacts. The
    /// script logs what the test checks: registrations with their contact, the direction
    /// attributes of re-INVITEs and of their answers, the codec of answers, REFER and the
    /// sipfrag status of NOTIFYs. `tls`: also listen on TLS port 5061 with the server
    /// certificate of that PKI.
    pub fn kamailio(&mut self, tls: Option<&Path>) {
        let d = self.path("kamailio");
        fs::create_dir_all(d.join("db")).expect("kamailio dir");
        fs::write(
            d.join("db/version"),
            "id(int,auto) table_name(string) table_version(int) \n0:subscriber:7\n",
        )
        .expect("version");
        let mut users =
            String::from("id(int,auto) username(string) domain(string) password(string) \n");
        for (i, (u, p)) in USERS.iter().enumerate() {
            users.push_str(&format!("{}:{u}:example.com:{p}\n", i + 1));
        }
        fs::write(d.join("db/subscriber"), users).expect("subscriber");
        let ip = self.server_ip();
        let (tls_listen, tls_mod) = match tls {
            Some(pki) => {
                fs::write(
                    d.join("tls.cfg"),
                    format!(
                        "[server:default]\nmethod = TLSv1.2+\nverify_certificate = no\nrequire_certificate = no\n\
                         private_key = {p}/sip.key\ncertificate = {p}/sip.pem\n\n\
                         [client:default]\nverify_certificate = no\nrequire_certificate = no\n",
                        p = pki.display()
                    ),
                )
                .expect("tls.cfg");
                (
                    // RFC 5923: requests to a phone that sent `alias` in its Via go over its connection.
                    format!("listen=tcp:{ip}:5060\nlisten=tls:{ip}:5061\nenable_tls=yes\ntcp_children=2\ntcp_accept_aliases=yes\n"),
                    format!(
                        "loadmodule \"tls.so\"\nmodparam(\"tls\", \"config\", \"{}\")\n",
                        d.join("tls.cfg").display()
                    ),
                )
            }
            None => (String::new(), String::new()),
        };
        let cfg = format!(
            r#"#!KAMAILIO
debug=2
log_stderror=yes
children=2
auto_aliases=no
listen=udp:{ip}:5060
{tls_listen}alias=example.com
mpath="/usr/lib/x86_64-linux-gnu/kamailio/modules/"
{tls_mod}loadmodule "db_text.so"
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
request_route {{
  if (!mf_process_maxfwd_header("10")) {{ sl_send_reply("483","Too Many Hops"); exit; }}
  xlog("L_NOTICE", "REQ $rm $ru from $si:$sp proto $pr\n");
  if (is_method("INVITE")) {{
    if (search_body("a=sendonly")) {{ xlog("L_NOTICE", "INVITE-DIR sendonly $ru\n"); }}
    else if (search_body("a=recvonly")) {{ xlog("L_NOTICE", "INVITE-DIR recvonly $ru\n"); }}
    else {{ xlog("L_NOTICE", "INVITE-DIR sendrecv $ru\n"); }}
    t_on_reply("ANSWER");
  }}
  if (is_method("NOTIFY") && search_body("^SIP/2.0 [0-9]+")) {{
    if (search_body("^SIP/2.0 200")) {{ xlog("L_NOTICE", "SIPFRAG 200 to $ru\n"); }}
    else {{ xlog("L_NOTICE", "SIPFRAG other to $ru\n"); }}
  }}
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
    xlog("L_NOTICE", "REGISTERED $fu contact $ct proto $pr\n");
    exit;
  }}
  if (is_method("OPTIONS") && $rU == $null) {{ sl_send_reply("200","OK"); exit; }}
  record_route();
  if (!lookup("location")) {{ sl_send_reply("404","Not Found"); exit; }}
  t_relay();
}}
onreply_route[ANSWER] {{
  if (status =~ "^2" && has_body("application/sdp")) {{
    if (search_body("a=recvonly")) {{ xlog("L_NOTICE", "ANSWER-DIR recvonly\n"); }}
    else if (search_body("a=sendonly")) {{ xlog("L_NOTICE", "ANSWER-DIR sendonly\n"); }}
    else {{ xlog("L_NOTICE", "ANSWER-DIR sendrecv\n"); }}
    if (search_body("^m=audio [0-9]+ RTP/AVP 9( |$)")) {{ xlog("L_NOTICE", "ANSWER-CODEC G722 first\n"); }}
  }}
}}
"#,
            dir = d.display()
        );
        fs::write(d.join("k.cfg"), cfg).expect("k.cfg");
        let kc = d.join("k.cfg");
        let kcs = kc.to_str().expect("utf-8").to_string();
        let ds = d.to_str().expect("utf-8").to_string();
        self.spawn(
            "kamailio",
            &["kamailio", "-f", &kcs, "-DD", "-E", "-Y", &ds],
            Some(&d),
        );
        self.wait_log("kamailio", "INFO: <core> [main.c", Duration::from_secs(10));
    }

    /// baresip registered as `user` on the server address, port `port`: auto-answer, G.722
    /// (and G.711), microphone from a 16 kHz WAV of a `tone_hz` tone, the decoded audio of
    /// every call recorded to `<name>-rec/dump-*-dec.wav` (module sndfile).
    pub fn baresip(&mut self, user: &str, port: u16, tone_hz: f64) {
        let d = self.path(&format!("baresip-{user}"));
        let rec = self.path(&format!("{user}-rec"));
        fs::create_dir_all(&d).expect("baresip dir");
        fs::create_dir_all(&rec).expect("rec dir");
        let tone = d.join("tone.wav");
        let samples: Vec<i16> = (0..16000 * 40)
            .map(|i| {
                (8000.0 * (2.0 * std::f64::consts::PI * tone_hz * i as f64 / 16000.0).sin()) as i16
            })
            .collect();
        fs::write(
            &tone,
            ac_core::wav::Wav {
                rate: 16000,
                samples,
            }
            .emit(),
        )
        .expect("tone.wav");
        let ip = self.server_ip();
        fs::write(
            d.join("config"),
            format!(
                "poll_method epoll\nsip_listen {ip}:{port}\nsip_trans_def udp\n\
                 audio_player alsa,null\naudio_alert alsa,null\n\
                 audio_source aufile,{tone}\n\
                 module_path /usr/lib/baresip/modules\nmodule g722.so\nmodule g711.so\n\
                 module aufile.so\nmodule alsa.so\nmodule sndfile.so\nmodule account.so\nmodule menu.so\n\
                 module cons.so\ncons_listen {ip}:{cons}\n\
                 snd_path {rec}\nrtp_ports {a}-{b}\n",
                cons = port + 9,
                tone = tone.display(),
                rec = rec.display(),
                a = 30000 + u32::from(port) % 100 * 20,
                b = 30000 + u32::from(port) % 100 * 20 + 18,
            ),
        )
        .expect("baresip config");
        fs::write(
            d.join("accounts"),
            format!(
                "<sip:{user}@example.com>;auth_pass={};outbound=\"sip:{ip}:5060\";regint=300;answermode=auto\n",
                password(user)
            ),
        )
        .expect("accounts");
        let ds = d.to_str().expect("utf-8").to_string();
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.srv_ns, "baresip", "-v", "-f", &ds])
            .env("HOME", &d);
        let log = fs::File::create(self.path(&format!("baresip-{user}.log"))).expect("log");
        let child = c
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("baresip (scripts/install-deps installs baresip-core)");
        self.children.push((format!("baresip-{user}"), child));
        self.wait_log(
            "kamailio",
            &format!("REGISTERED sip:{user}@example.com"),
            Duration::from_secs(10),
        );
    }

    /// chronyd as the NTP server on the server address (`-x`: never touches the host clock).
    pub fn chronyd(&mut self) {
        let conf = self.path("chrony.conf");
        fs::write(
            &conf,
            format!(
                "bindaddress {}\nport 123\nallow all\nlocal stratum 8\ncmdport 0\npidfile {}\n",
                self.server_ip(),
                self.path("chronyd.pid").display()
            ),
        )
        .expect("chrony.conf");
        let c = conf.to_str().expect("utf-8").to_string();
        self.spawn(
            "chronyd",
            &["chronyd", "-d", "-x", "-u", "root", "-f", &c],
            None,
        );
        self.wait_log("chronyd", "chronyd version", Duration::from_secs(10));
    }

    /// A console command to the baresip listening on SIP port `port` (`/dial URI`,
    /// `/hangup`), sent from the server namespace to its `cons` module on `port + 9` (baresip
    /// itself takes `port + 1` for SIP over TLS).
    pub fn baresip_cmd(&self, port: u16, cmd: &str) {
        let ip = self.server_ip();
        let line = format!("{cmd}\n");
        in_ns(&self.srv_ns, move || {
            let s = std::net::UdpSocket::bind(format!("{ip}:0")).expect("console socket");
            s.send_to(line.as_bytes(), format!("{ip}:{}", port + 9))
                .expect("console command");
        });
    }

    /// The WAV files baresip `user` recorded of what it received, oldest first.
    pub fn recordings(&self, user: &str) -> Vec<PathBuf> {
        let mut v: Vec<(std::time::SystemTime, PathBuf)> =
            fs::read_dir(self.path(&format!("{user}-rec")))
                .map(|rd| {
                    rd.flatten()
                        .map(|e| e.path())
                        .filter(|p| p.to_string_lossy().ends_with("-dec.wav"))
                        .map(|p| {
                            (
                                fs::metadata(&p)
                                    .and_then(|m| m.created().or_else(|_| m.modified()))
                                    .unwrap_or(std::time::UNIX_EPOCH),
                                p,
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
        v.sort();
        v.into_iter().map(|(_, p)| p).collect()
    }

    /// Stops the named server with SIGTERM (a graceful stop that closes its files), then
    /// SIGKILL after 3 s.
    pub fn stop(&mut self, name: &str) {
        for (n, c) in &mut self.children {
            if n == name {
                let _ = Command::new("kill").arg(c.id().to_string()).status();
                let deadline = Instant::now() + Duration::from_secs(3);
                while Instant::now() < deadline {
                    if let Ok(Some(_)) = c.try_wait() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        self.children.retain(|(n, _)| n != name);
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // Server logs explain most failures.
            if let Ok(rd) = fs::read_dir(self.dir.path()) {
                for e in rd.flatten() {
                    let p = e.path();
                    if p.extension().is_some_and(|x| x == "log") {
                        let s = fs::read_to_string(&p).unwrap_or_default();
                        let tail: Vec<&str> = s.lines().rev().take(80).collect();
                        eprintln!("==== {} (last lines) ====", p.display());
                        for l in tail.iter().rev() {
                            eprintln!("{l}");
                        }
                    }
                }
            }
        }
        for (_, c) in &mut self.children {
            // Each server is its own process group (kamailio and nginx fork workers).
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", c.id())])
                .status();
            let _ = c.kill();
            let _ = c.wait();
        }
        // Anything else still running in the namespaces.
        for ns in [&self.srv_ns, &self.phone_ns] {
            if let Ok(o) = Command::new("ip").args(["netns", "pids", ns]).output() {
                for pid in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-9", pid]).status();
                }
            }
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// Runs `f` on a thread that entered network namespace `ns`. setns(2) affects only the
/// calling thread; threads it starts and sockets it opens stay in that namespace.
pub fn in_ns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    use std::os::fd::AsRawFd;
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let fd = fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        // SAFETY: setns with a valid namespace file descriptor, on this thread only.
        let rc = unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
        f()
    })
    .join()
    .expect("namespace thread")
}

/// Share of the signal's power at `hz` (Goertzel over the whole slice, normalised by the
/// total power): ~1 for a pure tone, ~0 for silence or other frequencies.
pub fn tone_share(x: &[i16], rate: f64, hz: f64) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    let w = 2.0 * std::f64::consts::PI * hz / rate;
    let c = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    let mut total = 0.0f64;
    for &v in x {
        let v = f64::from(v);
        total += v * v;
        let s = v + c * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    let power = s1 * s1 + s2 * s2 - c * s1 * s2;
    let n = x.len() as f64;
    if total <= 0.0 {
        return 0.0;
    }
    // A sinusoid of amplitude A gives |X|^2 = (A n / 2)^2 and total power n A^2 / 2.
    (2.0 * power / n / total).min(1.0)
}

/// RMS of a slice.
pub fn rms(x: &[i16]) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    (x.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / x.len() as f64).sqrt()
}
