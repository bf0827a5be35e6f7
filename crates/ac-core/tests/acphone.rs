//! The README's first command: `acphone` with no arguments runs the loopback demo and checks
//! itself (tone heard at each end, RTCP-XR quality printed).

use std::process::Command;

#[test]
fn demo_runs_and_reports_quality() {
    let out = Command::new(env!("CARGO_BIN_EXE_acphone"))
        .output()
        .expect("run acphone");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("codec G722"), "{text}");
    assert!(text.contains("alice: RTCP-XR MOS-LQ"), "{text}");
    assert!(text.contains("Dtmf call=1 \"3\""), "{text}");
    assert!(text.contains("demo ok"), "{text}");
}
