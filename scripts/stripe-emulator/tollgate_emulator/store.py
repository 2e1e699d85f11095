"""Store: keep every object in memory, as a fresh Stripe test account starts empty.

Stock localstripe pickles the whole store to /tmp/localstripe.pickle on every write, which is
slow and leaks state between runs.
"""

import localstripe.resources as R

from . import once


@once
def install():
    R.Store.dump_to_disk = lambda self: None
    R.Store.try_load_from_disk = lambda self: None
