"""Stripe.js: an emulated `https://js.stripe.com/v3/` close enough to today's for
`@stripe/react-stripe-js` and the card flows of an SPA, served at `/js.stripe.com/v3/`.

localstripe's own script (localstripe-v3.js) predates PaymentMethods: `createPaymentMethod` does
nothing, `confirmCardPayment` opens the 3-D Secure dialog for every card and never confirms with
the card entered, and its Element lacks `off`, `update`, `focus`, `clear` and the `ready` /
`change` events that react-stripe-js relies on. `stripe-v3.js` next to this file replaces it:
`createPaymentMethod`, `confirmCardPayment` (the 3-D Secure dialog only when the PaymentIntent
`requires_action`), `confirmCardSetup`, `handleCardAction`, `retrievePaymentIntent` and a card
Element with Stripe's methods and events. It keeps localstripe's dialog and its buttons
("Complete authentication" / "Fail authentication").
https://docs.stripe.com/js, https://docs.stripe.com/js/element/events

Stripe.js calls some endpoints with the publishable key instead of the secret key; localstripe
accepts `pk_` keys for a few (tokens, sources, SetupIntent confirm). `hook(app)` adds, for those
same client-side calls only, what today's Stripe.js needs: creating a PaymentMethod, and
confirming or retrieving a PaymentIntent when the request carries that PaymentIntent's
`client_secret` (as Stripe requires of publishable-key calls).

The browser tests (web/tests/browser/) cover it: a card that pays, one declined, one that asks
for 3-D Secure, saving cards through SetupIntents.
"""

import os
import re

import localstripe.resources as R
import localstripe.server as S
from aiohttp import web
from localstripe.errors import UserError

_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'stripe-v3.js')
_PI_CONFIRM = re.compile(r'^/v1/payment_intents/(pi_\w+)/confirm$')
_PI_RETRIEVE = re.compile(r'^/v1/payment_intents/(pi_\w+)$')


async def stripe_js(_request):
    # Read on each request, like localstripe does, so an edited script needs no restart.
    with open(_SCRIPT, encoding='utf-8') as f:
        return web.Response(text=f.read(), content_type='application/javascript',
                            headers={'Cache-Control': 'no-store'})


async def _publishable_key_call(request):
    """True when this is one of the client-side calls above, made with a `pk_` key (and, for a
    PaymentIntent, its client secret). Anything else goes through localstripe's own check."""
    if request.headers.get('Authorization'):
        return False
    if request.method == 'POST':
        data = await S.get_post_data(request, remove_auth=False) or {}
    elif request.method == 'GET':
        data = S.unflatten_data(request.query)
    else:
        return False
    key = data.get('key')
    if not (isinstance(key, str) and key.startswith('pk_')):
        return False
    if request.method == 'POST' and request.path == '/v1/payment_methods':
        return True
    match = (_PI_CONFIRM.match(request.path) if request.method == 'POST'
             else _PI_RETRIEVE.match(request.path))
    if match is None:
        return False
    intent = R.store.get('payment_intent:' + match.group(1))
    secret = data.get('client_secret')
    if intent is None or not isinstance(secret, str) or secret != intent.client_secret:
        # Stripe answers a wrong or missing client secret like an unknown object.
        raise UserError(404, 'No such payment_intent: \'%s\'' % match.group(1))
    return True


def _auth_with_publishable_keys(localstripe_auth):
    @web.middleware
    async def middleware(request, handler):
        if await _publishable_key_call(request):
            return await handler(request)
        # The hosted invoice page and PDF are public pages, as at Stripe (invoice_pages).
        if request.method == 'GET' and request.path.startswith(('/i/', '/r/')):
            return await handler(request)
        return await localstripe_auth(request, handler)
    return middleware


def hook(app):
    """Serves stripe-v3.js in place of localstripe's script and lets the publishable key make
    the client-side calls it needs. Call once, from app.build_app()."""
    for route in app.router.routes():
        if route.method == 'GET' and route.resource.canonical == '/js.stripe.com/v3/':
            route._handler = stripe_js
    index = app.middlewares.index(S.auth_middleware)
    # Inside localstripe's error middleware, so a refused client secret is a Stripe-shaped 404.
    app.middlewares[index] = _auth_with_publishable_keys(S.auth_middleware)
