"""aiohttp middlewares and test-only control routes.

- Idempotency-Key: same key + same request replays the first response (`Idempotent-Replayed:
  true`); same key + different request is a 400 `idempotency_error`. Keys are scoped to the API
  key, as Stripe does, and kept for 24 hours. Every response carries a `Request-Id`, which the
  events caused by the request report. https://docs.stripe.com/api/idempotent_requests
- Chaos (never part of Stripe): POST /_config/chaos `mode=…&count=N` makes the next N API
  requests (optionally only those with `method=POST` and a path starting with `path=/v1/…`)
  misbehave; DELETE /_config/chaos stops it. There is one rule per (method, path) filter: a
  POST replaces the rule with the same filter (`count=0` removes it) and keeps the others, so a
  test can slow one endpoint and break another at once; a request obeys the first rule, in
  the order they were set, that matches it and has requests left. Modes:
    error             answer HTTP 500 `api_error` without processing
    hang              never answer (the client's timeout fires), without processing
    delay             process the request, then hold the answer for `seconds` (default 2):
                      Stripe acted and its events are on their way while the client still waits
    drop              process the request, then close the TCP connection without answering:
                      Stripe did it but the client never heard (its outcome is unknown)
    drop_unprocessed  close the TCP connection without processing or answering: Stripe never
                      did it, and the client cannot tell the difference from `drop`
  A replay of the same Idempotency-Key afterwards answers what the processed request did,
  as Stripe does; `drop_unprocessed` and `error` leave nothing to replay.
- Request log (never part of Stripe): GET /_config/requests lists every /v1 request seen, so
  hostile-input tests can assert that nothing (or exactly what) reached Stripe.

Nothing to patch here: app.build_app adds the middlewares and routes.
"""

import asyncio
import hashlib
import time

from aiohttp import web

import localstripe.resources as R
import localstripe.server as S
from localstripe.errors import UserError

from .errors import idempotency_error
from .events import current_request

# Idempotency-Key: replay, or refuse a reused key, as Stripe does.
IDEMPOTENCY_TTL = 24 * 3600
_idempotency = {}  # (api key, idempotency key) -> dict(fingerprint, status, body, at, lock)


@web.middleware
async def idempotency_middleware(request, handler):
    key = request.headers.get('Idempotency-Key')
    request_id = 'req_' + R.random_id(14)
    if request.method != 'POST' or not key or not request.path.startswith('/v1/'):
        token = current_request.set({'id': request_id, 'idempotency_key': None})
        try:
            response = await handler(request)
        finally:
            current_request.reset(token)
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
        token = current_request.set({'id': request_id, 'idempotency_key': key})
        try:
            try:
                response = await handler(request)
            except UserError as e:
                response = e.to_response()
        finally:
            current_request.reset(token)
        # Stripe does not save results of requests that failed before executing (5xx here).
        if response.status < 500:
            entry['status'] = response.status
            entry['body'] = response.body
            entry['request_id'] = request_id
        else:
            _idempotency.pop(scope, None)
        response.headers['Request-Id'] = request_id
        return response


# Chaos: tests make the next N matching API requests misbehave (see the module docstring).
CHAOS_MODES = ('error', 'hang', 'delay', 'drop', 'drop_unprocessed')
_chaos = {}  # (method or None, path prefix or None) -> {'mode', 'count', 'seconds'}, in order


def _chaos_rule(request):
    if not request.path.startswith('/v1/'):
        return None
    for (method, path), rule in _chaos.items():
        if rule['count'] <= 0:
            continue
        if method and request.method != method:
            continue
        if path and not request.path.startswith(path):
            continue
        return rule
    return None


def _drop_connection(request):
    """Closes the client's TCP connection at once (RST, no HTTP answer at all)."""
    transport = request.transport
    if transport is not None:
        transport.abort()


@web.middleware
async def chaos_middleware(request, handler):
    rule = _chaos_rule(request)
    if rule is None:
        return await handler(request)
    rule['count'] -= 1
    mode = rule['mode']
    if mode == 'hang':
        await asyncio.sleep(3600)
    if mode == 'drop_unprocessed':
        _drop_connection(request)
        # aiohttp treats a cancelled handler as a client that went away: nothing is written.
        raise asyncio.CancelledError()
    if mode in ('delay', 'drop'):
        try:
            response = await handler(request)
        except web.HTTPException as e:
            response = e
        if mode == 'delay':
            await asyncio.sleep(rule['seconds'])
            return response
        _drop_connection(request)
        raise asyncio.CancelledError()
    return S.json_response({'error': {'type': 'api_error',
                                      'message': 'Emulated Stripe outage'}}, status=500)


async def config_chaos(request):
    if request.method == 'DELETE':
        _chaos.clear()
        return web.Response()
    data = await request.post()
    mode = data.get('mode')
    count = R.try_convert_to_int(data.get('count', '1'))
    try:
        seconds = float(data.get('seconds', '2'))
    except ValueError:
        seconds = -1
    method = data.get('method') or None
    path = data.get('path') or None
    if mode not in CHAOS_MODES or not isinstance(count, int) or count < 0 \
            or not 0 <= seconds <= 600 or (path is not None and not path.startswith('/v1/')):
        raise UserError(400, 'mode must be one of %s; count a non-negative integer; seconds '
                        'at most 600; path a prefix starting with /v1/' % ', '.join(CHAOS_MODES))
    key = (method.upper() if method else None, path)
    _chaos.pop(key, None)
    if count > 0:
        _chaos[key] = {'mode': mode, 'count': count, 'seconds': seconds}
    return web.Response()


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
