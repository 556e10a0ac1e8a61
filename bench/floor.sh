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
		"$BENCH/floor_db_responder.c" "$BENCH/floor_serve.c" "$BENCH/rawdb_conn.c" "$BENCH/rawdb_tx.c" "$BENCH/rawdb_batch.c" \
		$(pkg-config --libs fcgi libmariadb libcurl) -pthread || die "bench: cannot build floor_db_responder"
}

# httpfloor_up PORT: a request reached a worker through nginx (its own 400
# for a body without an account). A thread that cannot serve ends the
# process: its row then fails, never runs on fewer threads.
httpfloor_up() {
	test "$(curl -s --max-time 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/")" = 400
}

# floor_nginx_start SOCKET PORT NAME: an nginx of its own for a floor, on
# PORT, passing to SOCKET: creditd's nginx.conf with only the socket, the
# port and the paths changed (its workers, upstream keepalive,
# fastcgi_keep_conn and includes kept), its files DIR/NAME*.
floor_nginx_start() {
	sed -e "s#unix:$DIR/creditd.sock;#unix:$1;#" \
		-e "s#listen 127.0.0.1:$NGINX_PORT;#listen 127.0.0.1:$2;#" \
		-e "s#$DIR/nginx#$DIR/$3#g" "$DIR/nginx.conf" >"$DIR/$3.conf"
	grep -q "unix:$1;" "$DIR/$3.conf" || die "bench: nginx.conf has an unexpected shape"
	mkdir -p "$DIR/$3-tmp"
	start_bg "${3//-/_}" "$DIR/$3.out" nginx -p "$DIR" -c "$DIR/$3.conf"
}

# httpfloor_start PORT THREADS RESPONDER-ARGS...: the responder on
# DIR/httpfloor.sock with THREADS threads (creditd's count), connected as
# creditd's runtime user, and its nginx on PORT (floor_nginx_start).
httpfloor_start() {
	local port=$1 threads=$2
	shift 2
	RAWDB_PASSWORD=$DB_PASSWORD start_bg floor_db_responder "$DIR/httpfloor.out" "$BENCH/floor_db_responder" \
		"$DIR/httpfloor.sock" "$threads" --socket "$DIR/mysql.sock" --user creditd --database creditd "$@"
	floor_nginx_start "$DIR/httpfloor.sock" "$port" httpfloor-nginx
	wait_for 10 httpfloor_up "$port" ||
		die "bench: the HTTP floor did not start ($DIR/httpfloor.out, $DIR/httpfloor-nginx-error.log)"
}
