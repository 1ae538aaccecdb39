"""The seed's app: connect to the database at DB_URL (host:port) and use it.

    python3 app.py                 connect, count a visit, print the count
    python3 app.py set KEY VALUE   store a value        python3 app.py get KEY
"""

import os
import sys

import minidb

url = os.environ.get("DB_URL", "localhost:28000")
try:
    db = minidb.connect(url)
except OSError as err:
    print(f"Error connecting to db at {url}: {err.strerror or err}")
    sys.exit(1)
print(f"Connected to db at {url}")
if sys.argv[1:2] == ["set"]:
    print(db.command("SET", sys.argv[2], sys.argv[3]))
elif sys.argv[1:2] == ["get"]:
    print(db.command("GET", sys.argv[2]) or "(nothing)")
else:
    print("visits:", db.command("INCR", "visits"))
