//! The hostile-input suite: each defect an attacker found, as it was reproduced, and the rest of
//! a hostile checklist. Every case asserts the HTTP status and the error `code`, that nothing
//! reached the Stripe emulator when nothing should (its request log), and that the server still
//! answers `/healthz` afterwards.

mod bodies;
mod cost_limit;
mod injection;
mod limits;
mod nesting;
mod other_users;
mod tokens;
mod webhooks;
mod websockets;

use serde_json::Value;

use crate::helpers::TestApp;

/// The server still answers after the attack.
pub async fn still_healthy(app: &TestApp) {
    let res = app.get("/healthz").await;
    assert_eq!(res.status(), 200, "healthz after the attack");
}

/// The emulator's request log, to compare before and after an attack.
pub async fn stripe_log(app: &TestApp) -> Vec<String> {
    app.emulator.requests().await
}

/// Asserts that nothing reached Stripe since `before`.
pub async fn nothing_sent_since(app: &TestApp, before: &[String]) {
    let after = stripe_log(app).await;
    assert_eq!(
        &after[before.len().min(after.len())..],
        &[] as &[String],
        "requests reached Stripe"
    );
}

/// The first error's code and message.
pub fn first_error(body: &Value) -> (Option<&str>, &str) {
    (
        body["errors"][0]["extensions"]["code"].as_str(),
        body["errors"][0]["message"].as_str().unwrap_or_default(),
    )
}
