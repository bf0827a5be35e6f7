//! `docs/parameters.md` is generated from the schema; this test fails when it is stale.
//! Regenerate: `AC_CFG_BLESS=1 cargo test -p ac-cfg --test docs_fresh` (or
//! `ac-cfgtool schema --markdown > docs/parameters.md`).

#[test]
fn parameters_md_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/parameters.md");
    let want = ac_cfg::docs::parameters_markdown();
    if std::env::var_os("AC_CFG_BLESS").is_some() {
        ac_cfg::fsutil::atomic_write(std::path::Path::new(path), want.as_bytes()).unwrap();
    }
    let have = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        have == want,
        "docs/parameters.md is stale: run `AC_CFG_BLESS=1 cargo test -p ac-cfg --test docs_fresh`"
    );
}
