//! Currency codes and chargeable amounts: accepted amounts are within Stripe's limits and
//! survive `decimal_string` → `parse_chargeable` unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate::money::{Currency, Money, MAX_MINOR_UNITS};

fuzz_target!(|data: &[u8]| {
    // "<currency>\0<amount>", or the first three bytes as the currency.
    let (code, amount) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None if data.len() >= 3 => data.split_at(3),
        None => return,
    };
    let (Ok(code), Ok(amount)) = (std::str::from_utf8(code), std::str::from_utf8(amount)) else {
        return;
    };
    let Ok(currency) = Currency::parse(code) else {
        return;
    };
    assert_eq!(currency.as_str().len(), 3);
    let Ok(m) = Money::parse_chargeable(amount, &currency) else {
        return;
    };
    assert!(
        (1..=MAX_MINOR_UNITS).contains(&m.minor_units()),
        "{amount:?} {currency} -> {} minor units",
        m.minor_units()
    );
    assert_eq!(m.currency(), &currency);
    let decimal = m.decimal_string();
    assert_eq!(
        Money::parse_chargeable(&decimal, &currency),
        Ok(m.clone()),
        "{amount:?} {currency} -> {decimal:?}"
    );
    let _ = m.formatted();
});
