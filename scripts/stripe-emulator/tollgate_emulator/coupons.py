"""Coupons, promotion codes and the discounts they make, as Stripe documents them.

- Coupons take an optional `id` (generated otherwise), `name`, `max_redemptions`, `redeem_by`
  and `applies_to[products]`; `valid` turns false once redeemable no more (redeem_by passed or
  max_redemptions reached); `coupon.created` / `coupon.deleted` are emitted.
  https://docs.stripe.com/api/coupons
- Promotion codes (missing from localstripe): customer-facing codes for a coupon, with their
  own `max_redemptions`, `expires_at`, `restrictions[first_time_transaction]` and `active`;
  listed by `code` (case-insensitive, as Stripe matches codes), `active` and `coupon`. Today's
  shape names the coupon under `promotion.coupon`; the legacy `coupon` object stays.
  https://docs.stripe.com/api/promotion_codes
- A subscription created or updated with `discounts[0][promotion_code|coupon]` (or the legacy
  `promotion_code` / `coupon`) redeems it: refused (400, nothing charged) when the coupon is
  invalid, the code inactive, expired or exhausted, the customer not new for a first-time
  code, or the coupon applies to none of the subscription's products; otherwise both redemption
  counters go up and the subscription carries a `discount` (legacy) / `discounts` (today).
  https://docs.stripe.com/billing/subscriptions/coupons
- Invoices of a discounted subscription subtract it while it lasts (`once`: the first invoice,
  `repeating`: `duration_in_months`, `forever`): percent off rounded to the minor unit (half to
  even) line by line on the lines of the products it applies to, amount off at most those
  lines' total;
  `total_discount_amounts`, `discount` and `discounts` say so.
  https://docs.stripe.com/billing/subscriptions/coupons#coupon-duration
"""

import contextvars
import time
from decimal import ROUND_HALF_EVEN, Decimal

import localstripe.resources as R
from localstripe.errors import UserError

from . import once
from .events import diff, emit

_orig_coupon_init = None
_orig_invoice_init = None
_orig_invoice_total = None

# A discount validated for the subscription being created, redeemed when its first invoice is
# made (so that invoice is discounted) or right after creation (a trial has no invoice yet).
pending_redemption = contextvars.ContextVar('pending_redemption', default=None)


def clock_now(customer_id):
    """Now for this customer: its test clock's frozen time when it has one (test_clocks)."""
    cus = R.store.get('customer:' + customer_id) if customer_id else None
    clock_id = getattr(cus, 'test_clock', None) if cus is not None else None
    clock = R.store.get('test_helpers.test_clock:' + clock_id) if clock_id else None
    return clock.frozen_time if clock is not None else int(time.time())


def _coupon_init(self, id=None, name=None, max_redemptions=None, redeem_by=None,
                 applies_to=None, **kwargs):
    max_redemptions = R.try_convert_to_int(max_redemptions)
    redeem_by = R.try_convert_to_int(redeem_by)
    if max_redemptions is not None and not (isinstance(max_redemptions, int)
                                            and max_redemptions > 0):
        raise UserError(400, 'Invalid positive integer', {'param': 'max_redemptions'})
    if redeem_by is not None and not (isinstance(redeem_by, int) and redeem_by > time.time()):
        raise UserError(400, 'Invalid timestamp: must be an integer Unix timestamp in the '
                             'future.', {'param': 'redeem_by'})
    products = None
    if applies_to is not None:
        products = applies_to.get('products') if isinstance(applies_to, dict) else None
        if not (isinstance(products, list) and products
                and all(isinstance(p, str) for p in products)):
            raise UserError(400, 'Invalid array', {'param': 'applies_to[products]'})
        for p in products:
            R.Product._api_retrieve(p)
    if isinstance(kwargs.get('currency'), str):
        kwargs['currency'] = kwargs['currency'].lower()
    _orig_coupon_init(self, id=id or R.random_id(8), **kwargs)
    self.name = name
    self.max_redemptions = max_redemptions
    self.redeem_by = redeem_by
    self.applies_to = {'products': products} if products else None
    emit('coupon.created', self)


def _coupon_valid(self):
    if self.redeem_by is not None and self.redeem_by <= time.time():
        return False
    return self.max_redemptions is None or self.times_redeemed < self.max_redemptions


@classmethod
def _coupon_api_delete(cls, id):
    obj = cls._api_retrieve(id)
    emit('coupon.deleted', obj)
    return R.StripeObject._api_delete.__func__(cls, id)


