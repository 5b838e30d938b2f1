"""Sub-commands of ``python -m ncsn``: each module defines ``add_arguments(parser)`` and ``run(args)``."""
