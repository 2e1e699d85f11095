"""Charges: a failed charge keeps the test card's `failure_code`, `outcome` and decline code,
so PaymentIntents and invoices report it; card errors raised while confirming a PaymentIntent
include the PaymentIntent; `payment_method_details` describes the card; a succeeded charge has
a `receipt_url` (a public page the emulator serves, `invoice_pages`) and a `receipt_number`.
https://docs.stripe.com/api/charges/object, https://docs.stripe.com/receipts
"""

import localstripe.resources as R
from localstripe.errors import UserError

from . import once
from .errors import decline_for


def _charge_set_auth_failure(self):
    pm = R.PaymentMethod._api_retrieve(self.payment_method)
    code, decline_code, message = decline_for(pm)
    self.status = 'failed'
    self.failure_code = code
    self.failure_message = message
    self.outcome = {'type': 'issuer_declined', 'reason': decline_code,
                    'network_status': 'declined_by_network'}
    self._decline_code = decline_code


def _charge_raise_failure(self):
    contents = {'code': self.failure_code,
                'decline_code': getattr(self, '_decline_code', 'generic_decline'),
                'charge': self.id}
    if self.payment_intent:
        # Stripe includes the PaymentIntent in card errors raised while confirming it.
        pi = R.PaymentIntent._api_retrieve(self.payment_intent)
        contents['payment_intent'] = pi._export()
    raise UserError(402, self.failure_message, contents)


def _charge_payment_method_details(self):
    pm = R.PaymentMethod._api_retrieve(self.payment_method)
    if pm.type != 'card':
        return {'type': pm.type}
    return {'type': 'card', 'card': {k: pm.card[k] for k in
                                     ('brand', 'last4', 'exp_month', 'exp_year', 'country',
                                      'fingerprint', 'funding')}}


def _charge_receipt_url(self):
    from . import invoices
    return invoices.PUBLIC_BASE + '/r/' + self.id if self.status == 'succeeded' else None


def _charge_receipt_number(self):
    # Stripe numbers receipts like 1234-5678; derived from the charge so it is stable.
    if self.status != 'succeeded':
        return None
    digits = ''.join(str(ord(c) % 10) for c in self.id[3:11])
    return '%s-%s' % (digits[:4], digits[4:8])


@once
def install():
    R.Charge._set_auth_failure = _charge_set_auth_failure
    R.Charge._raise_failure = _charge_raise_failure
    R.Charge.payment_method_details = property(_charge_payment_method_details)
    R.Charge.receipt_url = property(_charge_receipt_url)
    R.Charge.receipt_number = property(_charge_receipt_number, lambda self, value: None)
