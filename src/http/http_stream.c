#include "http/http_stream.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/log.h"
#include "conf/conf.h"
#include "decide/decide.h"
#include "http/http_internal.h"
#include "store/store.h"

#define MOD "http"

struct stream_item {
	uint64_t seq;
	size_t len;
	char data[HTTP_STREAM_ITEM];
};

struct stream_sub {
	struct stream_sub *prev, *next;
	struct http_stream_hub *hub;
	struct MHD_Connection *conn;
	struct http_listener *via;
	uint64_t seq;              /* the next decision to send */
	bool suspended;            /* waiting for a decision or the ping */
	bool hello;                /* the retry: line was sent */
	bool ping;                 /* send a keep-alive comment */
	bool closing;              /* end the stream at the next read */
	bool by_session;           /* signed in with the cookie: end with it */
	char session_id[HTTP_SESSION_ID_LEN + 1];
};

struct http_stream_hub {
	struct http_server *srv;
	/* Shared with the publishing threads: */
	pthread_mutex_t lock;
	struct stream_item *ring;
	uint64_t next_seq;         /* seq of the next decision published */
	uint64_t published, too_large;
	int efd;                   /* eventfd: "something was published" */
	/* The loop's: */
	struct ev_io io;
	struct ev_timer ping;
	struct ev_timer kick;      /* 0 ms: run MHD after resuming */
	struct stream_sub *subs;
	unsigned n_subs;
	uint64_t dropped, refused;
};

