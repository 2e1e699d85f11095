"""Errors: card failures are `card_error` (HTTP 402) with `code` and `decline_code`, not
`invalid_request_error`; Stripe's test cards decline with their documented codes; a reused
idempotency key gives an `idempotency_error`; an object that does not exist is a 404
`resource_missing` naming it ("No such payment_intent: 'pi_…'", `param` `intent` for
PaymentIntents and `id` otherwise), where localstripe said only "Not Found".
https://docs.stripe.com/error-codes (resource_missing), https://docs.stripe.com/declines/codes,
https://docs.stripe.com/testing
"""

from localstripe import resources
from localstripe.errors import UserError

from . import once

CARD_ERROR_CODES = {'card_declined', 'expired_card', 'incorrect_cvc', 'incorrect_number',
                    'processing_error', 'authentication_required', 'insufficient_funds'}
_orig_user_error_init = None


def _user_error_init(self, code, message=None, contents=None):
    _orig_user_error_init(self, code, message, contents)
    err = self.body['error']
    if err.get('code') in CARD_ERROR_CODES:
        err['type'] = 'card_error'
        err.setdefault('decline_code', 'generic_decline')


def idempotency_error(message):
    e = UserError(400, message)
    e.body['error']['type'] = 'idempotency_error'
    return e


# Test cards and what Stripe answers for them: https://docs.stripe.com/testing
# number -> (error code, decline code, message)
DECLINES = {
    '4000000000000002': ('card_declined', 'generic_decline', 'Your card was declined.'),
    '4000000000009995': ('card_declined', 'insufficient_funds',
                         'Your card has insufficient funds.'),
    '4000000000009987': ('card_declined', 'lost_card', 'Your card was declined.'),
    '4000000000009979': ('card_declined', 'stolen_card', 'Your card was declined.'),
    '4000000000000069': ('expired_card', 'expired_card', 'Your card has expired.'),
    '4000000000000127': ('incorrect_cvc', 'incorrect_cvc',
                         "Your card's security code is incorrect."),
    '4000000000000119': ('processing_error', 'processing_error',
                         'An error occurred while processing your card. Try again in a little bit.'),
    '4242424242424241': ('incorrect_number', 'incorrect_number', 'Your card number is incorrect.'),
    # Attaches fine, declines when charged.
    '4000000000000341': ('card_declined', 'generic_decline', 'Your card was declined.'),
}
# Cards that decline when attached to a customer (0341 attaches and declines later).
DECLINE_ON_ATTACH = set(DECLINES) - {'4000000000000341'}


def decline_for(pm):
    """(error code, decline code, message) for a declined PaymentMethod."""
    number = getattr(pm, '_card_number', None)
    return DECLINES.get(number, ('card_declined', 'generic_decline', 'Your card was declined.'))


def raise_attach_decline(pm):
    code, decline_code, message = decline_for(pm)
    raise UserError(402, message, {'code': code, 'decline_code': decline_code,
                                   'param': 'payment_method'})


# The parameter Stripe names in a resource_missing error for each object (its path argument).
MISSING_PARAM = {'payment_intent': 'intent', 'setup_intent': 'intent'}


def _api_retrieve(cls, id):
    obj = resources.store.get(cls.object + ':' + id)
    if obj is None:
        raise UserError(404, "No such %s: '%s'" % (cls.object, id),
                        {'code': 'resource_missing',
                         'param': MISSING_PARAM.get(cls.object, 'id')})
    return obj


@once
def install():
    global _orig_user_error_init
    _orig_user_error_init = UserError.__init__
    UserError.__init__ = _user_error_init
    resources.StripeObject._api_retrieve = classmethod(_api_retrieve)
