//! Money: an `i64` amount in minor units together with its currency, never apart and never `f64`.
//!
//! Currency exponents follow Stripe, not plain ISO-4217 (https://docs.stripe.com/currencies):
//! zero-decimal currencies are sent as whole units, three-decimal ones must end in 0, and ISK is
//! two-decimal in the API but must be a whole number of krónur.

use std::fmt;

/// Stripe's largest amount for a charge: 99,999,999 minor units for most currencies (eight
/// digits). Anything above is refused before it reaches Stripe.
pub const MAX_MINOR_UNITS: i64 = 99_999_999;

const ZERO_DECIMAL: &[&str] = &[
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
    "xaf", "xof", "xpf",
];
const THREE_DECIMAL: &[&str] = &["bhd", "jod", "kwd", "omr", "tnd"];

/// The currencies Stripe charges in (https://docs.stripe.com/currencies, presentment
/// currencies), sorted. Anything else is refused before a request is built: three letters are
/// not a currency.
const SUPPORTED: &[&str] = &[
    "aed", "afn", "all", "amd", "ang", "aoa", "ars", "aud", "awg", "azn", "bam", "bbd", "bdt",
    "bgn", "bhd", "bif", "bmd", "bnd", "bob", "brl", "bsd", "bwp", "byn", "bzd", "cad", "cdf",
    "chf", "clp", "cny", "cop", "crc", "cve", "czk", "djf", "dkk", "dop", "dzd", "egp", "etb",
    "eur", "fjd", "fkp", "gbp", "gel", "gip", "gmd", "gnf", "gtq", "gyd", "hkd", "hnl", "htg",
    "huf", "idr", "ils", "inr", "isk", "jmd", "jod", "jpy", "kes", "kgs", "khr", "kmf", "krw",
    "kwd", "kyd", "kzt", "lak", "lbp", "lkr", "lrd", "lsl", "mad", "mdl", "mga", "mkd", "mmk",
    "mnt", "mop", "mur", "mvr", "mwk", "mxn", "myr", "mzn", "nad", "ngn", "nio", "nok", "npr",
    "nzd", "omr", "pab", "pen", "pgk", "php", "pkr", "pln", "pyg", "qar", "ron", "rsd", "rub",
    "rwf", "sar", "sbd", "scr", "sek", "sgd", "shp", "sle", "sos", "srd", "std", "szl", "thb",
    "tjs", "tnd", "top", "try", "ttd", "twd", "tzs", "uah", "ugx", "usd", "uyu", "uzs", "vnd",
    "vuv", "wst", "xaf", "xcd", "xcg", "xof", "xpf", "yer", "zar", "zmw",
];

/// A validated lower-case ISO-4217 currency code.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency(String);

impl Currency {
    /// Accepts a currency Stripe supports, in any case; Stripe's codes are lower case.
    pub fn parse(code: &str) -> Result<Self, MoneyError> {
        let code = code.trim();
        if code.len() == 3 && code.bytes().all(|b| b.is_ascii_alphabetic()) {
            let lower = code.to_ascii_lowercase();
            if SUPPORTED.binary_search(&lower.as_str()).is_ok() {
                return Ok(Currency(lower));
            }
            return Err(MoneyError::UnsupportedCurrency(lower));
        }
        Err(MoneyError::InvalidCurrency)
    }

    /// A code read back from our database or from Stripe, which validated it on the way in.
    pub fn from_stored(code: &str) -> Self {
        Currency(code.to_ascii_lowercase())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Digits after the decimal point in Stripe's minor units.
    pub fn exponent(&self) -> u32 {
        if ZERO_DECIMAL.contains(&self.as_str()) {
            0
        } else if THREE_DECIMAL.contains(&self.as_str()) {
            3
        } else {
            2
        }
    }

    /// The minor-unit step Stripe accepts: three-decimal currencies must end in 0; ISK must be a
    /// whole number of krónur (a multiple of 100 minor units).
    fn step(&self) -> i64 {
        match self.as_str() {
            "isk" => 100,
            c if THREE_DECIMAL.contains(&c) => 10,
            _ => 1,
        }
    }

    fn symbol(&self) -> Option<&'static str> {
        Some(match self.as_str() {
            "usd" => "$",
            "eur" => "€",
            "gbp" => "£",
            "jpy" => "¥",
            "krw" => "₩",
            "inr" => "₹",
            "cny" => "CN¥",
            "cad" => "CA$",
            "aud" => "A$",
            _ => return None,
        })
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Not echoed: the input may be anything.
    #[error("not a three-letter currency code")]
    InvalidCurrency,
    #[error("`{0}` is not a currency Stripe supports")]
    UnsupportedCurrency(String),
    #[error("`{0}` is not a decimal amount like 10.50")]
    NotADecimal(String),
    #[error("{currency} amounts have at most {exponent} decimal places")]
    TooManyDecimals { currency: String, exponent: u32 },
    #[error("{currency} amounts must be a multiple of {step} minor units")]
    BadStep { currency: String, step: i64 },
    #[error("the amount must be greater than zero")]
    NotPositive,
    #[error("the amount exceeds the maximum Stripe accepts")]
    TooLarge,
}

/// An amount of money: minor units of a currency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Money {
    minor_units: i64,
    currency: Currency,
}

