"""`python -m emulator`: the gateway emulator on a port, faults from flags."""

from __future__ import annotations

import argparse
import logging
import os
from dataclasses import asdict, fields

from aiohttp import web

from emulator.app import BACKLOG, Faults, make_app

logger = logging.getLogger("emulator")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Emulator of the SMS gateway's sending API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GATEWAY_PORT", "8001")))
    parser.add_argument("--seed", type=int, default=None, help="seed for the fault draws")
    parser.add_argument(
        "--no-delivery-log", action="store_true", help="count deliveries but do not list them"
    )
    defaults = Faults()
    for f in fields(Faults):
        flag = "--" + f.name.replace("_", "-")
        if isinstance(getattr(defaults, f.name), bool):
            parser.add_argument(flag, action="store_true")
        else:
            parser.add_argument(flag, type=float, default=getattr(defaults, f.name))
    args = parser.parse_args(argv)
    faults = Faults(**{f.name: getattr(args, f.name) for f in fields(Faults)})
    logging.basicConfig(level=logging.INFO, format="%(asctime)s gateway-emulator: %(message)s")
    token = os.environ.get("GATEWAY_TOKEN", "")
    logger.info(
        "listening on http://%s:%s (token check %s), faults %s",
        args.host,
        args.port,
        "on" if token else "off",
        asdict(faults),
    )
    app = make_app(
        token=token, faults=faults, seed=args.seed, keep_deliveries=not args.no_delivery_log
    )
    web.run_app(app, host=args.host, port=args.port, print=None, access_log=None, backlog=BACKLOG)


if __name__ == "__main__":
    main()
