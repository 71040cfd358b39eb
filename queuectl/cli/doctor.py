"""`queuectl doctor`: one line per check of the store, exit 1 if any failed."""

from __future__ import annotations

import argparse

from queuectl import service
from queuectl.cli.common import store_location
from queuectl.cli.output import print_json
from queuectl.visible import visible


def cmd_doctor(args: argparse.Namespace) -> int:
    checks = service.diagnose(store_location(args))
    if args.json:
        print_json([check.to_dict() for check in checks])
    else:
        for check in checks:
            told = f"{check.message}: {check.hint}" if check.hint else check.message
            print(f"{check.level:<5} {check.name:<12} {visible(told)}")
    return 1 if service.has_failure(checks) else 0
