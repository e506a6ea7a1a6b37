//! Statistics for the judge: an exact confidence bound for fail-fast, percentiles and "at most"
//! counts from latency histograms, and one-sided tests of a canary against the stable backends.
//!
//! Everything is computed from counts (requests, failures, histogram buckets); the Beta, normal
//! and hypergeometric distributions come from `statrs`. Each test answers one-sided questions
//! ("is the canary *worse*?"), since a canary better than stable is never a reason to stop.

use statrs::distribution::{ContinuousCDF, DiscreteCDF, Hypergeometric, Normal};

use super::sample::Histogram;

/// Below this expected count in any cell of the 2×2 table, [`two_proportions_greater`] uses
/// Fisher's exact test instead of the normal approximation (Cochran's rule of thumb).
pub const MIN_EXPECTED_FOR_Z_TEST: f64 = 5.0;

/// The standard normal distribution.
fn standard_normal() -> Normal {
    Normal::standard()
}

/// The exact (Clopper-Pearson) one-sided upper confidence bound of a binomial proportion:
/// with probability `confidence` the true success rate is at most this, given `successes` out
/// of `n`. It is the `confidence` quantile of Beta(successes + 1, n − successes), i.e. the
/// rate `p` at which seeing `successes` or fewer has probability `1 − confidence`.
///
/// The judge's fail-fast uses it because it is exact for small counts, where the Wilson score
/// bound is too bold: at 99 % confidence, one failed request alone never fails a step that
/// requires 99 % (`0 of 1`: bound exactly 0.99), two failures in the first two do (`0 of 2`:
/// bound `1 − 0.01^(1/2) = 0.9`), and one failure in 13 requests does not (Wilson would say
/// so).
///
/// `1.0` without trials or when every trial succeeded.
pub fn exact_upper(successes: u64, n: u64, confidence: f64) -> f64 {
    let successes = successes.min(n);
    if n == 0 || successes == n {
        return 1.0;
    }
    let confidence = confidence.clamp(0.5, 1.0 - 1e-12);
    match statrs::distribution::Beta::new((successes + 1) as f64, (n - successes) as f64) {
        Ok(beta) => beta.inverse_cdf(confidence).clamp(0.0, 1.0),
        Err(_) => 1.0,
    }
}

/// True when the histogram has the shape [`Histogram`] documents: one more count than bounds.
fn well_formed(hist: &Histogram) -> bool {
    !hist.bounds_ms.is_empty() && hist.counts.len() == hist.bounds_ms.len() + 1
}

/// The `q`-quantile (`q` in [0, 1], clamped) of a latency histogram, in milliseconds,
/// estimated like Prometheus' `histogram_quantile`: find the bucket holding the request of
/// rank `q · total`, and interpolate linearly between its lower and upper edge (the lower edge
/// of the first bucket is 0). A quantile that falls in the overflow bucket is the last bound
/// (a lower bound of the truth). Empty buckets are skipped, so `q = 0` is the lower edge of
/// the first bucket that holds a request.
///
/// `None` for an empty histogram, one without bounds, a malformed one (counts not one more
/// than bounds) or a NaN `q`.
pub fn quantile_ms(hist: &Histogram, q: f64) -> Option<f64> {
    if q.is_nan() || !well_formed(hist) {
        return None;
    }
    let total = hist.total();
    if total == 0 {
        return None;
    }
    let rank = q.clamp(0.0, 1.0) * total as f64;
    let mut below = 0u64;
    for (i, &count) in hist.counts.iter().enumerate() {
        let cumulative = below + count;
        if count > 0 && cumulative as f64 >= rank {
            let Some(&upper) = hist.bounds_ms.get(i) else {
                // The overflow bucket: all we know is "above the last bound".
                return hist.bounds_ms.last().copied();
            };
            if i == 0 && upper <= 0.0 {
                return Some(upper);
            }
            let lower = if i == 0 { 0.0 } else { hist.bounds_ms[i - 1] };
            let within = ((rank - below as f64) / count as f64).clamp(0.0, 1.0);
            return Some(lower + (upper - lower) * within);
        }
        below = cumulative;
    }
    hist.bounds_ms.last().copied()
}

