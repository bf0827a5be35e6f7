//! Time from link-up to configuration applied (issue 3): `ac-provd` in a phone network
//! namespace brings its link up, runs DHCP against dnsmasq, fetches the firmware header and
//! the configuration over TFTP from dnsmasq and applies it. The figure is the time from the
//! process start (right after the link came up) to its `config_applied` event, as the
//! program measures it; criterion reports the distribution and the median.
//!
//! Needs root and dnsmasq (scripts/install-deps); builds `ac-provd` in release mode first.

#[path = "../../crates/ac-prov/tests/common/mod.rs"]
mod common;

use std::fs;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};

fn provd_release() -> String {
    let st = std::process::Command::new(env!("CARGO"))
        .args(["build", "--release", "-p", "ac-prov", "--bin", "ac-provd"])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .status()
        .expect("cargo build ac-provd");
    assert!(st.success());
    let target = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../target").to_string());
    format!("{target}/release/ac-provd")
}

fn linkup_to_config(c: &mut Criterion) {
    std::env::set_var("AC_PROVD", provd_release());
    let mut net = common::Net::new();
    let ip = net.server_ip();
    let root = net.tftp_root();
    fs::create_dir_all(&root).unwrap();
    fs::write(
        root.join("420HD.img"),
        common::signed_image("3.4.6", 1, &[0u8; 1024]),
    )
    .unwrap();
    fs::write(
        root.join("00908f112233.cfg"),
        "network/lan_type=STATIC\nvoip/codec/codec_info/0/name=G722\n",
    )
    .unwrap();
    net.dnsmasq(&[
        "--enable-tftp".into(),
        format!("--tftp-root={}", root.display()),
        format!("--dhcp-option=160,tftp://{ip}"),
    ]);
    let mut g = c.benchmark_group("provisioning");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    g.bench_function(
        "link-up to configuration applied (DHCP + TFTP, netns)",
        |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for i in 0..iters {
                    let state = net.path(&format!("state-{i}"));
                    let _ = fs::remove_dir_all(&state);
                    net.exec_ok(
                        &net.phone_ns.clone(),
                        &["ip", "addr", "flush", "dev", &net.phone_if.clone()],
                    );
                    net.exec_ok(
                        &net.phone_ns.clone(),
                        &["ip", "link", "set", &net.phone_if.clone(), "down"],
                    );
                    net.exec_ok(
                        &net.phone_ns.clone(),
                        &["ip", "link", "set", &net.phone_if.clone(), "up"],
                    );
                    let (ev, code) =
                        net.provision("420HD", &state, &["--firmware-version", "3.4.6"]);
                    assert_eq!(code, 0, "{}", common::dump(&ev));
                    let applied = common::events(&ev, "config_applied");
                    let us = applied[0]["t_us"].as_u64().expect("t_us");
                    total += Duration::from_micros(us);
                }
                total
            })
        },
    );
    g.finish();
}

criterion_group!(benches, linkup_to_config);
criterion_main!(benches);
