//! Whether a step sequence hands its block's weight gradients to a second
//! thread, chosen by what each way has measured on this machine lately.
//!
//! Why measure: the hand-off pays where the second core is the block's
//! own, and loses where it is not. On a 2-vCPU VM whose host at times runs
//! both vCPUs at one core's speed, a busy helper took that time from the
//! block (20 members: 5.1-5.5 ms per 100 steps helped in rounds where
//! they took 3.4-3.8 alone, against 3.09-3.22 helped and 3.18-3.47 alone
//! in calm rounds). Either way gives the same bits, so the choice is only
//! about time.

use std::time::Duration;

/// Calls between two tries of the way not chosen (to notice the machine
/// has changed): at a 7% difference, trying the slower way one call in
/// sixteen costs about 0.4%.
const RETRY_EVERY: u64 = 16;

/// Times kept per way: a way counts as fast as the fastest of its last few
/// calls. The host's noise only ever slows a call (on a noisy stretch one
/// call in ten of either way took about 20% more than its median), so the
/// fastest recent call says what the way can do now. With the latest call
/// alone, 25-38% of the calls went without the hand-off although it was
/// 7% faster at the median.
const KEPT: usize = 4;

/// One way's latest times per step, newest at `next - 1` (mod [`KEPT`]).
#[derive(Debug, Default)]
struct Times {
    kept: [Option<f64>; KEPT],
    next: usize,
}

impl Times {
    fn push(&mut self, per_step: f64) {
        self.kept[self.next] = Some(per_step);
        self.next = (self.next + 1) % KEPT;
    }

    fn best(&self) -> Option<f64> {
        self.kept.iter().flatten().copied().reduce(f64::min)
    }
}

/// The two ways' recent times per step, and the choice they give.
#[derive(Debug, Default)]
pub(super) struct HandoffChoice {
    helped: Times,
    alone: Times,
    calls: u64,
}

impl HandoffChoice {
    /// Whether the next call hands off: each way is tried once, then the
    /// faster one is taken, and the other every [`RETRY_EVERY`] calls.
    pub(super) fn hand_off(&mut self) -> bool {
        self.calls += 1;
        match (self.helped.best(), self.alone.best()) {
            (None, _) => true,
            (_, None) => false,
            (Some(helped), Some(alone)) => {
                let faster = helped <= alone;
                if self.calls.is_multiple_of(RETRY_EVERY) {
                    !faster
                } else {
                    faster
                }
            }
        }
    }

    /// Records a call of `steps` steps that took `took`, handed off or not.
    pub(super) fn record(&mut self, handed_off: bool, steps: usize, took: Duration) {
        if steps == 0 {
            return;
        }
        let per_step = took.as_secs_f64() / steps as f64;
        if handed_off {
            self.helped.push(per_step);
        } else {
            self.alone.push(per_step);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn each_way_is_tried_once_before_a_choice() {
        let mut c = HandoffChoice::default();
        assert!(c.hand_off());
        c.record(true, 100, ms(3));
        assert!(!c.hand_off());
        c.record(false, 100, ms(4));
        assert!(c.hand_off(), "the faster way");
    }

    #[test]
    fn the_faster_way_is_taken_and_the_other_retried_now_and_then() {
        let mut c = HandoffChoice::default();
        c.hand_off();
        c.record(true, 100, ms(5));
        c.hand_off();
        c.record(false, 100, ms(3));
        let picks: Vec<bool> = (0..RETRY_EVERY).map(|_| c.hand_off()).collect();
        assert_eq!(picks.iter().filter(|&&h| h).count(), 1, "{picks:?}");
    }

    #[test]
    fn a_way_counts_as_fast_as_its_fastest_recent_call() {
        let mut c = HandoffChoice::default();
        c.hand_off();
        c.record(true, 100, ms(3));
        c.hand_off();
        c.record(false, 100, ms(4));
        c.record(true, 100, ms(9));
        assert!(c.hand_off(), "one slow call among fast ones");
    }

    #[test]
    fn a_way_that_has_become_slower_is_left_once_its_fast_calls_are_old() {
        let mut c = HandoffChoice::default();
        c.hand_off();
        c.record(true, 100, ms(3));
        c.hand_off();
        c.record(false, 100, ms(4));
        for _ in 0..KEPT {
            assert!(c.hand_off());
            c.record(true, 100, ms(6));
        }
        assert!(!c.hand_off(), "helped's last calls took 6 ms, alone 4");
    }

    #[test]
    fn an_empty_call_records_nothing() {
        let mut c = HandoffChoice::default();
        c.hand_off();
        c.record(true, 0, ms(1));
        assert!(c.hand_off(), "still untried");
    }
}
