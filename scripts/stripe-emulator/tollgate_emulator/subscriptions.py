"""Subscriptions: items take `price`; `default_payment_method` (which must be attached to the
customer) is used to pay invoices; `payment_behavior=default_incomplete` leaves the first
invoice for the client to pay; trials start `trialing` with dates; periods are also reported on
items (API >= 2025-03-31); `cancel_at_period_end` / `cancel_at` / `canceled_at` behave as in
Stripe; a canceled subscription cannot be updated or canceled again;
`customer.subscription.updated` is emitted with `previous_attributes`; changes of price and
quantity prorate as `prorations` describes; `discounts` redeem coupons and promotion codes as
`coupons` describes; `cancellation_details` (`feedback`, `comment`) is kept from an update or a
cancel. https://docs.stripe.com/api/subscriptions
"""

import contextvars
import time

import localstripe.resources as R
from localstripe.errors import UserError

from . import coupons, once, prorations
from .events import diff, emit
from .prices import Price

# Stripe's `cancellation_details.feedback` values.
FEEDBACK = ('customer_service', 'low_quality', 'missing_features', 'other', 'switched_service',
            'too_complex', 'too_expensive', 'unused')

_SUB_EXTRA = ('default_payment_method', 'description', 'off_session', 'collection_method',
              'payment_settings', 'cancel_at_period_end')
# While a subscription is being created: its default_payment_method, which pays its first
# invoice (read by invoices._invoice_api_pay).
pending_default_pm = contextvars.ContextVar('pending_default_pm', default=None)
# payment_behavior=default_incomplete: the first invoice gets a PaymentIntent for the client to
# confirm instead of being charged. https://docs.stripe.com/billing/subscriptions/build-subscriptions
defer_first_payment = contextvars.ContextVar('defer_first_payment', default=False)

_orig_sub_init = None
_orig_sub_item_period = None
_orig_sub_update = None
_orig_sub_api_delete = None
_orig_on_initial_success = None


def _items_price_to_plan(items):
    if items is None:
        return None
    if not isinstance(items, list):
        raise UserError(400, 'Invalid array', {'param': 'items'})
    for item in items:
        if not isinstance(item, dict):
            raise UserError(400, 'Invalid array', {'param': 'items'})
        price = item.pop('price', None)
        if price is not None:
            if item.get('plan') is not None:
                raise UserError(400, 'You may only specify one of these parameters: '
                                     'plan, price.')
            p = Price._api_retrieve(price)
            if p.type != 'recurring':
                raise UserError(400, 'The price specified is set to `type=one_time` but this '
                                     'field only accepts prices with `type=recurring`.',
                                {'param': 'items[0][price]'})
            if not p.active:
                raise UserError(400, 'The price specified is inactive. This field only '
                                     'accepts active prices.', {'param': 'items[0][price]'})
            item['plan'] = price
    return items


def _check_customer_pm(customer, pm_id):
    pm = R.PaymentMethod._api_retrieve(pm_id)
    if pm.customer != customer:
        raise UserError(400, 'The customer does not have a payment method with the ID %s. '
                             'The payment method must be attached to the customer.' % pm_id,
                        {'param': 'default_payment_method'})
    return pm


def _cancellation_details(details):
    if details is None:
        return None
    if not isinstance(details, dict) or set(details) - {'feedback', 'comment'}:
        raise UserError(400, 'Invalid cancellation_details', {'param': 'cancellation_details'})
    feedback = details.get('feedback') or None
    if feedback is not None and feedback not in FEEDBACK:
        raise UserError(400, 'Invalid cancellation_details[feedback]: must be one of '
                        + ', '.join(FEEDBACK), {'param': 'cancellation_details[feedback]'})
    comment = details.get('comment') or None
    if comment is not None and (not isinstance(comment, str) or len(comment) > 5000):
        raise UserError(400, 'Invalid cancellation_details[comment]',
                        {'param': 'cancellation_details[comment]'})
    return {'feedback': feedback, 'comment': comment, 'reason': 'cancellation_requested'}


def _discount_choice(customer, items, kwargs):
    """Pops and validates the discount a create or update asks for (before anything else)."""
    discounts = kwargs.pop('discounts', None)
    coupon = kwargs.pop('coupon', None)
    promotion_code = kwargs.pop('promotion_code', None)
    if discounts is None and coupon is None and promotion_code is None:
        return None
    plans = [R.store.get('plan:' + (i.get('plan') or '')) for i in items or []]
    currency = next((p.currency for p in plans if p is not None), None)
    return coupons.validate(discounts, coupon, promotion_code, customer,
                            coupons.subscription_products(items), currency)


