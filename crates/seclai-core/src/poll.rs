//! The wait schedule used while polling a run until it finishes.
//!
//! [`PollSchedule`] does not sleep or read a clock: the caller passes the time
//! elapsed since polling began and sleeps for whatever delay it gets back.

use std::time::Duration;

/// How often to poll, and for how long.
#[derive(Debug, Clone, PartialEq)]
pub struct PollPolicy {
    /// Wait before the second check (default 1 s). The first check happens
    /// immediately.
    pub initial_delay: Duration,
    /// Longest wait between checks (default 5 s).
    pub max_delay: Duration,
    /// Growth factor applied to the wait after each check (default 1.5).
    /// Values below 1, NaN or infinity are treated as 1 (a fixed interval)
    /// or as reaching `max_delay` at once, respectively.
    pub multiplier: f64,
    /// Total time to keep polling (default 10 minutes).
    pub deadline: Duration,
}

impl Default for PollPolicy {
    fn default() -> Self {
        Self {
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(5),
            multiplier: 1.5,
            deadline: Duration::from_secs(10 * 60),
        }
    }
}

impl PollPolicy {
    /// Starts a schedule following this policy.
    pub fn schedule(&self) -> PollSchedule {
        PollSchedule::new(self.clone())
    }
}

/// The sequence of waits between status checks.
///
/// Call [`next_delay`](Self::next_delay) before every check: it returns
/// `Some(Duration::ZERO)` the first time, then growing waits, and `None` once
/// the deadline has been reached. The final wait is shortened so that the
/// last check lands on the deadline rather than past it.
#[derive(Debug, Clone)]
pub struct PollSchedule {
    policy: PollPolicy,
    next: Option<Duration>,
    checks: u32,
}

impl PollSchedule {
    /// Starts a schedule.
    pub fn new(policy: PollPolicy) -> Self {
        Self {
            policy,
            next: None,
            checks: 0,
        }
    }

    /// How long to wait before the next check, given the time `elapsed`
    /// since polling started, or `None` when the deadline has passed and the
    /// caller should give up.
    pub fn next_delay(&mut self, elapsed: Duration) -> Option<Duration> {
        if elapsed >= self.policy.deadline && self.checks > 0 {
            return None;
        }
        let Some(wait) = self.next else {
            // First check: immediately.
            self.next = Some(self.policy.initial_delay.min(self.policy.max_delay));
            self.checks = 1;
            return Some(Duration::ZERO);
        };
        self.next = Some(self.grow(wait));
        self.checks = self.checks.saturating_add(1);
        let remaining = self.policy.deadline.saturating_sub(elapsed);
        Some(wait.min(remaining))
    }

    /// How many checks have been scheduled so far.
    pub fn checks(&self) -> u32 {
        self.checks
    }

    fn grow(&self, wait: Duration) -> Duration {
        let m = self.policy.multiplier;
        let max = self.policy.max_delay;
        let grown = if m.is_nan() || m <= 1.0 {
            wait
        } else {
            Duration::try_from_secs_f64(wait.as_secs_f64() * m).unwrap_or(max)
        };
        grown.min(max)
    }
}

/// Whether a run status means the run will not change any more:
/// `completed`, `failed`, `cancelled` or `canceled`, ignoring case and
/// surrounding whitespace.
pub fn is_terminal_status(status: &str) -> bool {
    let s = status.trim();
    ["completed", "failed", "cancelled", "canceled"]
        .iter()
        .any(|t| s.eq_ignore_ascii_case(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    /// Runs a schedule assuming checks take no time; returns all delays.
    fn run(policy: PollPolicy) -> Vec<Duration> {
        let mut s = policy.schedule();
        let mut elapsed = Duration::ZERO;
        let mut delays = Vec::new();
        while let Some(d) = s.next_delay(elapsed) {
            delays.push(d);
            elapsed += d;
            assert!(delays.len() < 10_000, "schedule must end");
        }
        delays
    }

    #[test]
    fn default_schedule() {
        let p = PollPolicy::default();
        assert_eq!(p.deadline, 600 * S);
        let delays = run(p);
        assert_eq!(delays[0], Duration::ZERO);
        assert_eq!(delays[1], S);
        assert_eq!(delays[2], Duration::from_millis(1500));
        assert_eq!(delays[3], Duration::from_millis(2250));
        assert!(delays.iter().all(|d| *d <= 5 * S));
        assert_eq!(delays.iter().sum::<Duration>(), 600 * S);
        assert!(delays[10..delays.len() - 1].iter().all(|d| *d == 5 * S));
    }

    #[test]
    fn last_wait_lands_on_deadline() {
        let p = PollPolicy {
            initial_delay: 2 * S,
            max_delay: 2 * S,
            multiplier: 2.0,
            deadline: 5 * S,
        };
        assert_eq!(run(p), vec![Duration::ZERO, 2 * S, 2 * S, S]);
    }

    #[test]
    fn slow_checks_end_at_deadline() {
        let mut s = PollPolicy::default().schedule();
        assert_eq!(s.next_delay(Duration::ZERO), Some(Duration::ZERO));
        assert_eq!(s.next_delay(599 * S + S / 2), Some(S / 2));
        assert_eq!(s.next_delay(600 * S), None);
        assert_eq!(s.next_delay(700 * S), None);
        assert_eq!(s.checks(), 2);
    }

    #[test]
    fn zero_deadline_still_checks_once() {
        let p = PollPolicy {
            deadline: Duration::ZERO,
            ..PollPolicy::default()
        };
        assert_eq!(run(p), vec![Duration::ZERO]);
    }

    #[test]
    fn odd_multipliers_do_not_panic() {
        for m in [f64::NAN, -3.0, 0.0, 1.0, f64::INFINITY, f64::MAX] {
            let p = PollPolicy {
                multiplier: m,
                deadline: 30 * S,
                ..PollPolicy::default()
            };
            let delays = run(p);
            assert_eq!(delays.iter().sum::<Duration>(), 30 * S, "{m}");
            assert!(delays.iter().all(|d| *d <= 5 * S), "{m}");
        }
        let fixed = run(PollPolicy {
            multiplier: 0.5,
            deadline: 4 * S,
            ..PollPolicy::default()
        });
        assert_eq!(fixed, vec![Duration::ZERO, S, S, S, S]);
    }

    #[test]
    fn initial_delay_is_capped() {
        let p = PollPolicy {
            initial_delay: 60 * S,
            ..PollPolicy::default()
        };
        assert_eq!(run(p)[1], 5 * S);
    }

    #[test]
    fn terminal_statuses() {
        for s in ["completed", "FAILED", " Cancelled ", "canceled"] {
            assert!(is_terminal_status(s), "{s}");
        }
        for s in ["pending", "running", "queued", "", "complete", "cancelling"] {
            assert!(!is_terminal_status(s), "{s}");
        }
    }
}
