//! Migrations, valid on SQLite and PostgreSQL. One file per table (then one per change),
//! applied in name order.
pub use sea_orm_migration::prelude::*;

mod columns;

mod m20261124_000001_create_customers;
mod m20261124_000002_create_products;
mod m20261124_000003_create_prices;
mod m20261124_000004_create_payments;
mod m20261124_000005_create_refunds;
mod m20261124_000006_create_subscriptions;
mod m20261124_000007_create_payment_methods;
mod m20261124_000008_create_webhook_events;
mod m20261124_000009_create_idempotency_keys;
mod m20261124_000010_create_side_effects;
mod m20261125_000011_add_dispute_outcome;
mod m20261125_000012_add_prices_trial_period_days;
mod m20261207_000013_add_webhook_events_trace_parent;
mod m20261207_000014_create_sync_checks;
mod m20261208_000015_selling_surface;
mod m20261208_000016_create_invoices;
mod m20261208_000017_add_payment_receipts;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_create_customers::Migration),
            Box::new(m20261124_000002_create_products::Migration),
            Box::new(m20261124_000003_create_prices::Migration),
            Box::new(m20261124_000004_create_payments::Migration),
            Box::new(m20261124_000005_create_refunds::Migration),
            Box::new(m20261124_000006_create_subscriptions::Migration),
            Box::new(m20261124_000007_create_payment_methods::Migration),
            Box::new(m20261124_000008_create_webhook_events::Migration),
            Box::new(m20261124_000009_create_idempotency_keys::Migration),
            Box::new(m20261124_000010_create_side_effects::Migration),
            Box::new(m20261125_000011_add_dispute_outcome::Migration),
            Box::new(m20261125_000012_add_prices_trial_period_days::Migration),
            Box::new(m20261207_000013_add_webhook_events_trace_parent::Migration),
            Box::new(m20261207_000014_create_sync_checks::Migration),
            Box::new(m20261208_000015_selling_surface::Migration),
            Box::new(m20261208_000016_create_invoices::Migration),
            Box::new(m20261208_000017_add_payment_receipts::Migration),
        ]
    }
}
