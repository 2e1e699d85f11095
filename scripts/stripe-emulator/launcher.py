#!/usr/bin/env python3
"""Tollgate's Stripe emulator: localstripe 1.15.10, adjusted to behave closer to today's Stripe.

localstripe is a stateful Stripe emulator, but version 1.15.10 is far from the current API. This
launcher imports it and patches its aiohttp app and resource classes in memory before serving;
nothing in site-packages is edited. Each adjustment below names the Stripe behaviour it imitates,
and `tests/api/emulator.rs` covers each one.

Usage: launcher.py [--port 0] [--host 127.0.0.1]
Prints `LISTENING <port>` on stdout once it accepts connections.

Test-only control routes (never part of Stripe):
  POST   /_config/webhooks/{id}   url, secret, events[]   register a webhook endpoint (stock)
  POST   /_config/chaos           mode=error|hang, count=N  fail the next N /v1 requests
  DELETE /_config/chaos                                      stop failing
  DELETE /_config/data                                       forget every object (stock)
  GET    /_config/requests                                   every /v1 request seen: method, path
"""

import argparse
import asyncio
import contextvars
import ctypes
import hashlib
import json
import os
import signal
import socket
import sys
import time

from aiohttp import web

import localstripe.errors as errors
import localstripe.resources as R
import localstripe.server as S
import localstripe.webhooks as W

UserError = errors.UserError

# ---------------------------------------------------------------------------------------------
# Store: keep everything in memory. Stock localstripe pickles the whole store to
# /tmp/localstripe.pickle on every write, which is slow and leaks state between runs.
R.Store.dump_to_disk = lambda self: None
R.Store.try_load_from_disk = lambda self: None

# ---------------------------------------------------------------------------------------------
# Events: Stripe events carry `request` (id and idempotency key of the API call that caused
# them) and `pending_webhooks`.
_current_request = contextvars.ContextVar('current_request', default=None)
_muted = contextvars.ContextVar('muted_events', default=False)

_orig_event_init = R.Event.__init__


def _event_init(self, type, data):
    _orig_event_init(self, type, data)
    req = _current_request.get()
    self.request = {'id': req['id'] if req else None,
                    'idempotency_key': req['idempotency_key'] if req else None}
    self.pending_webhooks = sum(
        1 for w in W._webhooks.values() if w.events is None or type in w.events)


R.Event.__init__ = _event_init

_orig_schedule_webhook = R.schedule_webhook


def schedule_webhook(event):
    if not _muted.get():
        _orig_schedule_webhook(event)


R.schedule_webhook = schedule_webhook


def emit(type, obj, previous_attributes=None):
    event = R.Event(type, obj)
    if previous_attributes:
        event.data['previous_attributes'] = previous_attributes
    schedule_webhook(event)
    return event


def quietly(fn, *args, **kwargs):
    """Runs fn without emitting events (for objects Stripe creates behind the scenes)."""
    token = _muted.set(True)
    try:
        return fn(*args, **kwargs)
    finally:
        _muted.reset(token)


def _diff(before, after):
    return {k: before.get(k) for k in after.keys() | before.keys()
            if k not in ('items',) and before.get(k) != after.get(k)}


# ---------------------------------------------------------------------------------------------
# Errors: card failures are `card_error` (HTTP 402) with `code` and `decline_code`, not
# `invalid_request_error`. https://docs.stripe.com/error-codes and /declines/codes
CARD_ERROR_CODES = {'card_declined', 'expired_card', 'incorrect_cvc', 'incorrect_number',
                    'processing_error', 'authentication_required', 'insufficient_funds'}
_orig_user_error_init = UserError.__init__


def _user_error_init(self, code, message=None, contents=None):
    _orig_user_error_init(self, code, message, contents)
    err = self.body['error']
    if err.get('code') in CARD_ERROR_CODES:
        err['type'] = 'card_error'
        err.setdefault('decline_code', 'generic_decline')


