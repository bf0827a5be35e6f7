//! NTLM messages ([MS-NLMP] 2.2.1): parsing never panics; an accepted message emits a form
//! that parses back to the same view (parse -> emit -> re-parse); AV_PAIR lists of a
//! CHALLENGE parse without panicking; answering a CHALLENGE gives an AUTHENTICATE that
//! parses.
#![no_main]

use ac_sip::sipe::ntlm::{self, Message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(m) = Message::parse(data) else {
        return;
    };
    let e = m.emit();
    let again = Message::parse(&e).expect("our emission parses");
    assert_eq!(again, m);
    assert_eq!(again.emit(), e, "emission is canonical");
    if let Message::Challenge(c) = &m {
        let _ = ntlm::av_pairs(c.target_info);
        let input = ntlm::ClientInput {
            user: "alice",
            domain: "CONTOSO",
            password: "p@ss",
            workstation: "PHONE",
            client_challenge: [0xaa; 8],
            random_session_key: [0x55; 16],
            time: 0,
            v2: c.target_info.len() % 2 == 0,
            version: [6, 1, 0, 0, 0, 0, 0, 15],
        };
        if let Ok((auth, _)) = ntlm::authenticate(data, &input) {
            ntlm::Authenticate::parse(&auth).expect("our AUTHENTICATE parses");
        }
    }
});
