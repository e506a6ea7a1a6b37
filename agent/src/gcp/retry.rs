//! When to try a request again and how long to wait first: the retryable statuses, capped
//! exponential backoff with jitter, `Retry-After`, and the client-side rate limiter.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::num::NonZeroU32;
use std::time::{Duration, SystemTime};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// HTTP statuses worth retrying: too many requests, and the server-side errors Google documents
/// as transient.
pub(crate) fn retryable_status(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504)
}

/// Capped exponential backoff with "equal jitter": before retry `n` (0-based) the wait is between
/// half and all of `min(cap, base × 2ⁿ)`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Backoff {
    pub(crate) base: Duration,
    pub(crate) cap: Duration,
}

impl Backoff {
    /// The upper bound of the wait before retry `retry` (0-based).
    pub(crate) fn ceiling(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// The wait before retry `retry`, with `jitter` in `[0, 1)` choosing within the bounds.
    pub(crate) fn delay_with(&self, retry: u32, jitter: f64) -> Duration {
        let ceiling = self.ceiling(retry);
        let half = ceiling / 2;
        half + half.mul_f64(jitter.clamp(0.0, 1.0))
    }

    /// The wait before retry `retry`, with fresh jitter.
    pub(crate) fn delay(&self, retry: u32) -> Duration {
        self.delay_with(retry, jitter())
    }

    /// The wait honouring a server's `Retry-After`, capped; otherwise the backoff.
    pub(crate) fn delay_or_retry_after(
        &self,
        retry: u32,
        retry_after: Option<Duration>,
    ) -> Duration {
        match retry_after {
            Some(wait) => wait.min(self.cap),
            None => self.delay(retry),
        }
    }
}

/// A number in `[0, 1)` that differs from call to call (std's per-call hasher keys; no crate
/// needed, and nothing here needs to be unpredictable).
pub(crate) fn jitter() -> f64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0),
    );
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// Parses a `Retry-After` value: delay-seconds, or an HTTP date (a date in the past is zero).
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(date.timestamp()).ok()?);
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// A token bucket of `per_second` requests a second (burst of the same size).
pub(crate) fn rate_limiter(per_second: u32) -> Option<DefaultDirectRateLimiter> {
    let rate = NonZeroU32::new(per_second)?;
    Some(RateLimiter::direct(Quota::per_second(rate)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BACKOFF: Backoff = Backoff {
        base: Duration::from_millis(200),
        cap: Duration::from_secs(10),
    };

    #[test]
    fn ceilings_double_then_cap() {
        let ceilings: Vec<u128> = (0..9).map(|n| BACKOFF.ceiling(n).as_millis()).collect();
        assert_eq!(
            ceilings,
            [200, 400, 800, 1600, 3200, 6400, 10000, 10000, 10000]
        );
        assert_eq!(BACKOFF.ceiling(u32::MAX), Duration::from_secs(10));
    }

    #[test]
    fn delays_stay_within_half_and_all_of_the_ceiling() {
        for retry in 0..12 {
            assert_eq!(BACKOFF.delay_with(retry, 0.0), BACKOFF.ceiling(retry) / 2);
            assert!(BACKOFF.delay_with(retry, 0.999_999) <= BACKOFF.ceiling(retry));
            for _ in 0..50 {
                let delay = BACKOFF.delay(retry);
                assert!(delay >= BACKOFF.ceiling(retry) / 2, "{delay:?}");
                assert!(delay <= BACKOFF.ceiling(retry), "{delay:?}");
            }
        }
    }

    #[test]
    fn jitter_is_in_the_unit_interval_and_varies() {
        let values: Vec<f64> = (0..100).map(|_| jitter()).collect();
        assert!(values.iter().all(|v| (0.0..1.0).contains(v)));
        assert!(values.windows(2).any(|w| w[0] != w[1]));
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(parse_retry_after("0", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        // 784111777 is Sun, 06 Nov 1994 08:49:37 GMT.
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }

    #[test]
    fn retry_after_is_capped_and_replaces_the_backoff() {
        let long = Some(Duration::from_secs(3600));
        assert_eq!(
            BACKOFF.delay_or_retry_after(0, long),
            Duration::from_secs(10)
        );
        assert_eq!(
            BACKOFF.delay_or_retry_after(5, Some(Duration::ZERO)),
            Duration::ZERO
        );
    }

    #[test]
    fn retryable_statuses() {
        for status in [429, 500, 502, 503, 504] {
            assert!(retryable_status(status), "{status}");
        }
        for status in [200, 400, 401, 403, 404, 409, 501] {
            assert!(!retryable_status(status), "{status}");
        }
    }

    #[test]
    fn zero_rate_is_refused() {
        assert!(rate_limiter(0).is_none());
        assert!(rate_limiter(10).is_some());
    }
}
