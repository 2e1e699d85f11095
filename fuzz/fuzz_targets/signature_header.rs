//! `Stripe-Signature` parsing and verification: total on any header and body.
#![no_main]

use std::{sync::OnceLock, time::Duration};

use libfuzzer_sys::fuzz_target;
use tollgate::{
    config::Secret,
    webhooks::signature::{parse_header, verify, MAX_V1},
};

const NOW: i64 = 1_800_000_000;

fn secrets() -> &'static [Secret] {
    static SECRETS: OnceLock<Vec<Secret>> = OnceLock::new();
    SECRETS.get_or_init(|| vec![Secret::new("whsec_fuzz")])
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(h) = parse_header(s) {
        assert!(!h.v1.is_empty() && h.v1.len() <= MAX_V1);
    }
    // The header doubles as the body: both are attacker-controlled.
    let _ = verify(Some(s), data, secrets(), Duration::from_secs(300), NOW);
    // Same with the header's tail as the body, so a signed prefix can meet another body.
    if let Some((header, body)) = s.split_once('\n') {
        let _ = verify(
            Some(header),
            body.as_bytes(),
            secrets(),
            Duration::from_secs(300),
            NOW,
        );
    }
});
