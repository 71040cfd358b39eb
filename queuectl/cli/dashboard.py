"""The dashboard command: serve the web dashboard."""

from __future__ import annotations

import argparse
import os

from queuectl.cli import collect_garbage_as_usual
from queuectl.cli.common import store_location
from queuectl.dashboard.server import serve


def cmd_dashboard(args: argparse.Namespace) -> int:
    token = (
        args.token if args.token is not None else os.environ.get("QUEUECTL_DASHBOARD_TOKEN") or None
    )
    collect_garbage_as_usual()
    return serve(store_location(args), args.host, args.port, token)
