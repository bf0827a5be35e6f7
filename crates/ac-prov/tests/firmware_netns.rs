//! Firmware over the network, end to end: `ac-provd` in a phone namespace, nginx / dnsmasq
//! TFTP in a server namespace, `ac-imgtool slots` as the bootloader.
//!
//! * an HTTP download killed (SIGKILL) half way resumes with a Range request from its last
//!   checkpoint and completes;
//! * a tampered header, a wrong model and a downgrade are refused from the header alone (the
//!   body is never requested); a tampered body is refused and the running slot is untouched;
//! * recovery mode (manual 8.7.3): with no bootable slot, DHCP options 66/67 and TFTP bring
//!   the model's image back.

mod common;

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;

const MAC: &str = "00908f112233";
const CFG: &[u8] = b"# model: 420HD\nnetwork/lan_type=STATIC\n";

fn write(p: &Path, data: &[u8]) {
    if let Some(d) = p.parent() {
        fs::create_dir_all(d).unwrap();
    }
    fs::write(p, data).unwrap();
}

fn imgtool(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ac-imgtool"))
        .args(args)
        .output()
        .expect("run ac-imgtool")
}

/// `ac-imgtool slots <cmd>` on a state directory's slots; returns (JSON, exit code).
fn slots(net: &Net, state: &Path, cmd: &str) -> (serde_json::Value, i32) {
    let dir = state.join("slots");
    let key = net.path("fw-pub.pem");
    let o = imgtool(&[
        "slots",
        cmd,
        "--dir",
        dir.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        "--model",
        "420HD",
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    let v = serde_json::from_str(out.trim()).unwrap_or(serde_json::Value::Null);
    (v, o.status.code().unwrap_or(-1))
}

fn slot_b(state: &Path, len: usize) -> Vec<u8> {
    let mut b = fs::read(state.join("slots/slot-b.img")).unwrap_or_default();
    b.truncate(len);
    b
}

/// nginx on port 8081: `/slow/` at 1 MB/s, everything else at full speed.
fn nginx(net: &mut Net) -> PathBuf {
    let www = net.path("www");
    fs::create_dir_all(&www).unwrap();
    let dir = net.dir.path().display().to_string();
    let ip = net.server_ip();
    let conf = format!(
        "user root;\nworker_processes 1;\ndaemon off;\npid {dir}/nginx.pid;\nerror_log {dir}/nginx-error.log info;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n access_log {dir}/nginx-access.log;\n client_body_temp_path {dir}/ngx-body;\n proxy_temp_path {dir}/ngx-proxy;\n\
          fastcgi_temp_path {dir}/ngx-fcgi;\n uwsgi_temp_path {dir}/ngx-uwsgi;\n scgi_temp_path {dir}/ngx-scgi;\n\
          server {{ listen {ip}:8081; root {www}; location /slow/ {{ limit_rate 1m; }} }}\n}}\n",
        www = www.display()
    );
    let cf = net.path("nginx.conf");
    fs::write(&cf, conf).unwrap();
    let cfs = cf.to_str().unwrap().to_string();
    let pfx = format!("{dir}/");
    net.spawn_srv(&["nginx", "-c", &cfs, "-p", &pfx]);
    net.wait_tcp(8081);
    www
}

/// Access log lines for `path`: (status, line).
fn requests(net: &Net, path: &str) -> Vec<(u16, String)> {
    net.server_log("nginx-access.log")
        .lines()
        .filter(|l| l.contains(&format!("\"GET {path} ")))
        .map(|l| {
            let status = l
                .split('"')
                .nth(2)
                .and_then(|t| t.split_whitespace().next())
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            (status, l.to_string())
        })
        .collect()
}

#[test]
fn http_download_killed_half_way_resumes_with_range() {
    let mut net = Net::new();
    let ip = net.server_ip();
    let www = nginx(&mut net);
    // 4 MiB body: about 4 s at 1 MB/s.
    let body: Vec<u8> = (0..4u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let img = signed_image("3.4.6", 1, &body);
    write(&www.join("slow/420HD.img"), &img);
    write(&www.join(format!("slow/{MAC}.cfg")), CFG);
    net.dnsmasq(&[format!("--dhcp-option=160,http://{ip}:8081/slow/")]);
    let state = net.path("state");
    let args = net.provision_args("420HD", &state, &["--firmware-version", "3.4.0"]);
    let mut child = net.spawn_provd(&args);
    let out = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    for line in BufReader::new(out).lines() {
        let line = line.unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        seen.push(v.clone());
        if v["event"] == "firmware_progress" && v["written"].as_u64().unwrap_or(0) >= 1 << 20 {
            // Power cut / crash in the middle of the download.
            child.kill().unwrap();
            break;
        }
    }
    let _ = child.wait();
    assert!(
        events(&seen, "firmware_progress").len() == 1,
        "killed after the first checkpoint: {}",
        dump(&seen)
    );
    assert!(events(&seen, "firmware_installed").is_empty());
    // The bootloader still boots the running image (slot A holds no image on this host, so
    // the status is what tells): B is being written, resumable.
    let (st, code) = slots(&net, &state, "status");
    assert_eq!(code, 0);
    assert_eq!(st["active"], "A", "{st}");
    assert_eq!(st["b"]["state"], "Writing", "{st}");
    let resume = st["b"]["resume_offset"].as_u64().unwrap();
    assert!(resume >= 1 << 20 && resume < img.len() as u64, "{st}");

    // Power back: the download continues from the checkpoint.
    let (ev, code) = net.provision("420HD", &state, &["--firmware-version", "3.4.0"]);
    assert_eq!(code, 0, "{}", dump(&ev));
    let dl = events(&ev, "firmware_download");
    assert_eq!(dl[0]["from"].as_u64(), Some(resume), "{}", dump(&ev));
    assert_eq!(events(&ev, "firmware_installed")[0]["version"], "3.4.6");
    let gets = requests(&net, "/slow/420HD.img");
    // header (206), first body (200, killed), header again (206), the rest (206).
    let statuses: Vec<u16> = gets.iter().map(|g| g.0).collect();
    assert_eq!(
        statuses.iter().filter(|&&s| s == 206).count(),
        3,
        "{gets:?}"
    );
    assert_eq!(slot_b(&state, img.len()), img);
    let (b, code) = slots(&net, &state, "boot");
    assert_eq!(code, 0);
    assert_eq!(
        (
            b["slot"].as_str(),
            b["version"].as_str(),
            b["trial"].as_bool()
        ),
        (Some("B"), Some("3.4.6"), Some(true))
    );
    let (g, _) = slots(&net, &state, "mark-good");
    assert_eq!(g["confirmed"], "B");
}

#[test]
fn bad_images_are_refused_from_the_header_and_nothing_runs_them() {
    let mut net = Net::new();
    let ip = net.server_ip();
    let www = nginx(&mut net);
    let body = vec![0x5au8; 1 << 20];
    let good = signed_image("3.4.6", 1, &body);
    let hl = ac_prov::firmware::Header::parse(&good).unwrap().len();
    let mut tampered_header = good.clone();
    tampered_header[9] ^= 1; // version string
    let mut tampered_body = good.clone();
    tampered_body[hl + 1000] ^= 1;
    let wrong_model = ac_prov::firmware::build(
        &fw_key(),
        &ac_prov::firmware::BuildSpec {
            version: "3.4.6",
            models: &[ac_cfg::Model::Hd450],
            security_counter: 1,
            build_time: 0,
            sections: &[("rootfs", &body)],
        },
    )
    .unwrap();
    let downgrade = signed_image("3.2.0", 1, &body);
    let cases: [(&str, &[u8], &str, bool); 4] = [
        ("tampered-header", &tampered_header, "Signature", false),
        ("wrong-model", &wrong_model, "WrongModel", false),
        ("downgrade", &downgrade, "Downgrade", false),
        ("tampered-body", &tampered_body, "SectionDigest", true),
    ];
    for (name, img, why, body_fetched) in cases {
        write(&www.join(format!("{name}/420HD.img")), img);
        write(&www.join(format!("{name}/{MAC}.cfg")), CFG);
        net.stop_dnsmasq();
        net.dnsmasq(&[format!("--dhcp-option=160,http://{ip}:8081/{name}/")]);
        let state = net.path(&format!("state-{name}"));
        let (ev, code) = net.provision("420HD", &state, &["--firmware-version", "3.4.0"]);
        assert_eq!(code, 1, "{name}: {}", dump(&ev));
        let errs = events(&ev, "error");
        assert!(
            errs.iter()
                .any(|e| e["error"].as_str().unwrap_or("").contains("firmware")
                    && format!("{e}").contains(match why {
                        "Signature" => "signature",
                        "WrongModel" => "other models",
                        "Downgrade" => "downgrades are not allowed",
                        _ => "SHA-256",
                    })),
            "{name}: {}",
            dump(&ev)
        );
        assert!(events(&ev, "firmware_installed").is_empty(), "{name}");
        // The configuration still applies.
        assert_eq!(events(&ev, "config_applied").len(), 1, "{name}");
        let gets: Vec<u16> = requests(&net, &format!("/{name}/420HD.img"))
            .iter()
            .map(|g| g.0)
            .collect();
        if body_fetched {
            assert_eq!(gets, [206, 200], "{name}");
        } else {
            assert_eq!(gets, [206], "{name}: only the header was read");
        }
        // Nothing is active but the running slot; a refused body left nothing to resume.
        let (st, _) = slots(&net, &state, "status");
        assert_eq!(
            (st["active"].as_str(), st["trial"].as_bool()),
            (Some("A"), Some(false)),
            "{name}: {st}"
        );
        assert_ne!(st["b"]["state"], "Installed", "{name}");
        assert_ne!(st["b"]["state"], "Writing", "{name}");
    }
}

#[test]
fn recovery_mode_reinstalls_from_dhcp_66_67_over_tftp() {
    let mut net = Net::new();
    let ip = net.server_ip();
    let root = net.tftp_root();
    let img = signed_image("3.4.6", 1, &vec![0x3cu8; 300_000]);
    write(&root.join("420HD_3.4.6.img"), &img);
    let state = net.path("state");
    // A phone whose only image got corrupted: the bootloader finds nothing to boot.
    let old = signed_image("3.4.0", 1, &vec![0x11u8; 50_000]);
    let oldf = net.path("old.img");
    write(&oldf, &old);
    let dir = state.join("slots");
    let key = net.path("fw-pub.pem");
    let _ = net.provision_args("420HD", &state, &[]); // writes fw-pub.pem
    let o = imgtool(&[
        "slots",
        "init",
        "--dir",
        dir.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        "--model",
        "420HD",
        oldf.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{o:?}");
    let mut a = fs::read(dir.join("slot-a.img")).unwrap();
    a[40_000] ^= 0xff;
    fs::write(dir.join("slot-a.img"), &a).unwrap();
    let (b, code) = slots(&net, &state, "boot");
    assert_eq!(code, 3, "recovery mode: {b}");
    assert_eq!(b["recovery"], true);

    net.dnsmasq(&[
        "--enable-tftp".into(),
        format!("--tftp-root={}", root.display()),
        format!("--dhcp-option=66,{ip}"),
        "--dhcp-option=67,420HD_3.4.6.img".into(),
        // Option 160 is there too; recovery ignores it.
        format!("--dhcp-option=160,http://{ip}:9/"),
    ]);
    let (ev, code) = net.provision("420HD", &state, &["--recovery"]);
    assert_eq!(code, 0, "{}", dump(&ev));
    let fetches: Vec<String> = events(&ev, "fetch")
        .iter()
        .map(|e| e["url"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(fetches, [format!("tftp://{ip}/420HD_3.4.6.img")]);
    assert_eq!(events(&ev, "firmware_installed")[0]["version"], "3.4.6");
    assert_eq!(events(&ev, "reboot").len(), 1);
    assert!(events(&ev, "config_applied").is_empty());
    // The phone boots the recovered image and confirms it.
    let (b, code) = slots(&net, &state, "boot");
    assert_eq!(code, 0, "{b}");
    assert_eq!(
        (b["slot"].as_str(), b["version"].as_str()),
        (Some("B"), Some("3.4.6"))
    );
    assert_eq!(slot_b(&state, img.len()), img);
    let (g, _) = slots(&net, &state, "mark-good");
    assert_eq!(g["confirmed"], "B");
}
