//! Reconnect delays: exponential with full jitter, so that many clients that lost the
//! service at the same moment do not all come back at the same moment.

use std::time::Duration;

use rand::Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The cap of the first retry (attempt 0).
    pub base: Duration,
    /// The largest cap.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(500),
            max: Duration::from_secs(20),
        }
    }
}

impl Backoff {
    /// The cap for `attempt`: `base * 2^attempt`, at most `max`.
    pub fn cap(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX);
        self.base
            .saturating_mul(factor)
            .min(self.max)
            .max(self.base.min(self.max))
    }

    /// A random delay in `[0, cap(attempt)]` ("full jitter").
    pub fn delay(&self, attempt: u32) -> Duration {
        let cap = self.cap(attempt);
        let nanos = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rand::rng().random_range(0..=nanos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_grow_exponentially_up_to_the_maximum() {
        let b = Backoff::default();
        let caps: Vec<_> = (0..8).map(|a| b.cap(a).as_millis()).collect();
        assert_eq!(caps, [500, 1000, 2000, 4000, 8000, 16000, 20000, 20000]);
        assert_eq!(b.cap(1000), Duration::from_secs(20));
    }

    #[test]
    fn delays_stay_within_the_cap() {
        let b = Backoff::default();
        for attempt in 0..10 {
            for _ in 0..100 {
                assert!(b.delay(attempt) <= b.cap(attempt));
            }
        }
    }
}
