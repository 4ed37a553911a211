"""Building the book: papermill execution, the cache, the Sphinx glue, the status
page and ``conslaw run``."""

from .results import results_dir, save_json
from .status import records, status_table

__all__ = ["records", "results_dir", "save_json", "status_table"]
