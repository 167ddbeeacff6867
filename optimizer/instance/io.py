"""Former home of reading and writing instance folders; import from :mod:`optimizer.instance`.

Kept only as a re-export while ``optimizer/cli`` and ``optimizer/engines/mpisppy.py`` still
import from here; remove once they import :func:`load_instance` / :func:`write_instance`
from :mod:`optimizer.instance`.
"""

from optimizer.instance.loader import load_instance
from optimizer.instance.writer import write_instance

__all__ = ["load_instance", "write_instance"]