static void time_iso(int64_t ms, char *out, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void http_stream_publish(void *ctx, const struct store_event *ev, const struct decision *dec)
{
	struct http_stream_hub *h = ctx;
	char mac[MAC_STR_LEN], guid[GUID_STR_LEN], when[32];
	char buf[HTTP_STREAM_ITEM];
	size_t n;
	uint64_t one = 1;
	json_t *o;

	mac_format(ev->mac, mac);
	if (ev->has_guid)
		guid_format(ev->guid, guid);
	time_iso(ev->time_ms, when, sizeof(when));
	o = json_pack("{s:s, s:I, s:s, s:s?, s:o, s:s, s:s, s:s, s:s, s:s?, s:I, s:s, s:s}",
		      "time", when, "time_ms", (json_int_t)ev->time_ms, "mac", mac, "guid",
		      ev->has_guid ? guid : NULL, "arch",
		      ev->arch >= 0 ? json_integer(ev->arch) : json_null(), "via", ev->via,
		      "ifname", ev->ifname, "outcome", ev->outcome, "reason", ev->reason, "device",
		      dec->device_name[0] ? dec->device_name : NULL, "device_id",
		      (json_int_t)dec->device_id, "deployment", ev->deployment_name, "server",
		      h->srv->hostname);
	/* Names and reasons are bounded (64 and 192 bytes), so a decision
	 * fits; one that does not is counted, never cut. */
	n = o ? json_dumpb(o, buf, sizeof(buf), JSON_COMPACT) : 0;
	json_decref(o);
	pthread_mutex_lock(&h->lock);
	if (n == 0 || n > sizeof(buf)) {
		h->too_large++;
		pthread_mutex_unlock(&h->lock);
		return;
	}
	struct stream_item *it = &h->ring[h->next_seq % HTTP_STREAM_RING];
	it->seq = h->next_seq++;
	it->len = n;
	memcpy(it->data, buf, n);
	h->published++;
	pthread_mutex_unlock(&h->lock);
	/* Never blocks: an eventfd only fails to count past 2^64 - 2. */
	if (write(h->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_debug(MOD, "stream: cannot wake the loop: %s", strerror(errno));
}

static void sub_wake(struct stream_sub *sub)
{
	if (sub->suspended) {
		sub->suspended = false;
		MHD_resume_connection(sub->conn);
	}
}

static void on_kick(struct ev_loop *loop, struct ev_timer *t)
{
	struct http_stream_hub *h = t->data;
	http_server_kick(h->srv);
}

/* Run MHD for the resumed connections from the loop's next turn: never
 * from inside MHD (a request handler), which must not run itself again. */
static void hub_kick(struct http_stream_hub *h)
{
	ev_timer_start(h->srv->loop, &h->kick, 0);
}

/* MHD does not watch a suspended connection: look at its socket for the
 * client's close ourselves (a read of 0 bytes), so a gone client frees its
 * place without waiting for the next decision or ping. */
static bool sub_gone(struct stream_sub *sub)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(sub->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	char b;
	ssize_t n;
	if (!ci)
		return false;
	n = recv(ci->connect_fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* Streams not on their way out; ends the ones whose client is gone. */
static unsigned hub_reap(struct http_stream_hub *h)
{
	unsigned live = 0;
	bool woke = false;
	for (struct stream_sub *sub = h->subs; sub; sub = sub->next) {
		if (!sub->closing && sub->suspended && sub_gone(sub))
			sub->closing = true;
		if (sub->closing && sub->suspended) {
			sub_wake(sub);
			woke = true;
		}
		live += !sub->closing;
	}
	if (woke)
		hub_kick(h);
	return live;
}

/* The loop: something was published; wake whoever waits. */
static void on_published(struct ev_loop *loop, struct ev_io *io, uint32_t events)
{
	struct http_stream_hub *h = io->data;
	uint64_t v;
	bool woke = false;
	if (read(h->efd, &v, sizeof(v)) < 0)
		return;
	for (struct stream_sub *sub = h->subs; sub; sub = sub->next)
		if (sub->suspended) {
			sub_wake(sub);
			woke = true;
		}
	if (woke)
		hub_kick(h);
}

/* The loop: keep idle streams alive through proxies and notice clients
 * gone (a suspended connection does not see a close) and sessions ended. */
static void on_ping(struct ev_loop *loop, struct ev_timer *t)
{
	struct http_stream_hub *h = t->data;
	bool woke = false;
	for (struct stream_sub *sub = h->subs; sub; sub = sub->next) {
		sub->ping = true;
		if (sub->suspended && sub_gone(sub))
			sub->closing = true;
		if (sub->by_session && !http_session_find(&h->srv->sessions, sub->session_id, now_ms()))
			sub->closing = true;
		if (sub->suspended) {
			sub_wake(sub);
			woke = true;
		}
	}
	if (woke)
		hub_kick(h);
	ev_timer_start(loop, &h->ping, HTTP_STREAM_PING_MS);
}

static int put(char *buf, size_t max, size_t *n, const char *s, size_t len)
{
	if (len > max - *n)
		return -1;
	memcpy(buf + *n, s, len);
	*n += len;
	return 0;
}

/* MHD's content reader, on the loop: what is due for this subscriber, or
 * suspend until there is some. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream_sub *sub = cls;
	struct http_stream_hub *h = sub->hub;
	size_t n = 0;
	char line[96];

	if (sub->closing)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (!sub->hello) {
		/* EventSource reconnects after `retry` ms when the stream ends. */
		static const char hello[] = "retry: 2000\n: pxed decisions\n\n";
		if (put(buf, max, &n, hello, sizeof(hello) - 1) == 0)
			sub->hello = true;
	}
	pthread_mutex_lock(&h->lock);
	uint64_t oldest = h->next_seq > HTTP_STREAM_RING ? h->next_seq - HTTP_STREAM_RING : 0;
	if (sub->seq < oldest) {
		uint64_t lost = oldest - sub->seq;
		int l = snprintf(line, sizeof(line), "event: dropped\ndata: {\"dropped\":%llu}\n\n",
				 (unsigned long long)lost);
		if (put(buf, max, &n, line, (size_t)l) == 0) {
			h->dropped += lost;
			sub->seq = oldest;
		}
	}
	while (sub->seq >= oldest && sub->seq < h->next_seq) {
		const struct stream_item *it = &h->ring[sub->seq % HTTP_STREAM_RING];
		if (it->len + 8 > max - n)
			break;
		put(buf, max, &n, "data: ", 6);
		put(buf, max, &n, it->data, it->len);
		put(buf, max, &n, "\n\n", 2);
		sub->seq++;
	}
	pthread_mutex_unlock(&h->lock);
	if (sub->ping) {
		if (put(buf, max, &n, ":\n\n", 3) == 0)
			sub->ping = false;
	}
	if (n)
		return (ssize_t)n;
	/* Nothing due: MHD would call again at once; wait instead. */
	MHD_suspend_connection(sub->conn);
	sub->suspended = true;
	return 0;
}

static void stream_free(void *cls)
{
	struct stream_sub *sub = cls;
	struct http_stream_hub *h = sub->hub;
	if (sub->prev)
		sub->prev->next = sub->next;
	else
		h->subs = sub->next;
	if (sub->next)
		sub->next->prev = sub->prev;
	h->n_subs--;
	explicit_bzero(sub->session_id, sizeof(sub->session_id));
	free(sub);
}

enum MHD_Result http_stream_events(struct http_server *s, struct MHD_Connection *c,
				   struct http_request *r, const char *url)
{
	struct http_stream_hub *h = s->hub;
	struct MHD_Response *resp;
	struct stream_sub *sub;

	if (h->n_subs >= s->conf->http_max_event_streams &&
	    hub_reap(h) >= s->conf->http_max_event_streams) {
		h->refused++;
		log_warn(MOD, "events stream refused: MaxEventStreams (%u) open",
			 s->conf->http_max_event_streams);
		return http_reply_error(c, r, MHD_HTTP_SERVICE_UNAVAILABLE, "busy",
					"%u live streams are open (MaxEventStreams)",
					s->conf->http_max_event_streams);
	}
	sub = calloc(1, sizeof(*sub));
	if (!sub)
		return MHD_NO;
	sub->hub = h;
	sub->conn = c;
	sub->via = r->via;
	if (r->session) {
		sub->by_session = true;
		memcpy(sub->session_id, r->session->id, sizeof(sub->session_id));
	}
	pthread_mutex_lock(&h->lock);
	sub->seq = h->next_seq; /* from now on; the page reads the past from /api/v1/events */
	pthread_mutex_unlock(&h->lock);
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_read, sub,
						 stream_free);
	if (!resp) {
		free(sub);
		return MHD_NO;
	}
	sub->next = h->subs;
	if (h->subs)
		h->subs->prev = sub;
	h->subs = sub;
	h->n_subs++;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	/* For reverse proxies that buffer (nginx): pass it through. */
	MHD_add_response_header(resp, "X-Accel-Buffering", "no");
	return http_queue(c, r, MHD_HTTP_OK, resp);
}

int http_stream_hub_new(struct http_server *s, struct http_stream_hub **out)
{
	struct http_stream_hub *h = calloc(1, sizeof(*h));
	int r;
	if (!h)
		return -ENOMEM;
	h->srv = s;
	h->efd = -1;
	ev_timer_init(&h->ping, on_ping, h);
	ev_timer_init(&h->kick, on_kick, h);
	pthread_mutex_init(&h->lock, NULL);
	h->ring = calloc(HTTP_STREAM_RING, sizeof(*h->ring));
	if (!h->ring) {
		r = -ENOMEM;
		goto err;
	}
	h->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (h->efd < 0) {
		r = -errno;
		goto err;
	}
	ev_io_init(&h->io, h->efd, on_published, h);
	if ((r = ev_io_start(s->loop, &h->io, EV_READ)) < 0)
		goto err;
	ev_timer_start(s->loop, &h->ping, HTTP_STREAM_PING_MS);
	*out = h;
	return 0;
err:
	http_stream_hub_free(h);
	return r;
}

void http_stream_close_all(struct http_stream_hub *h)
{
	if (!h)
		return;
	for (struct stream_sub *sub = h->subs; sub; sub = sub->next) {
		sub->closing = true;
		sub_wake(sub);
	}
}

void http_stream_hub_free(struct http_stream_hub *h)
{
	if (!h)
		return;
	if (h->efd >= 0) {
		ev_io_stop(h->srv->loop, &h->io);
		close(h->efd);
	}
	ev_timer_stop(h->srv->loop, &h->ping);
	ev_timer_stop(h->srv->loop, &h->kick);
	pthread_mutex_destroy(&h->lock);
	free(h->ring);
	free(h);
}

void http_stream_get_stats(struct http_stream_hub *h, struct http_stream_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!h)
		return;
	out->subscribers = h->n_subs;
	out->dropped = h->dropped;
	out->refused = h->refused;
	pthread_mutex_lock(&h->lock);
	out->published = h->published;
	out->too_large = h->too_large;
	pthread_mutex_unlock(&h->lock);
}
