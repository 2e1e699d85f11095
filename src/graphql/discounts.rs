//! Coupons, promotion codes and discounts: the admin's catalog of offers, the customer's check
//! of a code, and the discount a subscription carries.

use async_graphql::{Context, Enum, InputObject, Object, ID};
use chrono::{DateTime, Utc};
use entity::{coupons, promotion_codes, subscriptions};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::{context, money::MoneyType};
use crate::{
    billing::{self, discounts},
    error::{ApiError, GqlResult},
    money::{Currency, Money},
};

/// How long a coupon keeps discounting a subscription.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "discounts::CouponDuration")]
pub enum CouponDuration {
    /// The first invoice only.
    Once,
    /// Every invoice for `durationInMonths` months.
    Repeating,
    /// Every invoice, for good.
    Forever,
}

/// A coupon: a percentage or an amount off, for some time, maybe for some products only.
pub struct Coupon(pub coupons::Model);

/// A coupon: a percentage or an amount off, for some time, maybe for some products only.
#[Object]
impl Coupon {
    /// Tollgate's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Admin: Stripe's id.
    async fn stripe_coupon_id(&self, ctx: &Context<'_>) -> GqlResult<&str> {
        context::admin(ctx)?;
        Ok(&self.0.stripe_coupon_id)
    }

    /// Shown to customers on invoices ("Launch 20 % off").
    async fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }

    /// Percent off as a decimal string ("20", "12.5"); null for an amount-off coupon.
    async fn percent_off(&self) -> Option<&str> {
        self.0.percent_off.as_deref()
    }

    /// Amount off each invoice; null for a percent-off coupon.
    async fn amount_off(&self) -> Option<MoneyType> {
        match (self.0.amount_off, &self.0.currency) {
            (Some(a), Some(c)) => Some(MoneyType::from_parts(a, c)),
            _ => None,
        }
    }

    /// How long it discounts a subscription.
    async fn duration(&self) -> CouponDuration {
        discounts::CouponDuration::parse(&self.0.duration)
            .unwrap_or(discounts::CouponDuration::Once)
            .into()
    }

    /// For `REPEATING`: how many months.
    async fn duration_in_months(&self) -> Option<i32> {
        self.0.duration_in_months
    }

    /// Admin: most redemptions across all customers; null: no limit.
    async fn max_redemptions(&self, ctx: &Context<'_>) -> GqlResult<Option<i32>> {
        context::admin(ctx)?;
        Ok(self.0.max_redemptions)
    }

    /// Admin: redemptions so far (as of the last snapshot from Stripe): sales figures, not for
    /// customers.
    async fn times_redeemed(&self, ctx: &Context<'_>) -> GqlResult<i32> {
        context::admin(ctx)?;
        Ok(self.0.times_redeemed)
    }

    /// Last moment it can be redeemed, if limited.
    async fn redeem_by(&self) -> Option<DateTime<Utc>> {
        self.0.redeem_by
    }

    /// Whether it can still be redeemed.
    async fn valid(&self) -> bool {
        self.0.valid
    }

    /// Admin: Stripe product ids it is limited to; empty: every product.
    async fn applies_to_products(&self, ctx: &Context<'_>) -> GqlResult<Vec<String>> {
        context::admin(ctx)?;
        Ok(self
            .0
            .applies_to_products
            .as_ref()
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|p| p.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default())
    }
}

/// A customer-facing code for a coupon ("LAUNCH20").
pub struct PromotionCode(pub promotion_codes::Model);

/// A customer-facing code for a coupon ("LAUNCH20").
#[Object]
impl PromotionCode {
    /// Tollgate's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// What customers type (matched case-insensitively).
    async fn code(&self) -> &str {
        &self.0.code
    }

