//! Two network namespaces (phone, PC) joined by a veth pair, created and removed by the
//! test (needs root and iproute2); the real `btoe-phone` and `btoe-pc` binaries run inside.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{unbounded, Receiver};

static NEXT: AtomicU32 = AtomicU32::new(0);

fn ip(args: &[&str]) {
    let st = Command::new("ip")
        .args(args)
        .status()
        .expect("ip (iproute2) must be installed");
    assert!(st.success(), "ip {args:?} failed");
}

/// The lab: `phone_ns` and `pc_ns`.
pub struct Lab {
    pub phone_ns: String,
    pub pc_ns: String,
    pub phone_if: String,
    pub phone_ip: String,
    pub pc_ip: String,
    /// Prefix of the phone's own subnet, e.g. `10.77.3.1/24`.
    pub phone_cidr: String,
    pub dir: PathBuf,
    children: Vec<Child>,
}

impl Lab {
    /// `cross_subnet`: the PC sits in another /24 (routes on-link both ways, no router).
    pub fn new(cross_subnet: bool) -> Lab {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id() % 100_000;
        let tag = format!("{pid}x{n}");
        let phone_ns = format!("btoe-ph-{tag}");
        let pc_ns = format!("btoe-pc-{tag}");
        let phone_if = format!("bp{tag}");
        let pc_if = format!("bc{tag}");
        let third = (pid % 200 + n * 7) % 250 + 1;
        let (phone_ip, pc_ip, pc_net, phone_net) = if cross_subnet {
            (
                format!("10.78.{third}.1"),
                format!("10.79.{third}.2"),
                format!("10.79.{third}.0/24"),
                format!("10.78.{third}.0/24"),
            )
        } else {
            (
                format!("10.77.{third}.1"),
                format!("10.77.{third}.2"),
                String::new(),
                String::new(),
            )
        };
        let dir = std::env::temp_dir().join(format!("ac-btoe-{tag}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let lab = Lab {
            phone_ns: phone_ns.clone(),
            pc_ns: pc_ns.clone(),
            phone_if: phone_if.clone(),
            phone_ip: phone_ip.clone(),
            pc_ip: pc_ip.clone(),
            phone_cidr: format!("{phone_ip}/24"),
            dir,
            children: Vec::new(),
        };
        ip(&["netns", "add", &phone_ns]);
        ip(&["netns", "add", &pc_ns]);
        ip(&[
            "link", "add", &phone_if, "netns", &phone_ns, "type", "veth", "peer", "name", &pc_if,
            "netns", &pc_ns,
        ]);
        for (ns, ifn, addr) in [(&phone_ns, &phone_if, &phone_ip), (&pc_ns, &pc_if, &pc_ip)] {
            ip(&["-n", ns, "link", "set", "lo", "up"]);
            ip(&["-n", ns, "addr", "add", &format!("{addr}/24"), "dev", ifn]);
            ip(&["-n", ns, "link", "set", ifn, "up"]);
        }
        if cross_subnet {
            ip(&["-n", &phone_ns, "route", "add", &pc_net, "dev", &phone_if]);
            ip(&["-n", &pc_ns, "route", "add", &phone_net, "dev", &pc_if]);
        }
        lab
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Writes a .cfg for the phone.
    pub fn cfg(&self, text: &str) -> PathBuf {
        let p = self.path("phone.cfg");
        std::fs::write(&p, text).expect("write cfg");
        p
    }

    /// Starts `btoe-phone` in the phone namespace.
    pub fn phone(&mut self, args: &[&str]) -> PhoneProc {
        let mut c = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.phone_ns,
                env!("CARGO_BIN_EXE_btoe-phone"),
            ])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn btoe-phone");
        let stdin = c.stdin.take();
        let lines = reader(c.stdout.take().expect("stdout"));
        let pid = c.id();
        self.children.push(c);
        let p = PhoneProc { stdin, lines, pid };
        p.expect("listening", Duration::from_secs(10));
        p
    }

    /// Runs `btoe-pc` in the PC namespace to completion.
    pub fn pc(&self, args: &[&str]) -> Output {
        let st = self.path("pc.state");
        Command::new("ip")
            .args(["netns", "exec", &self.pc_ns, env!("CARGO_BIN_EXE_btoe-pc")])
            .args(["--state", st.to_str().expect("utf-8"), "--timeout", "10"])
            .args(args)
            .output()
            .expect("run btoe-pc")
    }

    /// Starts `btoe-pc` in the PC namespace with its stdout as lines.
    pub fn pc_spawn(&mut self, args: &[&str]) -> Receiver<String> {
        let st = self.path("pc.state");
        let mut c = Command::new("ip")
            .args(["netns", "exec", &self.pc_ns, env!("CARGO_BIN_EXE_btoe-pc")])
            .args(["--state", st.to_str().expect("utf-8"), "--timeout", "10"])
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn btoe-pc");
        let lines = reader(c.stdout.take().expect("stdout"));
        self.children.push(c);
        lines
    }

    /// Runs a command in a namespace as a child kept by the lab (killed on drop).
    pub fn spawn_in(&mut self, ns: &str, prog: &str, args: &[&str]) -> u32 {
        let c = Command::new("ip")
            .args(["netns", "exec", ns, prog])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {prog}: {e}"));
        let id = c.id();
        self.children.push(c);
        id
    }

    /// Stops (SIGTERM) and reaps one child.
    pub fn stop(&mut self, pid: u32) {
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        if let Some(i) = self.children.iter().position(|c| c.id() == pid) {
            let mut c = self.children.remove(i);
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.phone_ns])
            .status();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.pc_ns])
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn reader(out: impl std::io::Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = unbounded();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines() {
            let Ok(l) = l else { break };
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for a line starting with `prefix`.
pub fn expect_line(lines: &Receiver<String>, prefix: &str, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(l) if l.starts_with(prefix) => return l,
            Ok(_) => {}
            Err(_) => panic!("no line starting with {prefix:?} within {timeout:?}"),
        }
    }
}

/// A running `btoe-phone`.
pub struct PhoneProc {
    stdin: Option<ChildStdin>,
    pub lines: Receiver<String>,
    pub pid: u32,
}

impl PhoneProc {
    pub fn expect(&self, prefix: &str, timeout: Duration) -> String {
        expect_line(&self.lines, prefix, timeout)
    }
    pub fn send(&mut self, line: &str) {
        let s = self.stdin.as_mut().expect("stdin");
        writeln!(s, "{line}").expect("write to btoe-phone");
        s.flush().expect("flush");
    }
    /// The pair code (asks the phone).
    pub fn code(&mut self) -> String {
        self.send("code");
        self.expect("code ", Duration::from_secs(5))[5..].to_string()
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `/work/shared/testdata/itu-stl/<rel>` next to the repository (never copied in).
pub fn stl(rel: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let p = root.join("../shared/testdata/itu-stl").join(rel);
    if p.exists() {
        return p;
    }
    PathBuf::from("/work/shared/testdata/itu-stl").join(rel)
}
