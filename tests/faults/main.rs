//! The fault suite: money paths under failure, on PostgreSQL, with the real binary and the real
//! Stripe emulator. Each test has a PostgreSQL server of its own (it restarts it), runs
//! `tollgate serve` as a child process (it kills it), and ends by proving that the local state
//! equals Stripe's (`sync … --check` exits 0), that nothing was charged twice and that every
//! event the emulator sent was applied.
//!
//! Needs PostgreSQL's server binaries (Debian's `postgresql`, installed by
//! `scripts/postgres start`); `scripts/test` runs this binary after the PostgreSQL stage.

/// The shared test harness (`tests/common`).
mod helpers {
    pub use tollgate_test_support::*;
}

mod crash;
mod database_restart;
mod harness;
mod shutdown;
mod stripe_drops;
