"""gankit's data layer: every dataset as in-memory tensors, images scaled to [-1, 1].

Use :func:`load_dataset` with a name from :data:`DATASETS`: the toys ``sine``, ``ring``,
``grid``, ``spiral``, ``ring-grid``; ``digits``; ``mnist`` and ``fashion-mnist`` (IDX files);
``folder`` (PNG/JPEG folder) and ``array`` (.npy/.npz file); image-to-image tasks with a
target field ``b`` (docs/translation-data.md): ``fashion-edges``, ``fashion-x4``,
``sneaker-boot`` (unpaired), ``derain``, and the folder formats ``paired-folder``,
``unpaired-folder`` and ``sr-folder``.
"""

from gankit.data.dataset import DATASETS, Dataset, LoadOptions
from gankit.data.images import from_unit_range, to_unit_range
from gankit.data.loading import load_dataset
from gankit.data.toys import toy_sampler

__all__ = [
    "DATASETS",
    "Dataset",
    "LoadOptions",
    "from_unit_range",
    "load_dataset",
    "to_unit_range",
    "toy_sampler",
]