/// How many requests of a histogram took at most some latency, as far as its buckets can
/// tell; see [`share_at_most`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AtMost {
    /// Requests that *could* have taken at most the latency: every bucket whose lower edge is
    /// below it (the first bucket, from 0, whenever the latency is not negative).
    pub optimistic: u64,
    /// Requests that *certainly* took at most the latency: buckets whose upper bound is at
    /// most it (never the overflow bucket).
    pub pessimistic: u64,
    /// Requests in the histogram.
    pub total: u64,
}

/// Requests of `hist` that took at most `max_ms`, counted optimistically and pessimistically
/// (a bucket straddling `max_ms` counts in the first and not in the second). Fail-fast on
/// latency uses the optimistic count, so that coarse buckets never make a canary fail: it
/// fails only when even the requests that *might* have been fast are too few.
///
/// A malformed histogram (counts not one more than bounds) counts nothing.
pub fn share_at_most(hist: &Histogram, max_ms: f64) -> AtMost {
    if hist.counts.len() != hist.bounds_ms.len() + 1 {
        return AtMost {
            optimistic: 0,
            pessimistic: 0,
            total: 0,
        };
    }
    let mut optimistic = 0u64;
    let mut pessimistic = 0u64;
    for (i, &count) in hist.counts.iter().enumerate() {
        let could = if i == 0 {
            max_ms >= 0.0
        } else {
            hist.bounds_ms[i - 1] < max_ms
        };
        if could {
            optimistic += count;
        }
        if hist.bounds_ms.get(i).is_some_and(|&upper| upper <= max_ms) {
            pessimistic += count;
        }
    }
    AtMost {
        optimistic,
        pessimistic,
        total: hist.total(),
    }
}

/// One-sided p-value of "the failure rate of `a` is greater than that of `b`" (H0: same
/// rate), from `failures_a` out of `n_a` and `failures_b` out of `n_b` requests. Small means
/// `a` (the canary) is significantly worse.
///
/// - When every expected cell count of the 2×2 table (`n · pooled rate` and
///   `n · (1 − pooled rate)` for each side) is at least [`MIN_EXPECTED_FOR_Z_TEST`], the pooled
///   two-proportion z-test: `z = (p_a − p_b) / sqrt(p(1−p)(1/n_a + 1/n_b))` with `p` the pooled
///   rate, and the p-value is `P(Z ≥ z)`.
/// - Otherwise (few failures, the usual case for a healthy service, where the normal
///   approximation is poor) Fisher's exact test: given the failures of both sides together,
///   the number falling on side `a` is hypergeometric (population `n_a + n_b`, `failures_a +
///   failures_b` failures, `n_a` draws) and the p-value is `P(X ≥ failures_a)`. It is
///   conservative, which suits a test that can roll a release back.
///
/// With no failure at all (or only failures) on both sides the rates cannot differ: `1.0`.
/// `None` when a side has no requests. Failures above the requests count as the requests.
pub fn two_proportions_greater(
    failures_a: u64,
    n_a: u64,
    failures_b: u64,
    n_b: u64,
) -> Option<f64> {
    if n_a == 0 || n_b == 0 {
        return None;
    }
    let (f_a, f_b) = (failures_a.min(n_a), failures_b.min(n_b));
    let (n, f) = (n_a + n_b, f_a + f_b);
    if f == 0 || f == n {
        return Some(1.0);
    }
    let pooled = f as f64 / n as f64;
    let smallest_expected = (n_a.min(n_b) as f64) * pooled.min(1.0 - pooled);
    if smallest_expected < MIN_EXPECTED_FOR_Z_TEST {
        let hypergeometric = Hypergeometric::new(n, f, n_a).ok()?;
        let p = if f_a == 0 {
            1.0
        } else {
            hypergeometric.sf(f_a - 1)
        };
        return Some(p.clamp(0.0, 1.0));
    }
    let (p_a, p_b) = (f_a as f64 / n_a as f64, f_b as f64 / n_b as f64);
    let se = (pooled * (1.0 - pooled) * (1.0 / n_a as f64 + 1.0 / n_b as f64)).sqrt();
    let z = (p_a - p_b) / se;
    Some(standard_normal().sf(z).clamp(0.0, 1.0))
}

