//! The acceptance test of issue 10, end to end in network namespaces: the phone
//! (`PhoneDriver`, `NetworkMode::Dhcp` on its veth, run inside the phone namespace) boots
//! from DHCP option 160 (dnsmasq), provisions its `.cfg` over HTTPS (nginx, test CA), sets its
//! clock with SNTP from chronyd (DHCP option 42), registers
//! to kamailio with digest authentication, calls baresip with G.722, sends DTMF, holds,
//! resumes and blind-transfers baresip to a second baresip; the audio each end received is
//! checked for the other end's tone frequency.

mod netns;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ac_cfg::{Config, Model};
use ac_core::board::{AudioFrame, BoardOutput, DisplayKind, FRAME_SAMPLES};
use ac_core::driver::{CallOp, DriverOptions, NetworkMode, PhoneDriver};
use ac_core::phone::{BootStage, CallPhase, PhoneStatus};
use ac_core::SignIn;
use netns::{in_ns, rms, tone_share, Net, MAC, MAC_HEX};

/// The phone's microphone tone and baresip's (bob's) tone.
const PHONE_HZ: f64 = 1000.0;
const BOB_HZ: f64 = 700.0;

fn wait(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < timeout, "{what}: not within {timeout:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
    start.elapsed()
}

/// The board's audio thread: the microphone plays a tone, the speaker is recorded (one
/// frame every 10 ms, as a board's audio interrupt would).
struct Board {
    heard: Arc<Mutex<Vec<i16>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Board {
    fn start(phone: Arc<PhoneDriver>) -> Board {
        let heard = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (h, s) = (heard.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let start = Instant::now();
            let mut n: u64 = 0;
            while !s.load(Ordering::Relaxed) {
                let mut mic: AudioFrame = [0; FRAME_SAMPLES];
                for (i, v) in mic.iter_mut().enumerate() {
                    let t = (n as f64 * FRAME_SAMPLES as f64 + i as f64) / 16000.0;
                    *v = (8000.0 * (2.0 * std::f64::consts::PI * PHONE_HZ * t).sin()) as i16;
                }
                let mut spk: AudioFrame = [0; FRAME_SAMPLES];
                phone.audio(&mic, &mut spk);
                h.lock().expect("heard").extend_from_slice(&spk);
                n += 1;
                let next = start + Duration::from_millis(10 * n);
                if let Some(d) = next.checked_duration_since(Instant::now()) {
                    std::thread::sleep(d);
                }
            }
        });
        Board {
            heard,
            stop,
            thread: Some(thread),
        }
    }

    /// Samples heard so far (the index marks a point in time).
    fn mark(&self) -> usize {
        self.heard.lock().expect("heard").len()
    }

    fn since(&self, from: usize) -> Vec<i16> {
        self.heard.lock().expect("heard")[from..].to_vec()
    }
}

