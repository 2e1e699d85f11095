"""Products: accept `marketing_features`; report `default_price` and `updated`; emit
`product.updated` with `previous_attributes`. https://docs.stripe.com/api/products
"""

import time

import localstripe.resources as R

from . import once
from .events import diff, emit

_orig_product_init = None
_orig_product_api_update = None


def _product_init(self, *args, marketing_features=None, **kwargs):
    _orig_product_init(self, *args, **kwargs)
    self.marketing_features = [
        {'name': f['name'] if isinstance(f, dict) else str(f)}
        for f in (marketing_features or [])]
    self.default_price = None
    self.updated = self.created


@classmethod
def _product_api_update(cls, id, **data):
    before = cls._api_retrieve(id)._export()
    obj = _orig_product_api_update(cls, id, **data)
    obj.updated = int(time.time())
    emit('product.updated', obj, diff(before, obj._export()))
    return obj


@once
def install():
    global _orig_product_init, _orig_product_api_update
    _orig_product_init = R.Product.__init__
    R.Product.__init__ = _product_init
    _orig_product_api_update = R.Product._api_update.__func__
    R.Product._api_update = _product_api_update
