//! The shared test harness (`tests/common`), as this binary's tests name it.

pub use tollgate_test_support::*;