UserError.__init__ = _user_error_init


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


_orig_pm_init = R.PaymentMethod.__init__


def _pm_init(self, *args, **kwargs):
    _orig_pm_init(self, *args, **kwargs)
    if self.type == 'card':
        self.card['brand'] = card_brand(self._card_number)
        self.card['country'] = 'US'
        self.card['checks'] = {'cvc_check': 'pass', 'address_line1_check': None,
                               'address_postal_code_check': None}


R.PaymentMethod.__init__ = _pm_init


@classmethod
def _pm_test_article(cls, id):
    number = TEST_PAYMENT_METHODS.get(id)
    if number is None:
        return None
    return quietly(R.PaymentMethod, type='card', card=dict(
        number=number, exp_month='12', exp_year=str(time.gmtime().tm_year + 4), cvc='123'))


R.PaymentMethod._try_get_canonical_test_article = _pm_test_article


def _pm_attaching_is_declined(self):
    return self.type == 'card' and self._card_number in DECLINE_ON_ATTACH


def _pm_charging_is_declined(self):
    if self.type == 'card':
        return self._card_number in DECLINES or self._card_number in (
            '4000008260003178', '4000008400001629')
    if self.type == 'sepa_debit':
        return self._sepa_debit_iban == 'DE62370400440532013001'
    return False


R.PaymentMethod._attaching_is_declined = _pm_attaching_is_declined
R.PaymentMethod._charging_is_declined = _pm_charging_is_declined


def _decline_for(pm):
    number = getattr(pm, '_card_number', None)
    return DECLINES.get(number, ('card_declined', 'generic_decline', 'Your card was declined.'))


def _raise_attach_decline(pm):
    code, decline_code, message = _decline_for(pm)
    raise UserError(402, message, {'code': code, 'decline_code': decline_code,
                                   'param': 'payment_method'})


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
        _raise_attach_decline(obj)
    obj.customer = customer
    emit('payment_method.attached', obj)
    return obj


_orig_pm_api_detach = R.PaymentMethod._api_detach.__func__


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


R.PaymentMethod._api_attach = _pm_api_attach
R.PaymentMethod._api_detach = _pm_api_detach


def _seti_attach_pm(self, pm):
    self.payment_method = pm.id
    if pm._attaching_is_declined():
        self.status = 'requires_payment_method'
        self.next_action = None
        self.last_setup_error = dict(zip(('code', 'decline_code', 'message'), _decline_for(pm)),
                                     type='card_error')
        _raise_attach_decline(pm)
    elif pm._requires_authentication():
        self.status = 'requires_action'
        self.next_action = {'type': 'use_stripe_sdk',
                            'use_stripe_sdk': {'type': 'three_d_secure_redirect',
                                               'stripe_js': ''}}
    else:
        self.status = 'succeeded'
        self.next_action = None
        if self.customer:
            # Stripe attaches the method to the SetupIntent's customer on success.
            R.PaymentMethod._api_attach(pm.id, customer=self.customer)


R.SetupIntent._attach_pm = _seti_attach_pm


# Charge failures keep the per-card code, so PaymentIntents and invoices report it.
def _charge_set_auth_failure(self):
    pm = R.PaymentMethod._api_retrieve(self.payment_method)
    code, decline_code, message = _decline_for(pm)
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


R.Charge._set_auth_failure = _charge_set_auth_failure
R.Charge._raise_failure = _charge_raise_failure


def _charge_payment_method_details(self):
    pm = R.PaymentMethod._api_retrieve(self.payment_method)
    if pm.type != 'card':
        return {'type': pm.type}
    return {'type': 'card', 'card': {k: pm.card[k] for k in
                                     ('brand', 'last4', 'exp_month', 'exp_year', 'country',
                                      'fingerprint', 'funding')}}


R.Charge.payment_method_details = property(_charge_payment_method_details)

