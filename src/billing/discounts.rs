//! Coupons and promotion codes: created by admins through Tollgate, mirrored from Stripe
//! (`coupon.*` / `promotion_code.*` events, API answers, `tollgate sync catalog`), and checked
//! before a customer is charged with one.
//!
//! - `percent`: a percentage as an exact decimal, and what it takes off an amount;
//! - `coupons`: the coupon mirror, `createCoupon`, the admin list;
//! - `promotion_codes`: the promotion code mirror, `createPromotionCode`, lookups by code;
//! - `check`: whether a code may be redeemed on a price and quantity, and the price after it.
//!
//! The mirror serves admin lists and lookups; whether a code is still redeemable (Stripe's
//! redemption counters move with every customer's use, and no event says so) is always asked
//! of Stripe at the moment it matters.

pub mod check;
mod coupons;
pub mod percent;
mod promotion_codes;

pub use check::{check_code, resolve_code, CodeCheck, Refusal, Resolved};
pub use coupons::{
    apply_coupon, create_coupon, find_coupon, list_coupons, CouponDuration, NewCoupon,
};
pub use percent::Percent;
pub use promotion_codes::{
    apply_promotion_code, create_promotion_code, list_promotion_codes, live_by_code, parse_code,
    NewPromotionCode,
};
