/* fcgiout.c: FastCGI answer records for handed-over requests (see
 * fcgiout.h). */
#include "fcgiout.h"
#include "timefmt.h"
#include "limits.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* The FastCGI 1.0 specification's record header and types. */
#define FCGI_VERSION_1 1
#define FCGI_END_REQUEST 3
#define FCGI_STDOUT 6
#define FCGI_REQUEST_COMPLETE 0
#define FCGI_HEADER_LEN 8
#define FCGI_MAX_CONTENT 65535

void fcgiout_init(struct fcgiout *o, int fd, int request_id)
{
	o->fd = fd;
	o->request_id = request_id;
	dynbuf_init(&o->buf, LIMIT_GATEWAY_PENDING_BYTES);
	o->sent = 0;
}

void fcgiout_free(struct fcgiout *o)
{
	dynbuf_free(&o->buf);
	o->sent = 0;
}

static int record(struct fcgiout *o, int type, const char *content, size_t n)
{
	/* Content padded to 8 bytes, as libfcgi's own records are. */
	size_t pad = (8 - n % 8) % 8;
	unsigned char *p = (unsigned char *)dynbuf_room(&o->buf, FCGI_HEADER_LEN + n + pad);
	if (p == NULL)
		return -1;
	p[0] = FCGI_VERSION_1;
	p[1] = (unsigned char)type;
	p[2] = (unsigned char)((o->request_id >> 8) & 0xff);
	p[3] = (unsigned char)(o->request_id & 0xff);
	p[4] = (unsigned char)((n >> 8) & 0xff);
	p[5] = (unsigned char)(n & 0xff);
	p[6] = (unsigned char)pad;
	p[7] = 0;
	if (n > 0)
		memcpy(p + FCGI_HEADER_LEN, content, n);
	memset(p + FCGI_HEADER_LEN + n, 0, pad);
	dynbuf_grew(&o->buf, FCGI_HEADER_LEN + n + pad);
	return 0;
}

/* The buffer's sent part dropped once it is most of it: the pending
 * bytes move to the front. */
static void compact(struct fcgiout *o)
{
	if (o->sent == 0)
		return;
	size_t left = o->buf.len - o->sent;
	if (left > 0)
		memmove(o->buf.data, o->buf.data + o->sent, left);
	o->buf.len = left;
	if (o->buf.data != NULL)
		o->buf.data[left] = '\0';
	o->sent = 0;
}

int fcgiout_write(struct fcgiout *o, const char *bytes, size_t n)
{
	compact(o);
	while (n > 0) {
		size_t part = n < FCGI_MAX_CONTENT ? n : FCGI_MAX_CONTENT;
		if (record(o, FCGI_STDOUT, bytes, part) != 0)
			return -1;
		bytes += part;
		n -= part;
	}
	return 0;
}

int fcgiout_end(struct fcgiout *o)
{
	unsigned char body[8] = {0, 0, 0, 0, FCGI_REQUEST_COMPLETE, 0, 0, 0};
	compact(o);
	if (record(o, FCGI_STDOUT, NULL, 0) != 0)
		return -1;
	return record(o, FCGI_END_REQUEST, (const char *)body, sizeof(body));
}

int fcgiout_pending(const struct fcgiout *o)
{
	return o->buf.len > o->sent;
}

int fcgiout_send(struct fcgiout *o, int64_t deadline_ms)
{
	if (o->buf.failed)
		return -1;
	while (o->buf.len > o->sent) {
		ssize_t n = send(o->fd, o->buf.data + o->sent, o->buf.len - o->sent, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			o->sent += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		int64_t left = deadline_ms - timefmt_mono_ms();
		if (deadline_ms == 0 || left <= 0)
			return 1;
		struct pollfd p = {o->fd, POLLOUT, 0};
		if (poll(&p, 1, left > 60000 ? 60000 : (int)left) < 0 && errno != EINTR)
			return -1;
	}
	o->buf.len = o->sent = 0;
	return 0;
}
