"""The command line's exit statuses (documented in ``stalwart-py --help``)."""

DONE = 0
FAILED = 1  # the command failed; the reason is one line on stderr
USAGE = 2  # bad arguments or configuration, or the data directory is in use by a server
INTERRUPTED = 130  # SIGINT before the command could finish (128 + signal number 2)
