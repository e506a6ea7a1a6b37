//! The error policy's clock: capped exponential backoff with jitter, reset on success.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// Share of a delay that jitter may take away: delays fall in `(0.8 × base, base]`.
pub const JITTER: f64 = 0.2;

/// Delays between retries: `initial`, `2 × initial`, `4 × initial`... capped at `max`, each
/// shortened by a random share of up to [`JITTER`] so that many agents failing together do not
/// retry in lockstep.
///
/// The n-th consecutive failure (from 1) waits `min(initial × 2^(n-1), max)` before jitter;
/// jitter never lengthens a delay, so `max` is a true cap. [`Backoff::reset`] (after a
/// success) starts over at `initial`.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    failures: u32,
    jitter: f64,
}

impl Backoff {
    /// A backoff starting at `initial` and capped at `max` (raised to `initial` if smaller).
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max: max.max(initial),
            failures: 0,
            jitter: JITTER,
        }
    }

    /// The same schedule without jitter (for tests and for reasoning about the schedule).
    #[must_use]
    pub fn without_jitter(mut self) -> Self {
        self.jitter = 0.0;
        self
    }

    /// Records one more failure and returns how long to wait before retrying.
    pub fn next_delay(&mut self) -> Duration {
        let base = self.base(self.failures);
        self.failures = self.failures.saturating_add(1);
        if self.jitter <= 0.0 {
            return base;
        }
        base.mul_f64(1.0 - self.jitter * unit_random())
    }

    /// The delay before jitter after `failures` earlier consecutive failures.
    fn base(&self, failures: u32) -> Duration {
        // 2^31 × any initial delay is beyond every sensible cap; stop doubling there.
        let factor = 1u64 << failures.min(31);
        let nanos = self.initial.as_nanos().saturating_mul(u128::from(factor));
        if nanos >= self.max.as_nanos() {
            self.max
        } else {
            // Below `max`, which fits in a Duration.
            Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
        }
    }

    /// Forgets the failures: the next delay is `initial` again.
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    /// Consecutive failures recorded since the last reset.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

/// A random number in `[0, 1)`, from the standard library's randomly keyed hasher (no RNG
/// crate needed for jitter).
fn unit_random() -> f64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(0x6d65_7368_6364);
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_initial_up_to_the_cap_and_resets() {
        let mut backoff =
            Backoff::new(Duration::from_secs(1), Duration::from_secs(60)).without_jitter();
        let delays: Vec<u64> = (0..9).map(|_| backoff.next_delay().as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(backoff.failures(), 9);
        backoff.reset();
        assert_eq!(backoff.next_delay(), Duration::from_secs(1));
    }

    #[test]
    fn many_failures_do_not_overflow() {
        let mut backoff =
            Backoff::new(Duration::from_secs(1), Duration::from_secs(300)).without_jitter();
        for _ in 0..1000 {
            assert!(backoff.next_delay() <= Duration::from_secs(300));
        }
        assert_eq!(backoff.next_delay(), Duration::from_secs(300));
    }

    #[test]
    fn jitter_only_shortens_within_bounds() {
        let mut backoff = Backoff::new(Duration::from_secs(10), Duration::from_secs(10));
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let delay = backoff.next_delay();
            assert!(delay <= Duration::from_secs(10), "{delay:?}");
            assert!(delay >= Duration::from_secs(8), "{delay:?}");
            seen.insert(delay.as_millis());
        }
        assert!(seen.len() > 10, "jitter should vary the delays: {seen:?}");
    }

    #[test]
    fn a_cap_below_initial_is_raised() {
        let mut backoff =
            Backoff::new(Duration::from_secs(5), Duration::from_secs(1)).without_jitter();
        assert_eq!(backoff.next_delay(), Duration::from_secs(5));
        assert_eq!(backoff.next_delay(), Duration::from_secs(5));
    }
}
