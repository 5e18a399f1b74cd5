/* notify: tell the service manager how pxed is doing (sd_notify(3)).
 *
 * systemd starts pxed with NOTIFY_SOCKET naming a unix datagram socket
 * (a path, or "@name" in the abstract namespace); each state is one
 * datagram of newline-separated KEY=VALUE lines.  Without NOTIFY_SOCKET
 * every call does nothing.  The protocol is one sendto(), so pxed speaks
 * it itself rather than linking libsystemd.
 *
 * Called from the loop thread only. */
#pragma once

/* Read NOTIFY_SOCKET and open the socket; 0 also when there is none.
 * Call before dropping privileges. */
int notify_init(void);
/* Send "READY=1" (the ports are bound, the store is open). */
void notify_ready(void);
/* Send "RELOADING=1" with MONOTONIC_USEC (a SIGHUP is being handled);
 * notify_ready() says the reload is over, whatever its outcome. */
void notify_reloading(void);
/* Send "STOPPING=1". */
void notify_stopping(void);
/* Send "STATUS=text" (one line shown by systemctl status). */
void notify_status(const char *text);
void notify_close(void);
