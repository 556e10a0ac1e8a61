/* main.c: creditd's entry point: options, config, the listening socket,
 * signals and an orderly shutdown.
 *
 * Signals are blocked in every thread and taken here with sigwait, so no
 * handler ever runs inside libfcgi or the MariaDB client: SIGTERM/SIGINT
 * stop accepting and let in-flight requests finish (exit 0); SIGHUP
 * reopens the log file and reloads prices. */
#include "config.h"
#include "envfile.h"
#include "gwconfig.h"
#include "ledger.h"
#include "ledger_config.h"
#include "log.h"
#include "timefmt.h"
#include "notify_config.h"
#include "email_config.h"
#include "stripe.h"
#include "stripe_config.h"
#include "widget_config.h"
#include "worker.h"
#include <errno.h>
#include <fcgiapp.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define LISTEN_BACKLOG LIMIT_LISTEN_BACKLOG
#define STOP_TIMEOUT_MS LIMIT_STOP_WAIT_MS

/* A test-clock build says so wherever an operator looks first: --version
 * and -t (on stderr: their stdout stays what scripts read) and the log at
 * start (docs/install.md). */
static void test_build_note(void)
{
#ifdef CREDITD_TEST_CLOCK
	fprintf(stderr, "creditd: built with --enable-test-clock: a test build, not for production\n");
#endif
}

static void usage(FILE *f)
{
	fprintf(f, "usage: creditd [-c FILE] [--listen unix:PATH|HOST:PORT] [--threads N] [--check-config|-t] [--version]\n"
		   "  -c FILE: the config (else $CREDITD_CONFIG, else " CFG_DEFAULT_PATH ").\n"
		   "  --check-config, -t: check the config as a start would (its file, every value, the log) and exit.\n"
		   "  Without --listen (and no server.listen), the listening socket is the one systemd\n"
		   "  passed (LISTEN_FDS), else inherited on fd 0 (spawn-fcgi, mod_fcgid).\n");
}

struct options {
	const char *config;
	const char *listen;
	const char *threads;
	int check_only;
};

static int parse_args(int argc, char **argv, struct options *o)
{
	memset(o, 0, sizeof(*o));
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int has_value = i + 1 < argc;
		if ((strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) && has_value)
			o->config = argv[++i];
		else if (strcmp(a, "--listen") == 0 && has_value)
			o->listen = argv[++i];
		else if (strcmp(a, "--threads") == 0 && has_value)
			o->threads = argv[++i];
		else if (strcmp(a, "--check-config") == 0 || strcmp(a, "-t") == 0)
			o->check_only = 1;
		else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			exit(0);
		} else if (strcmp(a, "--version") == 0) {
			printf("creditd %s\n", PACKAGE_VERSION);
			test_build_note();
			exit(0);
		} else {
			usage(stderr);
			return -1;
		}
	}
	return 0;
}

/* systemd socket activation (sd_listen_fds(3), without libsystemd): when
 * LISTEN_PID names this process, the first socket passed is fd 3. The
 * variables are removed so that nothing started later takes them for its
 * own. -1 when not activated. */
#define SD_LISTEN_FDS_START 3
static int activated_fd(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	struct stat st;
	int fd = -1;
	if (pid != NULL && fds != NULL && strtol(pid, NULL, 10) == (long)getpid() && strtol(fds, NULL, 10) >= 1 &&
	    fstat(SD_LISTEN_FDS_START, &st) == 0 && S_ISSOCK(st.st_mode))
		fd = SD_LISTEN_FDS_START;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return fd;
}

/* sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET (a path,
 * or "@" for the abstract namespace) when systemd set it (Type=notify). */
static void notify_systemd(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	size_t n = path != NULL ? strlen(path) : 0;
	if (n == 0 || n >= sizeof(sa.sun_path) || (path[0] != '/' && path[0] != '@'))
		return;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, n);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa,
		   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)) < 0)
		log_warn("cannot tell systemd %s: %s", state, strerror(errno));
	close(fd);
}

/* A listen set while systemd passes a socket (creditd.socket): the config
 * fights the unit (creditd would bind a path of its own, or unlink the
 * unit's socket, which ProtectSystem=strict makes read-only), so it is
 * refused, by a start and by -t alike (docs/configuration.md). Outside
 * systemd, -t warns of a listen under /run/creditd, the socket unit's. */
static int listen_conflicts(const char *spec, int check_only)
{
	if (spec == NULL || spec[0] == '\0')
		return 0;
	if (activated_fd() >= 0) {
		fprintf(stderr, "creditd: systemd passed a socket (creditd.socket) but listen is %s: leave [server] "
				"listen empty (and no --listen) to serve the socket systemd passes\n", spec);
		return 2;
	}
	if (check_only && strncmp(spec, "unix:/run/creditd/", 18) == 0)
		fprintf(stderr, "creditd: warning: listen is %s: under creditd.service leave it empty (creditd.socket "
				"owns /run/creditd, which the service cannot write)\n", spec);
	return 0;
}

