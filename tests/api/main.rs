//! One integration-test binary (it links once). Every test runs the real app on a random port
//! against its own database and its own Stripe emulator process.

mod auth;
mod catalog;
mod catalog_admin;
mod cli;
mod database;
mod emulator;
mod emulator_billing;
mod guard_rails;
mod health;
mod helpers;
mod history_plan;
mod hostile;
mod idempotency;
mod invoices;
mod metrics;
mod node;
mod page_statements;
mod payments;
mod quotes;
mod refunds;
mod selling;
mod spa_documents;
mod spec_errors;
mod stripe_client;
mod stripe_today;
mod subscriptions;
mod sync_check;
mod web;
mod webhook_intake;
mod webhooks;
mod websocket;