# ---------------------------------------------------------------------------------------------
# PaymentIntents: accept the parameters Stripe accepts and Tollgate sends; `confirm` takes a
# `payment_method`; lifecycle events are emitted.
_PI_EXTRA = ('automatic_payment_methods', 'description', 'receipt_email', 'setup_future_usage',
             'statement_descriptor', 'statement_descriptor_suffix', 'return_url',
             'use_stripe_sdk', 'error_on_requires_action', 'mandate_data')
_orig_pi_init = R.PaymentIntent.__init__


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


R.PaymentIntent.__init__ = _pi_init
R.PaymentIntent.amount_received = property(
    lambda self: self.amount if self.status == 'succeeded' else 0)

_orig_pi_api_create = R.PaymentIntent._api_create.__func__


@classmethod
def _pi_api_create(cls, **data):
    confirm = R.try_convert_to_bool(data.get('confirm'))
    # Stripe emits `payment_intent.created` before any confirmation outcome.
    obj = _orig_pi_api_create(cls, **{**data, 'confirm': None})
    emit('payment_intent.created', obj)
    if confirm:
        obj._confirm(on_failure_now=obj._report_failure)
    return obj


R.PaymentIntent._api_create = _pi_api_create


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


R.PaymentIntent._api_confirm = _pi_api_confirm

_orig_pi_confirm = R.PaymentIntent._confirm


def _pi_confirm(self, on_failure_now):
    _orig_pi_confirm(self, on_failure_now)
    if self.status == 'requires_action':
        emit('payment_intent.requires_action', self)
    elif self.status == 'processing':
        emit('payment_intent.processing', self)


R.PaymentIntent._confirm = _pi_confirm

_orig_pi_api_cancel = R.PaymentIntent._api_cancel.__func__


@classmethod
def _pi_api_cancel(cls, id, cancellation_reason=None, **kwargs):
    obj = _orig_pi_api_cancel(cls, id, **kwargs)
    obj.canceled_at = int(time.time())
    obj.cancellation_reason = cancellation_reason
    emit('payment_intent.canceled', obj)
    return obj


R.PaymentIntent._api_cancel = _pi_api_cancel


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


R.PaymentIntent.last_payment_error = property(_pi_last_payment_error)

# ---------------------------------------------------------------------------------------------
# Refunds: accept `reason`; refuse to refund more than what is left on the charge; a refund
# without `amount` refunds what is left; emit `charge.refunded` and `refund.created`.
REFUND_REASONS = ('duplicate', 'fraudulent', 'requested_by_customer')
_orig_refund_init = R.Refund.__init__


def _refund_init(self, charge=None, payment_intent=None, amount=None, metadata=None,
                 reason=None, **kwargs):
    if reason is not None and reason not in REFUND_REASONS:
        raise UserError(400, 'Invalid reason: must be one of ' + ', '.join(REFUND_REASONS),
                        {'param': 'reason'})
    charge_obj = None
    if payment_intent is not None and charge is None:
        pi = R.PaymentIntent._api_retrieve(payment_intent)
        charge_obj = pi.latest_charge
    elif charge is not None:
        charge_obj = R.Charge._api_retrieve(charge)
    if charge_obj is not None and charge_obj.status == 'succeeded':
        remaining = charge_obj.amount - charge_obj.amount_refunded
        wanted = R.try_convert_to_int(amount) if amount is not None else remaining
        if remaining <= 0:
            raise UserError(400, 'Charge %s has already been refunded.' % charge_obj.id,
                            {'code': 'charge_already_refunded'})
        if isinstance(wanted, int) and wanted > remaining:
            raise UserError(400, 'Refund amount (%d) is greater than unrefunded amount on '
                                 'charge (%d)' % (wanted, remaining),
                            {'code': 'amount_too_large', 'param': 'amount'})
        amount = wanted
    _orig_refund_init(self, charge=charge, payment_intent=payment_intent, amount=amount,
                      metadata=metadata, **kwargs)
    self.reason = reason
    if self.payment_intent is None:
        self.payment_intent = charge_obj.payment_intent if charge_obj else None
    emit('refund.created', self)
    emit('charge.refunded', R.Charge._api_retrieve(self.charge))


