"""A live training dashboard in the browser (``gankit dashboard RUNS_DIR``).

It only reads run directories (DESIGN principle 8): the list of runs and their status, stats
and metric curves, diagnostic findings, sample grids and toy frames, and, through
:func:`gankit.runs.load_generator`, a latent explorer. It never imports the training code.

Modules: ``safety`` (path checks), ``jsonl_tail`` (incremental reads of growing JSONL files),
``status`` (the running / finished / failed rule), ``catalog`` (discovering and summarising
runs), ``explorer`` (sampling from a run's generator), ``server`` (HTTP routes) and
``static/`` (the page: plain HTML, JS and CSS, nothing fetched from the internet).
"""

from gankit.dashboard.server import DashboardServer, make_server

__all__ = ["DashboardServer", "make_server"]
