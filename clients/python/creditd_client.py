"""creditd_client: the former one-file client, kept so that old imports work.

New code: `import creditd` (the package in src/creditd, installable with
pip). This module puts src/ on sys.path when the package is not installed
and re-exports everything the old module had.
"""
import os
import sys

try:
    import creditd as _creditd
except ImportError:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "src"))
    import creditd as _creditd

from creditd import *  # noqa: E402,F401,F403
from creditd import __all__ as _all  # noqa: E402

__all__ = list(_all)
__version__ = _creditd.__version__
