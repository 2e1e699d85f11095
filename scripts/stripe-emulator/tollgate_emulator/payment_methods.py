"""PaymentMethods: the canonical test ids (`pm_card_visa`, ...) exist; cards report brand,
country and checks; attaching declines for Stripe's declining test cards and refuses a method
already attached to another customer; detaching clears the customer's default;
`payment_method.attached` / `payment_method.detached` are emitted.
https://docs.stripe.com/testing#cards, https://docs.stripe.com/api/payment_methods
"""

import time

import localstripe.resources as R
from localstripe.errors import UserError

from . import once
from .errors import DECLINE_ON_ATTACH, DECLINES, raise_attach_decline
from .events import emit, quietly

# Canonical test PaymentMethod ids: https://docs.stripe.com/testing#cards
TEST_PAYMENT_METHODS = {
    'pm_card_visa': '4242424242424242',
    'pm_card_visa_debit': '4000056655665556',
    'pm_card_mastercard': '5555555555554444',
    'pm_card_discover': '6011111111111117',
    'pm_card_visa_chargeDeclined': '4000000000000002',
    'pm_card_chargeDeclined': '4000000000000002',
    'pm_card_visa_chargeDeclinedInsufficientFunds': '4000000000009995',
    'pm_card_chargeDeclinedInsufficientFunds': '4000000000009995',
    'pm_card_visa_chargeDeclinedLostCard': '4000000000009987',
    'pm_card_visa_chargeDeclinedStolenCard': '4000000000009979',
    'pm_card_chargeDeclinedExpiredCard': '4000000000000069',
    'pm_card_chargeDeclinedIncorrectCvc': '4000000000000127',
    'pm_card_chargeDeclinedProcessingError': '4000000000000119',
    'pm_card_chargeCustomerFail': '4000000000000341',
    'pm_card_authenticationRequired': '4000002500003155',
    'pm_card_threeDSecure2Required': '4000000000003220',
    'pm_card_authenticationRequiredOnSetup': '4000002500003155',
}


def card_brand(number):
    if number.startswith('4'):
        return 'visa'
    if number[:2] in ('51', '52', '53', '54', '55') or 2221 <= int(number[:4]) <= 2720:
        return 'mastercard'
    if number.startswith('6011') or number.startswith('65'):
        return 'discover'
    if number[:2] in ('34', '37'):
        return 'amex'
    return 'unknown'


_orig_pm_init = None
_orig_pm_api_detach = None


def _pm_init(self, *args, **kwargs):
    _orig_pm_init(self, *args, **kwargs)
    if self.type == 'card':
        self.card['brand'] = card_brand(self._card_number)
        self.card['country'] = 'US'
        self.card['checks'] = {'cvc_check': 'pass', 'address_line1_check': None,
                               'address_postal_code_check': None}


@classmethod
def _pm_test_article(cls, id):
    number = TEST_PAYMENT_METHODS.get(id)
    if number is None:
        return None
    return quietly(R.PaymentMethod, type='card', card=dict(
        number=number, exp_month='12', exp_year=str(time.gmtime().tm_year + 4), cvc='123'))


def _pm_attaching_is_declined(self):
    return self.type == 'card' and self._card_number in DECLINE_ON_ATTACH


def _pm_charging_is_declined(self):
    if self.type == 'card':
        return self._card_number in DECLINES or self._card_number in (
            '4000008260003178', '4000008400001629')
    if self.type == 'sepa_debit':
        return self._sepa_debit_iban == 'DE62370400440532013001'
    return False


@classmethod
def _pm_api_attach(cls, id, customer=None, **kwargs):
    if kwargs:
        raise UserError(400, 'Unexpected ' + ', '.join(kwargs.keys()))
    if not (isinstance(id, str) and id.startswith('pm_')):
        raise UserError(400, 'Bad request')
    if not (isinstance(customer, str) and customer.startswith('cus_')):
        raise UserError(400, 'Bad request')
    obj = cls._api_retrieve(id)
    R.Customer._api_retrieve(customer)
    if obj.customer is not None and obj.customer != customer:
        # Stripe: a PaymentMethod attached to one customer cannot be attached to another.
        raise UserError(400, 'The payment method you provided has already been attached to '
                             'a customer.', {'code': 'payment_method_unexpected_state'})
    if obj._attaching_is_declined():
        raise_attach_decline(obj)
    obj.customer = customer
    emit('payment_method.attached', obj)
    return obj


@classmethod
def _pm_api_detach(cls, id, **kwargs):
    obj = _orig_pm_api_detach(cls, id, **kwargs)
    # Stripe clears a detached method from the customer's invoice settings too.
    for key, value in list(R.store.items()):
        if key.startswith('customer:') and \
                value.invoice_settings.get('default_payment_method') == obj.id:
            value.invoice_settings['default_payment_method'] = None
    emit('payment_method.detached', obj)
    return obj


@once
def install():
    global _orig_pm_init, _orig_pm_api_detach
    _orig_pm_init = R.PaymentMethod.__init__
    R.PaymentMethod.__init__ = _pm_init
    R.PaymentMethod._try_get_canonical_test_article = _pm_test_article
    R.PaymentMethod._attaching_is_declined = _pm_attaching_is_declined
    R.PaymentMethod._charging_is_declined = _pm_charging_is_declined
    _orig_pm_api_detach = R.PaymentMethod._api_detach.__func__
    R.PaymentMethod._api_attach = _pm_api_attach
    R.PaymentMethod._api_detach = _pm_api_detach
