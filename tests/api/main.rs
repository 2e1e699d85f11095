//! One integration-test binary (it links once). Every test runs the real app on a random port
//! against its own database and its own Stripe emulator process.

mod catalog;
mod cli;
mod database;
mod emulator;
mod health;
mod helpers;
mod stripe_client;
mod webhook_intake;
