//! The real binaries on real sockets in two network namespaces (phone, PC): pairing
//! (automatic, manual, wrong code, CheckNetwork), click-to-dial and mirrored call control,
//! the audio round trip under PESQ, and a capture with no plaintext call data.
//! Needs root, iproute2, tshark (dumpcap) and python3 with `pesq` and `numpy`.
mod common;

use std::process::Command;
use std::time::Duration;

use common::{expect_line, stderr, stdout, stl, Lab};

const T: Duration = Duration::from_secs(10);

fn both() -> &'static str {
    "lync/BToE/pairing_mode=BOTH\n"
}

/// Manual pairing with the phone's code; returns the code.
fn pair_with_code(lab: &mut Lab, phone: &mut common::PhoneProc) -> String {
    let code = phone.code();
    let o = lab.pc(&["pair", "--code", &code, "--phone", &lab.phone_ip.clone()]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("paired mode=Code"), "{}", stdout(&o));
    phone.expect("connected mode=Code", T);
    code
}

#[test]
fn automatic_pairing_over_the_pc_port() {
    let mut lab = Lab::new(false);
    // Default configuration (pairing_mode=AUTOMATIC from the schema); the veth is the PC port.
    let cidr = lab.phone_cidr.clone();
    let phone = lab.phone(&["--network", &cidr, "--pc-port", &cidr]);
    let o = lab.pc(&["pair"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("announce from"), "{}", stdout(&o));
    assert!(stdout(&o).contains("paired mode=Auto"), "{}", stdout(&o));
    phone.expect("connected mode=Auto", T);
    // Later commands reconnect with the stored pairing.
    let o = lab.pc(&["status"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("connected mode=Resume"),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("phone-locked false"));
    phone.expect("connected mode=Resume", T);
}

#[test]
fn manual_pairing_wrong_code_refused_and_rate_limited() {
    let mut lab = Lab::new(false);
    let cfg = lab.cfg(both());
    let cidr = lab.phone_cidr.clone();
    let mut phone = lab.phone(&["--cfg", cfg.to_str().unwrap(), "--network", &cidr]);
    let code = phone.code();
    let wrong: String = {
        let mut s = code.clone();
        let last = if s.ends_with('0') { "1" } else { "0" };
        s.replace_range(7..8, last);
        s
    };
    let ip = lab.phone_ip.clone();
    for _ in 0..3 {
        let o = lab.pc(&["pair", "--code", &wrong, "--phone", &ip]);
        assert_eq!(o.status.code(), Some(2), "{}{}", stdout(&o), stderr(&o));
        assert!(stderr(&o).contains("wrong pair code"));
        phone.expect("auth-failed", T);
    }
    // Rate limited: even the right code is refused for now.
    let o = lab.pc(&["pair", "--code", &code, "--phone", &ip]);
    assert_eq!(o.status.code(), Some(3), "{}{}", stdout(&o), stderr(&o));
    assert!(stderr(&o).contains("rate limited"), "{}", stderr(&o));
    assert!(stderr(&o).contains("retry after"), "{}", stderr(&o));
    std::thread::sleep(Duration::from_millis(2100));
    let o = lab.pc(&["pair", "--code", &code, "--phone", &ip]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    phone.expect("connected mode=Code", T);
    // Nothing was stored by the failed attempts; the stored pairing works.
    let o = lab.pc(&["status"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn manual_pairing_refused_in_automatic_mode() {
    let mut lab = Lab::new(false);
    let cidr = lab.phone_cidr.clone();
    let mut phone = lab.phone(&["--network", &cidr]);
    let code = phone.code();
    let o = lab.pc(&["pair", "--code", &code, "--phone", &lab.phone_ip.clone()]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("pairing mode not allowed"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn cross_subnet_pairing_follows_check_network() {
    let mut lab = Lab::new(true);
    let cidr = lab.phone_cidr.clone();
    let ip = lab.phone_ip.clone();
    // CheckNetwork=0 (the default): pairing across subnets works.
    let cfg = lab.cfg(both());
    let mut phone = lab.phone(&["--cfg", cfg.to_str().unwrap(), "--network", &cidr]);
    let code = phone.code();
    let o = lab.pc(&["pair", "--code", &code, "--phone", &ip]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let pid = phone.pid;
    lab.stop(pid);
    // CheckNetwork=1: refused.
    let cfg = lab.cfg(&format!("{}lync/BToE/CheckNetwork=1\n", both()));
    let mut phone = lab.phone(&["--cfg", cfg.to_str().unwrap(), "--network", &cidr]);
    let code = phone.code();
    let o = lab.pc(&["pair", "--code", &code, "--phone", &ip]);
    assert_eq!(o.status.code(), Some(3), "{}{}", stdout(&o), stderr(&o));
    assert!(stderr(&o).contains("another subnet"), "{}", stderr(&o));
    phone.expect("refused", T);
}

#[test]
fn click_to_dial_and_call_control_mirrored_both_ways() {
    let mut lab = Lab::new(false);
    let cfg = lab.cfg(both());
    let cidr = lab.phone_cidr.clone();
    let mut phone = lab.phone(&["--cfg", cfg.to_str().unwrap(), "--network", &cidr]);
    pair_with_code(&mut lab, &mut phone);
    let watch = lab.pc_spawn(&["watch", "--seconds", "60"]);
    expect_line(&watch, "connected", T);

    // Click-to-dial from the PC starts a call on the phone.
    let o = lab.pc(&["dial", "5551234"]);
    assert!(o.status.success(), "{}", stderr(&o));
    phone.expect("command dial 5551234", T);
    phone.expect("call 1 connected out 5551234", T);
    expect_line(&watch, "call 1 connected out 5551234", T);

    // Hold on the phone -> seen on the PC; resume from the PC -> done on the phone.
    phone.send("hold 1");
    expect_line(&watch, "call 1 held", T);
    let o = lab.pc(&["resume", "1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    phone.expect("command resume 1", T);
    phone.expect("call 1 connected", T);
    expect_line(&watch, "call 1 connected", T);
    // Hold from the PC, resume on the phone.
    let o = lab.pc(&["hold", "1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    phone.expect("call 1 held", T);
    expect_line(&watch, "call 1 held", T);
    phone.send("resume 1");
    expect_line(&watch, "call 1 connected", T);
    // Resume of a connected call is refused by the phone's call table.
    let o = lab.pc(&["resume", "1"]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));

    // Incoming call rings on the phone and is answered from the PC.
    phone.send("incoming 5550000");
    expect_line(&watch, "call 2 ringing in 5550000", T);
    let o = lab.pc(&["answer", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    phone.expect("command answer 2", T);
    expect_line(&watch, "call 2 connected in 5550000", T);
    let o = lab.pc(&["status"]);
    assert!(
        stdout(&o).contains("call 1 connected out 5551234"),
        "{}",
        stdout(&o)
    );
    assert!(
        stdout(&o).contains("call 2 connected in 5550000"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn audio_round_trip_keeps_pesq_above_4() {
    let mut lab = Lab::new(false);
    let cfg = lab.cfg(both());
    let cidr = lab.phone_cidr.clone();
    let mut phone = lab.phone(&[
        "--cfg",
        cfg.to_str().unwrap(),
        "--network",
        &cidr,
        "--loopback-audio",
    ]);
    pair_with_code(&mut lab, &mut phone);
    let input = stl("g722/inpsp.bin");
    let out = lab.path("deg.raw");
    let o = lab.pc(&[
        "audio-loop",
        "--input",
        input.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let script = r#"
import sys, numpy as np
from pesq import pesq
ref = np.fromfile(sys.argv[1], dtype="<i2").astype(np.float64)
deg = np.fromfile(sys.argv[2], dtype="<i2").astype(np.float64)
n = min(len(ref), len(deg))
print(pesq(16000, ref[:n], deg[:n], "wb"))
"#;
    let p = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&input)
        .arg(&out)
        .output()
        .expect("python3 with pesq and numpy (scripts/install-deps)");
    assert!(p.status.success(), "{}", stderr(&p));
    let score: f64 = stdout(&p).trim().parse().expect("PESQ score");
    println!(
        "BToE audio PC -> phone -> PC, 16 kHz L16, 0 % loss: PESQ-WB {score:.3} ({})",
        stdout(&o).trim()
    );
    assert!(score >= 4.0, "PESQ {score}");
}

#[test]
fn captured_session_has_no_plaintext_call_data() {
    let mut lab = Lab::new(false);
    let cfg = lab.cfg(both());
    let cidr = lab.phone_cidr.clone();
    let mut phone = lab.phone(&["--cfg", cfg.to_str().unwrap(), "--network", &cidr]);
    let pcap = lab.path("btoe.pcap");
    let ns = lab.phone_ns.clone();
    let ifn = lab.phone_if.clone();
    let cap = lab.spawn_in(
        &ns,
        "dumpcap",
        &["-q", "-i", &ifn, "-w", pcap.to_str().unwrap()],
    );
    // Give dumpcap time to open the interface.
    let deadline = std::time::Instant::now() + T;
    while !pcap.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    let code = pair_with_code(&mut lab, &mut phone);
    let o = lab.pc(&["dial", "4155550123"]);
    assert!(o.status.success(), "{}", stderr(&o));
    phone.expect("call 1 connected out 4155550123", T);
    let o = lab.pc(&["hangup", "1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    std::thread::sleep(Duration::from_millis(300));
    // SIGTERM: dumpcap closes the file cleanly.
    lab.stop(cap);
    let bytes = std::fs::read(&pcap).expect("capture file");
    // The capture holds the session: TCP segments to the control port with payload.
    let t = Command::new("tshark")
        .args([
            "-r",
            pcap.to_str().unwrap(),
            "-Y",
            "tcp.port==9999 && tcp.len>0",
        ])
        .output()
        .expect("tshark");
    let segs = stdout(&t).lines().count();
    assert!(segs >= 10, "only {segs} control segments captured");
    let has = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    assert!(!has(b"4155550123"), "dialed number in the capture");
    assert!(!has(code.as_bytes()), "pair code in the capture");
    // Also not as UTF-16 or spaced digits.
    let wide: Vec<u8> = "4155550123".bytes().flat_map(|b| [b, 0]).collect();
    assert!(!has(&wide));
}
