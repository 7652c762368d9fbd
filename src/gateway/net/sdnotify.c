/* sdnotify.c — systemd's notify protocol without libsystemd: one datagram
 * to $NOTIFY_SOCKET ("READY=1", "STOPPING=1", "WATCHDOG=1"). Nothing
 * happens when the gateway is not run by systemd. */
#include "net.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int sd_notify_send(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	if (!path || !*path)
		return 0;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = strlen(path);
	if (n >= sizeof sa.sun_path || (path[0] != '/' && path[0] != '@'))
		return -1;
	memcpy(sa.sun_path, path, n);
	if (path[0] == '@') /* the abstract namespace */
		sa.sun_path[0] = '\0';
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	ssize_t w = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa,
			   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n));
	close(fd);
	return w < 0 ? -1 : 1;
}

int64_t sd_watchdog_ms(void)
{
	const char *us = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	if (!us || (pid && atol(pid) != (long)getpid()))
		return 0;
	long long v = atoll(us);
	return v > 0 ? v / 1000 : 0;
}
