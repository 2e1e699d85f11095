//! Percentages as exact decimals: "12.5" is 1250 hundredths of a percent. Stripe sends
//! `percent_off` as a JSON number and takes it as a decimal; neither passes through a float
//! here, so 12.5 % of 999 is computed, and rounded, exactly.

use std::fmt;

/// A percentage above 0 and at most 100, with at most two decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Percent {
    hundredths: i64,
}

impl Percent {
    /// Parses "20", "12.5", "0.25" (Stripe's JSON numbers print the same, "20.0" included).
    pub fn parse(text: &str) -> Option<Percent> {
        let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
        let frac = frac.trim_end_matches('0');
        if whole.is_empty()
            || whole.len() > 3
            || frac.len() > 2
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let whole: i64 = whole.parse().ok()?;
        let frac: i64 = format!("{frac:0<2}").parse().ok()?;
        let hundredths = whole * 100 + frac;
        (1..=10_000)
            .contains(&hundredths)
            .then_some(Percent { hundredths })
    }

    /// What this percentage of `amount` minor units is, rounded to the minor unit with
    /// banker's rounding (half to even), as the emulator and Stripe's invoices round.
    pub fn of(self, amount: i64) -> i64 {
        round_half_even(i128::from(amount) * i128::from(self.hundredths), 10_000)
    }
}

/// `numerator / denominator` rounded half to even (denominator > 0).
pub fn round_half_even(numerator: i128, denominator: i128) -> i64 {
    let quotient = numerator.div_euclid(denominator);
    let twice_rest = 2 * numerator.rem_euclid(denominator);
    let rounded = match twice_rest.cmp(&denominator) {
        std::cmp::Ordering::Less => quotient,
        std::cmp::Ordering::Greater => quotient + 1,
        std::cmp::Ordering::Equal => quotient + (quotient & 1),
    };
    i64::try_from(rounded).unwrap_or(if rounded > 0 { i64::MAX } else { i64::MIN })
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, frac) = (self.hundredths / 100, self.hundredths % 100);
        match frac {
            0 => write!(f, "{whole}"),
            f2 if f2 % 10 == 0 => write!(f, "{whole}.{}", f2 / 10),
            f2 => write!(f, "{whole}.{f2:02}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_decimal_strings_and_stripe_numbers() {
        for (text, shown) in [
            ("20", "20"),
            ("20.0", "20"),
            ("12.5", "12.5"),
            ("0.25", "0.25"),
        ] {
            assert_eq!(
                Percent::parse(text).map(|p| p.to_string()).as_deref(),
                Some(shown)
            );
        }
        for bad in [
            "0", "100.01", "-5", "1e2", "12.345", "", ".5", "abc", "1000",
        ] {
            assert_eq!(Percent::parse(bad), None, "{bad}");
        }
        assert!(Percent::parse("100").is_some());
    }

    #[test]
    fn rounds_half_to_even_without_floats() {
        let p = |s| Percent::parse(s).expect("percent");
        assert_eq!(p("20").of(5000), 1000);
        assert_eq!(p("12.5").of(999), 125, "124.875 rounds up");
        assert_eq!(p("50").of(5), 2, "2.5 rounds to even");
        assert_eq!(p("50").of(7), 4, "3.5 rounds to even");
        assert_eq!(p("25.5").of(1), 0);
        assert_eq!(round_half_even(-5, 2), -2);
    }
}
