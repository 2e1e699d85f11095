//! Bearer tokens an attacker would try. With an issuer and audience configured both claims are
//! required; `aud` may be an array; the scheme is case-insensitive; `sub` must be printable.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use super::{first_error, still_healthy};
use crate::helpers::{repo_root, spawn_app_with, JWT_SECRET};

const VIEWER: &str = "{ viewer { id } }";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn hs256(secret: &[u8], claims: Value) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )
    .expect("encode")
}

fn unsigned(claims: Value) -> String {
    let b64 = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(claims.to_string().as_bytes())
    )
}

#[tokio::test]
async fn configured_issuer_and_audience_are_required_and_checked() {
    let app = spawn_app_with(|vars| {
        vars.insert("JWT_ISSUER".into(), "https://idp.example".into());
        vars.insert("JWT_AUDIENCE".into(), "tollgate".into());
    })
    .await;
    let key = JWT_SECRET.as_bytes();
    let exp = now() + 600;
    let refused = [
        (
            "no aud",
            hs256(
                key,
                json!({"sub": "u1", "exp": exp, "iss": "https://idp.example"}),
            ),
        ),
        (
            "no iss",
            hs256(key, json!({"sub": "u1", "exp": exp, "aud": "tollgate"})),
        ),
        ("neither", hs256(key, json!({"sub": "u1", "exp": exp}))),
        (
            "wrong iss",
            hs256(
                key,
                json!({"sub": "u1", "exp": exp, "iss": "https://evil", "aud": "tollgate"}),
            ),
        ),
        (
            "wrong aud",
            hs256(
                key,
                json!({"sub": "u1", "exp": exp, "iss": "https://idp.example", "aud": "other"}),
            ),
        ),
        (
            "aud list without ours",
            hs256(
                key,
                json!({"sub": "u1", "exp": exp, "iss": "https://idp.example", "aud": ["a", "b"]}),
            ),
        ),
        (
            "expired",
            hs256(
                key,
                json!({"sub": "u1", "exp": now() - 120, "iss": "https://idp.example", "aud": "tollgate"}),
            ),
        ),
        (
            "not yet valid",
            hs256(
                key,
                json!({"sub": "u1", "exp": exp, "nbf": now() + 600, "iss": "https://idp.example", "aud": "tollgate"}),
            ),
        ),
        (
            "no exp",
            hs256(
                key,
                json!({"sub": "u1", "iss": "https://idp.example", "aud": "tollgate"}),
            ),
        ),
        (
            "alg none",
            unsigned(
                json!({"sub": "u1", "exp": exp, "iss": "https://idp.example", "aud": "tollgate", "roles": ["admin"]}),
            ),
        ),
        (
            "control characters in sub",
            hs256(
                key,
                json!({"sub": "u1\nadmin", "exp": exp, "iss": "https://idp.example", "aud": "tollgate"}),
            ),
        ),
        (
            "sub too long",
            hs256(
                key,
                json!({"sub": "u".repeat(256), "exp": exp, "iss": "https://idp.example", "aud": "tollgate"}),
            ),
        ),
    ];
    for (name, token) in refused {
        let (status, body) = app.graphql_raw(VIEWER, json!({}), Some(&token)).await;
        assert_eq!(status, 401, "{name}: {body}");
        assert_eq!(first_error(&body).0, Some("UNAUTHENTICATED"), "{name}");
    }
    let accepted = [
        (
            "aud string",
            hs256(
                key,
                json!({"sub": "u1", "exp": exp, "iss": "https://idp.example", "aud": "tollgate"}),
            ),
        ),
        (
            "aud array",
            hs256(
                key,
                json!({"sub": "u1", "exp": exp, "iss": "https://idp.example", "aud": ["billing", "tollgate"]}),
            ),
        ),
    ];
    for (name, token) in accepted {
        let (status, body) = app.graphql_raw(VIEWER, json!({}), Some(&token)).await;
        assert_eq!(status, 200, "{name}: {body}");
        assert_eq!(body["data"]["viewer"]["id"], "u1", "{name}");
    }
    still_healthy(&app).await;
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive_and_other_schemes_are_refused() {
    let app = spawn_app_with(|_| {}).await;
    let token = app.token("u1", false);
    for header in [
        format!("Bearer {token}"),
        format!("bearer {token}"),
        format!("BEARER {token}"),
        format!("bEaReR   {token}"),
    ] {
        let res = reqwest::Client::new()
            .post(app.url("/graphql"))
            .header("authorization", header.clone())
            .json(&json!({"query": VIEWER}))
            .send()
            .await
            .expect("reachable");
        assert_eq!(res.status(), 200, "{header}");
    }
    for header in [
        format!("Basic {token}"),
        format!("Bearer{token}"),
        "Bearer".into(),
    ] {
        let res = reqwest::Client::new()
            .post(app.url("/graphql"))
            .header("authorization", header.clone())
            .json(&json!({"query": VIEWER}))
            .send()
            .await
            .expect("reachable");
        assert_eq!(res.status(), 401, "{header}");
        assert_eq!(res.headers()["www-authenticate"], "Bearer");
    }
}

#[tokio::test]
async fn rs256_keys_cannot_be_used_as_hmac_secrets() {
    let public = repo_root().join("tests/fixtures/jwt_rs256_public.pem");
    let app = spawn_app_with(|vars| {
        vars.remove("JWT_SECRET");
        vars.insert("JWT_ALGORITHM".into(), "RS256".into());
        vars.insert("JWT_PUBLIC_KEY_FILE".into(), public.display().to_string());
    })
    .await;
    let pem = std::fs::read(&public).expect("pem");
    let claims = json!({"sub": "u1", "exp": now() + 600, "roles": ["admin"]});
    for (name, token) in [
        ("HS256 with the public key", hs256(&pem, claims.clone())),
        ("alg none", unsigned(claims.clone())),
    ] {
        let (status, body) = app
            .graphql_raw("{ adminPayments { totalCount } }", json!({}), Some(&token))
            .await;
        assert_eq!(status, 401, "{name}: {body}");
    }
    still_healthy(&app).await;
}
