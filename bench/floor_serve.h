/* floor_serve.h: the start-up bench/floor_responder and
 * bench/floor_db_responder share, nothing of their requests' work. */
#ifndef FLOOR_SERVE_H
#define FLOOR_SERVE_H

/* The FastCGI socket both listen on, for their threads' FCGX_InitRequest. */
extern int floor_listen_fd;

/* Blocks the stopping signals in every thread (main takes them with
 * sigwait: libfcgi's own SIGTERM handling would leave it running), ignores
 * SIGPIPE, listens on the unix socket path (0666), starts threads detached
 * workers worker(arg(i)) and waits for SIGTERM or SIGINT; then removes the
 * socket and exits without joining (a thread may be inside a request).
 * Returns 1 only when it could not start (said on stderr as NAME's);
 * libraries are the caller's to start before. */
int floor_serve(const char *name, const char *path, long threads, void *(*worker)(void *), void *(*arg)(long i));

#endif
