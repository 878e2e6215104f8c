//! 人工测试: deterministic line tests, so tests and the demo can predict the verdict.
//!
//! The rule, on the LAST DIGIT of the line number:
//!
//! | digit | verdict         | loop resistance     | insulation   | foreign AC / DC |
//! |-------|-----------------|---------------------|--------------|-----------------|
//! | 0–4   | `normal`        | 200–1 200 Ω         | 200–500 MΩ   | < 1 V / < 1 V   |
//! | 5     | `openCircuit`   | 10 MΩ (no loop)     | 200–500 MΩ   | < 1 V / < 1 V   |
//! | 6     | `shortCircuit`  | 5–40 Ω              | 200–500 MΩ   | < 1 V / < 1 V   |
//! | 7     | `earthFault`    | 200–1 200 Ω         | 0.01–0.5 MΩ  | < 1 V / 2–10 V  |
//! | 8     | `crossedLine`   | 200–1 200 Ω         | 0.5–2 MΩ     | 3–15 V / 30–50 V|
//! | 9     | `terminalFault` | 150–250 Ω (terminal)| 200–500 MΩ   | < 1 V / < 1 V   |
//!
//! Within a band the value is derived from a hash of the whole number, so the same number always
//! gives the same measurements. Numbers are digits with an optional leading `+` and `-`/space
//! separators, 3 to 20 digits.

use hotline_center112::wire::{LineTest, LineVerdict};
use sha2::{Digest, Sha256};

/// Why a line number is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "lineNumber {0:?} is not a telephone number (3 to 20 digits, optional leading +, - or space separators)"
)]
pub struct BadNumber(pub String);

/// The digits of a line number, or why it is not one.
pub fn normalise(number: &str) -> Result<String, BadNumber> {
    let trimmed = number.trim();
    let body = trimmed.strip_prefix('+').unwrap_or(trimmed);
    let mut digits = String::with_capacity(body.len());
    for c in body.chars() {
        match c {
            '0'..='9' => digits.push(c),
            '-' | ' ' => {}
            _ => return Err(BadNumber(number.chars().take(40).collect())),
        }
    }
    if !(3..=20).contains(&digits.len()) {
        return Err(BadNumber(number.chars().take(40).collect()));
    }
    Ok(digits)
}

/// The verdict the rule gives for these digits.
pub fn verdict_for(digits: &str) -> LineVerdict {
    match digits.bytes().last().map(|b| b.wrapping_sub(b'0')) {
        Some(5) => LineVerdict::OpenCircuit,
        Some(6) => LineVerdict::ShortCircuit,
        Some(7) => LineVerdict::EarthFault,
        Some(8) => LineVerdict::CrossedLine,
        Some(9) => LineVerdict::TerminalFault,
        _ => LineVerdict::Normal,
    }
}

/// Tests `number`; `id` and `tested_at` are the caller's.
pub fn test_line(number: &str, id: String, tested_at: String) -> Result<LineTest, BadNumber> {
    let digits = normalise(number)?;
    let verdict = verdict_for(&digits);
    let h = Sha256::digest(digits.as_bytes());
    // four independent fractions in [0, 1) from the hash
    let frac = |i: usize| u16::from_be_bytes([h[2 * i], h[2 * i + 1]]) as f64 / 65_536.0;
    let band = |lo: f64, hi: f64, x: f64| ((lo + (hi - lo) * x) * 100.0).round() / 100.0;
    let quiet = (band(0.0, 0.9, frac(2)), band(0.0, 0.9, frac(3)));
    let (loop_r, insulation, (ac, dc)) = match verdict {
        LineVerdict::Normal => (
            band(200.0, 1200.0, frac(0)),
            band(200.0, 500.0, frac(1)),
            quiet,
        ),
        LineVerdict::OpenCircuit => (10_000_000.0, band(200.0, 500.0, frac(1)), quiet),
        LineVerdict::ShortCircuit => (band(5.0, 40.0, frac(0)), band(200.0, 500.0, frac(1)), quiet),
        LineVerdict::EarthFault => (
            band(200.0, 1200.0, frac(0)),
            band(0.01, 0.5, frac(1)),
            (quiet.0, band(2.0, 10.0, frac(3))),
        ),
        LineVerdict::CrossedLine => (
            band(200.0, 1200.0, frac(0)),
            band(0.5, 2.0, frac(1)),
            (band(3.0, 15.0, frac(2)), band(30.0, 50.0, frac(3))),
        ),
        LineVerdict::TerminalFault => (
            band(150.0, 250.0, frac(0)),
            band(200.0, 500.0, frac(1)),
            quiet,
        ),
    };
    Ok(LineTest {
        id,
        line_number: number.trim().to_string(),
        loop_resistance_ohm: loop_r,
        insulation_resistance_mohm: insulation,
        ac_voltage_v: ac,
        dc_voltage_v: dc,
        verdict,
        tested_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(n: &str) -> LineTest {
        test_line(n, "LT-1".into(), "2026-01-01T00:00:00Z".into()).unwrap()
    }

    #[test]
    fn verdict_follows_the_last_digit_and_measurements_match_it() {
        for (n, v) in [
            ("01066554430", LineVerdict::Normal),
            ("01066554434", LineVerdict::Normal),
            ("01066554435", LineVerdict::OpenCircuit),
            ("01066554436", LineVerdict::ShortCircuit),
            ("01066554437", LineVerdict::EarthFault),
            ("010-6655-4438", LineVerdict::CrossedLine),
            ("+86 10 66554439", LineVerdict::TerminalFault),
        ] {
            let r = t(n);
            assert_eq!(r.verdict, v, "{n}");
            match v {
                LineVerdict::Normal => assert!(
                    r.loop_resistance_ohm >= 200.0
                        && r.insulation_resistance_mohm >= 200.0
                        && r.dc_voltage_v < 1.0
                ),
                LineVerdict::OpenCircuit => assert!(r.loop_resistance_ohm >= 1e6),
                LineVerdict::ShortCircuit => assert!(r.loop_resistance_ohm <= 40.0),
                LineVerdict::EarthFault => {
                    assert!(r.insulation_resistance_mohm <= 0.5 && r.dc_voltage_v >= 2.0)
                }
                LineVerdict::CrossedLine => {
                    assert!(r.dc_voltage_v >= 30.0 && r.ac_voltage_v >= 3.0)
                }
                LineVerdict::TerminalFault => {
                    assert!((150.0..=250.0).contains(&r.loop_resistance_ohm))
                }
            }
        }
        assert_eq!(t("01066554437"), t("01066554437"), "deterministic");
    }

    #[test]
    fn odd_numbers_are_refused() {
        for bad in ["", "12", "abc", "0106655443x", "123456789012345678901", "+"] {
            assert!(
                test_line(bad, String::new(), String::new()).is_err(),
                "{bad:?}"
            );
        }
    }
}