R.Refund.__init__ = _refund_init

# ---------------------------------------------------------------------------------------------
# Products: accept `marketing_features` and `default_price_data`-less creation as Stripe does;
# emit `product.updated`.
_orig_product_init = R.Product.__init__


def _product_init(self, *args, marketing_features=None, **kwargs):
    _orig_product_init(self, *args, **kwargs)
    self.marketing_features = [
        {'name': f['name'] if isinstance(f, dict) else str(f)}
        for f in (marketing_features or [])]
    self.default_price = None
    self.updated = self.created


R.Product.__init__ = _product_init
_orig_product_api_update = R.Product._api_update.__func__


@classmethod
def _product_api_update(cls, id, **data):
    before = cls._api_retrieve(id)._export()
    obj = _orig_product_api_update(cls, id, **data)
    obj.updated = int(time.time())
    emit('product.updated', obj, _diff(before, obj._export()))
    return obj


R.Product._api_update = _product_api_update

# ---------------------------------------------------------------------------------------------
# Prices API (/v1/prices), missing from localstripe. https://docs.stripe.com/api/prices
# A recurring price is also registered as a plan with the same id, as Stripe does, so that
# localstripe's subscription machinery can bill it.
INTERVALS = ('day', 'week', 'month', 'year')


class Price(R.StripeObject):
    object = 'price'
    _id_prefix = 'price_'

    def __init__(self, currency=None, unit_amount=None, product=None, product_data=None,
                 recurring=None, active=True, nickname=None, lookup_key=None, metadata=None,
                 tax_behavior=None, billing_scheme='per_unit', **kwargs):
        if kwargs:
            raise UserError(400, 'Received unknown parameter: ' + ', '.join(kwargs.keys()))
        unit_amount = R.try_convert_to_int(unit_amount)
        active = R.try_convert_to_bool(active)
        if not (isinstance(currency, str) and len(currency) == 3 and currency.isalpha()):
            raise UserError(400, 'Invalid currency', {'param': 'currency'})
        if not (isinstance(unit_amount, int) and 0 <= unit_amount <= 99999999):
            raise UserError(400, 'Invalid integer: unit_amount', {'param': 'unit_amount'})
        if billing_scheme != 'per_unit':
            raise UserError(400, 'Only billing_scheme=per_unit is emulated',
                            {'param': 'billing_scheme'})
        if not isinstance(active, bool):
            raise UserError(400, 'Invalid boolean: active', {'param': 'active'})
        if (product is None) == (product_data is None):
            raise UserError(400, 'You must specify exactly one of product or product_data.')
        if recurring is not None:
            if not isinstance(recurring, dict) or recurring.get('interval') not in INTERVALS:
                raise UserError(400, 'Invalid recurring[interval]',
                                {'param': 'recurring[interval]'})
            count = R.try_convert_to_int(recurring.get('interval_count', 1))
            limit = {'day': 365, 'week': 52, 'month': 12, 'year': 1}[recurring['interval']]
            if not (isinstance(count, int) and 1 <= count <= limit):
                raise UserError(400, 'The maximum billing interval is one year.',
                                {'param': 'recurring[interval_count]'})
            recurring = {'interval': recurring['interval'], 'interval_count': count,
                         'usage_type': 'licensed', 'aggregate_usage': None,
                         'trial_period_days': None, 'meter': None}
        if product is not None:
            R.Product._api_retrieve(product)  # 404 if unknown
        else:
            if not isinstance(product_data, dict) or not product_data.get('name'):
                raise UserError(400, 'Missing required param: product_data[name].')
            product = R.Product(name=product_data['name'],
                                metadata=product_data.get('metadata')).id
        super().__init__()
        self.currency = currency.lower()
        self.unit_amount = unit_amount
        self.unit_amount_decimal = str(unit_amount)
        self.product = product
        self.recurring = recurring
        self.type = 'recurring' if recurring else 'one_time'
        self.active = active
        self.nickname = nickname
        self.lookup_key = lookup_key
        self.metadata = metadata or {}
        self.tax_behavior = tax_behavior or 'unspecified'
        self.billing_scheme = 'per_unit'
        self.custom_unit_amount = None
        self.tiers_mode = None
        self.transform_quantity = None
        if recurring:
            quietly(R.Plan, id=self.id, product=product, currency=self.currency,
                    amount=unit_amount, interval=recurring['interval'],
                    interval_count=recurring['interval_count'], active=active,
                    nickname=nickname)
        emit('price.created', self)

    @classmethod
    def _api_update(cls, id, active=None, nickname=None, metadata=None, lookup_key=None,
                    tax_behavior=None, **kwargs):
        if kwargs:
            raise UserError(400, 'Received unknown parameter: ' + ', '.join(kwargs.keys()))
        obj = cls._api_retrieve(id)
        before = obj._export()
        if active is not None:
            active = R.try_convert_to_bool(active)
            if not isinstance(active, bool):
                raise UserError(400, 'Invalid boolean: active', {'param': 'active'})
            obj.active = active
        if nickname is not None:
            obj.nickname = nickname or None
        if lookup_key is not None:
            obj.lookup_key = lookup_key or None
        if tax_behavior is not None:
            obj.tax_behavior = tax_behavior
        if metadata:
            if not isinstance(metadata, dict):
                raise UserError(400, 'Invalid metadata', {'param': 'metadata'})
            obj.metadata.update(metadata)
        plan = R.store.get('plan:' + id)
        if plan is not None:
            plan.active = obj.active
            plan.nickname = obj.nickname
        emit('price.updated', obj, _diff(before, obj._export()))
        return obj

    @classmethod
    def _api_delete(cls, id):
        raise UserError(405, 'Prices cannot be deleted; set active=false instead.')

    @classmethod
    def _api_list_all(cls, url, active=None, product=None, type=None, currency=None,
                      lookup_keys=None, recurring=None, limit=None, starting_after=None,
                      **kwargs):
        if kwargs:
            raise UserError(400, 'Received unknown parameter: ' + ', '.join(kwargs.keys()))
        li = R.List(url, limit=limit, starting_after=starting_after)
        items = [v for k, v in R.store.items() if k.startswith('price:')]
        active = R.try_convert_to_bool(active)
        if active is not None:
            items = [p for p in items if p.active == active]
        if product is not None:
            items = [p for p in items if p.product == product]
        if type is not None:
            items = [p for p in items if p.type == type]
        if currency is not None:
            items = [p for p in items if p.currency == currency.lower()]
        if lookup_keys is not None:
            keys = lookup_keys if isinstance(lookup_keys, list) else [lookup_keys]
            items = [p for p in items if p.lookup_key in keys]
        li._list = items
        return li


