//! Stripe ids from GraphQL arguments, parsed before any resolver logic runs (see
//! `stripe::ids`): a value that is not an id of the expected kind is `INVALID_INPUT` and no
//! request leaves for Stripe.

use crate::{
    error::ApiError,
    stripe::ids::{PaymentMethodId, PaymentMethodRef},
};

const FIELD: &str = "paymentMethodId";

pub fn payment_method_id(raw: &str) -> Result<PaymentMethodId, ApiError> {
    PaymentMethodId::parse(raw).map_err(|e| ApiError::bad_id(FIELD, e))
}

pub fn optional_payment_method_id(raw: Option<&str>) -> Result<Option<PaymentMethodId>, ApiError> {
    raw.map(payment_method_id).transpose()
}

/// A saved method named by Tollgate's id or its Stripe id.
pub fn payment_method_ref(raw: &str) -> Result<PaymentMethodRef, ApiError> {
    PaymentMethodRef::parse(raw).map_err(|e| ApiError::bad_id(FIELD, e))
}
