//! Whether a promotion code may be redeemed on a price and quantity, and what the customer
//! pays with it. Asked of Stripe live (redemption counters move with every customer's use and
//! no event says so); the answer refreshes the mirror on the way.

use chrono::Utc;
use entity::{coupons, customers, payments, prices, PaymentStatus};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};

use super::{apply_coupon, apply_promotion_code, Percent};
use crate::{
    error::ApiError,
    money::{Currency, Money},
    stripe::{objects, StripeClient},
};

/// Why a code cannot be redeemed; `as_str` is the stable `reason` clients see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No promotion code has this code.
    UnknownCode,
    /// The code was deactivated.
    Inactive,
    /// The code, or its coupon's redeem-by date, has passed.
    Expired,
    /// The code or its coupon reached its maximum redemptions.
    Exhausted,
    /// The coupon can no longer be redeemed (deleted, or one Tollgate cannot compute).
    CouponInvalid,
    /// The coupon is limited to other products.
    NotApplicable,
    /// An amount-off coupon in another currency than the price's.
    CurrencyMismatch,
    /// Only for customers who have never paid, and this one has.
    FirstTimeOnly,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::UnknownCode => "UNKNOWN_CODE",
            Refusal::Inactive => "INACTIVE",
            Refusal::Expired => "EXPIRED",
            Refusal::Exhausted => "EXHAUSTED",
            Refusal::CouponInvalid => "COUPON_INVALID",
            Refusal::NotApplicable => "NOT_APPLICABLE",
            Refusal::CurrencyMismatch => "CURRENCY_MISMATCH",
            Refusal::FirstTimeOnly => "FIRST_TIME_ONLY",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Refusal::UnknownCode => "there is no such promotion code",
            Refusal::Inactive => "this promotion code is no longer active",
            Refusal::Expired => "this promotion code has expired",
            Refusal::Exhausted => "this promotion code has been used up",
            Refusal::CouponInvalid => "this promotion code can no longer be redeemed",
            Refusal::NotApplicable => "this promotion code does not apply to this product",
            Refusal::CurrencyMismatch => "this promotion code does not apply in this currency",
            Refusal::FirstTimeOnly => "this promotion code is for first purchases only",
        }
    }
}

/// A redeemable code: Stripe's promotion code and coupon, and the coupon as mirrored.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub promotion_code: objects::PromotionCode,
    pub coupon: coupons::Model,
    /// What it takes off the price × quantity, and what is left to pay.
    pub amount_off: i64,
    pub amount_after: Money,
}

/// The answer to `checkPromotionCode`.
#[derive(Debug, Clone)]
pub struct CodeCheck {
    pub outcome: Result<Resolved, Refusal>,
    /// Price × quantity before any discount.
    pub amount_before: Money,
}

/// Checks `code` for `quantity` units of `price` and the viewer's `customer` (None: has
/// never paid through Tollgate).
pub async fn check_code(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    code: &str,
    price: &prices::Model,
    quantity: i32,
    customer: Option<&customers::Model>,
) -> Result<CodeCheck, ApiError> {
    let amount_before = before_discount(price, quantity)?;
    let outcome = resolve_code(db, stripe, code, price, &amount_before, customer).await?;
    Ok(CodeCheck {
        outcome,
        amount_before,
    })
}

/// Price × quantity, in the price's currency.
pub fn before_discount(price: &prices::Model, quantity: i32) -> Result<Money, ApiError> {
    let unit = price
        .unit_amount
        .ok_or_else(|| ApiError::invalid_input("priceId", "this price has no fixed amount"))?;
    let total = unit
        .checked_mul(i64::from(quantity))
        .ok_or_else(|| ApiError::invalid_input("quantity", "the total is too large"))?;
    Ok(Money::from_minor(
        total,
        Currency::from_stored(&price.currency),
    ))
}