    /// The coupon it redeems.
    async fn coupon(&self, ctx: &Context<'_>) -> GqlResult<Coupon> {
        let svc = context::services(ctx)?;
        Ok(Coupon(
            discounts::find_coupon(&svc.db, &self.0.stripe_coupon_id)
                .await?
                .ok_or(ApiError::NotFound("coupon"))?,
        ))
    }

    /// Whether customers can use it now (an admin may deactivate it at Stripe).
    async fn active(&self) -> bool {
        self.0.active
    }

    /// Most redemptions of this code; null: no limit.
    async fn max_redemptions(&self) -> Option<i32> {
        self.0.max_redemptions
    }

    /// Redemptions so far (as of the last snapshot from Stripe).
    async fn times_redeemed(&self) -> i32 {
        self.0.times_redeemed
    }

    /// When it stops working, if it does.
    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.expires_at
    }

    /// Only for customers who have never paid before.
    async fn first_time_transaction(&self) -> bool {
        self.0.first_time_transaction
    }
}

/// A coupon applied to a subscription.
pub struct Discount {
    coupon: coupons::Model,
    promotion_code: Option<String>,
    start: DateTime<Utc>,
    end: Option<DateTime<Utc>>,
}

impl Discount {
    /// The discount a subscription carries now, if any.
    pub async fn of_subscription(
        ctx: &Context<'_>,
        sub: &subscriptions::Model,
    ) -> GqlResult<Option<Discount>> {
        let Some(coupon_id) = &sub.discount_coupon_id else {
            return Ok(None);
        };
        if sub.discount_end.is_some_and(|end| end <= Utc::now()) {
            return Ok(None);
        }
        let svc = context::services(ctx)?;
        let Some(coupon) = discounts::find_coupon(&svc.db, coupon_id).await? else {
            return Ok(None);
        };
        let code = match &sub.discount_promotion_code_id {
            Some(id) => promotion_codes::Entity::find()
                .filter(promotion_codes::Column::StripePromotionCodeId.eq(id))
                .one(&svc.db)
                .await?
                .map(|p| p.code),
            None => None,
        };
        Ok(Some(Discount {
            coupon,
            promotion_code: code,
            start: sub.discount_start.unwrap_or(sub.created_at),
            end: sub.discount_end,
        }))
    }
}

/// A coupon applied to a subscription.
#[Object]
impl Discount {
    /// The coupon.
    async fn coupon(&self) -> Coupon {
        Coupon(self.coupon.clone())
    }

    /// The code the customer typed, if it came from one.
    async fn promotion_code(&self) -> Option<&str> {
        self.promotion_code.as_deref()
    }

    /// When it started discounting.
    async fn start(&self) -> DateTime<Utc> {
        self.start
    }

    /// When it stops (`REPEATING`), if it does.
    async fn end(&self) -> Option<DateTime<Utc>> {
        self.end
    }
}

/// Whether a promotion code may be used, and what the customer would pay with it.
pub struct PromotionCodeCheck(discounts::CodeCheck);

/// Whether a promotion code may be used, and what the customer would pay with it.
#[Object]
impl PromotionCodeCheck {
    /// True when `createSubscription` would accept it now.
    async fn valid(&self) -> bool {
        self.0.outcome.is_ok()
    }

    /// Why not, when not: `UNKNOWN_CODE`, `INACTIVE`, `EXPIRED`, `EXHAUSTED`,
    /// `COUPON_INVALID`, `NOT_APPLICABLE`, `CURRENCY_MISMATCH` or `FIRST_TIME_ONLY` (the
    /// `reason` of `PROMOTION_CODE_INVALID` errors too). A code restricted to another customer
    /// is `UNKNOWN_CODE`.
    async fn reason(&self) -> Option<&str> {
        self.0.outcome.as_ref().err().map(|r| r.as_str())
    }

    /// The reason in words, for the customer.
    async fn message(&self) -> Option<&str> {
        self.0.outcome.as_ref().err().map(|r| r.message())
    }