# ---------------------------------------------------------------------------------------------
# Subscriptions: items take `price`; `default_payment_method` is used to pay invoices; trials
# start `trialing` with dates; periods are also reported on items (API >= 2025-03-31);
# `customer.subscription.updated` is emitted; `invoice.paid` accompanies
# `invoice.payment_succeeded`.
_SUB_EXTRA = ('default_payment_method', 'description', 'off_session', 'collection_method',
              'payment_settings', 'cancel_at_period_end')
_pending_default_pm = contextvars.ContextVar('pending_default_pm', default=None)
# payment_behavior=default_incomplete: the first invoice gets a PaymentIntent for the client to
# confirm instead of being charged. https://docs.stripe.com/billing/subscriptions/build-subscriptions
_defer_first_payment = contextvars.ContextVar('defer_first_payment', default=False)


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


_orig_sub_init = R.Subscription.__init__


def _sub_init(self, *args, **kwargs):
    extra = {k: kwargs.pop(k) for k in _SUB_EXTRA if k in kwargs}
    kwargs['items'] = _items_price_to_plan(kwargs.get('items'))
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
    token = _pending_default_pm.set(pm)
    defer_token = _defer_first_payment.set(deferred)
    try:
        _orig_sub_init(self, *args, **kwargs)
    finally:
        _pending_default_pm.reset(token)
        _defer_first_payment.reset(defer_token)
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
    self._tg_announced = True


