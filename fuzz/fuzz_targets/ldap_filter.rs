//! LDAP filters and filter templates: parse -> emit -> re-parse; a template expanded with
//! any input either fails cleanly or yields a filter that round-trips.
#![no_main]

use ac_prov::ldap::{expand_template, format_display, Filter};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(f) = Filter::parse(s) {
        let e = f.emit();
        assert_eq!(Filter::parse(&e).expect("re-parses"), f);
    }
    // First line: a template; the rest: what the user typed.
    let (tpl, input) = s.split_once('\n').unwrap_or((s, "x"));
    for prefix in [false, true] {
        if let Ok(f) = expand_template(tpl, input, prefix) {
            let p = Filter::parse(&f).expect("expanded filter parses");
            assert_eq!(Filter::parse(&p.emit()).expect("re-parses"), p);
        }
    }
    let _ = format_display(tpl, |a| (a.len() % 2 == 0).then_some(input));
});
