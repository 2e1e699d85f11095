//! Stripe ids from clients (`PaymentMethodId`, `PaymentMethodRef`) and `api_url`: an accepted id
//! must be safe to put in a request path, and no path may leave `https://api.stripe.com/v1/`.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tollgate::stripe::{
    client::api_url,
    ids::{PaymentMethodId, PaymentMethodRef, MAX_ID_LEN},
};

fn base() -> &'static reqwest::Url {
    static BASE: OnceLock<reqwest::Url> = OnceLock::new();
    BASE.get_or_init(|| reqwest::Url::parse("https://api.stripe.com/").expect("valid base"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let base = base();

    if let Ok(id) = PaymentMethodId::parse(s) {
        let v = id.as_str();
        assert!(v.starts_with("pm_"), "{v:?}");
        assert!(
            v[3..].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
            "{v:?}"
        );
        assert!(v.len() <= MAX_ID_LEN, "{} bytes", v.len());
        let url = api_url(base, &format!("/payment_methods/{id}/attach"))
            .unwrap_or_else(|e| panic!("a valid id {v:?} was refused: {e}"));
        assert!(url.path().starts_with("/v1/payment_methods/"), "{url}");
        assert_eq!(url.host_str(), Some("api.stripe.com"), "{url}");
    }

    if let Ok(PaymentMethodRef::Stripe(id)) = PaymentMethodRef::parse(s) {
        assert!(id.as_str().starts_with("pm_"));
    }

    // Any path at all: refused, or under /v1/ on Stripe's host.
    if let Ok(url) = api_url(base, s) {
        assert!(url.path().starts_with("/v1/"), "{s:?} -> {url}");
        assert_eq!(url.host_str(), Some("api.stripe.com"), "{s:?} -> {url}");
        assert_eq!(url.scheme(), "https", "{s:?} -> {url}");
        assert!(url.query().is_none() && url.fragment().is_none(), "{s:?} -> {url}");
    }
});
