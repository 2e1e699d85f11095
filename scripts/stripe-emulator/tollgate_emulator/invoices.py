"""Invoices: paying charges the subscription's default payment method first, then the
customer's (or, for `payment_behavior=default_incomplete`, leaves a PaymentIntent to confirm);
paying a paid invoice is refused; `invoice.paid` accompanies `invoice.payment_succeeded`;
`confirmation_secret` exposes the payment's client secret (API >= 2025-03-31).
https://docs.stripe.com/api/invoices
"""

import localstripe.resources as R
from localstripe.errors import UserError

from . import once
from .events import emit, quietly
from .subscriptions import defer_first_payment, pending_default_pm

_orig_invoice_on_success = None


def _invoice_on_success(self):
    _orig_invoice_on_success(self)
    emit('invoice.paid', self)


@classmethod
def _invoice_api_pay(cls, id, **kwargs):
    obj = R.Invoice._api_retrieve(id)
    if obj.status == 'paid':
        raise UserError(400, 'Invoice is already paid')
    elif obj.status not in ('draft', 'open'):
        raise UserError(400, 'Bad request')
    obj._draft = False
    if obj.total <= 0:
        obj._on_payment_success()
        return obj
    # Stripe charges the subscription's default payment method first, then the customer's.
    if defer_first_payment.get():
        pi = quietly(R.PaymentIntent, amount=obj.total, currency=obj.currency,
                     customer=obj.customer)
        obj.payment_intent = pi.id
        pi.invoice = obj.id
        return obj
    pm_id = pending_default_pm.get()
    if pm_id is None and obj.subscription:
        pm_id = getattr(R.store.get('subscription:' + obj.subscription), 'default_payment_method',
                        None)
    if pm_id is None:
        pm = R.Customer._api_retrieve(obj.customer)._get_default_payment_method_or_source()
        if pm is None:
            raise UserError(400, 'This customer has no attached payment source or default '
                                 'payment method.', {'code': 'resource_missing'})
        pm_id = pm.id
    pi = quietly(R.PaymentIntent, amount=obj.total, currency=obj.currency,
                 customer=obj.customer, payment_method=pm_id)
    obj.payment_intent = pi.id
    pi.invoice = obj.id
    pi._confirm(on_failure_now=lambda: None)
    return obj


def _invoice_confirmation_secret(self):
    # Since API 2025-03-31 the client secret of an invoice's payment is exposed here.
    if not self.payment_intent:
        return None
    pi = R.PaymentIntent._api_retrieve(self.payment_intent)
    return {'client_secret': pi.client_secret, 'type': 'payment_intent'}


@once
def install():
    global _orig_invoice_on_success
    _orig_invoice_on_success = R.Invoice._on_payment_success
    R.Invoice._on_payment_success = _invoice_on_success
    R.Invoice._api_pay_invoice = _invoice_api_pay
    R.Invoice.confirmation_secret = property(_invoice_confirmation_secret)