    /// The discount it would apply.
    async fn discount(&self) -> Option<Discount> {
        self.0.outcome.as_ref().ok().map(|r| Discount {
            coupon: r.coupon.clone(),
            promotion_code: Some(r.promotion_code.code.clone()),
            start: Utc::now(),
            end: None,
        })
    }

    /// Unit amount × quantity, before the discount.
    async fn amount_before_discount(&self) -> MoneyType {
        MoneyType(self.0.amount_before.clone())
    }

    /// What the first invoice comes to with the discount.
    async fn amount_after_discount(&self) -> Option<MoneyType> {
        self.0
            .outcome
            .as_ref()
            .ok()
            .map(|r| MoneyType(r.amount_after.clone()))
    }
}

/// A coupon to create (admin).
#[derive(InputObject)]
pub struct CreateCouponInput {
    /// Shown to customers (at most 40 characters).
    pub name: Option<String>,
    /// Percent off as a decimal string ("20", "12.5"; above 0, at most 100, two decimals).
    pub percent_off: Option<String>,
    /// Amount off in major units ("5.00", "5000" for KRW), with `currency`.
    pub amount_off: Option<String>,
    /// ISO-4217 code of `amountOff`.
    pub currency: Option<String>,
    /// How long it discounts a subscription.
    pub duration: CouponDuration,
    /// For `REPEATING`: 1 to 36 months.
    pub duration_in_months: Option<i32>,
    /// Most redemptions across all customers.
    pub max_redemptions: Option<i32>,
    /// Last moment it can be redeemed.
    pub redeem_by: Option<DateTime<Utc>>,
    /// Only these products (Tollgate ids); none: every product.
    pub product_ids: Option<Vec<ID>>,
    /// One per click (at most 255 printable characters): a repeat answers the first result instead of doing it twice; the same key with another request is `IDEMPOTENCY_KEY_REUSED`.
    pub idempotency_key: Option<String>,
}

/// A promotion code to create (admin).
#[derive(InputObject)]
pub struct CreatePromotionCodeInput {
    /// The coupon it redeems (Tollgate's id).
    pub coupon_id: ID,
    /// What customers type: letters, digits, - and _ (at most 64).
    pub code: String,
    /// Most redemptions of this code.
    pub max_redemptions: Option<i32>,
    /// When it stops working.
    pub expires_at: Option<DateTime<Utc>>,
    /// Only for customers who have never paid before.
    #[graphql(default = false)]
    pub first_time_transaction: bool,
    /// One per click (at most 255 printable characters): a repeat answers the first result instead of doing it twice; the same key with another request is `IDEMPOTENCY_KEY_REUSED`.
    pub idempotency_key: Option<String>,
}

fn uuid_of(id: &ID, what: &'static str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| ApiError::NotFound(what))
}

#[derive(Default)]
pub struct DiscountsQuery;

#[Object]
impl DiscountsQuery {
    /// Whether a promotion code may be used for `quantity` units of a recurring price, and
    /// what the first invoice would come to. Asked of Stripe at once (signed-in viewers).
    async fn check_promotion_code(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The code as the customer typed it.")] code: String,
        #[graphql(desc = "The recurring price (Tollgate's id).")] price_id: ID,
        #[graphql(desc = "Seats (1 to 10,000).", default = 1)] quantity: Option<i32>,
    ) -> GqlResult<PromotionCodeCheck> {
        let viewer = context::viewer(ctx)?;
        let svc = context::services(ctx)?;
        let quantity = billing::quantity(quantity)?;
        let price = billing::subscriptions::recurring_price(&svc.db, &price_id).await?;
        let customer = billing::customers::find_for_user(&svc.db, &viewer.user_id).await?;
        Ok(PromotionCodeCheck(
            discounts::check_code(
                &svc.db,
                &svc.stripe,
                &code,
                &price,
                quantity,
                customer.as_ref(),
            )
            .await?,
        ))
    }

