# shellcheck shell=bash
# bench/floor.sh: the HTTP + database floor both benches start
# (bench/floor_db_responder behind a third nginx of creditd's shape), sourced
# by bench/run.sh (row 1D) and bench/gateway.sh (path httpfloor). It
# expects what both define: BENCH, DIR (the stack, its nginx.conf and
# mysql.sock), NGINX_PORT, DB_PASSWORD, start_bg, wait_for, die.

# floor_db_build FLAGS: bench/floor_db_responder, with rawdb's files for
# the floor's CALLs.
floor_db_build() {
	# shellcheck disable=SC2046,SC2086
	cc $1 $(pkg-config --cflags fcgi libmariadb libcurl) -o "$BENCH/floor_db_responder" \
		"$BENCH/floor_db_responder.c" "$BENCH/rawdb_conn.c" "$BENCH/rawdb_tx.c" "$BENCH/rawdb_batch.c" \
		$(pkg-config --libs fcgi libmariadb libcurl) -pthread || die "bench: cannot build floor_db_responder"
}

# httpfloor_up PORT: a request reached a worker through nginx (its own 400
# for a body without an account). A thread that cannot serve ends the
# process: its row then fails, never runs on fewer threads.
httpfloor_up() {
	test "$(curl -s --max-time 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/")" = 400
}

# httpfloor_start PORT THREADS RESPONDER-ARGS...: the responder on
# DIR/httpfloor.sock with THREADS threads (creditd's count), connected as
# creditd's runtime user, and its nginx on PORT: creditd's nginx.conf with
# only the socket, the port and the paths changed, as floor_responder's.
httpfloor_start() {
	local port=$1 threads=$2
	shift 2
	RAWDB_PASSWORD=$DB_PASSWORD start_bg floor_db_responder "$DIR/httpfloor.out" "$BENCH/floor_db_responder" \
		"$DIR/httpfloor.sock" "$threads" --socket "$DIR/mysql.sock" --user creditd --database creditd "$@"
	sed -e "s#unix:$DIR/creditd.sock;#unix:$DIR/httpfloor.sock;#" \
		-e "s#listen 127.0.0.1:$NGINX_PORT;#listen 127.0.0.1:$port;#" \
		-e "s#$DIR/nginx#$DIR/httpfloor-nginx#g" "$DIR/nginx.conf" >"$DIR/httpfloor-nginx.conf"
	grep -q "unix:$DIR/httpfloor.sock;" "$DIR/httpfloor-nginx.conf" || die "bench: nginx.conf has an unexpected shape"
	mkdir -p "$DIR/httpfloor-nginx-tmp"
	start_bg httpfloor_nginx "$DIR/httpfloor-nginx.out" nginx -p "$DIR" -c "$DIR/httpfloor-nginx.conf"
	wait_for 10 httpfloor_up "$port" ||
		die "bench: the HTTP floor did not start ($DIR/httpfloor.out, $DIR/httpfloor-nginx-error.log)"
}