impl Money {
    /// Wraps minor units as read from Stripe or the database (no charge limits applied).
    pub fn from_minor(minor_units: i64, currency: Currency) -> Self {
        Money {
            minor_units,
            currency,
        }
    }

    /// Whether Stripe would charge this amount: strictly positive and within its maximum.
    pub fn check_chargeable(&self) -> Result<(), MoneyError> {
        if self.minor_units <= 0 {
            return Err(MoneyError::NotPositive);
        }
        if self.minor_units > MAX_MINOR_UNITS {
            return Err(MoneyError::TooLarge);
        }
        Ok(())
    }

    /// Parses a client's decimal string ("10.50", "15000") into a chargeable amount:
    /// strictly positive, within Stripe's maximum, with no more decimals than the currency has.
    /// Rejects signs, exponents, grouping separators and whitespace inside the number.
    pub fn parse_chargeable(amount: &str, currency: &Currency) -> Result<Self, MoneyError> {
        let money = Self::parse_decimal(amount, currency)?;
        if money.minor_units <= 0 {
            return Err(MoneyError::NotPositive);
        }
        if money.minor_units > MAX_MINOR_UNITS {
            return Err(MoneyError::TooLarge);
        }
        let step = currency.step();
        if money.minor_units % step != 0 {
            return Err(MoneyError::BadStep {
                currency: currency.to_string(),
                step,
            });
        }
        Ok(money)
    }

