//! The phone's control session fed arbitrary bytes (split at an arbitrary point): it never
//! panics, and whatever it answers is a sequence of well-formed records.
#![no_main]

use std::time::Instant;

use ac_btoe::session::Session;
use ac_btoe::wire::Record;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let now = Instant::now();
    let mut s = Session::server(now);
    let cut = data.first().map_or(0, |&b| usize::from(b)).min(data.len());
    s.handle_input(now, &data[..cut]);
    s.handle_input(now, &data[cut..]);
    while s.poll_event().is_some() {}
    while let Some(out) = s.poll_transmit() {
        Record::parse(&out).expect("our records parse");
    }
});
