"""Charges: a failed charge keeps the test card's `failure_code`, `outcome` and decline code,
so PaymentIntents and invoices report it; card errors raised while confirming a PaymentIntent
include the PaymentIntent; `payment_method_details` describes the card.
https://docs.stripe.com/api/charges/object
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


@once
def install():
    R.Charge._set_auth_failure = _charge_set_auth_failure
    R.Charge._raise_failure = _charge_raise_failure
    R.Charge.payment_method_details = property(_charge_payment_method_details)
