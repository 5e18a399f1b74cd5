#include "common/notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

static int notify_fd = -1;
static struct sockaddr_un notify_addr;
static socklen_t notify_addr_len;

int notify_init(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	size_t len;
	if (!path || !*path)
		return 0;
	len = strlen(path);
	/* sun_path need not be NUL-terminated when the length says where it
	 * ends, but a path that does not fit is not ours to shorten. */
	if ((path[0] != '/' && path[0] != '@') || len > sizeof(notify_addr.sun_path))
		return -EINVAL;
	memset(&notify_addr, 0, sizeof(notify_addr));
	notify_addr.sun_family = AF_UNIX;
	memcpy(notify_addr.sun_path, path, len);
	if (path[0] == '@')
		notify_addr.sun_path[0] = '\0'; /* abstract namespace */
	notify_addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (notify_fd < 0)
		return -errno;
	return 0;
}

static void notify_send(const char *msg)
{
	if (notify_fd < 0)
		return;
	/* A manager that stopped listening is no reason to stop serving:
	 * say it once per failure in the debug log and go on. */
	if (sendto(notify_fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&notify_addr,
		   notify_addr_len) < 0)
		log_debug("notify", "cannot notify the service manager: %s", strerror(errno));
}

void notify_ready(void) { notify_send("READY=1"); }
void notify_stopping(void) { notify_send("STOPPING=1"); }

void notify_reloading(void)
{
	/* systemd 253+ (Type=notify-reload) matches the reload by this
	 * timestamp; older ones ignore it. */
	char msg[64];
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000ULL);
	notify_send(msg);
}

void notify_status(const char *text)
{
	char msg[256];
	snprintf(msg, sizeof(msg), "STATUS=%s", text);
	notify_send(msg);
}

void notify_close(void)
{
	if (notify_fd >= 0)
		close(notify_fd);
	notify_fd = -1;
}