/// The code's promotion code and coupon if it may be redeemed on `amount` of `price`, or why
/// not.
pub async fn resolve_code(
    db: &impl ConnectionTrait,
    stripe: &StripeClient,
    code: &str,
    price: &prices::Model,
    amount: &Money,
    customer: Option<&customers::Model>,
) -> Result<Result<Resolved, Refusal>, ApiError> {
    let code = super::promotion_codes::parse_code("promotionCode", code)?;
    let Some((promo, coupon)) = super::promotion_codes::live_by_code(stripe, &code).await? else {
        return Ok(Err(Refusal::UnknownCode));
    };
    let now = Utc::now();
    let coupon_row = apply_coupon(db, &coupon, now).await?;
    apply_promotion_code(db, &promo, now).await?;
    if let Some(refusal) = refusal(db, &promo, &coupon, price, customer).await? {
        return Ok(Err(refusal));
    }
    let Some(amount_off) = amount_off(&coupon_row, amount) else {
        return Ok(Err(Refusal::CouponInvalid));
    };
    Ok(Ok(Resolved {
        promotion_code: promo,
        coupon: coupon_row,
        amount_off,
        amount_after: Money::from_minor(
            amount.minor_units() - amount_off,
            amount.currency().clone(),
        ),
    }))
}

/// The first rule the code breaks, in the order a customer would want to hear them.
async fn refusal(
    db: &impl ConnectionTrait,
    promo: &objects::PromotionCode,
    coupon: &objects::Coupon,
    price: &prices::Model,
    customer: Option<&customers::Model>,
) -> Result<Option<Refusal>, ApiError> {
    let now = Utc::now().timestamp();
    let reached = |max: Option<i64>, times: i64| max.is_some_and(|m| times >= m);
    // A code restricted to another customer is, to everyone else, no code at all: saying more
    // would confirm that it exists and in what state.
    if promo
        .customer
        .as_deref()
        .is_some_and(|c| customer.is_none_or(|mine| mine.stripe_customer_id != c))
    {
        return Ok(Some(Refusal::UnknownCode));
    }
    let refusal =
        if !promo.active {
            Some(Refusal::Inactive)
        } else if promo.expires_at.is_some_and(|t| t <= now)
            || coupon.redeem_by.is_some_and(|t| t <= now)
        {
            Some(Refusal::Expired)
        } else if reached(promo.max_redemptions, promo.times_redeemed)
            || reached(coupon.max_redemptions, coupon.times_redeemed)
        {
            Some(Refusal::Exhausted)
        } else if coupon.deleted || !coupon.valid {
            Some(Refusal::CouponInvalid)
        } else if coupon.applies_to.as_ref().is_some_and(|a| {
            !a.products.is_empty() && !a.products.contains(&price.stripe_product_id)
        }) {
            Some(Refusal::NotApplicable)
        } else if coupon.amount_off.is_some()
            && coupon
                .currency
                .as_deref()
                .is_some_and(|c| !c.eq_ignore_ascii_case(&price.currency))
        {
            Some(Refusal::CurrencyMismatch)
        } else if promo.first_time_transaction() && has_paid_before(db, customer).await? {
            Some(Refusal::FirstTimeOnly)
        } else {
            None
        };
    Ok(refusal)
}

/// Whether the customer has paid before (Stripe's "prior transactions": a successful payment;
/// a declined or trial-only subscription is none).
async fn has_paid_before(
    db: &impl ConnectionTrait,
    customer: Option<&customers::Model>,
) -> Result<bool, ApiError> {
    let Some(customer) = customer else {
        return Ok(false);
    };
    let paid = payments::Entity::find()
        .filter(payments::Column::CustomerId.eq(customer.id))
        .filter(payments::Column::Status.is_in(PaymentStatus::CAPTURED))
        .count(db)
        .await?;
    Ok(paid > 0)
}

/// What a coupon takes off `amount` (never more than it); None when Tollgate cannot compute
/// it exactly (a percentage with more than two decimals).
pub fn amount_off(coupon: &coupons::Model, amount: &Money) -> Option<i64> {
    let base = amount.minor_units().max(0);
    match (&coupon.percent_off, coupon.amount_off) {
        (Some(p), _) => Percent::parse(p).map(|p| p.of(base)),
        (None, Some(off)) => Some(off.min(base)),
        (None, None) => None,
    }
}