def _sub_init(self, *args, **kwargs):
    extra = {k: kwargs.pop(k) for k in _SUB_EXTRA if k in kwargs}
    kwargs['items'] = _items_price_to_plan(kwargs.get('items'))
    choice = _discount_choice(kwargs.get('customer'), kwargs.get('items'), kwargs)
    # A customer on a test clock lives at the clock's time: its subscription starts then.
    clock_time = coupons.clock_now(kwargs.get('customer'))
    if kwargs.get('backdate_start_date') is None and clock_time < int(time.time()):
        kwargs['backdate_start_date'] = clock_time
    behaviour = kwargs.get('payment_behavior')
    if behaviour == 'pending_if_incomplete':
        raise UserError(400, 'payment_behavior=pending_if_incomplete is not emulated',
                        {'param': 'payment_behavior'})
    deferred = behaviour == 'default_incomplete'
    if deferred:
        kwargs['payment_behavior'] = 'allow_incomplete'
    pm = extra.get('default_payment_method')
    if pm:
        _check_customer_pm(kwargs.get('customer'), pm)
    token = pending_default_pm.set(pm)
    defer_token = defer_first_payment.set(deferred)
    redemption_token = coupons.pending_redemption.set(choice)
    try:
        _orig_sub_init(self, *args, **kwargs)
        if coupons.pending_redemption.get() is not None:
            # No invoice yet (a trial): the code is redeemed now all the same.
            coupons.redeem(self, choice, self.start_date)
    finally:
        pending_default_pm.reset(token)
        defer_first_payment.reset(defer_token)
        coupons.pending_redemption.reset(redemption_token)
    self.cancellation_details = {'feedback': None, 'comment': None, 'reason': None}
    invoices = [v for k, v in R.store.items()
                if k.startswith('invoice:') and v.subscription == self.id]
    self.latest_invoice = max(invoices, key=lambda i: i.created).id if invoices else None
    self.default_payment_method = pm
    self.description = extra.get('description')
    self.collection_method = extra.get('collection_method') or 'charge_automatically'
    cape = R.try_convert_to_bool(extra.get('cancel_at_period_end'))
    self.cancel_at_period_end = cape is True
    if self.trial_end is not None or self.trial_period_days is not None:
        now = int(time.time())
        self.trial_start = now
        if self.trial_end is None:
            self.trial_end = now + self.trial_period_days * 86400
        self.status = 'trialing'
    # From now on, the first payment's success is news (customer.subscription.updated).
    self._tg_announced = True


def _sub_item_period(self):
    sub = R.store.get('subscription:' + self._subscription) if self._subscription else None
    if sub is None:
        return _orig_sub_item_period(self)
    if sub.status == 'trialing' and sub.trial_end:
        return dict(start=sub.trial_start, end=sub.trial_end)
    start = prorations.anchor(sub)
    return dict(start=start, end=prorations.period_end(start, self.plan))


def _sub_item_price(self):
    price = R.store.get('price:' + self.plan.id)
    return price._export() if price is not None else None


def _sub_update(self, default_payment_method=None, proration_behavior=None,
                payment_behavior=None, description=None, cancel_at=None, proration_date=None,
                cancellation_details=None, **data):
    items = _items_price_to_plan(data.pop('items', None))
    if items:
        for item in items:
            item.setdefault('plan', self.items._list[0].plan.id)
    choice = _discount_choice(self.customer, items or [{'plan': self.plan.id}], data)
    change = prorations.Change(self, items, proration_behavior, proration_date)
    details = _cancellation_details(cancellation_details)
    if payment_behavior not in (None, 'allow_incomplete', 'error_if_incomplete',
                                'default_incomplete'):
        raise UserError(400, 'Invalid payment_behavior', {'param': 'payment_behavior'})
    if default_payment_method:
        _check_customer_pm(self.customer, default_payment_method)
        self.default_payment_method = default_payment_method
    if description is not None:
        self.description = description
    if cancel_at == '':
        self.cancel_at = None
    elif cancel_at is not None:
        data['cancel_at'] = cancel_at
    if details is not None:
        self.cancellation_details = details
    previous_discount = getattr(self, '_tg_discount', None)
    if choice is not None:
        coupons.redeem(self, choice, coupons.clock_now(self.customer))
    try:
        prorations.apply_change(self, change, payment_behavior)
    except UserError:
        if choice is not None:
            coupons.unredeem(self, choice, previous_discount)
        raise
    _orig_sub_update(self, **data)
    if self.cancel_at_period_end:
        self.cancel_at = self.current_period_end
    elif cancel_at is None and data.get('cancel_at_period_end') is not None:
        self.cancel_at = None


@classmethod
def _sub_api_update(cls, id, **data):
    obj = cls._api_retrieve(id)
    if obj.status in ('canceled', 'incomplete_expired'):
        raise UserError(400, 'A canceled subscription can only update its cancellation_details '
                             'and metadata.')
    before = obj._export()
    obj._update(**data)
    emit('customer.subscription.updated', obj, diff(before, obj._export()))
    return obj


@classmethod
def _sub_api_delete(cls, id, cancellation_details=None, **kwargs):
    obj = cls._api_retrieve(id)
    if obj.status == 'canceled':
        raise UserError(400, 'No such subscription: %s (already canceled)' % id,
                        {'code': 'resource_missing'})
    details = _cancellation_details(cancellation_details)
    if details is not None:
        obj.cancellation_details = details
    obj.canceled_at = int(time.time())
    return _orig_sub_api_delete(cls, id)


def _sub_on_initial_success(self, invoice):
    before = self._export() if getattr(self, '_tg_announced', False) else None
    _orig_on_initial_success(self, invoice)
    if before is not None:
        emit('customer.subscription.updated', self, diff(before, self._export()))


@once
def install():
    global _orig_sub_init, _orig_sub_item_period, _orig_sub_update, _orig_sub_api_delete, \
        _orig_on_initial_success
    _orig_sub_init = R.Subscription.__init__
    R.Subscription.__init__ = _sub_init
    _orig_sub_item_period = R.SubscriptionItem._current_period
    R.SubscriptionItem._current_period = _sub_item_period
    R.SubscriptionItem.current_period_start = property(lambda s: s._current_period()['start'])
    R.SubscriptionItem.current_period_end = property(lambda s: s._current_period()['end'])
    R.SubscriptionItem.subscription = property(lambda s: s._subscription)
    R.SubscriptionItem.price = property(_sub_item_price)
    _orig_sub_update = R.Subscription._update
    R.Subscription._update = _sub_update
    R.Subscription._api_update = _sub_api_update
    _orig_sub_api_delete = R.Subscription._api_delete.__func__
    R.Subscription._api_delete = _sub_api_delete
    _orig_on_initial_success = R.Subscription._on_initial_payment_success
    R.Subscription._on_initial_payment_success = _sub_on_initial_success
