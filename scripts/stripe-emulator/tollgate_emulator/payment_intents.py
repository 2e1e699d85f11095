"""PaymentIntents: accept the parameters Stripe accepts and Tollgate sends
(`automatic_payment_methods`, `description`, ...); `confirm` takes a `payment_method`;
`amount_received`, `canceled_at`, `cancellation_reason` and a card-error `last_payment_error`
are reported; lifecycle events (`created`, `requires_action`, `processing`, `canceled`) are
emitted. https://docs.stripe.com/api/payment_intents
"""

import time

import localstripe.resources as R
from localstripe.errors import UserError

from . import once
from .events import emit

_PI_EXTRA = ('automatic_payment_methods', 'description', 'receipt_email', 'setup_future_usage',
             'statement_descriptor', 'statement_descriptor_suffix', 'return_url',
             'use_stripe_sdk', 'error_on_requires_action', 'mandate_data')
_orig_pi_init = None
_orig_pi_api_create = None
_orig_pi_confirm = None
_orig_pi_api_cancel = None


def _pi_init(self, *args, **kwargs):
    extra = {k: kwargs.pop(k) for k in _PI_EXTRA if k in kwargs}
    apm = extra.get('automatic_payment_methods')
    if apm is not None:
        if not isinstance(apm, dict) or \
                R.try_convert_to_bool(apm.get('enabled')) not in (True, False):
            raise UserError(400, 'Invalid automatic_payment_methods',
                            {'param': 'automatic_payment_methods[enabled]'})
        if kwargs.get('payment_method_types'):
            raise UserError(400, 'You may only specify one of these parameters: '
                                 'automatic_payment_methods, payment_method_types.')
    _orig_pi_init(self, *args, **kwargs)
    self.description = extra.get('description')
    self.receipt_email = extra.get('receipt_email')
    self.setup_future_usage = extra.get('setup_future_usage')
    self.automatic_payment_methods = (
        {'enabled': R.try_convert_to_bool(apm.get('enabled')),
         'allow_redirects': apm.get('allow_redirects', 'always')} if apm else None)
    self.payment_method_types = kwargs.get('payment_method_types') or ['card']
    self.amount_capturable = 0
    self.canceled_at = None
    self.cancellation_reason = None
    self.confirmation_method = 'automatic'


@classmethod
def _pi_api_create(cls, **data):
    confirm = R.try_convert_to_bool(data.get('confirm'))
    # Stripe emits `payment_intent.created` before any confirmation outcome.
    obj = _orig_pi_api_create(cls, **{**data, 'confirm': None})
    emit('payment_intent.created', obj)
    if confirm:
        obj._confirm(on_failure_now=obj._report_failure)
    return obj


@classmethod
def _pi_api_confirm(cls, id, payment_method=None, **kwargs):
    for k in ('return_url', 'off_session', 'use_stripe_sdk', 'client_secret',
              'error_on_requires_action', 'mandate_data', 'setup_future_usage'):
        kwargs.pop(k, None)
    if kwargs:
        raise UserError(400, 'Unexpected ' + ', '.join(kwargs.keys()))
    if not (isinstance(id, str) and id.startswith('pi_')):
        raise UserError(400, 'Bad request')
    obj = cls._api_retrieve(id)
    if payment_method is not None:
        if obj.status not in ('requires_payment_method', 'requires_confirmation'):
            raise UserError(400, 'This PaymentIntent\'s payment_method could not be updated '
                                 'because it has a status of %s.' % obj.status,
                            {'code': 'payment_intent_unexpected_state'})
        R.PaymentMethod._api_retrieve(payment_method)  # 404 if unknown
        obj.payment_method = payment_method
        obj.latest_charge = None
        obj._authentication_failed = False
    if obj.status != 'requires_confirmation':
        raise UserError(400, 'You cannot confirm this PaymentIntent because it has a status '
                             'of %s.' % obj.status, {'code': 'payment_intent_unexpected_state'})
    obj._confirm(on_failure_now=obj._report_failure)
    return obj


def _pi_confirm(self, on_failure_now):
    _orig_pi_confirm(self, on_failure_now)
    if self.status == 'requires_action':
        emit('payment_intent.requires_action', self)
    elif self.status == 'processing':
        emit('payment_intent.processing', self)


@classmethod
def _pi_api_cancel(cls, id, cancellation_reason=None, **kwargs):
    obj = _orig_pi_api_cancel(cls, id, **kwargs)
    obj.canceled_at = int(time.time())
    obj.cancellation_reason = cancellation_reason
    emit('payment_intent.canceled', obj)
    return obj


def _pi_last_payment_error(self):
    if self._authentication_failed:
        return {'type': 'card_error', 'code': 'payment_intent_authentication_failure',
                'message': 'The provided PaymentMethod has failed authentication.'}
    charge = self.latest_charge
    if charge is not None and charge.status == 'failed':
        return {'type': 'card_error', 'charge': charge.id, 'code': charge.failure_code,
                'decline_code': getattr(charge, '_decline_code', None),
                'message': charge.failure_message}
    return None


@once
def install():
    global _orig_pi_init, _orig_pi_api_create, _orig_pi_confirm, _orig_pi_api_cancel
    _orig_pi_init = R.PaymentIntent.__init__
    R.PaymentIntent.__init__ = _pi_init
    R.PaymentIntent.amount_received = property(
        lambda self: self.amount if self.status == 'succeeded' else 0)
    _orig_pi_api_create = R.PaymentIntent._api_create.__func__
    R.PaymentIntent._api_create = _pi_api_create
    R.PaymentIntent._api_confirm = _pi_api_confirm
    _orig_pi_confirm = R.PaymentIntent._confirm
    R.PaymentIntent._confirm = _pi_confirm
    _orig_pi_api_cancel = R.PaymentIntent._api_cancel.__func__
    R.PaymentIntent._api_cancel = _pi_api_cancel
    R.PaymentIntent.last_payment_error = property(_pi_last_payment_error)