/// One-sided p-value of "latency of `a` is stochastically greater than that of `b`" (H0: same
/// distribution), the Mann-Whitney U test on binned data. Small means `a` (the canary) is
/// significantly slower.
///
/// Requests in the same bucket are ties: each gets the mid-rank of its bucket over both
/// histograms, `U_a = R_a − n_a(n_a+1)/2` with `R_a` the rank sum of `a`, and the variance is
/// tie-corrected: `n_a·n_b/12 · ((N+1) − Σ(t³−t)/(N(N−1)))` with `t` the requests of each
/// bucket and `N = n_a + n_b`. The p-value is `P(Z ≥ (U_a − n_a·n_b/2 − 0.5) / σ)` (normal
/// approximation with continuity correction). When every request sits in one bucket nothing
/// can be told apart: `1.0`.
///
/// `None` when the bounds differ, a histogram is malformed, or a side has no requests.
pub fn mann_whitney_greater(a: &Histogram, b: &Histogram) -> Option<f64> {
    if a.bounds_ms != b.bounds_ms || !well_formed(a) || !well_formed(b) {
        return None;
    }
    let (n_a, n_b) = (a.total() as f64, b.total() as f64);
    if n_a == 0.0 || n_b == 0.0 {
        return None;
    }
    let n = n_a + n_b;
    let mut rank_sum_a = 0.0;
    let mut ties = 0.0;
    let mut below = 0.0;
    for (&count_a, &count_b) in a.counts.iter().zip(&b.counts) {
        let t = count_a as f64 + count_b as f64;
        let mid_rank = below + (t + 1.0) / 2.0;
        rank_sum_a += count_a as f64 * mid_rank;
        ties += t * t * t - t;
        below += t;
    }
    let u_a = rank_sum_a - n_a * (n_a + 1.0) / 2.0;
    let mean = n_a * n_b / 2.0;
    let variance = n_a * n_b / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)));
    if variance <= 0.0 || !variance.is_finite() {
        return Some(1.0);
    }
    let z = (u_a - mean - 0.5) / variance.sqrt();
    Some(standard_normal().sf(z).clamp(0.0, 1.0))
}

#[cfg(test)]
mod exact_tests {
    use super::exact_upper;

    #[test]
    fn exact_bound_matches_closed_forms() {
        // 0 of n: (1 − p)^n = 1 − c  ⇒  p = 1 − (1 − c)^(1/n).
        for n in [1u64, 2, 5, 40] {
            let want = 1.0 - 0.01f64.powf(1.0 / n as f64);
            assert!((exact_upper(0, n, 0.99) - want).abs() < 1e-6, "0 of {n}");
        }
        // n−1 of n: p^n = 1 − c  ⇒  p = (1 − c)^(1/n)... for the upper bound of n−1 successes,
        // P(X ≤ n−1) = 1 − p^n = 1 − c  ⇒  p = c^(1/n).
        for n in [2u64, 13, 100] {
            let want = 0.99f64.powf(1.0 / n as f64);
            assert!(
                (exact_upper(n - 1, n, 0.99) - want).abs() < 1e-6,
                "{} of {n}",
                n - 1
            );
        }
        assert_eq!(exact_upper(5, 5, 0.99), 1.0);
        assert_eq!(exact_upper(0, 0, 0.99), 1.0);
    }

    #[test]
    fn one_failure_never_fails_a_99_percent_step_two_early_ones_do() {
        for n in 1..200 {
            assert!(
                exact_upper(n - 1, n, 0.99) >= 0.99 - 1e-9,
                "1 failure in {n}"
            );
        }
        assert!(exact_upper(0, 2, 0.99) < 0.99);
        assert!(exact_upper(1, 3, 0.99) < 0.99, "2 failures in 3");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hist(bounds_ms: &[f64], counts: &[u64]) -> Histogram {
        Histogram {
            bounds_ms: bounds_ms.to_vec(),
            counts: counts.to_vec(),
        }
    }

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance
    }