class PromotionCode(R.StripeObject):
    object = 'promotion_code'
    _id_prefix = 'promo_'

    def __init__(self, coupon=None, promotion=None, code=None, active=True, customer=None,
                 max_redemptions=None, expires_at=None, restrictions=None, metadata=None,
                 **kwargs):
        if kwargs:
            raise UserError(400, 'Received unknown parameter: ' + ', '.join(kwargs.keys()))
        if coupon is None and isinstance(promotion, dict):
            coupon = promotion.get('coupon')
        if not isinstance(coupon, str):
            raise UserError(400, 'Missing required param: promotion[coupon].',
                            {'param': 'promotion[coupon]'})
        coupon_obj = R.Coupon._api_retrieve(coupon)
        active = R.try_convert_to_bool(active)
        max_redemptions = R.try_convert_to_int(max_redemptions)
        expires_at = R.try_convert_to_int(expires_at)
        restrictions = restrictions if isinstance(restrictions, dict) else {}
        first_time = R.try_convert_to_bool(restrictions.get('first_time_transaction', False))
        if code is None:
            code = R.random_id(8).upper()
        if not (isinstance(code, str) and 1 <= len(code) <= 500
                and all(c.isalnum() or c in '-_' for c in code)):
            raise UserError(400, 'Invalid code: letters, digits, - and _ only',
                            {'param': 'code'})
        if any(p.active and p.code.lower() == code.lower() for p in _all_codes()):
            raise UserError(400, 'An active promotion code with `code: %s` already exists.'
                            % code, {'param': 'code'})
        if max_redemptions is not None and not (isinstance(max_redemptions, int)
                                                and max_redemptions > 0):
            raise UserError(400, 'Invalid positive integer', {'param': 'max_redemptions'})
        if expires_at is not None and not (isinstance(expires_at, int)
                                           and expires_at > time.time()):
            raise UserError(400, 'Invalid timestamp: must be in the future',
                            {'param': 'expires_at'})
        if coupon_obj.redeem_by is not None and expires_at is not None \
                and expires_at > coupon_obj.redeem_by:
            raise UserError(400, 'The promotion code cannot expire after its coupon\'s '
                                 'redeem_by date.', {'param': 'expires_at'})
        if not isinstance(first_time, bool) or not isinstance(active, bool):
            raise UserError(400, 'Invalid boolean')
        if customer is not None:
            R.Customer._api_retrieve(customer)
        super().__init__()
        self._coupon = coupon
        self.code = code
        self.active = active
        self.customer = customer
        self.max_redemptions = max_redemptions
        self.expires_at = expires_at
        self.restrictions = {'first_time_transaction': first_time, 'minimum_amount': None,
                             'minimum_amount_currency': None}
        self.times_redeemed = 0
        self.metadata = metadata or {}
        emit('promotion_code.created', self)

    @property
    def coupon(self):
        return R.Coupon._api_retrieve(self._coupon)

    @property
    def promotion(self):
        return {'type': 'coupon', 'coupon': self._coupon}

    @classmethod
    def _api_update(cls, id, active=None, metadata=None, **kwargs):
        if kwargs:
            raise UserError(400, 'Received unknown parameter: ' + ', '.join(kwargs.keys()))
        obj = cls._api_retrieve(id)
        before = obj._export()
        if active is not None:
            active = R.try_convert_to_bool(active)
            if not isinstance(active, bool):
                raise UserError(400, 'Invalid boolean', {'param': 'active'})
            if active and not obj.active and any(
                    p.active and p.code.lower() == obj.code.lower() for p in _all_codes()):
                raise UserError(400, 'An active promotion code with this code already exists.')
            obj.active = active
        if metadata is not None:
            obj._update(metadata=metadata)
        emit('promotion_code.updated', obj, diff(before, obj._export()))
        return obj

    @classmethod
    def _api_list_all(cls, url, code=None, active=None, coupon=None, customer=None,
                      limit=None, starting_after=None, **kwargs):
        li = super()._api_list_all(url, limit=limit, starting_after=starting_after, **kwargs)
        if code is not None:
            li._list = [p for p in li._list if p.code.lower() == str(code).lower()]
        if active is not None:
            want = R.try_convert_to_bool(active)
            li._list = [p for p in li._list if p.active == want]
        if coupon is not None:
            li._list = [p for p in li._list if p._coupon == coupon]
        if customer is not None:
            li._list = [p for p in li._list if p.customer == customer]
        li._list.sort(key=lambda p: p.created, reverse=True)
        return li

    @classmethod
    def _api_delete(cls, id):
        raise UserError(405, 'Promotion codes cannot be deleted; deactivate them instead.')


