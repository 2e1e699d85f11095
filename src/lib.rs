//! Tollgate: a GraphQL billing gateway in front of Stripe. See DESIGN.md for the whole picture;
//! `app` is the place to start reading.

pub mod app;
pub mod auth;
pub mod billing;
pub mod config;
pub mod db;
pub mod demo;
pub mod error;
pub mod graphql;
pub mod healthcheck;
pub mod live;
pub mod metrics;
pub mod money;
pub mod rate_limit;
pub mod server;
pub mod stripe;
pub mod telemetry;
pub mod web;
pub mod webhooks;
