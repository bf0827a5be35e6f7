//! Test bed: two network namespaces joined by a veth pair, real servers (dnsmasq, nginx,
//! vsftpd, tshark) in the server namespace and `ac-provd` in the phone namespace. Everything
//! is removed on drop. Needs root and the tools `.ci/run` installs; a missing tool fails the
//! test (it is never skipped).
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static NEXT: AtomicU32 = AtomicU32::new(1);

pub fn sh(cmd: &str, args: &[&str]) -> Output {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd} (is it installed? .ci/run installs it): {e}"));
    out
}

pub fn must(cmd: &str, args: &[&str]) {
    let o = sh(cmd, args);
    assert!(
        o.status.success(),
        "{cmd} {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Server and phone namespaces.
pub struct Net {
    pub srv_ns: String,
    pub phone_ns: String,
    pub srv_if: String,
    pub phone_if: String,
    /// Third octet of 10.77.x.0/24.
    pub subnet: u32,
    pub dir: tempfile::TempDir,
    children: Vec<(String, Child)>,
    etc_dir: PathBuf,
}

impl Net {
    pub fn new() -> Net {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id() % 10_000;
        let tag = format!("{pid}x{n}");
        let subnet = (pid * 7 + n) % 250 + 1;
        let net = Net {
            srv_ns: format!("acp-{tag}-srv"),
            phone_ns: format!("acp-{tag}-ph"),
            srv_if: format!("vs{tag}"),
            phone_if: format!("vp{tag}"),
            subnet,
            dir: tempfile::tempdir().expect("tempdir"),
            children: Vec::new(),
            etc_dir: PathBuf::from(format!("/etc/netns/acp-{tag}-ph")),
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
        net.exec_ok(
            &net.srv_ns,
            &[
                "ip",
                "addr",
                "add",
                &format!("{}/24", net.server_ip()),
                "dev",
                &net.srv_if,
            ],
        );
        net.exec_ok(&net.srv_ns, &["ip", "link", "set", &net.srv_if, "up"]);
        net.exec_ok(&net.srv_ns, &["ip", "link", "set", "lo", "up"]);
        net.exec_ok(&net.phone_ns, &["ip", "link", "set", "lo", "up"]);
        net.exec_ok(
            &net.phone_ns,
            &[
                "ip",
                "link",
                "set",
                &net.phone_if,
                "address",
                "00:90:8f:11:22:33",
            ],
        );
        net.exec_ok(&net.phone_ns, &["ip", "link", "set", &net.phone_if, "up"]);
        // Per-namespace /etc overlay for resolv.conf (ip-netns(8)).
        fs::create_dir_all(&net.etc_dir).expect("etc/netns");
        fs::write(net.etc_dir.join("resolv.conf"), "").expect("resolv.conf");
        net
    }

    pub fn server_ip(&self) -> String {
        format!("10.77.{}.1", self.subnet)
    }

    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    pub fn exec_ok(&self, ns: &str, args: &[&str]) {
        let mut a = vec!["netns", "exec", ns];
        a.extend_from_slice(args);
        must("ip", &a);
    }

    /// Starts a long-running process in the server namespace.
    pub fn spawn_srv(&mut self, args: &[&str]) {
        let log = fs::File::create(self.path(&format!(
            "{}.log",
            args[0].rsplit('/').next().unwrap_or("srv")
        )))
        .expect("log");
        let child = Command::new("ip")
            .args(["netns", "exec", &self.srv_ns])
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", args[0]));
        self.children.push((args[0].to_string(), child));
    }

    /// dnsmasq serving DHCP (and TFTP from `tftp/`, DNS with ProvisioningServer) with the
    /// given extra options.
    pub fn dnsmasq(&mut self, extra: &[String]) {
        let tftp = self.path("tftp");
        fs::create_dir_all(&tftp).expect("tftp dir");
        let s = self.subnet;
        let mut args: Vec<String> = vec![
            "dnsmasq".into(),
            "--keep-in-foreground".into(),
            "--conf-file=/dev/null".into(),
            "--user=root".into(),
            "--no-resolv".into(),
            "--no-hosts".into(),
            format!("--interface={}", self.srv_if),
            "--bind-interfaces".into(),
            format!("--listen-address={}", self.server_ip()),
            format!("--dhcp-range=10.77.{s}.50,10.77.{s}.99,255.255.255.0,10m"),
            format!("--dhcp-leasefile={}", self.path("leases").display()),
            "--pid-file=".into(),
            "--log-dhcp".into(),
            // No ICMP probe of the address before offering it: the segment holds only the
            // phone, and the probe adds seconds to every test.
            "--no-ping".into(),
            "--log-queries".into(),
            format!(
                "--log-facility={}",
                self.path("dnsmasq-events.log").display()
            ),
            format!("--dhcp-option=3,{}", self.server_ip()),
            format!("--dhcp-option=6,{}", self.server_ip()),
        ];
        args.extend(extra.iter().cloned());
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        self.spawn_srv(&a);
        self.wait_log("dnsmasq-events.log", "DHCP, IP range");
    }

    /// Stops dnsmasq (to restart it with other options).
    pub fn stop_dnsmasq(&mut self) {
        for (name, c) in &mut self.children {
            if name == "dnsmasq" {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        self.children.retain(|(n, _)| n != "dnsmasq");
        // `ip netns exec` execs the program, so the child is dnsmasq itself (never pkill:
        // other tests' servers share the PID namespace).
        let _ = fs::remove_file(self.path("dnsmasq-events.log"));
    }

    pub fn tftp_root(&self) -> PathBuf {
        self.path("tftp")
    }

    /// Waits for `needle` in a log file of the test directory (servers start asynchronously).
    pub fn wait_log(&self, file: &str, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if fs::read_to_string(self.path(file)).is_ok_and(|s| s.contains(needle)) {
                return;
            }
            assert!(Instant::now() < deadline, "{file}: no {needle:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until a TCP port accepts connections in the server namespace.
    pub fn wait_tcp(&self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let ip = self.server_ip();
        loop {
            let o = sh(
                "ip",
                &[
                    "netns",
                    "exec",
                    &self.srv_ns,
                    "bash",
                    "-c",
                    &format!("exec 3<>/dev/tcp/{ip}/{port}"),
                ],
            );
            if o.status.success() {
                return;
            }
            assert!(Instant::now() < deadline, "port {port} never opened");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Runs `ac-provd` in the phone namespace and returns its JSON events and exit code.
    pub fn provd(&self, args: &[&str]) -> (Vec<serde_json::Value>, i32) {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.phone_ns, &provd_bin()])
            .args(args)
            .output()
            .expect("run ac-provd");
        let events: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
            .collect();
        (events, out.status.code().unwrap_or(-1))
    }

    /// The arguments of `ac-provd run --once` with the usual options plus `extra`.
    pub fn provision_args(&self, model: &str, state: &Path, extra: &[&str]) -> Vec<String> {
        let key = self.path("fw-pub.pem");
        if !key.exists() {
            let pem = ac_prov::firmware::image::verifying_key_to_pem(&fw_key().verifying_key())
                .expect("PEM");
            fs::write(&key, pem).expect("write key");
        }
        let mut a: Vec<String> = vec![
            "run".into(),
            "--iface".into(),
            self.phone_if.clone(),
            "--model".into(),
            model.into(),
            "--state-dir".into(),
            state.to_str().expect("utf-8 path").into(),
            "--once".into(),
            "--dhcp-timeout".into(),
            "20".into(),
            "--fetch-timeout".into(),
            "5".into(),
            "--seed".into(),
            "1".into(),
            "--resolv-conf".into(),
            self.etc_dir
                .join("resolv.conf")
                .to_str()
                .expect("utf-8 path")
                .into(),
            "--trusted-key".into(),
            key.to_str().expect("utf-8 path").into(),
        ];
        a.extend(extra.iter().map(|x| x.to_string()));
        a
    }

    /// `ac-provd run --once` with the usual arguments plus `extra`.
    pub fn provision(
        &self,
        model: &str,
        state: &Path,
        extra: &[&str],
    ) -> (Vec<serde_json::Value>, i32) {
        let a = self.provision_args(model, state, extra);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        self.provd(&a)
    }

    /// Starts `ac-provd` in the phone namespace with its stdout piped (the caller reads the
    /// events and may kill it: `ip netns exec` execs the program, so the child is ac-provd).
    #[allow(dead_code)]
    pub fn spawn_provd(&self, args: &[String]) -> std::process::Child {
        Command::new("ip")
            .args(["netns", "exec", &self.phone_ns, &provd_bin()])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn ac-provd")
    }

    pub fn server_log(&self, name: &str) -> String {
        fs::read_to_string(self.path(name)).unwrap_or_default()
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
                        let tail: Vec<&str> = s.lines().rev().take(60).collect();
                        eprintln!("==== {} (last lines) ====", p.display());
                        for l in tail.iter().rev() {
                            eprintln!("{l}");
                        }
                    }
                }
            }
        }
        for (_, c) in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        // Anything else still running in the namespaces (nginx workers, ...).
        for ns in [&self.srv_ns, &self.phone_ns] {
            let _ = Command::new("ip")
                .args(["netns", "pids", ns])
                .output()
                .map(|o| {
                    for pid in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                        let _ = Command::new("kill").args(["-9", pid]).status();
                    }
                });
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = fs::remove_dir_all(&self.etc_dir);
    }
}

/// The vendor key the test images are signed with.
pub fn fw_key() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[0x42; 32])
}

/// A signed image for 420HD and 440HD with one `rootfs` section of `body`.
#[allow(dead_code)]
pub fn signed_image(version: &str, counter: u32, body: &[u8]) -> Vec<u8> {
    ac_prov::firmware::build(
        &fw_key(),
        &ac_prov::firmware::BuildSpec {
            version,
            models: &[ac_cfg::Model::Hd420, ac_cfg::Model::Hd440],
            security_counter: counter,
            build_time: 1_790_000_000,
            sections: &[("rootfs", body)],
        },
    )
    .expect("build image")
}

/// The `ac-provd` program: cargo's path in tests, `AC_PROVD` elsewhere (the benches).
pub fn provd_bin() -> String {
    option_env!("CARGO_BIN_EXE_ac-provd")
        .map(str::to_string)
        .or_else(|| std::env::var("AC_PROVD").ok())
        .expect("ac-provd: run from cargo test, or set AC_PROVD")
}

/// Events named `name`.
pub fn events<'a>(ev: &'a [serde_json::Value], name: &str) -> Vec<&'a serde_json::Value> {
    ev.iter().filter(|e| e["event"] == name).collect()
}

pub fn dump(ev: &[serde_json::Value]) -> String {
    ev.iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs `f` on a thread that entered network namespace `ns` (setns(2) affects only the
/// calling thread; sockets opened there stay in that namespace when handed back).
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

impl Net {
    /// Starts a long-running process in the server namespace with a given log name; returns
    /// its index for [`Net::stop`].
    pub fn spawn_named(&mut self, name: &str, args: &[&str]) {
        let log = fs::File::create(self.path(&format!("{name}.log"))).expect("log");
        let child = Command::new("ip")
            .args(["netns", "exec", &self.srv_ns])
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", args[0]));
        self.children.push((name.to_string(), child));
    }

    /// Sends SIGTERM to the named server and waits for it (a graceful stop).
    pub fn stop(&mut self, name: &str) {
        for (n, c) in &mut self.children {
            if n == name {
                let _ = Command::new("kill").arg(c.id().to_string()).status();
                let deadline = Instant::now() + Duration::from_secs(5);
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
