"""Patches that make localstripe behave closer to today's Stripe; launcher.py applies them.

One module per Stripe resource or concern. Importing a module changes nothing: each module that
patches localstripe does so in its `install()`, and launcher.py calls those in a fixed order.
This file imports nothing from localstripe, so the launcher can check the installed version
before anything touches it.
"""

import functools
import importlib.metadata
import os
import sys

# The localstripe release these patches were written against. Keep it equal to `want` in
# scripts/stripe-emulator/ensure-venv, which installs that release into .venv.
PATCHED_FOR = '1.15.10'
# Set to 1 to start with another localstripe release anyway (for experiments).
ANY_VERSION_ENV = 'TOLLGATE_EMULATOR_ANY_VERSION'


def check_localstripe_version():
    """Exits with status 2 unless the installed localstripe is PATCHED_FOR.

    The patches replace private methods of localstripe's classes; on another release they could
    fail at start-up or, worse, silently change what the emulator answers."""
    try:
        installed = importlib.metadata.version('localstripe')
    except importlib.metadata.PackageNotFoundError:
        print('stripe emulator: localstripe is not installed for %s; the patches need '
              'localstripe %s (run scripts/stripe-emulator/ensure-venv)'
              % (sys.executable, PATCHED_FOR), file=sys.stderr, flush=True)
        sys.exit(2)
    if installed == PATCHED_FOR:
        return
    if os.environ.get(ANY_VERSION_ENV) == '1':
        print('stripe emulator: warning: localstripe %s is installed but the patches were '
              'written for %s; starting anyway because %s=1'
              % (installed, PATCHED_FOR, ANY_VERSION_ENV), file=sys.stderr, flush=True)
        return
    print('stripe emulator: localstripe %s is installed but the patches were written for '
          'localstripe %s; run scripts/stripe-emulator/ensure-venv, or set %s=1 to try anyway'
          % (installed, PATCHED_FOR, ANY_VERSION_ENV), file=sys.stderr, flush=True)
    sys.exit(2)


def once(install):
    """Makes an `install()` apply its patches only on its first call, so that calling it again
    cannot wrap a patched method a second time."""
    @functools.wraps(install)
    def wrapper():
        if not wrapper.installed:
            install()
            wrapper.installed = True
    wrapper.installed = False
    return wrapper
