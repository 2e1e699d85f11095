//! Request rate limits: per client IP for everything, per user for GraphQL, and a stricter
//! one per user for mutations (each of which calls Stripe, and most of which move money).
//! GCRA through `governor`; state is per process (a replica behind a load balancer limits its
//! share of the traffic), which bounds abuse without a shared store.

use std::{
    net::IpAddr,
    num::NonZeroU32,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use governor::{
    clock::{Clock, DefaultClock},
    state::keyed::DefaultKeyedStateStore,
    Quota, RateLimiter,
};

type Keyed<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock>;

fn keyed<K: std::hash::Hash + Eq + Clone>(per_minute: Option<NonZeroU32>) -> Option<Keyed<K>> {
    per_minute.map(|n| RateLimiter::keyed(Quota::per_minute(n)))
}

/// Requests per minute for each limiter; `None` turns one off. Each allows a burst of its whole
/// minute's worth, then refills evenly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitConfig {
    pub per_ip: Option<NonZeroU32>,
    pub per_user: Option<NonZeroU32>,
    pub mutations_per_user: Option<NonZeroU32>,
}

impl RateLimitConfig {
    pub const OFF: RateLimitConfig = RateLimitConfig {
        per_ip: None,
        per_user: None,
        mutations_per_user: None,
    };
}

/// A refusal, with how long until the same request would pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    pub retry_after: Duration,
}

impl Limited {
    /// Whole seconds, rounded up, as `Retry-After` and `extensions.retryAfter` carry them.
    pub fn retry_after_secs(&self) -> u64 {
        let secs = self.retry_after.as_secs();
        if self.retry_after.subsec_nanos() > 0 {
            secs + 1
        } else {
            secs.max(1)
        }
    }
}

pub struct RateLimits {
    clock: DefaultClock,
    per_ip: Option<Keyed<IpAddr>>,
    per_user: Option<Keyed<String>>,
    mutations: Option<Keyed<String>>,
    checks: AtomicU64,
}

/// Forget idle keys every this many checks, so a scan from many addresses cannot grow the
/// tables without bound.
const SWEEP_EVERY: u64 = 4096;

impl RateLimits {
    pub fn new(config: RateLimitConfig) -> Self {
        RateLimits {
            clock: DefaultClock::default(),
            per_ip: keyed(config.per_ip),
            per_user: keyed(config.per_user),
            mutations: keyed(config.mutations_per_user),
            checks: AtomicU64::new(0),
        }
    }

    pub fn ip(&self, ip: IpAddr) -> Result<(), Limited> {
        self.sweep();
        match &self.per_ip {
            Some(l) => self.verdict(l.check_key(&ip)),
            None => Ok(()),
        }
    }

    pub fn user(&self, user_id: &str) -> Result<(), Limited> {
        match &self.per_user {
            Some(l) => self.verdict(l.check_key(&user_id.to_owned())),
            None => Ok(()),
        }
    }

    /// `count` mutations in one document each take a token.
    pub fn mutations(&self, user_id: &str, count: usize) -> Result<(), Limited> {
        let Some(l) = &self.mutations else {
            return Ok(());
        };
        let n = NonZeroU32::new(u32::try_from(count.max(1)).unwrap_or(u32::MAX))
            .unwrap_or(NonZeroU32::MIN);
        match l.check_key_n(&user_id.to_owned(), n) {
            Ok(result) => self.verdict(result),
            // More mutations in one request than a whole minute allows: never passes.
            Err(_) => Err(Limited {
                retry_after: Duration::from_secs(60),
            }),
        }
    }

    fn verdict(
        &self,
        result: Result<(), governor::NotUntil<<DefaultClock as Clock>::Instant>>,
    ) -> Result<(), Limited> {
        result.map_err(|not_until| Limited {
            retry_after: not_until.wait_time_from(self.clock.now()),
        })
    }

    fn sweep(&self) {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY != SWEEP_EVERY - 1 {
            return;
        }
        if let Some(l) = &self.per_ip {
            l.retain_recent();
            l.shrink_to_fit();
        }
        if let Some(l) = &self.per_user {
            l.retain_recent();
            l.shrink_to_fit();
        }
        if let Some(l) = &self.mutations {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(v: u32) -> Option<NonZeroU32> {
        NonZeroU32::new(v)
    }

    #[test]
    fn bursts_up_to_the_quota_then_refuses_with_a_wait() {
        let limits = RateLimits::new(RateLimitConfig {
            per_ip: n(3),
            per_user: n(2),
            mutations_per_user: n(4),
        });
        let ip: IpAddr = [127, 0, 0, 1].into();
        for _ in 0..3 {
            assert!(limits.ip(ip).is_ok());
        }
        let limited = limits.ip(ip).expect_err("fourth in a minute");
        assert!(limited.retry_after_secs() >= 1 && limited.retry_after_secs() <= 20);
        // Another address and another user are not affected.
        assert!(limits.ip([127, 0, 0, 2].into()).is_ok());
        assert!(limits.user("a").is_ok() && limits.user("a").is_ok());
        assert!(limits.user("a").is_err());
        assert!(limits.user("b").is_ok());
        // Mutations count one token each.
        assert!(limits.mutations("a", 3).is_ok());
        assert!(limits.mutations("a", 2).is_err());
        assert!(
            limits.mutations("c", 5).is_err(),
            "more than a minute's worth at once"
        );
    }

    #[test]
    fn off_means_off() {
        let limits = RateLimits::new(RateLimitConfig::OFF);
        for _ in 0..10_000 {
            assert!(limits.ip([10, 0, 0, 1].into()).is_ok());
            assert!(limits.mutations("u", 50).is_ok());
        }
    }
}
