"""The one exception type for problems a user can fix (bad config, missing files, bad data)."""


class NcsnError(Exception):
    """A user-facing error: its message says what is wrong and how to fix it.

    The command line prints it without a traceback and exits with status 2.
    """
