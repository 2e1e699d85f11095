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
from .coupons import PromotionCode
from .prices import Price
from .test_clocks import TestClock
from . import invoice_pages, stripe_js


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
    url = '/v1/promotion_codes'
    app.router.add_route('POST', url, S.api_create(PromotionCode, url))
    app.router.add_route('GET', url + '/{id}', S.api_retrieve(PromotionCode, url))
    app.router.add_route('POST', url + '/{id}', S.api_update(PromotionCode, url))
    app.router.add_route('GET', url, S.api_list_all(PromotionCode, url))
    url = '/v1/test_helpers/test_clocks'
    app.router.add_route('POST', url, S.api_create(TestClock, url))
    app.router.add_route('POST', url + '/{id}/advance',
                         S.api_extra(TestClock._api_advance, url + '/{id}/advance'))
    app.router.add_route('GET', url + '/{id}', S.api_retrieve(TestClock, url))
    app.router.add_route('DELETE', url + '/{id}', S.api_delete(TestClock, url))
    app.router.add_route('GET', url, S.api_list_all(TestClock, url))
    # Stripe reads a cancel's body (`cancellation_details`); localstripe's DELETE ignores it.
    for route in app.router.routes():
        if route.method == 'DELETE' and route.resource.canonical == '/v1/subscriptions/{id}':
            route._handler = S.api_extra(R.Subscription._api_delete, '/v1/subscriptions/{id}')
    url = '/v1/invoice_payments'
    app.router.add_route('GET', url + '/{id}', S.api_retrieve(InvoicePayment, url))
    app.router.add_route('GET', url, S.api_list_all(InvoicePayment, url))
    app.router.add_route('POST', '/_config/chaos', config_chaos)
    app.router.add_route('DELETE', '/_config/chaos', config_chaos)
    app.router.add_route('GET', '/_config/requests', config_requests)
    app.router.add_route('GET', '/_config/deliveries', config_deliveries)
    invoice_pages.add_routes(app)
    stripe_js.hook(app)
    return app
