//! Validated telephone numbers: digits only, with an optional leading `+`, 3 to 20 digits
//! (short service numbers such as 112 up to international numbers).

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PhoneNumber(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("is empty")]
    Empty,
    #[error("has {0} digits; a phone number has 3 to 20")]
    Length(usize),
    #[error("contains {0:?}; only digits (and a leading +) are allowed")]
    BadChar(char),
}

pub const MIN_DIGITS: usize = 3;
pub const MAX_DIGITS: usize = 20;

impl PhoneNumber {
    /// Parses a number as typed by a person: spaces and dashes are dropped, everything else
    /// that is not a digit (or one leading `+`) is refused.
    pub fn parse(raw: &str) -> Result<PhoneNumber, PhoneError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(PhoneError::Empty);
        }
        let mut out = String::with_capacity(trimmed.len());
        for (i, c) in trimmed.chars().enumerate() {
            match c {
                '0'..='9' => out.push(c),
                '+' if i == 0 => out.push(c),
                ' ' | '-' => {}
                other => return Err(PhoneError::BadChar(other)),
            }
        }
        let digits = out.trim_start_matches('+').len();
        if !(MIN_DIGITS..=MAX_DIGITS).contains(&digits) {
            return Err(PhoneError::Length(digits));
        }
        Ok(PhoneNumber(out))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_local_mobile_and_international_numbers() {
        assert_eq!(
            PhoneNumber::parse("010-6655 4433").unwrap().as_str(),
            "01066554433"
        );
        assert_eq!(
            PhoneNumber::parse("13800138000").unwrap().as_str(),
            "13800138000"
        );
        assert_eq!(
            PhoneNumber::parse("+8613800138000").unwrap().as_str(),
            "+8613800138000"
        );
        assert_eq!(PhoneNumber::parse("112").unwrap().as_str(), "112");
    }

    #[test]
    fn refuses_empty_short_long_and_letters() {
        assert_eq!(PhoneNumber::parse("  "), Err(PhoneError::Empty));
        assert_eq!(PhoneNumber::parse("12"), Err(PhoneError::Length(2)));
        assert_eq!(
            PhoneNumber::parse(&"1".repeat(21)),
            Err(PhoneError::Length(21))
        );
        assert_eq!(
            PhoneNumber::parse("1380013800a"),
            Err(PhoneError::BadChar('a'))
        );
        assert_eq!(
            PhoneNumber::parse("138*0013800"),
            Err(PhoneError::BadChar('*'))
        );
        assert_eq!(PhoneNumber::parse("13+8"), Err(PhoneError::BadChar('+')));
    }
}
