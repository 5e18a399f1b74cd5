/* ev: pxed's event loop -- epoll for fds, a binary heap for timers,
 * signalfd for signals.  Everything network-facing (DHCP, TFTP, HTTP) runs
 * on one loop in one thread; work that may block goes to ev_work.h.
 *
 * One iteration (ev_run):
 *   1. compute the wait from the earliest timer (capped at 1 s);
 *   2. epoll_wait; dispatch every ready fd to its ev_io callback;
 *   3. run every timer whose due time has passed, earliest first.
 * Handles (struct ev_io, struct ev_timer) are owned by the caller and must
 * stay alive while registered; the loop never allocates per event.  A
 * handle may be stopped and freed from inside any callback: ev_io_stop
 * drops its pending events of the current iteration. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ev_loop;
struct ev_io;
struct ev_timer;

#define EV_READ  0x1u
#define EV_WRITE 0x4u /* same values as EPOLLIN / EPOLLOUT */

typedef void (*ev_io_cb)(struct ev_loop *loop, struct ev_io *io, uint32_t events);
typedef void (*ev_timer_cb)(struct ev_loop *loop, struct ev_timer *t);

struct ev_io {
	int fd;
	uint32_t events; /* EV_READ | EV_WRITE currently watched */
	bool active;     /* registered with the loop */
	ev_io_cb cb;
	void *data;      /* the owner's context */
};

struct ev_timer {
	uint64_t due_ms; /* absolute, on the loop's monotonic clock */
	size_t heap_idx; /* position in the heap, SIZE_MAX when stopped */
	ev_timer_cb cb;
	void *data;
};

int ev_loop_new(struct ev_loop **out);
void ev_loop_free(struct ev_loop *loop); /* accepts NULL */

/* Run until ev_stop(); returns 0, or a negative errno from epoll. */
int ev_run(struct ev_loop *loop);
void ev_stop(struct ev_loop *loop);
/* The loop's cached monotonic time, refreshed once per iteration. */
uint64_t ev_now(const struct ev_loop *loop);

void ev_io_init(struct ev_io *io, int fd, ev_io_cb cb, void *data);
int ev_io_start(struct ev_loop *loop, struct ev_io *io, uint32_t events);
int ev_io_modify(struct ev_loop *loop, struct ev_io *io, uint32_t events);
void ev_io_stop(struct ev_loop *loop, struct ev_io *io); /* idempotent */

void ev_timer_init(struct ev_timer *t, ev_timer_cb cb, void *data);
/* (Re)arm to fire delay_ms from now; a running timer is moved. */
int ev_timer_start(struct ev_loop *loop, struct ev_timer *t, uint64_t delay_ms);
void ev_timer_stop(struct ev_loop *loop, struct ev_timer *t); /* idempotent */
static inline bool ev_timer_active(const struct ev_timer *t) { return t->heap_idx != (size_t)-1; }

/* Deliver signo through the loop (signalfd); the signal is blocked for the
 * whole process.  At most one callback per signal. */
typedef void (*ev_signal_cb)(struct ev_loop *loop, int signo, void *data);
int ev_signal_add(struct ev_loop *loop, int signo, ev_signal_cb cb, void *data);
