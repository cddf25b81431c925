"""edgeinfer: orbital edge inference for satellite imagery.

Most users want :mod:`edgeinfer.api`.
"""

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
