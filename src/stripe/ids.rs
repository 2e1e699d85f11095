//! Stripe ids taken from clients, parsed at the boundary.
//!
//! A Stripe id ends up in a request path (`/v1/payment_methods/{id}/attach`), so an unparsed
//! string from a client is a path-injection hole: `../payment_intents/pi_…?` once made the
//! gateway re-assign another user's PaymentIntent with its own secret key. Only a value of one
//! of these types may reach a request builder from a client: it holds the prefix the field
//! expects, then letters, digits and underscores (Stripe's test ids such as `pm_card_visa` and
//! `pm_card_chargeDeclined` carry underscores; none of `/ . ? # %` can appear), bounded in length.

use std::{fmt, marker::PhantomData};

/// Longest id accepted. Stripe's own ids are far shorter (~30 characters); 255 is the column
/// width they are stored in.
pub const MAX_ID_LEN: usize = 255;

/// One kind of Stripe object, named by its id prefix.
pub trait IdKind {
    /// The prefix including its underscore, e.g. `pm_`.
    const PREFIX: &'static str;
    /// What the object is called in error messages.
    const NOUN: &'static str;
}

/// Why a string is not an id of the expected kind. Never echoes the input (it may be huge or
/// hostile); the field name is added by the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("must be a Stripe {noun} id starting with `{prefix}`")]
    WrongPrefix {
        noun: &'static str,
        prefix: &'static str,
    },
    #[error("must be at most {MAX_ID_LEN} characters")]
    TooLong,
    #[error("may contain only letters, digits and underscores after `{prefix}`")]
    BadCharacter { prefix: &'static str },
}

/// A syntactically valid Stripe id of kind `K`.
pub struct StripeId<K> {
    value: String,
    kind: PhantomData<fn() -> K>,
}

impl<K: IdKind> StripeId<K> {
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        if raw.len() > MAX_ID_LEN {
            return Err(IdError::TooLong);
        }
        let Some(rest) = raw.strip_prefix(K::PREFIX) else {
            return Err(IdError::WrongPrefix {
                noun: K::NOUN,
                prefix: K::PREFIX,
            });
        };
        if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(IdError::BadCharacter { prefix: K::PREFIX });
        }
        Ok(StripeId {
            value: raw.to_owned(),
            kind: PhantomData,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.value
    }

    pub fn into_string(self) -> String {
        self.value
    }
}

impl<K> Clone for StripeId<K> {
    fn clone(&self) -> Self {
        StripeId {
            value: self.value.clone(),
            kind: PhantomData,
        }
    }
}

impl<K> PartialEq for StripeId<K> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<K> Eq for StripeId<K> {}

impl<K> fmt::Debug for StripeId<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

impl<K> serde::Serialize for StripeId<K> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.value)
    }
}

impl<K> fmt::Display for StripeId<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

macro_rules! id_kinds {
    ($($kind:ident, $alias:ident, $prefix:literal, $noun:literal;)*) => {$(
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $kind {}
        impl IdKind for $kind {
            const PREFIX: &'static str = $prefix;
            const NOUN: &'static str = $noun;
        }
        pub type $alias = StripeId<$kind>;
    )*};
}

id_kinds! {
    PaymentMethodKind, PaymentMethodId, "pm_", "payment method";
    PaymentIntentKind, PaymentIntentId, "pi_", "PaymentIntent";
    CustomerKind, CustomerId, "cus_", "customer";
    EventKind, EventId, "evt_", "event";
    PromotionCodeKind, PromotionCodeId, "promo_", "promotion code";
    InvoiceKind, InvoiceId, "in_", "invoice";
}

/// A coupon id. Merchants may choose them (no prefix), so only the characters are checked:
/// letters, digits, `-` and `_`, as Stripe generates and the dashboard accepts.
pub fn check_coupon_id(raw: &str) -> Result<&str, IdError> {
    if raw.len() > MAX_ID_LEN {
        return Err(IdError::TooLong);
    }
    if raw.is_empty()
        || !raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(IdError::BadCharacter { prefix: "" });
    }
    Ok(raw)
}

/// A saved payment method as a client names it: Tollgate's id or the Stripe id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentMethodRef {
    Tollgate(uuid::Uuid),
    Stripe(PaymentMethodId),
}

impl PaymentMethodRef {
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        match uuid::Uuid::parse_str(raw) {
            Ok(id) if raw.len() == 36 => Ok(PaymentMethodRef::Tollgate(id)),
            _ => PaymentMethodId::parse(raw).map(PaymentMethodRef::Stripe),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_real_and_test_ids() {
        for ok in [
            "pm_1Q0PsIJvEtkwdCNY",
            "pm_card_visa",
            "pm_card_chargeDeclined",
        ] {
            assert_eq!(PaymentMethodId::parse(ok).expect(ok).as_str(), ok);
        }
        assert!(EventId::parse("evt_1NG8Du2eZvKYlo2CUI79vXWy").is_ok());
    }

    #[test]
    fn refuses_injection_and_wrong_kinds() {
        for bad in [
            "../payment_intents/pi_123?",
            "pm_../../payment_intents/pi_1",
            "pm_abc/attach",
            "pm_abc?x=1",
            "pm_abc#",
            "pm_a%2e%2e",
            "pm_a.b",
            "pm_ abc",
            "pm_",
            "pi_123",
            "PM_abc",
            "",
            "pm_\u{e9}",
        ] {
            assert!(PaymentMethodId::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            PaymentMethodId::parse(&format!("pm_{}", "a".repeat(300))),
            Err(IdError::TooLong)
        );
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_accepts_only_safe_ids(s in "\\PC{0,64}") {
            if let Ok(id) = PaymentMethodId::parse(&s) {
                prop_assert!(id.as_str().starts_with("pm_"));
                prop_assert!(id.as_str()[3..].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
            }
        }

        #[test]
        fn valid_ids_round_trip(rest in "[A-Za-z0-9_]{1,200}") {
            let raw = format!("pi_{rest}");
            let id = PaymentIntentId::parse(&raw).expect("valid");
            prop_assert_eq!(id.to_string(), raw.clone());
            prop_assert_eq!(PaymentIntentId::parse(id.as_str()).expect("again"), id);
        }
    }
}