R.Subscription.__init__ = _sub_init


def _sub_item_period(self):
    sub = R.store.get('subscription:' + self._subscription) if self._subscription else None
    if sub is not None and sub.status == 'trialing' and sub.trial_end:
        return dict(start=sub.trial_start, end=sub.trial_end)
    return _orig_sub_item_period(self)


_orig_sub_item_period = R.SubscriptionItem._current_period
R.SubscriptionItem._current_period = _sub_item_period
R.SubscriptionItem.current_period_start = property(lambda s: s._current_period()['start'])
R.SubscriptionItem.current_period_end = property(lambda s: s._current_period()['end'])
R.SubscriptionItem.subscription = property(lambda s: s._subscription)


def _sub_item_price(self):
    price = R.store.get('price:' + self.plan.id)
    return price._export() if price is not None else None


R.SubscriptionItem.price = property(_sub_item_price)

_orig_sub_update = R.Subscription._update


def _sub_update(self, default_payment_method=None, proration_behavior=None,
                payment_behavior=None, description=None, cancel_at=None, **data):
    if 'items' in data:
        data['items'] = _items_price_to_plan(data['items'])
    if proration_behavior is not None:
        if proration_behavior not in ('create_prorations', 'none', 'always_invoice'):
            raise UserError(400, 'Invalid proration_behavior', {'param': 'proration_behavior'})
        data['prorate'] = proration_behavior != 'none'
    if default_payment_method:
        _check_customer_pm(self.customer, default_payment_method)
        self.default_payment_method = default_payment_method
    if description is not None:
        self.description = description
    if cancel_at == '':
        self.cancel_at = None
    elif cancel_at is not None:
        data['cancel_at'] = cancel_at
    _orig_sub_update(self, **data)
    if self.cancel_at_period_end:
        self.cancel_at = self.current_period_end
    elif cancel_at is None and data.get('cancel_at_period_end') is not None:
        self.cancel_at = None


R.Subscription._update = _sub_update


@classmethod
def _sub_api_update(cls, id, **data):
    obj = cls._api_retrieve(id)
    if obj.status in ('canceled', 'incomplete_expired'):
        raise UserError(400, 'A canceled subscription can only update its cancellation_details '
                             'and metadata.')
    before = obj._export()
    obj._update(**data)
    emit('customer.subscription.updated', obj, _diff(before, obj._export()))
    return obj


R.Subscription._api_update = _sub_api_update

_orig_sub_api_delete = R.Subscription._api_delete.__func__


@classmethod
def _sub_api_delete(cls, id, **kwargs):
    obj = cls._api_retrieve(id)
    if obj.status == 'canceled':
        raise UserError(400, 'No such subscription: %s (already canceled)' % id,
                        {'code': 'resource_missing'})
    obj.canceled_at = int(time.time())
    return _orig_sub_api_delete(cls, id)


R.Subscription._api_delete = _sub_api_delete

_orig_on_initial_success = R.Subscription._on_initial_payment_success


def _sub_on_initial_success(self, invoice):
    before = self._export() if getattr(self, '_tg_announced', False) else None
    _orig_on_initial_success(self, invoice)
    if before is not None:
        emit('customer.subscription.updated', self, _diff(before, self._export()))


