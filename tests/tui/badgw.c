/* badgw — a gateway that answers badly, for groqtop's robustness tests.
 *
 *   badgw MODEFILE   prints its loopback address, then serves each
 *                    connection (in a child) as MODEFILE says at that moment:
 *
 *   garbage    bytes that are not HTTP at all
 *   notjson    HTTP 200 with a body that is not JSON
 *   truncated  HTTP 200, JSON cut in the middle, connection closed
 *   wrongtypes HTTP 200, valid JSON with every field of the wrong type
 *   huge       HTTP 200 with a 64 MiB JSON body, sent as fast as it is read
 *   silent     accepts, reads, never answers
 *   reset      accepts and closes at once
 *   error      HTTP 500 with an HTML body
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void put(int fd, const char *s)
{
	size_t n = strlen(s);
	while (n) {
		ssize_t w = write(fd, s, n);
		if (w <= 0)
			_exit(0);
		s += w;
		n -= (size_t)w;
	}
}

static void head(int fd, const char *status, const char *ctype, long long len)
{
	char h[256];
	snprintf(h, sizeof h, "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %lld\r\nConnection: close\r\n\r\n",
		 status, ctype, len);
	put(fd, h);
}

static void serve(int fd, const char *mode)
{
	char req[8192];
	if (read(fd, req, sizeof req) <= 0) /* the request (one read is enough here) */
		_exit(0);
	if (strcmp(mode, "garbage") == 0) {
		put(fd, "\x01\x02\xff\xfe garbage \x1b[2J\x1b[31m not http \r\n\r\n\x00\x7f");
	} else if (strcmp(mode, "notjson") == 0) {
		const char *b = "<html><body>502 proxy error</body></html>";
		head(fd, "200 OK", "application/json", (long long)strlen(b));
		put(fd, b);
	} else if (strcmp(mode, "truncated") == 0) {
		head(fd, "200 OK", "application/json", 4096);
		put(fd, "{\"now_ms\":1790000000000,\"teams\":[{\"id\":\"alpha\",\"name\":\"Al");
	} else if (strcmp(mode, "wrongtypes") == 0) {
		const char *b = "{\"now_ms\":\"soon\",\"org\":[1,2],\"teams\":{\"id\":7},\"keys\":\"none\","
				"\"alerts\":42,\"upstream\":null,\"items\":[null,1,\"x\",{\"id\":{}}],"
				"\"entries\":{},\"rotation\":[],\"state\":5,\"version\":-1}";
		head(fd, "200 OK", "application/json", (long long)strlen(b));
		put(fd, b);
	} else if (strcmp(mode, "huge") == 0) {
		long long len = 64LL << 20;
		head(fd, "200 OK", "application/json", len);
		static char chunk[65536];
		memset(chunk, ' ', sizeof chunk);
		chunk[0] = '[';
		for (long long sent = 0; sent < len; sent += (long long)sizeof chunk) {
			ssize_t w = write(fd, chunk, sizeof chunk);
			if (w <= 0)
				_exit(0);
			chunk[0] = ' ';
		}
	} else if (strcmp(mode, "silent") == 0) {
		while (read(fd, req, sizeof req) > 0)
			;
	} else if (strcmp(mode, "error") == 0) {
		const char *b = "<html><h1>500 Internal Server Error</h1></html>";
		head(fd, "500 Internal Server Error", "text/html", (long long)strlen(b));
		put(fd, b);
	}
	/* reset, and anything unknown: just close */
	_exit(0);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: badgw MODEFILE\n");
		return 2;
	}
	signal(SIGCHLD, SIG_IGN); /* no zombies */
	signal(SIGPIPE, SIG_IGN);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof a;
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 64) != 0 ||
	    getsockname(s, (struct sockaddr *)&a, &al) != 0) {
		perror("badgw");
		return 1;
	}
	printf("127.0.0.1:%d\n", ntohs(a.sin_port));
	fflush(stdout);
	for (;;) {
		int c = accept(s, NULL, NULL);
		if (c < 0)
			continue;
		char mode[64] = "reset";
		FILE *f = fopen(argv[1], "r");
		if (f) {
			if (fgets(mode, sizeof mode, f))
				mode[strcspn(mode, "\r\n")] = '\0';
			fclose(f);
		}
		pid_t pid = fork();
		if (pid == 0) {
			close(s);
			serve(c, mode);
		}
		close(c);
	}
}
