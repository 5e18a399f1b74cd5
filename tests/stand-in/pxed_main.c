/* STAND-IN, delete at merge: a throw-away pxed main that wires the HTTP
 * server to the stand-in store/decide/content, so the integration test can
 * run before the real daemon lands.  Reads only [http] Port/Address,
 * [tftp] Root and [log] Level from -c FILE. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/content.h"
#include "common/log.h"
#include "conf/conf.h"
#include "decide/decide.h"
#include "ev/ev.h"
#include "http/http_server.h"
#include "store/store.h"

static void on_stop(struct ev_loop *loop, int signo, void *data)
{
	ev_stop(loop);
}

static void trim(char *s)
{
	char *e = s + strlen(s);
	while (e > s && (e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\r'))
		*--e = '\0';
}

int main(int argc, char **argv)
{
	static struct pxed_conf conf;
	struct ev_loop *loop;
	struct store *store;
	struct decider *dec;
	struct content *content;
	struct http_server *http;
	char line[1024], sect[1024] = "";
	FILE *f;
	enum log_level lvl;

	conf.http_port = 8080;
	strcpy(conf.tftp_root, ".");
	if (argc == 3 && !strcmp(argv[1], "-c")) {
		if (!(f = fopen(argv[2], "r")))
			return 1;
		while (fgets(line, sizeof(line), f)) {
			char *eq, *k = line, *v;
			trim(line);
			if (line[0] == '[') {
				snprintf(sect, sizeof(sect), "%s", line);
				continue;
			}
			if (!(eq = strchr(line, '=')))
				continue;
			*eq = '\0';
			v = eq + 1;
			trim(k);
			while (*v == ' ')
				v++;
			if (!strcmp(sect, "[http]") && !strcmp(k, "Port"))
				conf.http_port = (uint16_t)atoi(v);
			else if (!strcmp(sect, "[http]") && !strcmp(k, "Address"))
				snprintf(conf.http_address, sizeof(conf.http_address), "%s", v);
			else if (!strcmp(sect, "[tftp]") && !strcmp(k, "Root"))
				snprintf(conf.tftp_root, sizeof(conf.tftp_root), "%s", v);
			else if (!strcmp(sect, "[log]") && !strcmp(k, "Level") &&
				 log_level_parse(v, &lvl) == 0)
				log_set_level(lvl);
		}
		fclose(f);
	}
	signal(SIGPIPE, SIG_IGN);
	if (ev_loop_new(&loop) < 0 || store_open("mem:", &store) < 0 ||
	    decider_new(&conf, store, &dec) < 0 || content_new(conf.tftp_root, &content) < 0 ||
	    http_server_new(loop, &conf, dec, store, content, &http) < 0)
		return 1;
	ev_signal_add(loop, SIGTERM, on_stop, NULL);
	ev_signal_add(loop, SIGINT, on_stop, NULL);
	ev_run(loop);
	http_server_free(http);
	content_free(content);
	decider_free(dec);
	store_close(store);
	ev_loop_free(loop);
	return 0;
}
