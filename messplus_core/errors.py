"""The project's two user-facing errors and the context that turns a bad config value into one.

Both stages catch them at the top (`capture/run.py`, `evaluate/run.py`) and exit with status 2 and one line,
no traceback: the message names the file, column or key, the value and the fix.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator


class ConfigError(ValueError):
    """A configuration value is invalid; the message says which and how to fix it."""


@contextmanager
def config_errors() -> Iterator[None]:
    """Raise a ValueError/TypeError from reading a config value (e.g. `float('abc')`) as a ConfigError: it is
    the user's config, so it takes the project's error path (exit 2, one line)."""
    try:
        yield
    except ConfigError:
        raise
    except (ValueError, TypeError) as err:
        raise ConfigError(f"invalid config value: {err}. Check the overrides given on the command line.") from None


class CaptureError(ValueError):
    """The capture data is unusable as given; the message says where and how to fix it."""
