#!/usr/bin/python3
"""bench/pgsampler.py OUT NODE:SOCKETDIR...: every 10 ms on a fixed grid,
what each database node's PostgreSQL is, asked through its unix socket
(network namespaces do not isolate unix sockets). One thread per node, so
that a server that hangs does not delay the other's samples. Appends one
line per sample:

    START END NODE ROLE

ROLE is w (a primary that takes writes), r (in recovery or read-only) or d
(does not answer within 300 ms). Who holds the VIP comes from `ip monitor`
events, which are exact; bench/report.py puts the two together. Runs until
SIGTERM or SIGINT."""
import signal
import sys
import threading
import time

import psycopg2

stop = False


def on_signal(_sig, _frame):
    global stop
    stop = True


ROLE_SQL = """select case
    when pg_is_in_recovery() then 'r'
    when current_setting('default_transaction_read_only') = 'on' then 'r'
    else 'w' end"""


class Node:
    def __init__(self, spec):
        self.name, self.sock = spec.split(":", 1)
        self.conn = None

    def role(self):
        try:
            if self.conn is None:
                self.conn = psycopg2.connect(host=self.sock, user="postgres", dbname="postgres", connect_timeout=1, options="-c statement_timeout=300")
                self.conn.autocommit = True
            with self.conn.cursor() as cur:
                cur.execute(ROLE_SQL)
                return cur.fetchone()[0]
        except Exception:  # any failure to answer is the fact "d"
            if self.conn is not None:
                try:
                    self.conn.close()
                except Exception:
                    pass
            self.conn = None
            return "d"


def sample(node, f, lock):
    deadline = time.monotonic()
    while not stop:
        start = time.time()
        role = node.role()
        with lock:
            f.write(f"{start:.6f} {time.time():.6f} {node.name} {role}\n")
            f.flush()
        deadline += 0.01
        pause = deadline - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        else:
            deadline = time.monotonic()


def main():
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    lock = threading.Lock()
    with open(sys.argv[1], "a") as f:
        threads = [threading.Thread(target=sample, args=(Node(spec), f, lock), daemon=True) for spec in sys.argv[2:]]
        for t in threads:
            t.start()
        while not stop:
            time.sleep(0.1)
        for t in threads:
            t.join(timeout=3)


if __name__ == "__main__":
    main()
