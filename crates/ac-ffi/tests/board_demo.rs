//! `examples/c/board_demo.c`, a minimal C board layer over the C ABI only: three phones on
//! loopback (boot, call with audio both ways, DTMF, hold, resume, blind transfer, hang-up).
//! Built like a vendor would (staged install, `pkg-config`, `-Wall -Wextra -Werror
//! -Wpedantic -std=c11`), run natively (every check, audio included) and under valgrind
//! (no memory error, no leak; the same call flow, tone checks printed only because valgrind
//! cannot keep the 10 ms audio clock).

mod common;

use common::{passed_failed, stage, valgrind, Link};

#[test]
fn board_demo_three_phones_through_the_c_abi() {
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

    let out = valgrind(&exe, &["--slow", "--timeout", "60"]);
    let (passed, failed) = passed_failed(&out.stdout);
    assert_eq!(failed, 0, "{}", String::from_utf8_lossy(&out.stdout));
    assert!(passed >= 13, "{}", String::from_utf8_lossy(&out.stdout));
}
