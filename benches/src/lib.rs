//! Benchmarks live in `benches/benches/`; run them with `cargo bench -p ac-benches`.
//! This library holds the input generators they share.

use ac_cfg::Model;

/// A `.cfg` text of exactly `lines` lines, as a provisioning server would serve it: the
/// 450HD factory configuration (every parameter) repeated, with a comment and a blank line
/// every 20 lines and CRLF terminators.
pub fn sample_cfg(lines: usize) -> String {
    let defaults = ac_cfg::delta::defaults(Model::Hd450).emit();
    let entries: Vec<&str> = defaults.lines().filter(|l| !l.starts_with('#')).collect();
    let mut out = String::with_capacity(lines * 48);
    let mut next = entries.iter().cycle();
    for i in 0..lines {
        match i % 20 {
            0 => out.push_str("# ---- provisioning profile section ----\r\n"),
            10 => out.push_str("\r\n"),
            _ => {
                out.push_str(next.next().copied().unwrap_or("network/lan_type=DHCP"));
                out.push_str("\r\n");
            }
        }
    }
    out
}

mod c {
    use std::os::raw::{c_char, c_int};
    extern "C" {
        /// csrc/sofia_parse.c
        pub fn ac_bench_sofia_parse(buf: *const c_char, len: usize) -> c_int;
    }
}

/// sofia-sip's parser (C) on one message: 0 when it parsed and has the mandatory headers.
pub fn sofia_parse(b: &[u8]) -> i32 {
    // SAFETY: the harness reads `len` bytes from `buf` and keeps no pointer to them.
    unsafe { c::ac_bench_sofia_parse(b.as_ptr() as *const std::os::raw::c_char, b.len()) }
}
