# A throw-away PostgreSQL cluster for tests (bash; sourced by tests/lib.sh
# and scripts/test.sh).  Debian's postgresql package: initdb and pg_ctl
# from /usr/lib/postgresql/VERSION/bin, run as the unprivileged user
# nobody (PostgreSQL refuses root), listening only on a Unix socket in the
# cluster's own directory.  Trust authentication is safe there: the
# directory is nobody's with mode 0700, so only nobody and root (the
# tests) can reach the socket.
#   pg_start DIR    create and start a cluster in DIR (must not exist);
#                   sets PG_URL to its "postgres" database
#   pg_stop DIR     stop it (immediately) and remove DIR
#   pg_ctl_as DIR ARGS...   run pg_ctl on it as its user: "stop -m fast"
#                   and "start" take it down and back up, as it was

pg_bin() {
	local v
	for v in $(ls /usr/lib/postgresql 2>/dev/null | sort -rn); do
		[ -x "/usr/lib/postgresql/$v/bin/initdb" ] && { echo "/usr/lib/postgresql/$v/bin"; return 0; }
	done
	return 1
}

_pg_as() { # run as nobody
	setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups -- "$@"
}

pg_ctl_as() { # DIR ARGS...
	local dir=$1
	shift
	_pg_as "$(pg_bin)/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w "$@"
}

pg_start() { # DIR
	local dir=$1 bin
	bin=$(pg_bin) || { echo "pg_start: no PostgreSQL server (apt-get install postgresql)" >&2; return 1; }
	mkdir -m 0700 "$dir" || return 1
	chown nobody "$dir"
	_pg_as "$bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C --no-sync \
		>"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; return 1; }
	# No TCP at all; the socket in DIR; no disk syncs (a test cluster).
	# In its configuration file, so that a restart (pg_ctl_as DIR start)
	# comes back the same.
	cat >>"$dir/data/postgresql.conf" <<PGCONF
listen_addresses = ''
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 300
PGCONF
	pg_ctl_as "$dir" start >/dev/null 2>&1 || { cat "$dir/postgres.log" >&2; return 1; }
	PG_URL="postgresql:///postgres?host=$dir&user=postgres"
	export PG_URL
}

pg_stop() { # DIR
	local dir=$1
	[ -d "$dir/data" ] && pg_ctl_as "$dir" -m immediate stop >/dev/null 2>&1
	rm -rf "$dir"
}
