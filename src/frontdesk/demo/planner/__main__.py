"""``python -m planner`` (in a demo directory) or ``python -m frontdesk.demo.planner``."""

from .server import main

main()
