"""Test clocks (missing from localstripe): a customer created with `test_clock` lives at the
clock's `frozen_time` (its subscriptions start then, promotion codes expire by it); advancing the clock renews that customer's subscriptions whose period
ended (a new period, its invoice charged to the default payment method, `invoice.*` and
`customer.subscription.updated` sent), and ends those set to cancel at the period's end.
A renewal whose charge fails leaves the invoice open and the subscription `past_due`.
https://docs.stripe.com/billing/testing/test-clocks
https://docs.stripe.com/api/test_clocks
"""

import localstripe.resources as R
from localstripe.errors import UserError

from . import once
from .events import diff, emit
from .prorations import anchor, period_end

_orig_customer_init = None


class TestClock(R.StripeObject):
    object = 'test_helpers.test_clock'
    _id_prefix = 'clock_'

    def __init__(self, frozen_time=None, name=None, **kwargs):
        if kwargs:
            raise UserError(400, 'Received unknown parameter: ' + ', '.join(kwargs.keys()))
        frozen_time = R.try_convert_to_int(frozen_time)
        if not isinstance(frozen_time, int) or frozen_time < 1500000000:
            raise UserError(400, 'Missing required param: frozen_time.',
                            {'param': 'frozen_time'})
        super().__init__()
        self.frozen_time = frozen_time
        self.name = name
        self.status = 'ready'
        self.deletes_after = frozen_time + 30 * 86400

    @classmethod
    def _api_advance(cls, id, frozen_time=None, **kwargs):
        if kwargs:
            raise UserError(400, 'Received unknown parameter: ' + ', '.join(kwargs.keys()))
        clock = cls._api_retrieve(id)
        frozen_time = R.try_convert_to_int(frozen_time)
        if not isinstance(frozen_time, int) or frozen_time <= clock.frozen_time:
            raise UserError(400, 'The frozen_time must be after the current frozen_time.',
                            {'param': 'frozen_time'})
        clock.frozen_time = frozen_time
        for sub in _subscriptions_of(clock.id):
            _run_until(sub, frozen_time)
        return clock


def _subscriptions_of(clock_id):
    customers = {v.id for k, v in R.store.items()
                 if k.startswith('customer:') and getattr(v, 'test_clock', None) == clock_id}
    return [v for k, v in list(R.store.items())
            if k.startswith('subscription:') and v.customer in customers]


def _run_until(sub, now):
    while sub.status in ('active', 'past_due', 'trialing'):
        end = sub.current_period_end
        if end is None or end > now:
            return
        before = sub._export()
        if sub.cancel_at_period_end or (sub.cancel_at and sub.cancel_at <= end):
            R.Subscription._api_delete(sub.id)
            return
        if sub.status == 'trialing':
            sub.status = 'active'
            sub.trial_end = end
            start = end
        else:
            start = end
        sub._tg_period_start = start
        invoice = R.Invoice(customer=sub.customer, subscription=sub.id, date=start,
                            items=list(sub.items._list))
        invoice.billing_reason = 'subscription_cycle'
        invoice.period_start = start
        invoice.period_end = period_end(anchor(sub), sub.items._list[0].plan)
        invoice._finalize()
        sub.latest_invoice = invoice.id
        if invoice.status != 'paid':
            try:
                R.Invoice._api_pay_invoice(invoice.id)
            except UserError:
                pass
        if invoice.status != 'paid' and sub.status != 'past_due':
            # (a declined charge already made it past_due and sent invoice.payment_failed)
            sub.status = 'past_due'
        emit('customer.subscription.updated', sub, diff(before, sub._export()))


def _customer_init(self, *args, test_clock=None, **kwargs):
    if test_clock is not None:
        TestClock._api_retrieve(test_clock)
    _orig_customer_init(self, *args, **kwargs)
    self.test_clock = test_clock


@once
def install():
    global _orig_customer_init
    _orig_customer_init = R.Customer.__init__
    R.Customer.__init__ = _customer_init

