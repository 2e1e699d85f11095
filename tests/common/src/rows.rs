//! Rows written directly, for tests about reading and constraints.

use serde_json::json;

use crate::TestApp;

/// A customer row, as if the user had paid before.
pub fn customer_row(user: &str, stripe_id: &str) -> entity::customers::ActiveModel {
    use sea_orm::ActiveValue::Set;
    let now = chrono::Utc::now();
    entity::customers::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        user_id: Set(user.into()),
        stripe_customer_id: Set(stripe_id.into()),
        email: Set(None),
        default_payment_method_id: Set(None),
        snapshot_at: Set(now),
        created_at: Set(now),
        updated_at: Set(now),
    }
}

/// A succeeded payment row written directly (for tests about reading and constraints).
pub fn payment_row(
    user: &str,
    pi: &str,
    amount: i64,
    refunded: i64,
) -> entity::payments::ActiveModel {
    use sea_orm::ActiveValue::Set;
    let now = chrono::Utc::now();
    entity::payments::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        user_id: Set(user.into()),
        customer_id: Set(None),
        stripe_payment_intent_id: Set(Some(pi.into())),
        stripe_idempotency_key: Set(None),
        amount: Set(amount),
        currency: Set("usd".into()),
        status: Set(entity::PaymentStatus::Succeeded),
        description: Set(None),
        card_brand: Set(None),
        card_last4: Set(None),
        failure_code: Set(None),
        failure_message: Set(None),
        amount_refunded: Set(refunded),
        refund_reserved: Set(0),
        metadata: Set(json!({})),
        price_id: Set(None),
        subscription_id: Set(None),
        stripe_invoice_id: Set(None),
        disputed: Set(false),
        dispute_status: Set(None),
        dispute_amount: Set(0),
        snapshot_at: Set(now),
        created_at: Set(now),
        updated_at: Set(now),
        quantity: Set(None),
        discount_amount: Set(0),
        receipt_url: Set(None),
        receipt_number: Set(None),
    }
}

/// Writes payment and refund rows directly (for tests about reading).
pub async fn insert_payments_and_refunds(
    app: &TestApp,
    payment_rows: Vec<entity::payments::ActiveModel>,
    refund_rows: Vec<entity::refunds::ActiveModel>,
) {
    use sea_orm::EntityTrait;
    entity::payments::Entity::insert_many(payment_rows)
        .exec(app.db())
        .await
        .expect("insert payments");
    entity::refunds::Entity::insert_many(refund_rows)
        .exec(app.db())
        .await
        .expect("insert refunds");
}