class Discount(R.StripeObject):
    """A coupon applied to a subscription (https://docs.stripe.com/api/discounts)."""
    object = 'discount'
    _id_prefix = 'di_'

    def __init__(self, coupon, promotion_code, subscription, customer, start):
        super().__init__()
        self._coupon = coupon
        self.promotion_code = promotion_code
        self.subscription = subscription
        self.customer = customer
        self.start = start
        c = R.Coupon._api_retrieve(coupon)
        self.end = None
        if c.duration == 'repeating':
            self.end = _add_months(start, c.duration_in_months)
        self.invoice = None
        self.invoice_item = None
        self.checkout_session = None
        self.subscription_item = None
        self._invoiced = 0

    @property
    def coupon(self):
        return R.Coupon._api_retrieve(self._coupon)

    @property
    def source(self):
        return {'type': 'coupon', 'coupon': self._coupon}

    def _applies_at(self, when):
        c = R.Coupon._api_retrieve(self._coupon)
        if c.duration == 'once':
            return self._invoiced == 0
        return self.end is None or when < self.end


def _add_months(ts, months):
    from datetime import datetime, timezone

    from dateutil.relativedelta import relativedelta
    start = datetime.fromtimestamp(ts, timezone.utc)
    return int((start + relativedelta(months=months)).timestamp())


def _all_codes():
    return [v for k, v in R.store.items() if k.startswith('promotion_code:')]


def _refuse(message, param='discounts'):
    raise UserError(400, message, {'param': param, 'code': 'promotion_code_invalid'})


def _has_paid_before(customer_id):
    # Stripe: "customers who have never made a successful payment" (a declined or trial-only
    # subscription is no prior transaction).
    return any(k.startswith('charge:') and v.customer == customer_id and v.status == 'succeeded'
               for k, v in R.store.items())


def validate(discounts, coupon, promotion_code, customer_id, product_ids, currency):
    """The (coupon id, promotion code id) a request asks to redeem, checked as Stripe checks
    them before anything is charged; None when it asks for none."""
    if discounts is not None:
        if discounts == '':
            return ('', None)  # `discounts=""` removes the discount (updates)
        if not (isinstance(discounts, list) and len(discounts) <= 1
                and all(isinstance(d, dict) for d in discounts)):
            raise UserError(400, 'Invalid array: one discount is emulated',
                            {'param': 'discounts'})
        if discounts:
            coupon = discounts[0].get('coupon')
            promotion_code = discounts[0].get('promotion_code')
    if coupon is None and promotion_code is None:
        return None
    if coupon is not None and promotion_code is not None:
        _refuse('You may only specify one of these parameters: coupon, promotion_code.')
    promo = None
    if promotion_code is not None:
        promo = PromotionCode._api_retrieve(promotion_code)
        now = clock_now(customer_id)
        if not promo.active:
            _refuse('This promotion code is inactive.')
        if promo.expires_at is not None and promo.expires_at <= now:
            _refuse('This promotion code has expired.')
        if promo.max_redemptions is not None and promo.times_redeemed >= promo.max_redemptions:
            _refuse('This promotion code has been redeemed the maximum number of times.')
        if promo.customer is not None and promo.customer != customer_id:
            _refuse('This promotion code cannot be redeemed by this customer.')
        if promo.restrictions['first_time_transaction'] and _has_paid_before(customer_id):
            _refuse('This promotion code cannot be redeemed because the associated customer '
                    'has prior transactions.')
        coupon = promo._coupon
    c = R.Coupon._api_retrieve(coupon)
    if not c.valid:
        _refuse('Coupon %s is no longer valid.' % c.id, 'coupon' if promo is None else 'discounts')
    if c.amount_off is not None and currency is not None and c.currency != currency:
        _refuse('This coupon is in %s and cannot be applied to a %s subscription.'
                % (c.currency, currency))
    if c.applies_to and not set(c.applies_to['products']) & set(product_ids):
        _refuse('This coupon cannot be applied to any of the subscription\'s products.')
    return (coupon, promo.id if promo else None)