    /// Parses a non-negative decimal string exactly, without the charge limits.
    fn parse_decimal(amount: &str, currency: &Currency) -> Result<Self, MoneyError> {
        let not_decimal = || MoneyError::NotADecimal(amount.chars().take(32).collect());
        let trimmed = amount.trim();
        if trimmed.starts_with('-') {
            return Err(MoneyError::NotPositive);
        }
        let (whole, frac) = match trimmed.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (trimmed, None),
        };
        let digits_only = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits_only(whole) || frac.is_some_and(|f| !digits_only(f)) {
            return Err(not_decimal());
        }
        let exponent = currency.exponent();
        let frac = frac.unwrap_or("");
        // Trailing zeros carry no value ("10.500" USD is 10.50), anything else is too precise.
        let significant = frac.trim_end_matches('0');
        if significant.len() > exponent as usize {
            return Err(MoneyError::TooManyDecimals {
                currency: currency.to_string(),
                exponent,
            });
        }
        let scale = 10_i64.pow(exponent);
        let whole: i64 = whole.parse().map_err(|_| MoneyError::TooLarge)?;
        let mut frac_minor: i64 = 0;
        for (i, b) in significant.bytes().enumerate() {
            frac_minor += i64::from(b - b'0') * 10_i64.pow(exponent - 1 - i as u32);
        }
        let minor = whole
            .checked_mul(scale)
            .and_then(|m| m.checked_add(frac_minor))
            .ok_or(MoneyError::TooLarge)?;
        Ok(Money {
            minor_units: minor,
            currency: currency.clone(),
        })
    }

    pub fn minor_units(&self) -> i64 {
        self.minor_units
    }

    pub fn currency(&self) -> &Currency {
        &self.currency
    }

    /// The amount as a plain decimal string with exactly the currency's decimals ("10.50").
    pub fn decimal_string(&self) -> String {
        let exponent = self.currency.exponent();
        let negative = self.minor_units < 0;
        let abs = self.minor_units.unsigned_abs();
        let sign = if negative { "-" } else { "" };
        if exponent == 0 {
            return format!("{sign}{abs}");
        }
        let scale = 10_u64.pow(exponent);
        format!(
            "{sign}{}.{:0width$}",
            abs / scale,
            abs % scale,
            width = exponent as usize
        )
    }

    /// A human-readable form: "$10.50", "₩15,000", "BHD 1.230".
    pub fn formatted(&self) -> String {
        let decimal = self.decimal_string();
        let (sign, digits) = match decimal.strip_prefix('-') {
            Some(rest) => ("-", rest),
            None => ("", decimal.as_str()),
        };
        let (whole, frac) = match digits.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (digits, None),
        };
        let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
        for (i, c) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        let number = match frac {
            Some(f) => format!("{grouped}.{f}"),
            None => grouped,
        };
        match self.currency.symbol() {
            Some(symbol) => format!("{sign}{symbol}{number}"),
            None => format!(
                "{sign}{} {number}",
                self.currency.as_str().to_ascii_uppercase()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cur(c: &str) -> Currency {
        Currency::parse(c).expect("valid currency")
    }

    fn minor(amount: &str, c: &str) -> Result<i64, MoneyError> {
        Money::parse_chargeable(amount, &cur(c)).map(|m| m.minor_units())
    }

    #[test]
    fn two_decimal_parsing() {
        assert_eq!(minor("10.5", "usd"), Ok(1050));
        assert_eq!(minor("10.50", "usd"), Ok(1050));
        assert_eq!(minor("10", "usd"), Ok(1000));
        assert_eq!(minor("0.01", "usd"), Ok(1));
        assert_eq!(
            minor("12.500", "usd"),
            Ok(1250),
            "trailing zeros carry no value"
        );
        assert!(matches!(
            minor("12.345", "usd"),
            Err(MoneyError::TooManyDecimals { .. })
        ));
    }

    #[test]
    fn rejects_what_is_not_a_plain_decimal() {
        for bad in [
            "1,000", "1e3", "", ".", "1.", ".5", "+1", "1 000", "abc", "1.2.3", "0x10",
        ] {
            assert!(
                matches!(minor(bad, "usd"), Err(MoneyError::NotADecimal(_))),
                "{bad:?} should be rejected, got {:?}",
                minor(bad, "usd")
            );
        }
    }

    #[test]
    fn rejects_zero_and_negative() {
        assert_eq!(minor("0", "usd"), Err(MoneyError::NotPositive));
        assert_eq!(minor("0.00", "usd"), Err(MoneyError::NotPositive));
        assert_eq!(minor("-1", "usd"), Err(MoneyError::NotPositive));
        assert_eq!(minor("-0.01", "usd"), Err(MoneyError::NotPositive));
    }

    #[test]
    fn rejects_overflow_and_above_stripe_maximum() {
        assert_eq!(minor("999999.99", "usd"), Ok(99_999_999));
        assert_eq!(minor("1000000.00", "usd"), Err(MoneyError::TooLarge));
        assert_eq!(
            minor("99999999999999999999999", "usd"),
            Err(MoneyError::TooLarge)
        );
        assert_eq!(
            minor("92233720368547758.07", "usd"),
            Err(MoneyError::TooLarge)
        );
    }

    #[test]
    fn every_zero_decimal_currency_takes_whole_units() {
        for c in ZERO_DECIMAL {
            assert_eq!(cur(c).exponent(), 0, "{c}");
            assert_eq!(minor("15000", c), Ok(15000), "{c}");
            assert_eq!(minor("15000.0", c), Ok(15000), "{c}");
            assert!(
                matches!(
                    minor("1.5", c),
                    Err(MoneyError::TooManyDecimals { exponent: 0, .. })
                ),
                "{c}"
            );
        }
        assert_eq!(minor("1000", "JPY"), Ok(1000));
        assert_eq!(minor("15000", "krw"), Ok(15000));
    }

    #[test]
    fn every_three_decimal_currency_ends_in_zero() {
        for c in THREE_DECIMAL {
            assert_eq!(cur(c).exponent(), 3, "{c}");
            assert_eq!(minor("1.230", c), Ok(1230), "{c}");
            assert_eq!(minor("1.23", c), Ok(1230), "{c}");
            assert!(
                matches!(minor("1.234", c), Err(MoneyError::BadStep { step: 10, .. })),
                "{c}"
            );
            assert!(matches!(
                minor("1.2345", c),
                Err(MoneyError::TooManyDecimals { .. })
            ));
        }
    }

    #[test]
    fn isk_is_two_decimal_but_whole_kronur() {
        assert_eq!(cur("isk").exponent(), 2);
        assert_eq!(minor("500", "isk"), Ok(50000));
        assert_eq!(minor("500.00", "isk"), Ok(50000));
        assert!(matches!(
            minor("500.50", "isk"),
            Err(MoneyError::BadStep { step: 100, .. })
        ));
    }

    #[test]
    fn currency_codes() {
        assert_eq!(cur("USD").as_str(), "usd");
        assert!(Currency::parse("us").is_err());
        assert!(Currency::parse("usdd").is_err());
        assert!(Currency::parse("u$d").is_err());
        assert!(Currency::parse("").is_err());
    }

    #[test]
    fn formatting() {
        let m = |n, c| Money::from_minor(n, cur(c));
        assert_eq!(m(1050, "usd").decimal_string(), "10.50");
        assert_eq!(m(1050, "usd").formatted(), "$10.50");
        assert_eq!(m(15000, "krw").decimal_string(), "15000");
        assert_eq!(m(15000, "krw").formatted(), "₩15,000");
        assert_eq!(m(1230, "bhd").decimal_string(), "1.230");
        assert_eq!(m(1230, "bhd").formatted(), "BHD 1.230");
        assert_eq!(m(123456789, "eur").formatted(), "€1,234,567.89");
        assert_eq!(m(5, "usd").decimal_string(), "0.05");
        assert_eq!(m(-1050, "usd").formatted(), "-$10.50");
        assert_eq!(m(i64::MIN, "usd").decimal_string(), "-92233720368547758.08");
        assert_eq!(m(0, "jpy").formatted(), "¥0");
    }

    #[test]
    fn only_supported_currencies_parse() {
        assert_eq!(Currency::parse("USD").map(|c| c.0), Ok("usd".to_string()));
        assert!(Currency::parse("bhd").is_ok());
        assert_eq!(
            Currency::parse("zzz"),
            Err(MoneyError::UnsupportedCurrency("zzz".into()))
        );
        assert_eq!(Currency::parse("us"), Err(MoneyError::InvalidCurrency));
        assert_eq!(Currency::parse("u$d"), Err(MoneyError::InvalidCurrency));
        assert!(
            SUPPORTED.windows(2).all(|w| w[0] < w[1]),
            "SUPPORTED must stay sorted"
        );
        for c in ZERO_DECIMAL.iter().chain(THREE_DECIMAL) {
            assert!(
                Currency::parse(c).is_ok(),
                "{c} has an exponent but is not supported"
            );
        }
    }

    fn any_currency() -> impl Strategy<Value = Currency> {
        prop::sample::select(vec![
            "usd", "eur", "jpy", "krw", "bhd", "kwd", "isk", "clp", "gbp", "idr",
        ])
        .prop_map(cur)
    }

    proptest! {
        /// Formatting a valid amount and parsing it back gives the same minor units.
        #[test]
        fn decimal_string_round_trips(units in 1i64..=MAX_MINOR_UNITS, c in any_currency()) {
            let units = units - units % c.step();
            prop_assume!(units > 0);
            let m = Money::from_minor(units, c.clone());
            let back = Money::parse_chargeable(&m.decimal_string(), &c);
            prop_assert_eq!(back, Ok(m));
        }

        /// Parsing never panics and never yields a non-positive or oversized chargeable amount.
        #[test]
        fn parse_is_total(s in "\\PC{0,24}", c in any_currency()) {
            if let Ok(m) = Money::parse_chargeable(&s, &c) {
                prop_assert!(m.minor_units() > 0 && m.minor_units() <= MAX_MINOR_UNITS);
                prop_assert_eq!(m.minor_units() % c.step(), 0);
            }
        }

        /// Currency parsing never panics and accepts only listed codes.
        #[test]
        fn currency_parse_is_total(s in "\\PC{0,8}") {
            if let Ok(c) = Currency::parse(&s) {
                prop_assert!(SUPPORTED.contains(&c.as_str()));
            }
        }

        /// Every digit string with up to the currency's decimals parses to the exact integer.
        #[test]
        fn parses_exactly(whole in 0i64..999_999, frac in 0i64..1000, c in any_currency()) {
            let e = c.exponent();
            let frac = frac % 10_i64.pow(e);
            let s = if e == 0 { whole.to_string() } else {
                format!("{whole}.{frac:0width$}", width = e as usize)
            };
            let expected = whole * 10_i64.pow(e) + frac;
            match Money::parse_chargeable(&s, &c) {
                Ok(m) => prop_assert_eq!(m.minor_units(), expected),
                Err(MoneyError::NotPositive) => prop_assert_eq!(expected, 0),
                Err(MoneyError::TooLarge) => prop_assert!(expected > MAX_MINOR_UNITS),
                Err(MoneyError::BadStep { .. }) => prop_assert!(expected % c.step() != 0),
                Err(other) => prop_assert!(false, "unexpected {other:?} for {s}"),
            }
        }
    }
}
