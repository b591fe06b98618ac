"""Hold DuckDB's file lock on a database until a marker file exists.

Usage: python hold_lock.py DATABASE MARKER. Prints "locked" once the lock is held.
"""

import sys
import time
from pathlib import Path

import duckdb

database, marker = sys.argv[1], Path(sys.argv[2])
connection = duckdb.connect(database)
connection.execute("create table if not exists held (x integer)")
print("locked", flush=True)
while not marker.exists():
    time.sleep(0.02)
connection.close()
