"""The aiohttp app: localstripe's own, with its routes pointed at the patched methods, plus the
Prices and Invoice Payments APIs, the middlewares, the test-only control routes and today's
Stripe.js (stripe_js).

Call build_app() once, after every module's install().
"""

import localstripe.resources as R
import localstripe.server as S

from .deliveries import config_deliveries
from .invoice_payments import InvoicePayment
from .middleware import (chaos_middleware, config_chaos, config_requests,
                         idempotency_middleware, request_log_middleware)
from .prices import Price
from . import stripe_js


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
    url = '/v1/invoice_payments'
    app.router.add_route('GET', url + '/{id}', S.api_retrieve(InvoicePayment, url))
    app.router.add_route('GET', url, S.api_list_all(InvoicePayment, url))
    app.router.add_route('POST', '/_config/chaos', config_chaos)
    app.router.add_route('DELETE', '/_config/chaos', config_chaos)
    app.router.add_route('GET', '/_config/requests', config_requests)
    app.router.add_route('GET', '/_config/deliveries', config_deliveries)
    stripe_js.hook(app)
    return app