R.Subscription._on_initial_payment_success = _sub_on_initial_success

_orig_invoice_on_success = R.Invoice._on_payment_success


def _invoice_on_success(self):
    _orig_invoice_on_success(self)
    emit('invoice.paid', self)


R.Invoice._on_payment_success = _invoice_on_success


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
    if _defer_first_payment.get():
        pi = quietly(R.PaymentIntent, amount=obj.total, currency=obj.currency,
                     customer=obj.customer)
        obj.payment_intent = pi.id
        pi.invoice = obj.id
        return obj
    pm_id = _pending_default_pm.get()
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


R.Invoice._api_pay_invoice = _invoice_api_pay


def _invoice_confirmation_secret(self):
    # Since API 2025-03-31 the client secret of an invoice's payment is exposed here.
    if not self.payment_intent:
        return None
    pi = R.PaymentIntent._api_retrieve(self.payment_intent)
    return {'client_secret': pi.client_secret, 'type': 'payment_intent'}


R.Invoice.confirmation_secret = property(_invoice_confirmation_secret)

# ---------------------------------------------------------------------------------------------
# Idempotency-Key: same key + same request replays the first response; same key + different
# request is a 400 `idempotency_error`. Keys are scoped to the API key, as Stripe does, and
# kept for 24 hours. https://docs.stripe.com/api/idempotent_requests
IDEMPOTENCY_TTL = 24 * 3600
_idempotency = {}  # (api key, idempotency key) -> dict(fingerprint, status, body, at, lock)


@web.middleware
async def idempotency_middleware(request, handler):
    key = request.headers.get('Idempotency-Key')
    request_id = 'req_' + R.random_id(14)
    if request.method != 'POST' or not key or not request.path.startswith('/v1/'):
        token = _current_request.set({'id': request_id, 'idempotency_key': None})
        try:
            response = await handler(request)
        finally:
            _current_request.reset(token)
        response.headers['Request-Id'] = request_id
        return response
    if len(key) > 255:
        return idempotency_error('Idempotency key is too long (maximum 255 characters).') \
            .to_response()
    body = await request.read()
    fingerprint = hashlib.sha256(request.method.encode() + b' ' + request.path.encode() +
                                 b'\n' + body).hexdigest()
    scope = (S.get_api_key(request), key)
    now = time.time()
    entry = _idempotency.get(scope)
    if entry is not None and now - entry['at'] > IDEMPOTENCY_TTL:
        entry = None
    if entry is None:
        entry = {'fingerprint': fingerprint, 'status': None, 'body': None, 'at': now,
                 'lock': asyncio.Lock()}
        _idempotency[scope] = entry
    if entry['fingerprint'] != fingerprint:
        return idempotency_error(
            'Keys for idempotent requests can only be used with the same parameters they were '
            'first used with. Try using a key other than \'%s\' if you meant to execute a '
            'different request.' % key).to_response()
    async with entry['lock']:
        if entry['status'] is not None:
            return web.Response(status=entry['status'], body=entry['body'],
                                content_type='application/json',
                                headers={'Idempotent-Replayed': 'true',
                                         'Original-Request': entry['request_id'],
                                         'Request-Id': request_id})
        token = _current_request.set({'id': request_id, 'idempotency_key': key})
        try:
            try:
                response = await handler(request)
            except UserError as e:
                response = e.to_response()
        finally:
            _current_request.reset(token)
        # Stripe does not save results of requests that failed before executing (5xx here).
        if response.status < 500:
            entry['status'] = response.status
            entry['body'] = response.body
            entry['request_id'] = request_id
        else:
            _idempotency.pop(scope, None)
        response.headers['Request-Id'] = request_id
        return response


# ---------------------------------------------------------------------------------------------
# Chaos: tests make the next N API requests fail (HTTP 500 api_error) or hang.
_chaos = {'mode': None, 'count': 0}