    #[test]
    fn quantile_interpolates_inside_the_bucket() {
        let h = hist(&[10.0, 100.0, 1000.0], &[50, 40, 10, 0]);
        // Rank 50 of 100 is the last request of the first bucket: its upper edge.
        assert_eq!(quantile_ms(&h, 0.5), Some(10.0));
        // Rank 70: 20 of 40 into (10, 100] → 10 + 90·0.5 = 55.
        assert_eq!(quantile_ms(&h, 0.7), Some(55.0));
        // Rank 25: half of the first bucket, whose lower edge is 0 → 5.
        assert_eq!(quantile_ms(&h, 0.25), Some(5.0));
        // Rank 99: 9 of 10 into (100, 1000] → 100 + 900·0.9 = 910.
        assert!(close(quantile_ms(&h, 0.99).unwrap(), 910.0, 1e-9));
        assert_eq!(quantile_ms(&h, 1.0), Some(1000.0));
    }

    #[test]
    fn quantile_edges() {
        // In the overflow bucket: the last bound.
        let h = hist(&[10.0, 100.0], &[1, 0, 9]);
        assert_eq!(quantile_ms(&h, 0.5), Some(100.0));
        // q = 0 skips empty buckets: the lower edge of the first one with a request.
        let h = hist(&[10.0, 100.0], &[0, 4, 0]);
        assert_eq!(quantile_ms(&h, 0.0), Some(10.0));
        assert_eq!(quantile_ms(&h, -1.0), Some(10.0));
        assert_eq!(quantile_ms(&h, 2.0), Some(100.0));
        assert_eq!(quantile_ms(&h, f64::NAN), None);
        assert_eq!(quantile_ms(&hist(&[10.0], &[0, 0]), 0.5), None);
        assert_eq!(quantile_ms(&hist(&[], &[5]), 0.5), None);
        assert_eq!(quantile_ms(&hist(&[10.0], &[5]), 0.5), None);
        assert_eq!(quantile_ms(&Histogram::default(), 0.5), None);
    }

    #[test]
    fn at_most_is_optimistic_and_pessimistic() {
        let h = hist(&[10.0, 100.0, 1000.0], &[50, 40, 9, 1]);
        // 500 ms falls inside (100, 1000]: that bucket might be fast, but is not surely fast.
        assert_eq!(
            share_at_most(&h, 500.0),
            AtMost {
                optimistic: 99,
                pessimistic: 90,
                total: 100
            }
        );
        // On a bound, the bucket ending there is surely fast and the next one cannot be.
        assert_eq!(
            share_at_most(&h, 100.0),
            AtMost {
                optimistic: 90,
                pessimistic: 90,
                total: 100
            }
        );
        // Above the last bound, the overflow might be fast.
        assert_eq!(share_at_most(&h, 5000.0).optimistic, 100);
        assert_eq!(share_at_most(&h, 5000.0).pessimistic, 99);
        // Below the first bound, the first bucket (from 0) might be fast.
        assert_eq!(share_at_most(&h, 1.0).optimistic, 50);
        assert_eq!(share_at_most(&h, 1.0).pessimistic, 0);
        assert_eq!(share_at_most(&hist(&[10.0], &[1]), 5.0).total, 0);
    }

    #[test]
    fn two_proportions_uses_the_z_test_with_enough_failures() {
        // 30/200 against 15/200: pooled p = 45/400 = 0.1125, se = sqrt(0.1125·0.8875·0.01)
        // = 0.031598, z = (0.15 − 0.075)/0.031598 = 2.3736, P(Z ≥ 2.3736) = 0.00881.
        let p = two_proportions_greater(30, 200, 15, 200).unwrap();
        assert!(close(p, 0.00881, 5e-5), "{p}");
        // The other way round it is not significant at all.
        assert!(two_proportions_greater(15, 200, 30, 200).unwrap() > 0.99);
        // Same rates: z = 0, p = 0.5.
        assert!(close(
            two_proportions_greater(20, 200, 20, 200).unwrap(),
            0.5,
            1e-12
        ));
    }

