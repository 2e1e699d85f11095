"""Invoices: paying charges the subscription's default payment method first, then the
customer's (or, for `payment_behavior=default_incomplete`, leaves a PaymentIntent to confirm);
paying a paid invoice is refused; `invoice.paid` accompanies `invoice.payment_succeeded`;
`confirmation_secret` exposes the payment's client secret (API >= 2025-03-31); every invoice
lists its `payments` (`invoice_payment` objects, API >= 2025-03-31) next to the legacy
`payment_intent` and `charge`, and `invoice_payment.paid` accompanies `invoice.paid`;
`parent.subscription_details` carries the subscription's metadata as of finalization.
https://docs.stripe.com/api/invoices, https://docs.stripe.com/api/invoice-payment
"""

import localstripe.resources as R
from localstripe.errors import UserError

from . import once
from .events import emit, quietly
from .invoice_payments import payments_list, payments_of, record_payment
from .subscriptions import defer_first_payment, pending_default_pm

_orig_invoice_on_success = None
_orig_invoice_finalize = None


def _invoice_on_success(self):
    _orig_invoice_on_success(self)
    emit('invoice.paid', self)
    for payment in payments_of(self):
        if payment.status == 'paid' and not payment._announced:
            payment._announced = True
            emit('invoice_payment.paid', payment)


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
        record_payment(obj, pi)
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
    record_payment(obj, pi)
    pi._confirm(on_failure_now=lambda: None)
    return obj


def _invoice_confirmation_secret(self):
    # Since API 2025-03-31 the client secret of an invoice's payment is exposed here.
    if not self.payment_intent:
        return None
    pi = R.PaymentIntent._api_retrieve(self.payment_intent)
    return {'client_secret': pi.client_secret, 'type': 'payment_intent'}


def _invoice_finalize(self):
    _orig_invoice_finalize(self)
    # Stripe keeps a snapshot of the subscription's metadata as of finalization.
    sub = R.store.get('subscription:' + self.subscription) if self.subscription else None
    self._tg_sub_metadata = dict(sub.metadata or {}) if sub is not None else {}


def _invoice_parent(self):
    # API >= 2025-03-31: the subscription an invoice bills is under `parent`; the legacy
    # `subscription` field stays.
    if not self.subscription:
        return None
    metadata = getattr(self, '_tg_sub_metadata', None)
    if metadata is None:
        sub = R.store.get('subscription:' + self.subscription)
        metadata = dict(sub.metadata or {}) if sub is not None else {}
    return {'type': 'subscription_details', 'quote_details': None,
            'subscription_details': {'subscription': self.subscription, 'metadata': metadata,
                                     'subscription_proration_date': None}}


@once
def install():
    global _orig_invoice_on_success, _orig_invoice_finalize
    _orig_invoice_on_success = R.Invoice._on_payment_success
    R.Invoice._on_payment_success = _invoice_on_success
    R.Invoice._api_pay_invoice = _invoice_api_pay
    R.Invoice.confirmation_secret = property(_invoice_confirmation_secret)
    R.Invoice.payments = property(payments_list)
    R.Invoice.parent = property(_invoice_parent)
    _orig_invoice_finalize = R.Invoice._finalize
    R.Invoice._finalize = _invoice_finalize