static int open_listener(const char *spec, long mode, char *unix_path, size_t cap)
{
	unix_path[0] = '\0';
	if (spec == NULL || spec[0] == '\0') {
		struct stat st;
		int fd = activated_fd();
		if (fd >= 0)
			return fd;
		if (fstat(0, &st) != 0 || !S_ISSOCK(st.st_mode)) {
			fprintf(stderr, "creditd: no --listen given, not socket-activated, and fd 0 is not a socket\n");
			return -1;
		}
		return 0;
	}
	if (strncmp(spec, "unix:", 5) == 0) {
		snprintf(unix_path, cap, "%s", spec + 5);
		unlink(unix_path);
		int fd = FCGX_OpenSocket(unix_path, LISTEN_BACKLOG);
		if (fd >= 0 && chmod(unix_path, (mode_t)mode) != 0)
			fprintf(stderr, "creditd: chmod %s: %s\n", unix_path, strerror(errno));
		return fd;
	}
	if (strchr(spec, ':') == NULL) {
		fprintf(stderr, "creditd: --listen must be unix:PATH or HOST:PORT\n");
		return -1;
	}
	return FCGX_OpenSocket(spec, LISTEN_BACKLOG);
}

static enum log_level level_of(const char *s)
{
	return strcmp(s, "error") == 0 ? LOG_LVL_ERROR : strcmp(s, "warn") == 0 ? LOG_LVL_WARN
	       : strcmp(s, "debug") == 0 ? LOG_LVL_DEBUG : LOG_LVL_INFO;
}

static int wait_for_stop(void)
{
	sigset_t set;
	int sig = 0;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig != SIGHUP)
			return sig;
		log_reopen();
		worker_reload();
		log_info("SIGHUP: log reopened, prices reloading");
	}
}

/* Every module's table of keys, at its slot: config.h's list (no layer
 * below both programs sees every module); config_load refuses a list
 * that misses one. */
static const struct config_module *const modules[CONFIG_MODULES] = {
	CONFIG_MODULE_LIST(CONFIG_MODULE_ENTRY)
};

/* --threads N overrides the config's thread count; 0, or -1 with a message
 * when N is not 1..LIMIT_THREADS_MAX. */
static int threads_option(const char *text, struct cfg *cfg)
{
	char *end;
	long n = strtol(text, &end, 10);
	if (*end != '\0' || n < 1 || n > LIMIT_THREADS_MAX) {
		fprintf(stderr, "creditd: --threads must be 1..%d\n", LIMIT_THREADS_MAX);
		return -1;
	}
	cfg->threads = n;
	return 0;
}

/* Caps glibc's malloc arenas (LIMIT_MALLOC_ARENAS says why) before any
 * thread starts, unless the operator chose a number in the environment
 * (glibc has applied it then). Other C libraries have no such knob. */
static void limit_malloc_arenas(void)
{
#ifdef M_ARENA_MAX
	const char *tunables = getenv("GLIBC_TUNABLES");
	if (getenv("MALLOC_ARENA_MAX") != NULL || (tunables != NULL && strstr(tunables, "arena_max") != NULL))
		return;
	if (mallopt(M_ARENA_MAX, LIMIT_MALLOC_ARENAS) != 1)
		fprintf(stderr, "creditd: mallopt(M_ARENA_MAX, %d) failed; malloc arenas not limited\n",
			LIMIT_MALLOC_ARENAS);
#endif
}

/* What the log says at every start about a set-up that works but is
 * weaker than it should be: a test build, a moved clock, a config whose
 * secrets others may read. */
static void start_warnings(const char *config, const struct cfg *cfg)
{
#ifdef CREDITD_TEST_CLOCK
	log_warn("built with --enable-test-clock: a test build, not for production");
#endif
	if (timefmt_test_clock_file() != NULL)
		log_warn("test clock: time is moved by the seconds in %s", timefmt_test_clock_file());
	config = config_path(config);
	if (!cfg->file_read)
		log_warn("no config file at %s: running on the defaults and the CREDITD_* environment alone (creditd -t "
			 "refuses this)", config);
	if (cfg->config_open_to_others)
		log_warn("config %s holds secrets and others may read it (security.config_readable_by_others): "
			 "so may every local user and every site's scripts", config);
	const char *remote = config_tls_remote(cfg);
	if (remote != NULL && cfg->db_tls != CFG_TLS_VERIFY)
		log_warn("database %s is on another host and database.tls = %s: its certificate is not verified%s "
			 "(docs/operations.md, \"TLS to MariaDB\")", remote, cfg->db_tls == CFG_TLS_OFF ? "off" : "required",
			 cfg->db_tls == CFG_TLS_OFF ? ", nor the connection encrypted" : "");
}

