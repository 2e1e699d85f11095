"""SetupIntents: a declining test card leaves the SetupIntent `requires_payment_method` with
`last_setup_error` and answers a `card_error`; on success the method is attached to the
SetupIntent's customer. https://docs.stripe.com/api/setup_intents
"""

import localstripe.resources as R

from . import once
from .errors import decline_for, raise_attach_decline


def _seti_attach_pm(self, pm):
    self.payment_method = pm.id
    if pm._attaching_is_declined():
        self.status = 'requires_payment_method'
        self.next_action = None
        self.last_setup_error = dict(zip(('code', 'decline_code', 'message'), decline_for(pm)),
                                     type='card_error')
        raise_attach_decline(pm)
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


@once
def install():
    R.SetupIntent._attach_pm = _seti_attach_pm