@web.middleware
async def chaos_middleware(request, handler):
    if request.path.startswith('/v1/') and _chaos['count'] > 0:
        _chaos['count'] -= 1
        if _chaos['mode'] == 'hang':
            await asyncio.sleep(3600)
        return S.json_response({'error': {'type': 'api_error',
                                          'message': 'Emulated Stripe outage'}}, status=500)
    return await handler(request)


async def config_chaos(request):
    if request.method == 'DELETE':
        _chaos.update(mode=None, count=0)
        return web.Response()
    data = await request.post()
    mode = data.get('mode')
    count = R.try_convert_to_int(data.get('count', '1'))
    if mode not in ('error', 'hang') or not isinstance(count, int) or count < 0:
        raise UserError(400, 'mode must be error or hang; count a non-negative integer')
    _chaos.update(mode=mode, count=count)
    return web.Response()


# ---------------------------------------------------------------------------------------------
# Request log: hostile-input tests assert that nothing (or exactly what) reached Stripe.
_requests = []


@web.middleware
async def request_log_middleware(request, handler):
    if request.path.startswith('/v1/'):
        # The raw path as sent, before any normalisation: an escaped `..` must show as sent.
        _requests.append({'method': request.method, 'path': request.raw_path})
    return await handler(request)


async def config_requests(request):
    return S.json_response({'requests': _requests})


# ---------------------------------------------------------------------------------------------
def rebind_patched_routes(app):
    """localstripe registered its extra routes (confirm, attach, pay, ...) with the functions as
    they were at import time; point them at the patched versions."""
    for method, url, func in R.extra_apis:
        owner, name = getattr(func, '__self__', None), getattr(func, '__name__', None)
        if owner is None or name is None:
            continue
        current = getattr(owner, name)
        if getattr(current, '__func__', current) is getattr(func, '__func__', func):
            continue
        for route in app.router.routes():
            if route.method == method and route.resource.canonical == url:
                route._handler = S.api_extra(current, url)


def build_app():
    app = S.app
    rebind_patched_routes(app)
    # Outermost first: chaos, then idempotency (it caches localstripe's error responses too).
    app.middlewares.insert(0, idempotency_middleware)
    app.middlewares.insert(0, chaos_middleware)
    app.middlewares.insert(0, request_log_middleware)
    url = '/v1/prices'
    app.router.add_route('POST', url, S.api_create(Price, url))
    app.router.add_route('GET', url + '/{id}', S.api_retrieve(Price, url))
    app.router.add_route('POST', url + '/{id}', S.api_update(Price, url))
    app.router.add_route('GET', url, S.api_list_all(Price, url))
    app.router.add_route('POST', '/_config/chaos', config_chaos)
    app.router.add_route('DELETE', '/_config/chaos', config_chaos)
    app.router.add_route('GET', '/_config/requests', config_requests)
    return app


def die_with_parent():
    """Stop when the process that started us dies, so a killed test leaves no emulator."""
    try:
        libc = ctypes.CDLL('libc.so.6', use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=0)
    parser.add_argument('--quiet', action='store_true', help='no access log')
    args = parser.parse_args()
    die_with_parent()

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    port = sock.getsockname()[1]
    # Listening now queues early connections until aiohttp accepts them.
    sock.listen(128)

    app = build_app()

    async def announce(_app):
        print('LISTENING %d' % port, flush=True)

    app.on_startup.append(announce)
    access_log = None
    if not args.quiet:
        import logging
        access_log = logging.getLogger('aiohttp.access')
        access_log.setLevel(logging.INFO)
        access_log.addHandler(logging.StreamHandler(sys.stderr))
    logging_webhooks = __import__('logging').getLogger('aiohttp.access')
    if args.quiet:
        logging_webhooks.disabled = True
    web.run_app(app, sock=sock, access_log=access_log, print=None)


if __name__ == '__main__':
    os.environ.setdefault('PYTHONUNBUFFERED', '1')
    main()
