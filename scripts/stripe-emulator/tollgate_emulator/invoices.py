"""Invoices: paying charges the subscription's default payment method first, then the
customer's (or, for `payment_behavior=default_incomplete`, leaves a PaymentIntent to confirm);
paying a paid invoice is refused; `invoice.paid` accompanies `invoice.payment_succeeded`;
`confirmation_secret` exposes the payment's client secret (API >= 2025-03-31); every invoice
lists its `payments` (`invoice_payment` objects, API >= 2025-03-31) next to the legacy
`payment_intent` and `charge`, and `invoice_payment.paid` accompanies `invoice.paid`;
`parent.subscription_details` carries the subscription's metadata as of finalization; a
finalized invoice has a `number` (the customer's prefix and a sequence, as Stripe numbers them),
a `hosted_invoice_url` and an `invoice_pdf` (pages the emulator serves: `invoice_pages`);
`amount_remaining`; lines come 10 to a page with `has_more`, and `GET /v1/invoices/{id}/lines`
pages on with `limit` and `starting_after`.
https://docs.stripe.com/api/invoices, https://docs.stripe.com/api/invoice-payment,
https://docs.stripe.com/invoicing/hosted-invoice-page
"""

import localstripe.resources as R
from localstripe.errors import UserError

from . import once
from .events import emit, quietly
from .invoice_payments import payments_list, payments_of, record_payment
from .subscriptions import defer_first_payment, pending_default_pm

_orig_invoice_on_success = None
_orig_invoice_finalize = None

# Where the emulator listens, for the hosted invoice pages' URLs (the launcher sets it).
PUBLIC_BASE = 'http://127.0.0.1'
# Invoices numbered so far, per customer (Stripe numbers each customer's invoices in sequence).
_numbers = {}


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
    # Numbered at finalization: the customer's prefix, then its sequence (ABCD1234-0001).
    seq = _numbers.get(self.customer, 0) + 1
    _numbers[self.customer] = seq
    self._tg_number = '%s-%04d' % (self.customer[4:12].upper(), seq)
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


def _invoice_number(self):
    return getattr(self, '_tg_number', None)


def _invoice_hosted_url(self):
    return PUBLIC_BASE + '/i/' + self.id if _invoice_number(self) else None


def _invoice_pdf(self):
    return PUBLIC_BASE + '/i/' + self.id + '/pdf' if _invoice_number(self) else None


def _invoice_amount_remaining(self):
    return 0 if self.status in ('paid', 'void') else self.amount_due


@classmethod
def _invoice_api_list_lines(cls, id, limit=None, starting_after=None, **kwargs):
    if kwargs:
        raise UserError(400, 'Received unknown parameter: ' + ', '.join(kwargs.keys()))
    obj = cls._api_retrieve(id)
    lines = R.List('/v1/invoices/' + id + '/lines', limit=limit, starting_after=starting_after)
    lines._list = obj.lines._list
    return lines


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
    R.Invoice.number = property(_invoice_number)
    R.Invoice.hosted_invoice_url = property(_invoice_hosted_url)
    R.Invoice.invoice_pdf = property(_invoice_pdf)
    R.Invoice.amount_remaining = property(_invoice_amount_remaining)
    R.Invoice._api_list_lines = _invoice_api_list_lines
