//! Digit collection state machine (what Asterisk calls `Read()`/AGI `GET DATA`): first-digit
//! timeout, inter-digit timeout, terminator keys and a maximum length. Sans-I/O.

use std::time::{Duration, Instant};

/// How to collect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectSpec {
    /// Stop after this many digits (0 = no limit).
    pub max_digits: usize,
    /// Give up if no digit arrives within this time.
    pub first_digit_timeout: Duration,
    /// Stop if the next digit does not arrive within this time.
    pub inter_digit_timeout: Duration,
    /// Keys that end collection; they are not part of the result.
    pub terminators: String,
}

impl Default for CollectSpec {
    fn default() -> Self {
        CollectSpec {
            max_digits: 20,
            first_digit_timeout: Duration::from_secs(10),
            inter_digit_timeout: Duration::from_secs(5),
            terminators: "#".to_owned(),
        }
    }
}

/// Why collection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CollectEnd {
    /// `max_digits` reached.
    MaxDigits,
    /// A terminator key.
    Terminator(char),
    /// No (further) digit in time.
    Timeout,
    /// The leg went away.
    Hangup,
}

/// Result: the digits as typed (leading zeros and `*` kept; may be empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collected {
    /// Digits, without terminator.
    pub digits: String,
    /// Why it ended.
    pub end: CollectEnd,
}

/// The state machine.
#[derive(Debug, Clone)]
pub struct DigitCollector {
    spec: CollectSpec,
    digits: String,
    deadline: Instant,
    end: Option<CollectEnd>,
}

impl DigitCollector {
    /// Starts collecting at `now`.
    pub fn new(now: Instant, spec: CollectSpec) -> Self {
        let deadline = now + spec.first_digit_timeout;
        DigitCollector {
            spec,
            digits: String::new(),
            deadline,
            end: None,
        }
    }

    /// Feeds a key. Returns true when collection is complete.
    pub fn handle_digit(&mut self, now: Instant, digit: char) -> bool {
        if self.end.is_some() {
            return true;
        }
        if self.spec.terminators.contains(digit) {
            self.end = Some(CollectEnd::Terminator(digit));
            return true;
        }
        self.digits.push(digit);
        self.deadline = now + self.spec.inter_digit_timeout;
        if self.spec.max_digits != 0 && self.digits.chars().count() >= self.spec.max_digits {
            self.end = Some(CollectEnd::MaxDigits);
        }
        self.end.is_some()
    }

    /// Advances time. Returns true when collection is complete.
    pub fn handle_timeout(&mut self, now: Instant) -> bool {
        if self.end.is_none() && now >= self.deadline {
            self.end = Some(CollectEnd::Timeout);
        }
        self.end.is_some()
    }

    /// Ends collection because the leg is gone.
    pub fn hangup(&mut self) {
        self.end.get_or_insert(CollectEnd::Hangup);
    }

    /// Next deadline while collecting.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.end.is_none().then_some(self.deadline)
    }

    /// The result once complete.
    pub fn result(&self) -> Option<Collected> {
        self.end.map(|end| Collected {
            digits: self.digits.clone(),
            end,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(max: usize) -> CollectSpec {
        CollectSpec {
            max_digits: max,
            first_digit_timeout: Duration::from_secs(5),
            inter_digit_timeout: Duration::from_secs(3),
            terminators: "#".into(),
        }
    }

    #[test]
    fn first_digit_timeout_gives_empty() {
        let t0 = Instant::now();
        let mut c = DigitCollector::new(t0, spec(4));
        assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(5)));
        assert!(!c.handle_timeout(t0 + Duration::from_secs(4)));
        assert!(c.handle_timeout(t0 + Duration::from_secs(5)));
        assert_eq!(
            c.result(),
            Some(Collected {
                digits: String::new(),
                end: CollectEnd::Timeout
            })
        );
    }

    #[test]
    fn inter_digit_timeout_keeps_leading_zero_and_star() {
        let t0 = Instant::now();
        let mut c = DigitCollector::new(t0, spec(10));
        let t1 = t0 + Duration::from_secs(4);
        for (i, d) in "0*7".chars().enumerate() {
            assert!(!c.handle_digit(t1 + Duration::from_secs(i as u64), d));
        }
        let last = t1 + Duration::from_secs(2);
        assert_eq!(c.poll_timeout(), Some(last + Duration::from_secs(3)));
        assert!(!c.handle_timeout(last + Duration::from_secs(2)));
        assert!(c.handle_timeout(last + Duration::from_secs(3)));
        assert_eq!(c.result().unwrap().digits, "0*7");
    }

    #[test]
    fn terminator_and_max_digits() {
        let t0 = Instant::now();
        let mut c = DigitCollector::new(t0, spec(10));
        c.handle_digit(t0, '1');
        assert!(c.handle_digit(t0, '#'));
        assert_eq!(c.result().unwrap().digits, "1");
        assert_eq!(c.result().unwrap().end, CollectEnd::Terminator('#'));

        let mut c = DigitCollector::new(t0, spec(3));
        assert!(!c.handle_digit(t0, '0'));
        assert!(!c.handle_digit(t0, '0'));
        assert!(c.handle_digit(t0, '9'));
        assert_eq!(c.result().unwrap().digits, "009");
        assert_eq!(c.result().unwrap().end, CollectEnd::MaxDigits);
        assert_eq!(c.poll_timeout(), None);

        let mut c = DigitCollector::new(t0, spec(3));
        assert!(c.handle_digit(t0, '#'));
        assert_eq!(c.result().unwrap().digits, "");
    }
}
