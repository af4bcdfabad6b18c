#!/usr/bin/env python3
"""moto_server, serving one request at a time.

moto_server answers each request on its own thread, and moto's DynamoDB TransactWriteItems
is not atomic across threads: two concurrent conditional transactions on one item can both
report success (an acknowledged, lost update). Real DynamoDB is atomic and linearizable per
item and per transaction, and every guarantee Sluice gives rests on that. Serving one request
at a time makes every moto operation atomic, so a concurrency test fails for Sluice's bugs
and never for the emulator's (see docs/design.md, "Testing").

Usage: moto-serial.py [-H HOST] [-p PORT]   (the same flags as moto_server)
"""
import argparse

from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple

parser = argparse.ArgumentParser()
parser.add_argument("-H", "--host", default="127.0.0.1")
parser.add_argument("-p", "--port", type=int, default=5000)
args = parser.parse_args()
app = DomainDispatcherApplication(create_backend_app)
run_simple(args.host, args.port, app, threaded=False, use_reloader=False, use_debugger=False)
