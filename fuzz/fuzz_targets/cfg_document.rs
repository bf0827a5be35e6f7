//! `.cfg` parser oracle: parse -> emit is byte-identical, emit -> re-parse gives the same
//! document; validation, delta and the typed view never panic on what parses.
#![no_main]

use ac_cfg::document::Document;
use ac_cfg::{delta, validate, Config, Model};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(doc) = Document::parse_bytes(data) else {
        return;
    };
    let text = doc.emit();
    assert_eq!(text.as_bytes(), data, "parse -> emit changed the bytes");
    let again = Document::parse(&text).expect("emitted text re-parses");
    assert_eq!(again, doc, "emit -> re-parse changed the document");
    let model = Model::ALL[data.len() % 5];
    let diags = validate::validate(&doc, &validate::Options::for_model(Some(model)));
    let lines = doc.len().max(1);
    for d in &diags {
        assert!(
            d.line >= 1 && d.line <= lines,
            "diagnostic outside the file: {d}"
        );
    }
    let (_cfg, _) = Config::from_document_lenient(&doc, model);
    let (d, _) = delta::modified_fields(&doc, model);
    let _ = Document::parse(&d.emit()).expect("a delta re-parses");
    if let Ok(base) = Document::parse("network/lan_type=DHCP\r\n") {
        let _ = delta::merge(&base, &doc, model);
    }
});