    #[test]
    fn two_proportions_uses_fisher_with_few_failures() {
        // 2 failures of 10 against 0 of 10: expected failures 1 a side, so Fisher. X = the
        // canary's share of the 2 failures, drawing 10 of 20: P(X ≥ 2) = C(10,2)/C(20,2)
        // = 45/190.
        let p = two_proportions_greater(2, 10, 0, 10).unwrap();
        assert!(close(p, 45.0 / 190.0, 1e-9), "{p}");
        // 4 of 4 against 0 of 1000: P(X ≥ 4) = 1/C(1004,4), tiny.
        let p = two_proportions_greater(4, 4, 0, 1000).unwrap();
        let c = 1004.0 * 1003.0 * 1002.0 * 1001.0 / 24.0;
        assert!(close(p / (1.0 / c), 1.0, 1e-6), "{p}");
        // No failure on the canary: no evidence at all.
        assert_eq!(two_proportions_greater(0, 10, 3, 10), Some(1.0));
    }

    #[test]
    fn two_proportions_edges() {
        assert_eq!(two_proportions_greater(0, 0, 0, 10), None);
        assert_eq!(two_proportions_greater(1, 10, 0, 0), None);
        assert_eq!(two_proportions_greater(0, 10, 0, 10), Some(1.0));
        assert_eq!(two_proportions_greater(10, 10, 10, 10), Some(1.0));
        // Failures above requests count as the requests.
        assert_eq!(
            two_proportions_greater(15, 10, 0, 10),
            two_proportions_greater(10, 10, 0, 10)
        );
    }

    #[test]
    fn mann_whitney_on_separated_histograms() {
        // a: 3 requests in bucket 2; b: 3 in bucket 1. Ranks: b gets 1..3 (mid 2), a 4..6
        // (mid 5): R_a = 15, U_a = 15 − 6 = 9 = n_a·n_b (the maximum). Ties: two groups of 3,
        // Σ(t³−t) = 48; σ² = 9/12 · (7 − 48/30) = 4.05; z = (9 − 4.5 − 0.5)/2.0125 = 1.9876;
        // P(Z ≥ 1.9876) = 0.02343.
        let a = hist(&[10.0, 100.0], &[0, 3, 0]);
        let b = hist(&[10.0, 100.0], &[3, 0, 0]);
        let p = mann_whitney_greater(&a, &b).unwrap();
        assert!(close(p, 0.02343, 5e-5), "{p}");
        assert!(mann_whitney_greater(&b, &a).unwrap() > 0.99);
    }

    #[test]
    fn mann_whitney_large_shift_is_significant_and_none_is_not() {
        let bounds = [5.0, 10.0, 25.0, 50.0, 100.0, 250.0];
        let stable = hist(&bounds, &[100, 300, 400, 150, 40, 10, 0]);
        let slower = hist(&bounds, &[10, 40, 150, 400, 300, 100, 0]);
        assert!(mann_whitney_greater(&slower, &stable).unwrap() < 1e-6);
        // Same distribution: U sits at its mean, p is just above 0.5 (continuity correction).
        let p = mann_whitney_greater(&stable, &stable).unwrap();
        assert!(p > 0.5 && p < 0.52, "{p}");
    }

    #[test]
    fn mann_whitney_edges() {
        let a = hist(&[10.0, 100.0], &[1, 2, 3]);
        assert_eq!(
            mann_whitney_greater(&a, &hist(&[10.0, 50.0], &[1, 2, 3])),
            None
        );
        assert_eq!(
            mann_whitney_greater(&a, &hist(&[10.0, 100.0], &[0, 0, 0])),
            None
        );
        assert_eq!(
            mann_whitney_greater(&hist(&[10.0, 100.0], &[1, 2]), &a),
            None
        );
        // Everything in one bucket: nothing can be told apart.
        let one = hist(&[10.0, 100.0], &[0, 7, 0]);
        let other = hist(&[10.0, 100.0], &[0, 3, 0]);
        assert_eq!(mann_whitney_greater(&one, &other), Some(1.0));
    }

