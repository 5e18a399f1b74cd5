#!/bin/bash
# big_inventory.sh against PostgreSQL: the same steps and assertions, the store on a
# throw-away cluster of the test's own (tests/lib.sh start_postgres).
PXED_STORE=pg exec bash "$(dirname "$0")/big_inventory.sh"
