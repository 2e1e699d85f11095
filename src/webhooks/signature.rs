//! `Stripe-Signature` verification (https://docs.stripe.com/webhooks#verify-manually):
//! HMAC-SHA256 of `"{t}.{raw body}"` with the endpoint secret, hex in a `v1=` element. Any `v1`
//! element may match (Stripe sends several while a secret rolls), and any configured secret may
//! have signed it. Other schemes (`v0`) never count. The timestamp must be within the tolerance
//! in both directions, so an old capture cannot be replayed and a forged future one cannot
//! outlive it.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::config::Secret;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing Stripe-Signature header")]
    Missing,
    #[error("malformed Stripe-Signature header")]
    Malformed,
    #[error("no v1 signature")]
    NoV1,
    #[error("timestamp outside the tolerance")]
    Stale,
    #[error("no signature matches")]
    Mismatch,
}

/// A `Stripe-Signature` header's parts. Bounded: a header is at most `MAX_HEADER_BYTES` and
/// at most `MAX_V1` candidate signatures are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeader {
    pub timestamp: i64,
    pub v1: Vec<[u8; 32]>,
}

/// Longest header read; Stripe's carry one or two signatures (~150 bytes).
pub const MAX_HEADER_BYTES: usize = 4096;
/// Candidate `v1` signatures compared at most.
pub const MAX_V1: usize = 16;

