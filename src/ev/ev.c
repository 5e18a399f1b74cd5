#include "ev/ev.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "common/util.h"

#define EV_MAX_EVENTS 256
#define EV_MAX_WAIT_MS 1000
#define EV_NSIG 65

struct ev_loop {
	int epfd;
	bool stop;
	uint64_t now;
	/* Min-heap of active timers ordered by due_ms. */
	struct ev_timer **heap;
	size_t heap_len, heap_cap;
	/* Signals: one signalfd for all, dispatched by number. */
	struct ev_io sig_io;
	sigset_t sigmask;
	ev_signal_cb sig_cb[EV_NSIG];
	/* Events of the current iteration not yet dispatched; ev_io_stop
	 * clears its entry so a handle freed in a callback is never touched. */
	struct epoll_event pending[EV_MAX_EVENTS];
	int npending, ipending;
	void *sig_data[EV_NSIG];
};

int ev_loop_new(struct ev_loop **out)
{
	struct ev_loop *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		int e = -errno;
		free(l);
		return e;
	}
	l->sig_io.fd = -1;
	sigemptyset(&l->sigmask);
	l->now = now_ms();
	*out = l;
	return 0;
}

void ev_loop_free(struct ev_loop *l)
{
	if (!l)
		return;
	if (l->sig_io.fd >= 0)
		close(l->sig_io.fd);
	close(l->epfd);
	free(l->heap);
	free(l);
}

void ev_stop(struct ev_loop *l) { l->stop = true; }
uint64_t ev_now(const struct ev_loop *l) { return l->now; }

/* ---- fds ---- */

void ev_io_init(struct ev_io *io, int fd, ev_io_cb cb, void *data)
{
	io->fd = fd;
	io->events = 0;
	io->active = false;
	io->cb = cb;
	io->data = data;
}

int ev_io_start(struct ev_loop *l, struct ev_io *io, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = io };
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, io->fd, &ev) < 0)
		return -errno;
	io->events = events;
	io->active = true;
	return 0;
}

int ev_io_modify(struct ev_loop *l, struct ev_io *io, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = io };
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0)
		return -errno;
	io->events = events;
	return 0;
}

void ev_io_stop(struct ev_loop *l, struct ev_io *io)
{
	if (!io->active)
		return;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	io->events = 0;
	io->active = false;
	for (int i = l->ipending; i < l->npending; i++)
		if (l->pending[i].data.ptr == io)
			l->pending[i].data.ptr = NULL;
}

/* ---- timers: binary min-heap ---- */

static void heap_set(struct ev_loop *l, size_t i, struct ev_timer *t)
{
	l->heap[i] = t;
	t->heap_idx = i;
}

static void heap_up(struct ev_loop *l, size_t i)
{
	struct ev_timer *t = l->heap[i];
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (l->heap[p]->due_ms <= t->due_ms)
			break;
		heap_set(l, i, l->heap[p]);
		i = p;
	}
	heap_set(l, i, t);
}

static void heap_down(struct ev_loop *l, size_t i)
{
	struct ev_timer *t = l->heap[i];
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= l->heap_len)
			break;
		if (c + 1 < l->heap_len && l->heap[c + 1]->due_ms < l->heap[c]->due_ms)
			c++;
		if (t->due_ms <= l->heap[c]->due_ms)
			break;
		heap_set(l, i, l->heap[c]);
		i = c;
	}
	heap_set(l, i, t);
}

void ev_timer_init(struct ev_timer *t, ev_timer_cb cb, void *data)
{
	t->due_ms = 0;
	t->heap_idx = (size_t)-1;
	t->cb = cb;
	t->data = data;
}

void ev_timer_stop(struct ev_loop *l, struct ev_timer *t)
{
	size_t i = t->heap_idx;
	if (i == (size_t)-1)
		return;
	t->heap_idx = (size_t)-1;
	l->heap_len--;
	if (i == l->heap_len)
		return;
	struct ev_timer *moved = l->heap[l->heap_len];
	heap_set(l, i, moved);
	heap_up(l, i);
	heap_down(l, moved->heap_idx);
}

int ev_timer_start(struct ev_loop *l, struct ev_timer *t, uint64_t delay_ms)
{
	ev_timer_stop(l, t);
	if (l->heap_len == l->heap_cap) {
		size_t ncap = l->heap_cap ? l->heap_cap * 2 : 64;
		struct ev_timer **nh = realloc(l->heap, ncap * sizeof(*nh));
		if (!nh)
			return -ENOMEM;
		l->heap = nh;
		l->heap_cap = ncap;
	}
	t->due_ms = now_ms() + delay_ms;
	heap_set(l, l->heap_len++, t);
	heap_up(l, t->heap_idx);
	return 0;
}

static int ev_next_wait(struct ev_loop *l)
{
	if (l->heap_len == 0)
		return EV_MAX_WAIT_MS;
	uint64_t due = l->heap[0]->due_ms;
	if (due <= l->now)
		return 0;
	uint64_t d = due - l->now;
	return d > EV_MAX_WAIT_MS ? EV_MAX_WAIT_MS : (int)d;
}

static void ev_run_timers(struct ev_loop *l)
{
	/* A callback may re-arm its own timer; one that re-arms with delay 0
	 * runs again in the next iteration, not in this one, so this loop
	 * always ends. */
	uint64_t limit = l->now;
	while (l->heap_len > 0 && l->heap[0]->due_ms <= limit) {
		struct ev_timer *t = l->heap[0];
		ev_timer_stop(l, t);
		t->cb(l, t);
		if (l->stop)
			break;
	}
}

/* ---- signals ---- */

static void ev_signal_read(struct ev_loop *l, struct ev_io *io, uint32_t events)
{
	struct signalfd_siginfo si;
	while (read(io->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		int s = (int)si.ssi_signo;
		if (s > 0 && s < EV_NSIG && l->sig_cb[s])
			l->sig_cb[s](l, s, l->sig_data[s]);
	}
}

int ev_signal_add(struct ev_loop *l, int signo, ev_signal_cb cb, void *data)
{
	if (signo <= 0 || signo >= EV_NSIG)
		return -EINVAL;
	sigaddset(&l->sigmask, signo);
	if (sigprocmask(SIG_BLOCK, &l->sigmask, NULL) < 0)
		return -errno;
	int fd = signalfd(l->sig_io.fd, &l->sigmask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (l->sig_io.fd < 0) {
		ev_io_init(&l->sig_io, fd, ev_signal_read, NULL);
		int r = ev_io_start(l, &l->sig_io, EV_READ);
		if (r < 0)
			return r;
	}
	l->sig_cb[signo] = cb;
	l->sig_data[signo] = data;
	return 0;
}

/* ---- the loop ---- */

int ev_run(struct ev_loop *l)
{
	struct epoll_event *evs = l->pending;
	l->stop = false;
	while (!l->stop) {
		l->now = now_ms();
		int n = epoll_wait(l->epfd, evs, EV_MAX_EVENTS, ev_next_wait(l));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		l->now = now_ms();
		l->npending = n;
		for (l->ipending = 0; l->ipending < n && !l->stop; l->ipending++) {
			struct ev_io *io = evs[l->ipending].data.ptr;
			if (io)
				io->cb(l, io, evs[l->ipending].events);
		}
		l->npending = 0;
		if (!l->stop)
			ev_run_timers(l);
	}
	return 0;
}
