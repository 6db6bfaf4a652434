"""`frontdesk demo`: a route planner app behind frontdesk, shipped inside the package.

run.py      the command: writes the demo, runs frontdesk on it, prints what to open
files.py    what it writes: the site, the planner, downloads, users, the config
planner/    the app (standard library only; copied as-is into the demo directory)
site/       the static site: HTML, CSS, JavaScript, images
frontdesk.toml   the config template
make_data.py     rebuilds the planner's tables and the map outline (not used at run time)

docs/demo.md says what each part shows and where the data comes from.
"""
