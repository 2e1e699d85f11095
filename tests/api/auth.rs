//! Bearer tokens: who may call what, and which tokens are refused.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use crate::helpers::{error_code, repo_root, spawn_app, spawn_app_with, JWT_SECRET};

const PAYMENTS: &str = "{ payments { totalCount } }";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn hs256(secret: &[u8], claims: serde_json::Value) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )
    .expect("encode")
}

fn b64(bytes: &[u8]) -> String {
    // base64url without padding, as JWTs use.
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[tokio::test]
async fn anonymous_callers_see_only_the_catalog() {
    let app = spawn_app().await;
    let body = app.graphql(PAYMENTS, json!({}), None).await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"), "{body}");
    let body = app.graphql("{ viewer { id } }", json!({}), None).await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"));
    let body = app.graphql("{ products { name } }", json!({}), None).await;
    assert!(body["errors"].is_null(), "{body}");
    let body = app
        .graphql(
            crate::helpers::PAY,
            json!({"input": {"amount": "1", "currency": "usd"}}),
            None,
        )
        .await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"));
}

#[tokio::test]
async fn forged_expired_and_unsigned_tokens_are_refused() {
    let app = spawn_app().await;
    let cases = [
        (
            "expired",
            hs256(
                JWT_SECRET.as_bytes(),
                json!({"sub": "u1", "exp": now() - 120}),
            ),
        ),
        (
            "wrong secret",
            hs256(
                b"another-secret-another-secret-xyz",
                json!({"sub": "u1", "exp": now() + 600}),
            ),
        ),
        ("no exp", hs256(JWT_SECRET.as_bytes(), json!({"sub": "u1"}))),
        (
            "no sub",
            hs256(JWT_SECRET.as_bytes(), json!({"exp": now() + 600})),
        ),
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(br#"{"alg":"none","typ":"JWT"}"#),
                b64(json!({"sub": "u1", "exp": now() + 600, "roles": ["admin"]})
                    .to_string()
                    .as_bytes())
            ),
        ),
        ("garbage", "abc.def.ghi".to_string()),
    ];
    for (name, token) in cases {
        let (status, body) = app.graphql_raw(PAYMENTS, json!({}), Some(&token)).await;
        assert_eq!(status, 401, "{name}");
        assert_eq!(error_code(&body), Some("UNAUTHENTICATED"), "{name}: {body}");
    }
    // Within the 30 s leeway an expired token still works.
    let fresh = hs256(
        JWT_SECRET.as_bytes(),
        json!({"sub": "u1", "exp": now() - 5}),
    );
    let (status, _) = app.graphql_raw(PAYMENTS, json!({}), Some(&fresh)).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn rs256_refuses_hs256_tokens_signed_with_the_public_key() {
    let public = repo_root().join("tests/fixtures/jwt_rs256_public.pem");
    let app = spawn_app_with(|vars| {
        vars.remove("JWT_SECRET");
        vars.insert("JWT_ALGORITHM".into(), "RS256".into());
        vars.insert("JWT_PUBLIC_KEY_FILE".into(), public.display().to_string());
        vars.insert("JWT_ISSUER".into(), "https://idp.example".into());
        vars.insert("JWT_AUDIENCE".into(), "tollgate".into());
    })
    .await;
    let private =
        std::fs::read(repo_root().join("tests/fixtures/jwt_rs256_private.pem")).expect("key");
    let claims =
        json!({"sub": "u1", "exp": now() + 600, "iss": "https://idp.example", "aud": "tollgate"});
    let good = jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        &claims,
        &EncodingKey::from_rsa_pem(&private).expect("rsa key"),
    )
    .expect("sign");
    let (status, body) = app.graphql_raw(PAYMENTS, json!({}), Some(&good)).await;
    assert_eq!(status, 200, "{body}");

    // The classic confusion attack: HS256 with the public key bytes as the HMAC secret.
    let pem = std::fs::read(&public).expect("pem");
    let forged = hs256(&pem, claims.clone());
    let (status, _) = app.graphql_raw(PAYMENTS, json!({}), Some(&forged)).await;
    assert_eq!(status, 401);

    let wrong_aud =
        json!({"sub": "u1", "exp": now() + 600, "iss": "https://idp.example", "aud": "other"});
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        &wrong_aud,
        &EncodingKey::from_rsa_pem(&private).expect("key"),
    )
    .expect("sign");
    let (status, _) = app.graphql_raw(PAYMENTS, json!({}), Some(&token)).await;
    assert_eq!(status, 401, "audience is checked when configured");
}

#[tokio::test]
async fn admin_views_need_the_admin_role() {
    let app = spawn_app().await;
    let user = app.token("u1", false);
    let admin = app.token("boss", true);
    app.pay_ok(&user, "3.00", "usd").await;
    app.pay_ok(&app.token("u2", false), "4.00", "eur").await;
    let q = "{ adminPayments(first: 10) { totalCount } revenue { currency gross { amount } net { amount } } }";
    let body = app.graphql(q, json!({}), Some(&user)).await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    let body = app.graphql(q, json!({}), Some(&admin)).await;
    assert_eq!(body["data"]["adminPayments"]["totalCount"], 2, "{body}");
    let filtered = app
        .graphql(
            "{ adminPayments(userId: \"u2\", currency: \"EUR\") { totalCount } }",
            json!({}),
            Some(&admin),
        )
        .await;
    assert_eq!(filtered["data"]["adminPayments"]["totalCount"], 1);
    let lines = body["data"]["revenue"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["currency"], "eur");
    assert_eq!(lines[1]["gross"]["amount"], "3.00");
}
