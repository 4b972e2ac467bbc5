"""Filled in by its area."""

from __future__ import annotations

import argparse

ACTIONS = ("list", "check")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sub.add_parser("warninglists", help="show the warninglists and what a value matches")
