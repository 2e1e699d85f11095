"""Prices API (/v1/prices), missing from localstripe: create, retrieve, update, list; prices
cannot be deleted; `price.created` / `price.updated` are emitted. A recurring price is also
registered as a plan with the same id, as Stripe does, so that localstripe's subscription
machinery can bill it. https://docs.stripe.com/api/prices

`recurring[trial_period_days]` (the trial a price offers to subscriptions created with
`trial_from_plan=true`) is accepted and echoed as today's Stripe does, and passed on to the plan;
stock localstripe has no Prices API at all. Stripe does not document a range for it: the
emulator takes 0 to 730, the longest trial Stripe grants a subscription.

Nothing to patch here: `Price` is a new resource, and app.build_app adds its routes.
"""

import localstripe.resources as R
from localstripe.errors import UserError

from .events import diff, emit, quietly

INTERVALS = ('day', 'week', 'month', 'year')
MAX_TRIAL_DAYS = 730


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
            trial = recurring.get('trial_period_days')
            if trial is not None:
                trial = R.try_convert_to_int(trial)
                if not (isinstance(trial, int) and 0 <= trial <= MAX_TRIAL_DAYS):
                    raise UserError(400, 'Invalid integer: recurring[trial_period_days] must be '
                                    'between 0 and %d' % MAX_TRIAL_DAYS,
                                    {'param': 'recurring[trial_period_days]'})
            recurring = {'interval': recurring['interval'], 'interval_count': count,
                         'usage_type': 'licensed', 'aggregate_usage': None,
                         'trial_period_days': trial, 'meter': None}
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
                    interval_count=recurring['interval_count'],
                    trial_period_days=recurring['trial_period_days'], active=active,
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
        emit('price.updated', obj, diff(before, obj._export()))
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
