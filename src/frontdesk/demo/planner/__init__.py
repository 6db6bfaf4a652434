"""The demo's app: a route planner on the standard library alone (see server.py).

Only relative imports, so the same package runs from the installed frontdesk and as a
copy in a demo directory (``python -m planner``).
"""