def redeem(sub, choice, start):
    """Applies a validated (coupon, promotion code) to a subscription and counts it."""
    coupon, promo_id = choice
    if coupon == '':
        sub._tg_discount = None
        return
    c = R.Coupon._api_retrieve(coupon)
    c.times_redeemed += 1
    if promo_id is not None:
        PromotionCode._api_retrieve(promo_id).times_redeemed += 1
    sub._tg_discount = Discount(coupon, promo_id, sub.id, sub.customer, start)


def subscription_products(items):
    """The product ids of a subscription request's items (price or plan ids)."""
    out = []
    for item in items or []:
        pid = item.get('plan') or item.get('price')
        plan = R.store.get('plan:' + pid) if pid else None
        if plan is not None:
            out.append(plan.product)
    return out


def active_discount(sub, when):
    d = getattr(sub, '_tg_discount', None)
    if d is None or not d._applies_at(when):
        return None
    return d


def discount_amount(discount, lines):
    """What a discount takes off these invoice lines (lists of (product, amount))."""
    c = discount.coupon
    products = set(c.applies_to['products']) if c.applies_to else None
    base = sum(a for p, a in lines if products is None or p in products)
    if base <= 0:
        return 0
    if c.percent_off is not None:
        # Per line, as Stripe reports each line's discount_amounts, then summed (never more
        # than the lines' positive total).
        pct = Decimal(str(c.percent_off))
        per_line = sum(int((Decimal(a) * pct / 100).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
                       for p, a in lines if products is None or p in products)
        return max(0, min(per_line, base))
    return min(c.amount_off, base)


def _line_product(line):
    plan = getattr(line, 'plan', None)
    return plan.product if plan is not None else None


def _invoice_init(self, *args, **kwargs):
    _orig_invoice_init(self, *args, **kwargs)
    self._tg_discount_amount = 0
    self._tg_discount_id = None
    sub = R.store.get('subscription:' + self.subscription) if self.subscription else None
    if sub is None:
        return
    choice = pending_redemption.get()
    if choice is not None and getattr(sub, '_tg_discount', None) is None:
        pending_redemption.set(None)
        redeem(sub, choice, self.date)
    d = active_discount(sub, self.date)
    if d is None:
        return
    amount = discount_amount(d, [(_line_product(li), li.amount) for li in self.lines._list])
    self._tg_discount_amount = amount
    self._tg_discount_id = d.id
    d._invoiced += 1
    if d.coupon.duration == 'once':
        d.end = self.date


def _invoice_total(self):
    return max(0, _orig_invoice_total.fget(self) - getattr(self, '_tg_discount_amount', 0))


def _invoice_total_discount_amounts(self):
    if not getattr(self, '_tg_discount_id', None):
        return []
    return [{'amount': self._tg_discount_amount, 'discount': self._tg_discount_id}]


def _invoice_discounts(self):
    return [self._tg_discount_id] if getattr(self, '_tg_discount_id', None) else []


def _invoice_discount(self):
    did = getattr(self, '_tg_discount_id', None)
    return R.store['discount:' + did]._export() if did else None


def _sub_discount(self):
    d = getattr(self, '_tg_discount', None)
    if d is None or (d.end is not None and d.end <= clock_now(self.customer)):
        return None
    return d._export()


def _sub_discounts(self):
    d = _sub_discount(self)
    return [d['id']] if d else []


@once
def install():
    global _orig_coupon_init, _orig_invoice_init, _orig_invoice_total
    _orig_coupon_init = R.Coupon.__init__
    R.Coupon.__init__ = _coupon_init
    R.Coupon.valid = property(_coupon_valid, lambda self, value: None)
    R.Coupon._api_delete = _coupon_api_delete
    _orig_invoice_init = R.Invoice.__init__
    R.Invoice.__init__ = _invoice_init
    _orig_invoice_total = R.Invoice.total
    R.Invoice.total = property(_invoice_total)
    R.Invoice.amount_due = property(lambda self: self.total)
    R.Invoice.total_discount_amounts = property(_invoice_total_discount_amounts)
    R.Invoice.discounts = property(_invoice_discounts)
    R.Invoice.discount = property(_invoice_discount, lambda self, value: None)
    R.Subscription.discount = property(_sub_discount, lambda self, value: None)
    R.Subscription.discounts = property(_sub_discounts)


def unredeem(sub, choice, previous):
    """Undoes `redeem` when the update that asked for it was refused."""
    coupon, promo_id = choice
    sub._tg_discount = previous
    if coupon == '':
        return
    R.Coupon._api_retrieve(coupon).times_redeemed -= 1
    if promo_id is not None:
        PromotionCode._api_retrieve(promo_id).times_redeemed -= 1