    /// Admin: every coupon, newest first.
    async fn coupons(&self, ctx: &Context<'_>) -> GqlResult<Vec<Coupon>> {
        context::admin(ctx)?;
        let svc = context::services(ctx)?;
        Ok(discounts::list_coupons(&svc.db)
            .await?
            .into_iter()
            .map(Coupon)
            .collect())
    }

    /// Admin: promotion codes, newest first, of one coupon or all.
    async fn promotion_codes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only this coupon's codes (Tollgate's id).")] coupon_id: Option<ID>,
    ) -> GqlResult<Vec<PromotionCode>> {
        context::admin(ctx)?;
        let svc = context::services(ctx)?;
        let coupon = match coupon_id {
            Some(id) => Some(
                coupons::Entity::find_by_id(uuid_of(&id, "coupon")?)
                    .one(&svc.db)
                    .await?
                    .ok_or(ApiError::NotFound("coupon"))?,
            ),
            None => None,
        };
        Ok(discounts::list_promotion_codes(&svc.db, coupon.as_ref())
            .await?
            .into_iter()
            .map(PromotionCode)
            .collect())
    }
}

#[derive(Default)]
pub struct DiscountsMutation;

#[Object]
impl DiscountsMutation {
    /// Admin: creates a coupon at Stripe and mirrors it.
    async fn create_coupon(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The coupon.")] input: CreateCouponInput,
    ) -> GqlResult<Coupon> {
        let viewer = context::admin(ctx)?;
        let svc = context::services(ctx)?;
        let percent_off = input
            .percent_off
            .as_deref()
            .map(|p| {
                discounts::Percent::parse(p).ok_or_else(|| {
                    ApiError::invalid_input(
                        "percentOff",
                        "a decimal above 0 and at most 100, two decimals at most",
                    )
                })
            })
            .transpose()?;
        let amount_off = match (&input.amount_off, &input.currency) {
            (Some(a), Some(c)) => {
                let currency = Currency::parse(c).map_err(|e| ApiError::money("currency", e))?;
                Some(
                    Money::parse_chargeable(a, &currency)
                        .map_err(|e| ApiError::money("amountOff", e))?,
                )
            }
            (None, None) => None,
            _ => {
                return Err(ApiError::invalid_input(
                    "currency",
                    "amountOff and currency go together",
                )
                .into())
            }
        };
        let product_ids = input
            .product_ids
            .unwrap_or_default()
            .iter()
            .map(|id| uuid_of(id, "product"))
            .collect::<Result<Vec<_>, _>>()?;
        let new = discounts::NewCoupon {
            name: input.name,
            percent_off,
            amount_off,
            duration: input.duration.into(),
            duration_in_months: input.duration_in_months,
            max_redemptions: input.max_redemptions,
            redeem_by: input.redeem_by,
            product_ids,
        };
        let row = discounts::create_coupon(
            &svc.db,
            &svc.stripe,
            &viewer.user_id,
            &new,
            input.idempotency_key.as_deref(),
        )
        .await?;
        Ok(Coupon(row))
    }

    /// Admin: creates a promotion code for a coupon at Stripe and mirrors it.
    async fn create_promotion_code(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The code.")] input: CreatePromotionCodeInput,
    ) -> GqlResult<PromotionCode> {
        let viewer = context::admin(ctx)?;
        let svc = context::services(ctx)?;
        let new = discounts::NewPromotionCode {
            coupon_id: uuid_of(&input.coupon_id, "coupon")?,
            code: input.code,
            max_redemptions: input.max_redemptions,
            expires_at: input.expires_at,
            first_time_transaction: input.first_time_transaction,
        };
        let row = discounts::create_promotion_code(
            &svc.db,
            &svc.stripe,
            &viewer.user_id,
            &new,
            input.idempotency_key.as_deref(),
        )
        .await?;
        Ok(PromotionCode(row))
    }
}
