"""The library's own error types.

Every problem a user can cause (bad config, missing or corrupt data, a damaged checkpoint,
a directory that is not a run) raises a :class:`GankitError` whose message names the problem
and the fix. The command line prints that one line and exits non-zero, never a traceback.
"""


class GankitError(Exception):
    """Base class: a user-facing problem with a one-line message."""


class ConfigError(GankitError):
    """Unknown preset, unknown or ill-typed config key."""


class DataError(GankitError):
    """Missing, corrupt, truncated or ill-shaped dataset."""


class RunError(GankitError):
    """A directory that is not a run, or a run in an unusable state."""


class CheckpointError(GankitError):
    """A checkpoint that is missing, truncated or crafted."""


class TrainingError(GankitError):
    """Training cannot go on (non-finite loss, for instance)."""
