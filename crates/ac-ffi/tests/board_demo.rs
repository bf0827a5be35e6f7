//! `examples/c/board_demo.c`, a minimal C board layer over the C ABI only: three phones on
//! loopback (boot, call with audio both ways, DTMF, hold, resume, blind transfer, hang-up),
//! and two phones registered to kamailio calling baresip (the same steps, checked on both
//! sides).
//! Built like a vendor would (staged install, `pkg-config`, `-Wall -Wextra -Werror
//! -Wpedantic -std=c11`), run natively (every check, audio included) and under valgrind
//! (no memory error, no leak; the same call flow, tone checks printed only because valgrind
//! cannot keep the 10 ms audio clock).

mod common;
#[path = "common/peers.rs"]
mod peers;

use common::{passed_failed, stage, valgrind, Link};

/// The two demos run one after the other: each runs real-time audio threads (and one of them
/// valgrind, which runs a program's threads one at a time), so they should not compete.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

#[test]
fn board_demo_three_phones_through_the_c_abi() {
    let _serial = one_at_a_time();
    let st = stage(Link::Shared);
    let src = common::repo_root().join("examples/c/board_demo.c");
    let exe = st.compile_with(&src, "board_demo", &["-lpthread", "-lm"]);

    let out = std::process::Command::new(&exe)
        .output()
        .expect("run board_demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (passed, failed) = passed_failed(&out.stdout);
    assert_eq!(failed, 0, "{stdout}");
    assert!(passed >= 15, "{stdout}");
    for line in [
        "ok: audio flows both ways",
        "ok: bob's display showed DTMF 1 2 3",
        "ok: alice held, bob sees remote hold",
        "ok: call resumed on both phones",
        "ok: bob and carol connected",
        "ok: audio flows between bob and carol",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in\n{stdout}");
    }

    let out = valgrind(&exe, &["--slow", "--timeout", "90"]);
    let (passed, failed) = passed_failed(&out.stdout);
    assert_eq!(failed, 0, "{}", String::from_utf8_lossy(&out.stdout));
    assert!(passed >= 13, "{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn board_demo_registers_to_kamailio_and_calls_baresip() {
    let _serial = one_at_a_time();
    let k = peers::Kamailio::start();
    let bob = peers::Baresip::start(&k, "bob");
    let st = stage(Link::Shared);
    let src = common::repo_root().join("examples/c/board_demo.c");
    let exe = st.compile_with(&src, "board_demo", &["-lpthread", "-lm"]);
    let out = std::process::Command::new(&exe)
        .args([
            "--registrar",
            &k.addr().to_string(),
            "--domain",
            "example.com",
        ])
        .args(["--alice-password", peers::password("alice")])
        .args(["--carol-password", peers::password("carol")])
        .args(["--callee", "sip:bob@example.com"])
        .output()
        .expect("run board_demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let baresip = bob.output().join("\n");
    assert!(
        out.status.success(),
        "{stdout}\n{}\n--- baresip:\n{baresip}\n--- kamailio:\n{}",
        String::from_utf8_lossy(&out.stderr),
        k.log()
    );
    let (passed, failed) = passed_failed(&out.stdout);
    assert_eq!(failed, 0, "{stdout}");
    assert!(passed >= 10, "{stdout}");
    for line in [
        "ok: alice and carol registered",
        "ok: alice hears the callee",
        "ok: call held",
        "ok: call resumed",
        "ok: the callee and carol connected",
        "ok: carol hears the callee",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in\n{stdout}");
    }
    // kamailio authenticated both registrations (digest against its user table).
    assert!(
        k.registered("alice") && k.registered("carol"),
        "{}",
        k.log()
    );
    // What baresip saw: the call from alice, the RFC 4733 digits, the hold and resume
    // re-INVITEs, the REFER to carol and its own call to her.
    let seen = |needle: &str| baresip.matches(needle).count();
    assert!(
        seen("answering call on line 1 from sip:alice@example.com") == 1,
        "{baresip}"
    );
    for d in ['1', '2', '3'] {
        assert_eq!(
            seen(&format!("received event: '{d}' (end=1)")),
            1,
            "DTMF {d}: {baresip}"
        );
    }
    assert!(seen("got re-INVITE") >= 2, "{baresip}");
    assert!(
        seen("transferring call") == 1 && seen("to '<sip:carol@example.com>'") >= 1,
        "{baresip}"
    );
    assert_eq!(
        seen("Call established: sip:carol@example.com"),
        1,
        "{baresip}"
    );
}
