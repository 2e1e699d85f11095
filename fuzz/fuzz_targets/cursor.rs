//! Pagination cursors from clients: decoding is total, and a decoded cursor re-encodes to one
//! that decodes to the same position.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate::billing::payments::Cursor;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(c) = Cursor::decode(s) {
        let encoded = c.encode();
        let back = Cursor::decode(&encoded)
            .unwrap_or_else(|| panic!("{s:?} decoded to {c:?} whose encoding {encoded:?} does not"));
        assert_eq!(back.id, c.id, "{s:?}");
        assert_eq!(back.created_at, c.created_at, "{s:?}");
    }
});
