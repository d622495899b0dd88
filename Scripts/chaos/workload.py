#!/usr/bin/python3
"""Chaos workload: random transactions on "Order" and "Product" rows of one run until a stop
file appears, surviving server restarts. Writes a JSON state file for the checker: every row
id the run touched with a lower bound of its last committed change's LSN (the WAL insert
position read inside the transaction, before COMMIT), or null when the outcome of its last
COMMIT is unknown (the connection broke during COMMIT).

Usage: workload.py WRITER_URL TAG STOP_FILE STATE_FILE SEED
"""
import json
import os
import random
import sys
import time

import psycopg2

writer_url, tag, stop_file, state_file, seed = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
rng = random.Random(seed)
categories = [f"chaos-{tag}-{i}" for i in range(4)]
orders = {}     # id -> lower bound LSN text of the last committed change, or None (unknown)
products = {}
live_orders, live_products = set(), set()
counts = {"committed": 0, "failed": 0, "in_doubt": 0}


def connect():
    while not os.path.exists(stop_file):
        try:
            connection = psycopg2.connect(writer_url, connect_timeout=3)
            connection.autocommit = False
            return connection
        except psycopg2.Error:
            time.sleep(0.2)
    return None


def transaction(cursor):
    """Runs 1-3 random statements; returns the (table, id, alive) changes made."""
    changes = []
    for _ in range(rng.randint(1, 3)):
        kind = rng.random()
        if kind < 0.25 or not live_orders:
            cursor.execute('INSERT INTO "Order" ("userId", "totalCents", status) VALUES (%s, %s, %s) RETURNING id',
                           (tag, rng.randint(1, 10000), "pending"))
            changes.append(("order", cursor.fetchone()[0], True))
        elif kind < 0.45:
            oid = rng.choice(sorted(live_orders))
            cursor.execute('UPDATE "Order" SET status = %s, "totalCents" = %s, "updatedAt" = now() WHERE id = %s',
                           (rng.choice(["paid", "shipped", "pending", "cancelled"]), rng.randint(1, 10000), oid))
            changes.append(("order", oid, True))
        elif kind < 0.52:
            oid = rng.choice(sorted(live_orders))
            cursor.execute('DELETE FROM "Order" WHERE id = %s', (oid,))
            changes.append(("order", oid, False))
        elif kind < 0.65 or not live_products:
            cursor.execute('INSERT INTO "Product" (name, category, "priceCents") VALUES (%s, %s, %s) RETURNING id',
                           (f"p{rng.randint(1, 10**6)}", rng.choice(categories), rng.randint(100, 9999)))
            changes.append(("product", cursor.fetchone()[0], True))
        elif kind < 0.92:
            pid = rng.choice(sorted(live_products))
            if rng.random() < 0.3:
                cursor.execute('UPDATE "Product" SET category = %s, "updatedAt" = now() WHERE id = %s', (rng.choice(categories), pid))
            else:
                cursor.execute('UPDATE "Product" SET "priceCents" = %s, name = %s WHERE id = %s',
                               (rng.randint(100, 9999), f"p{rng.randint(1, 10**6)}", pid))
            changes.append(("product", pid, True))
        else:
            pid = rng.choice(sorted(live_products))
            cursor.execute('DELETE FROM "Product" WHERE id = %s', (pid,))
            changes.append(("product", pid, False))
        # Keep the live sets in step inside the transaction (undone below if it fails).
        table, rid, alive = changes[-1]
        live = live_orders if table == "order" else live_products
        (live.add if alive else live.discard)(rid)
    return changes


def main():
    connection = connect()
    while connection is not None and not os.path.exists(stop_file):
        before = (set(live_orders), set(live_products))
        changes = []
        try:
            with connection.cursor() as cursor:
                changes = transaction(cursor)
                cursor.execute("SELECT pg_current_wal_insert_lsn()::text")
                lower_bound = cursor.fetchone()[0]
        except psycopg2.Error:
            live_orders.clear(); live_orders.update(before[0])
            live_products.clear(); live_products.update(before[1])
            counts["failed"] += 1
            try:
                connection.rollback()
            except psycopg2.Error:
                connection = connect()
            continue
        try:
            connection.commit()
            counts["committed"] += 1
            outcome = lower_bound
        except psycopg2.Error:
            # The COMMIT's outcome is unknown: the checker compares with the database, but does
            # not require these rows' latest change to be in the cache.
            counts["in_doubt"] += 1
            outcome = None
            connection = connect()
            # Re-read which rows exist, since the transaction may or may not have committed.
            for table, rid, _ in changes:
                live = live_orders if table == "order" else live_products
                live.discard(rid)
        for table, rid, _ in changes:
            (orders if table == "order" else products)[rid] = outcome
        time.sleep(rng.uniform(0.005, 0.03))
    with open(state_file, "w") as out:
        json.dump({"tag": tag, "categories": categories, "orders": orders, "products": products, "counts": counts}, out)
    print(f"workload: {counts['committed']} transactions committed, {counts['failed']} failed, {counts['in_doubt']} in doubt", flush=True)


main()
