"""The deploy commands' arguments, kept apart from the commands themselves: every CLI
run builds the parser, and only a deploy command should pay for importing the deploy
(commands.py)."""

from __future__ import annotations

import argparse

__all__ = ["COMMANDS", "add_parsers"]

COMMANDS = ("deploy", "releases", "rollback", "config", "config:set", "config:unset")


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    deploy = sub.add_parser("deploy", help="git push deploys: make a deploy directory")
    dsub = deploy.add_subparsers(dest="deploy_command", required=True)
    init = dsub.add_parser("init", help="make DIR a git repository that deploys every push")
    init.add_argument("dir", metavar="DIR")
    init.add_argument("--listen", default="0.0.0.0:8080", help="where to serve (default :8080)")
    init.add_argument("--branch", default="main", help="the branch pushes deploy (default main)")
    init.add_argument("--keep", type=int, default=5, help="releases to keep (default 5)")
    hook = dsub.add_parser("hook", help="(run by git) deploy the push read from stdin")
    hook.add_argument("dir", metavar="DIR")
    where = "the deploy directory (default: $FRONTDESK_DEPLOY, or the current directory)"
    releases = sub.add_parser("releases", help="list the releases of a deploy directory")
    releases.add_argument("-d", "--deploy", help=where)
    rollback = sub.add_parser("rollback", help="serve an earlier release again (zero downtime)")
    rollback.add_argument("release", nargs="?", help="release id (default: the previous one)")
    rollback.add_argument("-d", "--deploy", help=where)
    config = sub.add_parser("config", help="list the config vars of a deploy directory")
    config.add_argument("-d", "--deploy", help=where)
    config_set = sub.add_parser("config:set", help="set config vars; restarts the app")
    config_set.add_argument("assignments", nargs="+", metavar="KEY=VALUE")
    config_set.add_argument("-d", "--deploy", help=where)
    config_unset = sub.add_parser("config:unset", help="remove config vars; restarts the app")
    config_unset.add_argument("names", nargs="+", metavar="KEY")
    config_unset.add_argument("-d", "--deploy", help=where)
