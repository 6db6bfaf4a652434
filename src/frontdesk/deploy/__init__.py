"""`git push` deploys: a bare repository whose pushes become releases served by frontdesk.

layout.py (the deploy directory and its settings), procfile.py, releases.py (records
and the pure policies), build.py (checkout, virtualenv, release command),
generate.py (the config a release is served with), hook.py (a push, step by step),
switch.py / serve.py (the two sides of a switch), commands.py (the CLI).
"""