    fn histogram_strategy() -> impl Strategy<Value = Histogram> {
        prop::collection::vec((1.0f64..500.0, 0u64..200), 1..8).prop_flat_map(|buckets| {
            let mut bound = 0.0;
            let bounds_ms: Vec<f64> = buckets
                .iter()
                .map(|(width, _)| {
                    bound += width;
                    bound
                })
                .collect();
            let counts: Vec<u64> = buckets.iter().map(|(_, count)| *count).collect();
            (Just(bounds_ms), Just(counts), 0u64..50).prop_map(|(bounds_ms, mut counts, over)| {
                counts.push(over);
                Histogram { bounds_ms, counts }
            })
        })
    }

    proptest! {
        #[test]
        fn the_exact_bound_bounds_the_observed_rate(
            n in 1u64..5000,
            share in 0.0f64..=1.0,
            confidence in 0.5f64..0.9999,
        ) {
            let successes = (share * n as f64).round() as u64;
            let upper = exact_upper(successes, n, confidence);
            prop_assert!(upper <= 1.0);
            prop_assert!(upper + 1e-12 >= successes as f64 / n as f64);
            // More confidence, a wider (higher) bound.
            prop_assert!(exact_upper(successes, n, (confidence + 1.0) / 2.0) + 1e-12 >= upper);
        }

        #[test]
        fn quantiles_are_monotone_and_within_the_bounds(
            h in histogram_strategy(),
            q1 in 0.0f64..=1.0,
            q2 in 0.0f64..=1.0,
        ) {
            let (lo, hi) = if q1 <= q2 { (q1, q2) } else { (q2, q1) };
            match (quantile_ms(&h, lo), quantile_ms(&h, hi)) {
                (Some(a), Some(b)) => {
                    prop_assert!(a <= b + 1e-9, "q{lo} = {a} > q{hi} = {b}");
                    prop_assert!(a >= 0.0 && b <= *h.bounds_ms.last().unwrap() + 1e-9);
                }
                (None, None) => prop_assert_eq!(h.total(), 0),
                other => prop_assert!(false, "{:?}", other),
            }
        }

        #[test]
        fn at_most_counts_are_ordered(h in histogram_strategy(), max_ms in 0.0f64..4000.0) {
            let at = share_at_most(&h, max_ms);
            prop_assert!(at.pessimistic <= at.optimistic && at.optimistic <= at.total);
            // Surely fast requests are fast: the quantile at their share is at most max.
            if at.pessimistic > 0 {
                let q = at.pessimistic as f64 / at.total as f64;
                prop_assert!(quantile_ms(&h, q).unwrap() <= max_ms + 1e-9);
            }
        }

        #[test]
        fn p_values_are_probabilities(
            fa in 0u64..100, na in 1u64..300, fb in 0u64..100, nb in 1u64..300,
            a in histogram_strategy(),
            b_counts in prop::collection::vec(0u64..200, 9),
        ) {
            let p = two_proportions_greater(fa, na, fb, nb).unwrap();
            prop_assert!((0.0..=1.0).contains(&p));
            let b = Histogram {
                bounds_ms: a.bounds_ms.clone(),
                counts: b_counts[..a.counts.len()].to_vec(),
            };
            if let (Some(ab), Some(ba)) = (mann_whitney_greater(&a, &b), mann_whitney_greater(&b, &a)) {
                prop_assert!((0.0..=1.0).contains(&ab) && (0.0..=1.0).contains(&ba));
                // One-sided tests both ways, with continuity correction: they cover everything.
                prop_assert!(ab + ba >= 1.0 - 1e-9, "{ab} + {ba}");
            }
        }
    }
}
