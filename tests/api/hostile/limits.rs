//! Rate limits (per IP, per user, stricter per user for mutations) and connection timeouts
//! (headers, idle keep-alive, slow bodies).

use std::time::Duration;

use serde_json::json;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use super::{first_error, still_healthy, stripe_log};
use crate::helpers::{spawn_app_with, PAY};

#[tokio::test]
async fn money_moving_mutations_are_limited_per_user() {
    let app = spawn_app_with(|vars| {
        vars.insert("RATE_LIMIT_MUTATIONS_PER_MINUTE".into(), "5".into());
    })
    .await;
    let token = app.token("spender", false);
    let before = stripe_log(&app).await;
    let mut limited = None;
    for i in 0..8 {
        let (status, body) = app
            .graphql_raw(
                PAY,
                json!({"input": {"amount": "1.00", "currency": "usd"}}),
                Some(&token),
            )
            .await;
        if i < 5 {
            assert_eq!(status, 200, "{i}: {body}");
            assert!(body["errors"].is_null(), "{i}: {body}");
        } else {
            assert_eq!(status, 429, "{i}: {body}");
            assert_eq!(first_error(&body).0, Some("RATE_LIMITED"));
            limited = Some(body);
        }
    }
    let retry_after = limited
        .as_ref()
        .and_then(|b| b["errors"][0]["extensions"]["retryAfter"].as_u64());
    assert!(
        retry_after.is_some_and(|s| (1..=60).contains(&s)),
        "{limited:?}"
    );
    let created = stripe_log(&app).await[before.len()..]
        .iter()
        .filter(|r| r.starts_with("POST /v1/payment_intents"))
        .count();
    assert_eq!(created, 5, "only the allowed mutations reached Stripe");
    // Another user, and this user's queries, are not affected.
    let other = app.token("someone-else", false);
    let body = app
        .graphql(
            PAY,
            json!({"input": {"amount": "1.00", "currency": "usd"}}),
            Some(&other),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let body = app
        .graphql("{ viewer { id } }", json!({}), Some(&token))
        .await;
    assert_eq!(body["data"]["viewer"]["id"], "spender");
    still_healthy(&app).await;
}

#[tokio::test]
async fn anonymous_callers_are_limited_per_address_with_http_429() {
    let app = spawn_app_with(|vars| {
        vars.insert("RATE_LIMIT_IP_PER_MINUTE".into(), "10".into());
        vars.insert("RATE_LIMIT_USER_PER_MINUTE".into(), "3".into());
    })
    .await;
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for _ in 0..12 {
        let res = client
            .post(app.url("/graphql"))
            .json(&json!({"query": "{ __typename }"}))
            .send()
            .await
            .expect("reachable");
        statuses.push(res.status().as_u16());
        if res.status() == 429 {
            let secs: u64 = res.headers()["retry-after"]
                .to_str()
                .ok()
                .and_then(|s| s.parse().ok())
                .expect("Retry-After");
            assert!((1..=60).contains(&secs));
            let body: serde_json::Value = res.json().await.expect("json");
            assert_eq!(first_error(&body).0, Some("RATE_LIMITED"));
            assert_eq!(body["errors"][0]["extensions"]["retryAfter"], secs);
        }
    }
    assert_eq!(&statuses[..10], &[200; 10]);
    assert_eq!(&statuses[10..], &[429, 429]);
    // Health checks are not rate limited.
    still_healthy(&app).await;

    // Per user, on a fresh address budget.
    let app = spawn_app_with(|vars| {
        vars.insert("RATE_LIMIT_USER_PER_MINUTE".into(), "3".into());
    })
    .await;
    let token = app.token("chatty", false);
    let statuses: Vec<u16> = futures_util::future::join_all((0..5).map(|_| async {
        app.graphql_raw("{ viewer { id } }", json!({}), Some(&token))
            .await
            .0
            .as_u16()
    }))
    .await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        2,
        "{statuses:?}"
    );
}

/// Reads until the server closes the connection; what it sent, or None if it kept it open.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let outcome = tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    outcome
        .ok()
        .map(|()| String::from_utf8_lossy(&seen).into_owned())
}

#[tokio::test]
async fn idle_half_sent_and_slow_connections_are_closed() {
    let app = spawn_app_with(|vars| {
        vars.insert("HTTP_HEADER_TIMEOUT_SECS".into(), "1".into());
        vars.insert("HTTP_REQUEST_TIMEOUT_SECS".into(), "2".into());
    })
    .await;
    // Many idle connections that never send a byte.
    let mut idle = Vec::new();
    for _ in 0..50 {
        idle.push(TcpStream::connect(app.addr).await.expect("connect"));
    }
    // Headers that never finish.
    let mut half = TcpStream::connect(app.addr).await.expect("connect");
    half.write_all(b"POST /graphql HTTP/1.1\r\nHost: tollgate\r\nX-Slow: ")
        .await
        .expect("write");
    // A keep-alive connection that goes quiet after one request.
    let mut keep = TcpStream::connect(app.addr).await.expect("connect");
    keep.write_all(b"GET /healthz HTTP/1.1\r\nHost: tollgate\r\n\r\n")
        .await
        .expect("write");
    // A body that never finishes: answered 408 by the request timeout.
    let mut slow = TcpStream::connect(app.addr).await.expect("connect");
    slow.write_all(
        b"POST /graphql HTTP/1.1\r\nHost: tollgate\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"query\":",
    )
    .await
    .expect("write");

    for (i, conn) in idle.iter_mut().enumerate() {
        assert!(
            read_until_closed(conn, Duration::from_secs(15))
                .await
                .is_some(),
            "idle connection {i} left open"
        );
    }
    assert!(read_until_closed(&mut half, Duration::from_secs(15))
        .await
        .is_some());
    let answered = read_until_closed(&mut keep, Duration::from_secs(15))
        .await
        .expect("keep-alive connection closed when idle");
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
    let answered = read_until_closed(&mut slow, Duration::from_secs(15))
        .await
        .expect("slow body closed");
    assert!(answered.starts_with("HTTP/1.1 408"), "{answered}");
    still_healthy(&app).await;
}
