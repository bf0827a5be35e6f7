//! Benchmarks live in `benches/benches/`; run them with `cargo bench -p ac-benches`.
//! This library holds the input generators they share.

/// A `.cfg` text of `lines` lines mixing comments, blank lines and valid entries of the
/// schema, as a provisioning server would serve it.
pub fn sample_cfg(lines: usize) -> String {
    let keys = [
        "network/lan_type=DHCP",
        "voip/codec/codec_info/0/name=SILK_16000",
        "voip/codec/codec_info/1/name=SILK_8000",
        "network/lan/fixed_ip/ip_address=10.1.2.3",
        "personal_settings/functional_key/13/type=SPEED_DIAL",
    ];
    let mut out = String::with_capacity(lines * 40);
    for i in 0..lines {
        match i % 20 {
            0 => out.push_str("# ---- section ----\n"),
            10 => out.push('\n'),
            _ => {
                out.push_str(keys[i % keys.len()]);
                out.push('\n');
            }
        }
    }
    out
}
