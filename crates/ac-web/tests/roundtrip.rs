//! Property tests of the parsers: heads, form bodies and cookies round-trip through their
//! emitters, and arbitrary bytes never panic.

use ac_web::form::{emit_multipart, emit_urlencoded, parse_multipart, parse_urlencoded, Part};
use ac_web::http::{emit_cookies, parse_cookies, parse_head, Head, Limits};
use proptest::prelude::*;

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}"
}

fn head() -> impl Strategy<Value = Head> {
    (
        prop::sample::select(vec!["GET", "POST", "HEAD", "PUT", "X-CUSTOM"]),
        "/[!-~&&[^?]]{0,40}(\\?[!-~]{0,20})?",
        0u8..=1,
        prop::collection::vec((token(), "[ -~]{0,30}"), 0..10),
        prop::option::of(0u64..1_000_000),
    )
        .prop_map(|(m, target, minor, hs, cl)| {
            let mut headers: Vec<(String, String)> = hs
                .into_iter()
                .filter(|(n, _)| {
                    let l = n.to_ascii_lowercase();
                    l != "host" && l != "content-length" && l != "transfer-encoding"
                })
                .map(|(n, v)| (n, v.trim_matches([' ', '\t']).to_string()))
                .collect();
            headers.insert(0, ("Host".into(), "192.0.2.10".into()));
            if let Some(c) = cl {
                headers.push(("Content-Length".into(), c.to_string()));
            }
            Head {
                method: m.to_string(),
                target,
                minor,
                headers,
                content_length: cl.unwrap_or(0),
            }
        })
}

proptest! {
    #[test]
    fn heads_round_trip(h in head()) {
        let out = h.emit();
        let (again, n) = parse_head(&out, &Limits::default()).unwrap().unwrap();
        prop_assert_eq!(n, out.len());
        prop_assert_eq!(again, h);
    }

    #[test]
    fn arbitrary_bytes_parse_emit_reparse(data in prop::collection::vec(any::<u8>(), 0..600)) {
        let mut data = data;
        // Give half the inputs a head end so the interesting path runs.
        if data.len() % 2 == 0 {
            data.extend_from_slice(b"\r\n\r\n");
        }
        if let Ok(Some((h, _))) = parse_head(&data, &Limits::default()) {
            let wide = Limits { max_head: 16384, ..Limits::default() };
            let (again, _) = parse_head(&h.emit(), &wide).unwrap().unwrap();
            prop_assert_eq!(again, h);
        }
    }

    #[test]
    fn urlencoded_round_trip(pairs in prop::collection::vec((".{0,12}", ".{0,20}"), 0..20)) {
        let out = emit_urlencoded(&pairs);
        prop_assert_eq!(parse_urlencoded(out.as_bytes()).unwrap(), pairs);
    }

    #[test]
    fn urlencoded_bytes_reparse(data in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(f) = parse_urlencoded(&data) {
            prop_assert_eq!(parse_urlencoded(emit_urlencoded(&f).as_bytes()).unwrap(), f);
        }
    }

    #[test]
    fn multipart_round_trip(
        parts in prop::collection::vec(
            ("[a-z_/]{0,12}", prop::option::of("[^\"\r\n]{0,16}"), prop::option::of("[a-z]{1,8}/[a-z-]{1,12}"),
             prop::collection::vec(any::<u8>(), 0..300)),
            0..6),
    ) {
        let b = "----WebKitFormBoundaryProp";
        let parts: Vec<Part> = parts
            .into_iter()
            .map(|(name, filename, content_type, data)| Part { name, filename, content_type, data })
            .collect();
        let out = emit_multipart(&parts, b);
        prop_assert_eq!(parse_multipart(&out, b).unwrap(), parts);
    }

    #[test]
    fn multipart_bytes_reparse(data in prop::collection::vec(any::<u8>(), 0..400)) {
        let b = "XyZ";
        let mut d = b"--XyZ\r\nContent-Disposition: form-data; name=".to_vec();
        d.extend_from_slice(&data);
        for input in [&data[..], &d[..]] {
            if let Ok(p) = parse_multipart(input, b) {
                prop_assert_eq!(parse_multipart(&emit_multipart(&p, b), b).unwrap(), p);
            }
        }
    }

    #[test]
    fn cookies_round_trip(s in "[ -~]{0,80}") {
        let c = parse_cookies(&s);
        prop_assert_eq!(parse_cookies(&emit_cookies(&c)), c);
    }
}