impl Drop for Board {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn call_phase(st: &PhoneStatus) -> Option<CallPhase> {
    st.calls.first().map(|c| c.phase)
}

#[test]
fn dhcp_https_provisioning_register_call_dtmf_hold_resume_transfer_audio() {
    let mut net = Net::new();
    let ip = net.server_ip();
    let pki = net.pki();
    let www = net.nginx(&pki);
    // The phone's configuration: kamailio as outbound proxy / registrar, the line's password,
    // G.722 first.
    let cfg = format!(
        "# model: 440HD\n\
         voip/signalling/sip/sip_outbound_proxy/enabled=1\n\
         voip/signalling/sip/sip_outbound_proxy/addr={ip}\n\
         voip/signalling/sip/sip_outbound_proxy/port=5060\n\
         voip/line/0/auth_password={}\n\
         voip/codec/codec_info/0/name=G722\n\
         voip/codec/codec_info/1/name=PCMU\n\
         voip/codec/codec_info/2/name=PCMA\n\
         voip/codec/codec_info/3/enabled=0\n\
         voip/codec/codec_info/4/enabled=0\n",
        netns::password("alice")
    );
    std::fs::create_dir_all(www.join("p")).expect("www/p");
    std::fs::write(www.join(format!("p/{MAC_HEX}.cfg")), cfg).expect("cfg");
    net.dnsmasq(
        false,
        &[
            format!("--dhcp-option=3,{ip}"),
            // Option 42: the NTP server of the time stage.
            format!("--dhcp-option=42,{ip}"),
            format!("--dhcp-option=160,https://{ip}:8443/p/"),
        ],
    );
    net.chronyd();
    net.kamailio(None);
    net.baresip("bob", 5070, BOB_HZ);
    net.baresip("carol", 5080, 500.0);

    // The phone: factory configuration (no proxy, no password), DHCP on its veth.
    let outputs: Arc<Mutex<Vec<BoardOutput>>> = Arc::new(Mutex::new(Vec::new()));
    let o = outputs.clone();
    let mut opts = DriverOptions::static_addr(
        "0.0.0.0".parse().expect("ip"),
        SignIn {
            aor: "sip:alice@example.com".into(),
            user: "alice".into(),
            password: String::new(),
            display_name: Some("Alice".into()),
        },
    );
    opts.network = NetworkMode::Dhcp {
        interface: net.phone_if.clone(),
    };
    opts.mac = MAC;
    opts.ca_certs = vec![std::fs::read(pki.join("ca.pem")).expect("ca.pem")];
    opts.boot_timeout = Duration::from_secs(15);
    opts.seed = 10;
    let boot = Instant::now();
    let phone = Arc::new(in_ns(&net.phone_ns, move || {
        PhoneDriver::start(
            Config::defaults(Model::Hd440),
            opts,
            Box::new(move |out| o.lock().expect("outputs").push(out)),
        )
        .expect("start the phone")
    }));
    let board = Board::start(phone.clone());

    // Boot: DHCP -> HTTPS provisioning -> registration.
    wait("registered", Duration::from_secs(20), || {
        phone.status().registered
    });
    let to_registered = boot.elapsed();
    let st = phone.status();
    assert_eq!(st.stage, BootStage::Ready);
    // The time stage asked chronyd (option 42) before registering: the phone's clock is
    // chronyd's, i.e. this host's within the round trip.
    let utc = phone
        .utc_now()
        .expect("time from the NTP server of option 42");
    let skew = match utc.duration_since(std::time::SystemTime::now()) {
        Ok(d) => d,
        Err(e) => e.duration(),
    };
    assert!(
        skew < Duration::from_millis(100),
        "phone clock off by {skew:?}"
    );
    let sip = st.sip_addr.expect("SIP address");
    let dns = net.log("dnsmasq");
    // dnsmasq logs option 160 (a string) as its length and the first bytes in hex.
    let url = format!("https://{ip}:8443/p/");
    let hex: Vec<String> = url.bytes().take(14).map(|b| format!("{b:02x}")).collect();
    assert!(
        dns.contains(&format!(
            "size:{:>3} option:160   {}",
            url.len(),
            hex.join(":")
        )),
        "dnsmasq did not send option 160 = {url}:\n{dns}"
    );
    assert!(
        dns.contains(&format!("DHCPACK({}) {}", net.srv_if, sip.ip())),
        "the phone's address {} is not dnsmasq's lease:\n{dns}",
        sip.ip()
    );
    let access = std::fs::read_to_string(net.path("nginx-access.log")).unwrap_or_default();
    assert!(
        access.contains(&format!("GET /p/{MAC_HEX}.cfg HTTP/1.1\" 200")),
        "nginx did not serve the .cfg:\n{access}"
    );
    let k = net.log("kamailio");
    assert!(
        k.contains(&format!(
            "REGISTERED sip:alice@example.com contact <sip:alice@{sip}>"
        )),
        "kamailio has no contact sip:alice@{sip}:\n{k}"
    );

    // Call bob (baresip answers automatically), G.722.
    phone.dial("sip:bob@example.com").expect("dial");
    let setup = wait("connected", Duration::from_secs(10), || {
        call_phase(&phone.status()) == Some(CallPhase::Connected)
    });
    let st = phone.status();
    assert_eq!(st.calls[0].codec, "G722", "{:?}", st.calls);
    net.wait_log(
        "kamailio",
        "ANSWER-CODEC G722 first",
        Duration::from_secs(2),
    );
    std::thread::sleep(Duration::from_millis(300));
    let m = board.mark();
    std::thread::sleep(Duration::from_millis(1500));
    let talk1 = board.since(m);
    let share1 = tone_share(&talk1, 16000.0, BOB_HZ);
    let rms1 = rms(&talk1);

    // DTMF 1, 2, 3 (RFC 4733 events): baresip logs each event it received, and its end.
    for d in ['1', '2', '3'] {
        phone.dtmf(d).expect("dtmf");
        net.wait_log(
            "baresip-bob",
            &format!("received event: '{d}' (end=1)"),
            Duration::from_secs(3),
        );
        std::thread::sleep(Duration::from_millis(150));
    }

    // Hold: re-INVITE with sendonly, answered recvonly; bob's audio stops.
    phone.call(CallOp::Hold).expect("hold");
    wait("held", Duration::from_secs(5), || {
        call_phase(&phone.status()) == Some(CallPhase::Held)
    });
    net.wait_log("kamailio", "INVITE-DIR sendonly", Duration::from_secs(2));
    net.wait_log("kamailio", "ANSWER-DIR recvonly", Duration::from_secs(2));
    std::thread::sleep(Duration::from_millis(300));
    let m = board.mark();
    std::thread::sleep(Duration::from_millis(1000));
    let held = board.since(m);
    let rms_held = rms(&held);

    // Resume: sendrecv again, bob's tone comes back.
    phone.call(CallOp::Resume).expect("resume");
    wait("resumed", Duration::from_secs(5), || {
        call_phase(&phone.status()) == Some(CallPhase::Connected)
    });
    let k = net.log("kamailio");
    let after_hold = &k[k.find("ANSWER-DIR recvonly").expect("hold answer")..];
    assert!(
        after_hold.contains("INVITE-DIR sendrecv"),
        "no sendrecv re-INVITE after the hold:\n{k}"
    );
    // The far end restarts its stream where its clock stopped: the jitter buffer
    // resynchronises after a few packets (ac-media jitter.rs).
    std::thread::sleep(Duration::from_millis(600));
    let m = board.mark();
    std::thread::sleep(Duration::from_millis(1000));
    let talk2 = board.since(m);
    let share2 = tone_share(&talk2, 16000.0, BOB_HZ);

    // Blind transfer of bob to carol: REFER, bob calls carol, NOTIFY sipfrag 200, the
    // phone's call ends.
    phone
        .call(CallOp::Transfer("sip:carol@example.com".into()))
        .expect("transfer");
    net.wait_log("kamailio", "REQ REFER sip:bob-", Duration::from_secs(3));
    net.wait_log(
        "kamailio",
        &format!("REQ INVITE sip:carol@example.com from {ip}:5070"),
        Duration::from_secs(5),
    );
    net.wait_log("kamailio", "SIPFRAG 200", Duration::from_secs(5));
    wait("call ended", Duration::from_secs(5), || {
        phone.status().calls.is_empty()
    });
    net.wait_log(
        "baresip-carol",
        "Call established: sip:bob@example.com",
        Duration::from_secs(5),
    );

    drop(board);
    let phone = Arc::try_unwrap(phone).unwrap_or_else(|_| panic!("board still holds the phone"));
    phone.stop().expect("stop");
    // bob's recordings are complete once baresip closed them.
    net.stop("baresip-bob");
    let recs = net.recordings("bob");
    assert!(!recs.is_empty(), "bob recorded nothing");
    let first = ac_core::wav::Wav::parse(&std::fs::read(&recs[0]).expect("bob's recording"))
        .expect("bob's recording is a 16-bit mono WAV");
    assert_eq!(first.rate, 16000, "G.722 is 16 kHz audio");
    // Skip the first 200 ms (jitter buffer fill), check 2 s of what bob heard.
    let heard_bob =
        &first.samples[3200.min(first.samples.len())..(3200 + 32000).min(first.samples.len())];
    let share_bob = tone_share(heard_bob, 16000.0, PHONE_HZ);

    let outs = outputs.lock().expect("outputs");
    let displays: Vec<String> = outs
        .iter()
        .filter_map(|o| match o {
            BoardOutput::Display(d) => Some(format!("{:?} {}", d.kind, d.text)),
            _ => None,
        })
        .collect();
    assert!(
        outs.iter()
            .any(|o| matches!(o, BoardOutput::Display(d) if d.kind == DisplayKind::Held)),
        "no Held display: {displays:?}"
    );
    eprintln!(
        "e2e: registered {:.0} ms after start (test {:.2} s), call setup {:.0} ms; phone heard \
         {BOB_HZ} Hz share {share1:.3} (rms {rms1:.0}) / held rms {rms_held:.0} / after resume \
         {share2:.3}; bob heard {PHONE_HZ} Hz share {share_bob:.3} ({} recordings)",
        to_registered.as_secs_f64() * 1000.0,
        boot.elapsed().as_secs_f64(),
        setup.as_secs_f64() * 1000.0,
        recs.len()
    );
    assert!(share1 > 0.8, "phone heard bob's tone share {share1:.3}");
    assert!(
        share2 > 0.8,
        "phone heard bob's tone after resume: share {share2:.3}"
    );
    assert!(
        rms_held < rms1 / 20.0,
        "audio did not stop while held: rms {rms_held:.0} vs {rms1:.0}"
    );
    assert!(
        share_bob > 0.8,
        "bob heard the phone's tone share {share_bob:.3}"
    );
}

/// Boots a phone whose `.cfg` names the outbound proxy `sip.example.com` (default port, so
/// RFC 3263 applies) with these SRV records in dnsmasq (the DNS of DHCP option 6, no NAPTR),
/// and checks that it registered to kamailio over `proto` with a `;transport=<proto>`
/// contact. Returns the test bed, the phone and the time from start to registered.
fn registration_to_a_named_proxy(
    srv: &[&str],
    proto: &str,
    bob: bool,
) -> (Net, PhoneDriver, Duration, Arc<Mutex<Vec<String>>>) {
    let mut net = Net::new();
    let ip = net.server_ip();
    let pki = net.pki();
    let www = net.nginx(&pki);
    let cfg = format!(
        "voip/signalling/sip/sip_outbound_proxy/enabled=1\n\
         voip/signalling/sip/sip_outbound_proxy/addr=sip.example.com\n\
         voip/line/0/auth_password={}\n\
         voip/codec/codec_info/0/name=G722\n",
        netns::password("alice")
    );
    std::fs::create_dir_all(www.join("p")).expect("www/p");
    std::fs::write(www.join(format!("p/{MAC_HEX}.cfg")), cfg).expect("cfg");
    let mut opts_dns = vec![
        format!("--dhcp-option=6,{ip}"),
        format!("--dhcp-option=160,https://{ip}:8443/p/"),
        format!("--host-record=sip.example.com,{ip}"),
    ];
    opts_dns.extend(srv.iter().map(|r| format!("--srv-host={r}")));
    net.dnsmasq(true, &opts_dns);
    net.kamailio(Some(&pki));
    if bob {
        net.baresip("bob", 5070, BOB_HZ);
    }
    let mut opts = DriverOptions::static_addr(
        "0.0.0.0".parse().expect("ip"),
        SignIn {
            aor: "sip:alice@example.com".into(),
            user: "alice".into(),
            password: String::new(),
            display_name: None,
        },
    );
    opts.network = NetworkMode::Dhcp {
        interface: net.phone_if.clone(),
    };
    opts.mac = MAC;
    opts.ca_certs = vec![std::fs::read(pki.join("ca.pem")).expect("ca.pem")];
    opts.seed = 11;
    let start = Instant::now();
    let shown = Arc::new(Mutex::new(Vec::new()));
    let sh = shown.clone();
    let phone = in_ns(&net.phone_ns, move || {
        PhoneDriver::start(
            Config::defaults(Model::Hd440),
            opts,
            Box::new(move |o| {
                if let BoardOutput::Display(d) = o {
                    sh.lock()
                        .expect("shown")
                        .push(format!("{:?} {}", d.kind, d.text));
                }
            }),
        )
        .expect("start the phone")
    });
    wait(
        &format!("registered over {proto}"),
        Duration::from_secs(20),
        || phone.status().registered,
    );
    let to_registered = start.elapsed();
    let sip = phone.status().sip_addr.expect("SIP address");
    let k = net.log("kamailio");
    assert!(
        k.contains(&format!(
            "REGISTERED sip:alice@example.com contact <sip:alice@{sip};transport={proto}> proto {proto}"
        )),
        "no {proto} registration of sip:alice@{sip} in kamailio's log:\n{k}"
    );
    assert!(
        !k.lines().any(|l| l.contains("REQ REGISTER")
            && l.contains(&sip.ip().to_string())
            && !l.contains(&format!("proto {proto}"))),
        "the phone sent a REGISTER over another transport:\n{k}"
    );
    let dns = net.log("dnsmasq");
    assert!(
        dns.contains("query[SRV] _sips._tcp.sip.example.com"),
        "the phone did not look up the proxy's SRV records:\n{dns}"
    );
    (net, phone, to_registered, shown)
}

/// SIP over TLS to an outbound proxy named in DNS: SRV records for `_sips._tcp` and
/// `_sip._udp`; the phone prefers TLS, checks kamailio's certificate (issued for
/// `sip.example.com` only, not for the address: the name is what is checked, RFC 5922 4;
/// the test CA is the driver's `ca_certs`) and registers over kamailio's tls module. Then
/// calls both ways over that TLS connection: the phone calls baresip (G.722, bob's tone
/// heard) and hangs up; baresip calls the phone, which auto-answers: kamailio reaches the
/// phone (no TLS listener) over the phone's own connection (RFC 5923 `alias`); baresip
/// hangs up.
#[test]
fn tls_registration_and_calls_through_an_outbound_proxy_named_in_dns() {
    let (net, phone, t, shown) = registration_to_a_named_proxy(
        &[
            "_sips._tcp.sip.example.com,sip.example.com,5061,10,10",
            "_sip._udp.sip.example.com,sip.example.com,5060,10,10",
        ],
        "tls",
        true,
    );
    let ip = net.server_ip();
    let sip = phone.status().sip_addr.expect("SIP address");
    let phone = Arc::new(phone);
    let board = Board::start(phone.clone());
    phone
        .update_features(Box::new(|f| f.auto_answer = true))
        .expect("auto-answer");
    // Outgoing over TLS.
    phone.dial("sip:bob@example.com").expect("dial");
    let setup = wait("connected over TLS", Duration::from_secs(10), || {
        call_phase(&phone.status()) == Some(CallPhase::Connected)
    });
    assert_eq!(phone.status().calls[0].codec, "G722");
    net.wait_line(
        "kamailio",
        &[
            "REQ INVITE sip:bob@example.com",
            &format!("from {}:", sip.ip()),
            "proto tls",
        ],
        Duration::from_secs(1),
    );
    std::thread::sleep(Duration::from_millis(300));
    let m = board.mark();
    std::thread::sleep(Duration::from_millis(800));
    let share_out = tone_share(&board.since(m), 16000.0, BOB_HZ);
    phone.call(CallOp::Hangup).expect("hang up");
    net.wait_log(
        "baresip-bob",
        "Call with sip:alice@example.com terminated",
        Duration::from_secs(5),
    );
    wait("call ended", Duration::from_secs(5), || {
        phone.status().calls.is_empty()
    });
    // Incoming over the phone's TLS connection (auto-answer was set before the first call:
    // commands reach the phone thread asynchronously).
    net.baresip_cmd(5070, "/dial sip:alice@example.com");
    let answered = Instant::now();
    while !phone
        .status()
        .calls
        .first()
        .is_some_and(|c| c.incoming && c.phase == CallPhase::Connected)
    {
        assert!(
            answered.elapsed() < Duration::from_secs(10),
            "incoming call not answered: {:?}; display: {:?}",
            phone.status().calls,
            shown.lock().expect("shown")
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    net.wait_log(
        "kamailio",
        &format!("REQ INVITE sip:alice@example.com from {ip}:5070 proto udp"),
        Duration::from_secs(1),
    );
    std::thread::sleep(Duration::from_millis(300));
    let m = board.mark();
    std::thread::sleep(Duration::from_millis(800));
    let share_in = tone_share(&board.since(m), 16000.0, BOB_HZ);
    net.baresip_cmd(5070, "/hangup");
    wait("bob hung up", Duration::from_secs(5), || {
        phone.status().calls.is_empty()
    });
    net.wait_log(
        "kamailio",
        &format!("REQ BYE sip:alice@{sip};transport=tls from {ip}:5070"),
        Duration::from_secs(1),
    );
    drop(board);
    eprintln!(
        "e2e tls: registered {:.0} ms after start; call setup {:.0} ms; bob's tone share \
         {share_out:.3} (outgoing) / {share_in:.3} (incoming)",
        t.as_secs_f64() * 1000.0,
        setup.as_secs_f64() * 1000.0
    );
    assert!(
        share_out > 0.8,
        "outgoing call over TLS: share {share_out:.3}"
    );
    assert!(
        share_in > 0.8,
        "incoming call over TLS: share {share_in:.3}"
    );
}

/// Only `_sip._tcp` in DNS: the phone registers over TCP.
#[test]
fn tcp_registration_when_dns_offers_only_tcp() {
    let (_net, phone, t, _) = registration_to_a_named_proxy(
        &["_sip._tcp.sip.example.com,sip.example.com,5060,10,10"],
        "tcp",
        false,
    );
    phone.stop().expect("stop");
    eprintln!(
        "e2e tcp: registered {:.0} ms after start",
        t.as_secs_f64() * 1000.0
    );
}
