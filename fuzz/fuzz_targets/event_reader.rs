//! A webhook body read as a Stripe event, then checked like `webhooks::receive` does.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate::{stripe::objects::Event, webhooks::check_envelope};

fuzz_target!(|data: &[u8]| {
    if let Ok(event) = serde_json::from_slice::<Event>(data) {
        if check_envelope(&event).is_ok() {
            assert!(event.id.starts_with("evt_"), "{:?}", event.id);
            assert!(!event.kind.is_empty() && event.kind.len() <= 100);
        }
    }
});