/// Reads a header without checking it against anything.
pub fn parse_header(header: &str) -> Result<SignatureHeader, SignatureError> {
    if header.len() > MAX_HEADER_BYTES {
        return Err(SignatureError::Malformed);
    }
    let mut timestamp: Option<i64> = None;
    let mut v1: Vec<[u8; 32]> = Vec::new();
    for item in header.split(',') {
        let Some((key, value)) = item.trim().split_once('=') else {
            continue;
        };
        match key {
            "t" => timestamp = Some(value.parse().map_err(|_| SignatureError::Malformed)?),
            "v1" if v1.len() < MAX_V1 => {
                // A v1 value that is not 32 bytes of hex can never match; skip it.
                let mut sig = [0u8; 32];
                if hex::decode_to_slice(value, &mut sig).is_ok() {
                    v1.push(sig);
                }
            }
            _ => {} // v0 and unknown elements are ignored, never trusted.
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if v1.is_empty() {
        return Err(SignatureError::NoV1);
    }
    Ok(SignatureHeader { timestamp, v1 })
}

/// Verifies `header` for `body` at `now` (seconds since the epoch).
pub fn verify(
    header: Option<&str>,
    body: &[u8],
    secrets: &[Secret],
    tolerance: Duration,
    now: i64,
) -> Result<i64, SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let SignatureHeader { timestamp, v1 } = parse_header(header)?;
    let age = now.saturating_sub(timestamp).unsigned_abs();
    if age > tolerance.as_secs() {
        return Err(SignatureError::Stale);
    }
    let ts = timestamp.to_string();
    let mut matched = subtle::Choice::from(0u8);
    for secret in secrets {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()) else {
            continue;
        };
        mac.update(ts.as_bytes());
        mac.update(b".");
        mac.update(body);
        let expected = mac.finalize().into_bytes();
        for sig in &v1 {
            // Check every candidate so timing does not reveal which one matched.
            matched |= expected[..].ct_eq(sig);
        }
    }
    if bool::from(matched) {
        Ok(timestamp)
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Builds a header the way Stripe does; for tests, fixtures and the load benchmark.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;
    const BODY: &[u8] = br#"{"id":"evt_1","type":"payment_intent.succeeded"}"#;

    fn secrets(list: &[&str]) -> Vec<Secret> {
        list.iter().map(|s| Secret::new(*s)).collect()
    }

    fn check(header: Option<&str>, body: &[u8], list: &[&str]) -> Result<i64, SignatureError> {
        verify(header, body, &secrets(list), Duration::from_secs(300), NOW)
    }

    #[test]
    fn valid_and_rotated_secrets() {
        let h = sign("whsec_a", NOW, BODY);
        assert_eq!(check(Some(&h), BODY, &["whsec_a"]), Ok(NOW));
        assert_eq!(
            check(Some(&h), BODY, &["whsec_old", "whsec_a"]),
            Ok(NOW),
            "second secret"
        );
        assert_eq!(
            check(Some(&h), BODY, &["whsec_b"]),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn any_v1_may_match() {
        let good = sign("whsec_a", NOW, BODY);
        let good_sig = good.split("v1=").nth(1).unwrap_or_default();
        let bad_sig = "00".repeat(32);
        let header = format!("t={NOW},v1={bad_sig},v1={good_sig}");
        assert_eq!(check(Some(&header), BODY, &["whsec_a"]), Ok(NOW));
    }

    #[test]
    fn v0_alone_never_counts() {
        let good = sign("whsec_a", NOW, BODY);
        let sig = good.split("v1=").nth(1).unwrap_or_default();
        let header = format!("t={NOW},v0={sig}");
        assert_eq!(
            check(Some(&header), BODY, &["whsec_a"]),
            Err(SignatureError::NoV1)
        );
    }

    #[test]
    fn timestamps_outside_tolerance_both_ways() {
        let old = sign("whsec_a", NOW - 301, BODY);
        assert_eq!(
            check(Some(&old), BODY, &["whsec_a"]),
            Err(SignatureError::Stale)
        );
        let edge = sign("whsec_a", NOW - 300, BODY);
        assert!(check(Some(&edge), BODY, &["whsec_a"]).is_ok());
        let future = sign("whsec_a", NOW + 301, BODY);
        assert_eq!(
            check(Some(&future), BODY, &["whsec_a"]),
            Err(SignatureError::Stale)
        );
    }

    #[test]
    fn altered_body_missing_and_junk_headers() {
        let h = sign("whsec_a", NOW, BODY);
        let mut altered = BODY.to_vec();
        altered[10] ^= 1;
        assert_eq!(
            check(Some(&h), &altered, &["whsec_a"]),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            check(None, BODY, &["whsec_a"]),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            check(Some("garbage"), BODY, &["whsec_a"]),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            check(Some("t=abc,v1=00"), BODY, &["whsec_a"]),
            Err(SignatureError::Malformed)
        );
        // Junk elements around a valid signature are ignored.
        let junk = format!("x=1,{h},foo,v1=nothex,=");
        assert_eq!(check(Some(&junk), BODY, &["whsec_a"]), Ok(NOW));
    }

    #[test]
    fn oversized_headers_are_refused_unread() {
        let h = format!("t={NOW},{}", "v1=00,".repeat(1000));
        assert_eq!(parse_header(&h), Err(SignatureError::Malformed));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Any header, any body: an answer, never a panic; an accepted one was signed.
            #[test]
            fn verify_is_total(header in "\\PC{0,300}", body in proptest::collection::vec(any::<u8>(), 0..64)) {
                let _ = parse_header(&header);
                prop_assert!(check(Some(&header), &body, &["whsec_a"]).is_err()
                    || header.contains("v1="));
            }

            /// What `sign` builds, `parse_header` reads back and `verify` accepts.
            #[test]
            fn sign_round_trips(t in (NOW - 300)..(NOW + 300), body in proptest::collection::vec(any::<u8>(), 0..256)) {
                let header = sign("whsec_a", t, &body);
                let parsed = parse_header(&header).expect("parses");
                prop_assert_eq!(parsed.timestamp, t);
                prop_assert_eq!(parsed.v1.len(), 1);
                prop_assert_eq!(check(Some(&header), &body, &["whsec_a"]), Ok(t));
                prop_assert_eq!(check(Some(&header), &body, &["whsec_b"]), Err(SignatureError::Mismatch));
            }
        }
    }
}
