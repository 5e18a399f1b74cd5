#!/bin/bash
# big_inventory.sh against PostgreSQL: the same steps and assertions, the store on a
# throw-away cluster of the test's own (tests/lib.sh start_postgres), with
# 20,000 devices (its bulk load is slower than SQLite's).
BIG_INVENTORY_N=${BIG_INVENTORY_N:-20000} PXED_STORE=pg exec bash "$(dirname "$0")/big_inventory.sh"