/* 1 when this user may append to the log file at path (or create it in
 * its directory), without creating it (a check run as root must not
 * leave a file creditd's user cannot write); errno says why not. */
static int log_writable(const char *path)
{
	char dir[1024];
	if (access(path, F_OK) == 0)
		return access(path, W_OK) == 0;
	if (errno != ENOENT)
		return 0;
	const char *slash = strrchr(path, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	return access(dir, W_OK | X_OK) == 0;
}

/* --check-config checks what the unit would start with: the environment
 * file it reads (envfile_for_config) too, when this user may read it
 * (else a note: its values are not checked). 0, or -1 said. */
static int check_env_file(const struct options *o)
{
	char err[512];
	int set;
	const char *path = envfile_for_config(o->config);
	int got = path != NULL ? envfile_load(path, &set, err, sizeof(err)) : 0;
	if (got == ENVFILE_UNREADABLE)
		fprintf(stderr, "creditd: %s: its values are not checked (run as root for them)\n", err);
	else if (got != 0)
		fprintf(stderr, "creditd: %s\n", err);
	return got < 0 ? -1 : 0;
}

/* --check-config: what a start would refuse, refused here too (exit 2):
 * the values (config_load did), no config file at all (a start would run on
 * the defaults and the environment alone: allowed, but never what a
 * check means to pass), a log this user cannot open. */
static int check_config(const struct options *o, struct cfg *cfg)
{
	const char *path = config_path(o->config);
	int rc = 0;
	if (!cfg->file_read) {
		fprintf(stderr, "creditd: no config file at %s: creditd would start on its defaults and the environment "
				"alone\n", path);
		rc = 2;
	} else if (strcmp(cfg->log, "stderr") != 0 && strcmp(cfg->log, "syslog") != 0 && !log_writable(cfg->log)) {
		fprintf(stderr, "creditd: cannot open log %s: %s\n", cfg->log, strerror(errno));
		rc = 2;
	}
	if (rc == 0)
		printf("creditd: configuration OK\n");
	test_build_note();
	config_free(cfg);
	return rc;
}

/* The daemon's run, once its config is read and checked: the log opened,
 * the signals blocked, the libraries started, the listener and the
 * workers; then the wait for a signal and the stop. The exit status. */
static int serve(const struct options *o, struct cfg *cfg, const char *spec)
{
	char unix_path[1024];
	sigset_t set;
	log_set_json(strcmp(cfg->log_format, "json") == 0);
	if (log_open(cfg->log, level_of(cfg->log_level)) != 0) {
		fprintf(stderr, "creditd: cannot open log %s: %s\n", cfg->log, strerror(errno));
		return 2;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (FCGX_Init() != 0 || stripe_global_init() != 0 || store_global_init() != 0) {
		fprintf(stderr, "creditd: library initialisation failed\n");
		return 1;
	}
	int fd = open_listener(spec, strtol(cfg->socket_mode, NULL, 8), unix_path, sizeof(unix_path));
	if (fd < 0) {
		fprintf(stderr, "creditd: cannot listen on %s: %s\n", spec, strerror(errno));
		return 1;
	}
	if (worker_start(cfg, fd) != 0)
		return 1;
	log_info("creditd %s listening on %s with %lld threads", PACKAGE_VERSION,
		 spec && spec[0] ? spec : fd == SD_LISTEN_FDS_START ? "the socket systemd passed" : "fd 0",
		 (long long)cfg->threads);
	notify_systemd("READY=1");
	start_warnings(o->config, cfg);
	int sig = wait_for_stop();
	notify_systemd("STOPPING=1");
	log_info("signal %d: stopping, finishing in-flight requests", sig);
	int left = worker_stop(fd, STOP_TIMEOUT_MS);
	if (unix_path[0] != '\0')
		unlink(unix_path);
	log_info("stopped%s", left > 0 ? " with requests still running" : "");
	if (left == 0) {
		/* Every thread is gone: nothing reads the config or uses a
		 * Stripe client any more. */
		stripe_global_cleanup();
		log_close();
		config_free(cfg);
	}
	return left > 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct options o;
	struct cfg cfg;
	char err[512];
	limit_malloc_arenas();
	if (parse_args(argc, argv, &o) != 0)
		return 2;
	if (o.check_only && check_env_file(&o) != 0)
		return 2;
	if (config_load(o.config, modules, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "creditd: %s\n", err);
		config_free(&cfg);
		return 2;
	}
	if (o.threads != NULL && threads_option(o.threads, &cfg) != 0)
		return 2;
	const char *spec = o.listen != NULL ? o.listen : cfg.listen;
	if (listen_conflicts(spec, o.check_only) != 0) {
		config_free(&cfg);
		return 2;
	}
	if (o.check_only)
		return check_config(&o, &cfg);
	return serve(&o, &cfg, spec);
}
