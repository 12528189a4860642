"""Package-level rules: the registry, and no dependency on gankit.training."""

import subprocess
import sys

from gankit.metrics import METRICS


def test_registry_names():
    assert METRICS.names() == ["density_coverage", "fid", "is", "kid", "precision_recall"]


def test_metrics_never_import_training():
    code = (
        "import sys, gankit.metrics; "
        "bad = [m for m in sys.modules if m.startswith('gankit.training')]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
