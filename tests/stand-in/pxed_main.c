/* STAND-IN, delete at merge: a throw-away pxed main that wires the HTTP
 * server to the real conf, store and decide modules and the stand-in
 * content lookup, so the integration test can run before the real daemon
 * main lands.  Usage: pxed -c FILE. */
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

int main(int argc, char **argv)
{
	static struct pxed_conf conf;
	char err[CONF_ERR_LEN], url[PATH_MAX + 16];
	struct ev_loop *loop = NULL;
	struct store *store = NULL;
	struct decider *dec = NULL;
	struct content *content = NULL;
	struct http_server *http = NULL;
	enum log_level lvl;
	int rc = 1;

	if (conf_load(&conf, argc == 3 && !strcmp(argv[1], "-c") ? argv[2] : NULL, err) < 0) {
		fprintf(stderr, "pxed: %s\n", err);
		return 1;
	}
	if (log_level_parse(conf.log_level, &lvl) == 0)
		log_set_level(lvl);
	if (conf.store_url[0])
		snprintf(url, sizeof(url), "%s", conf.store_url);
	else
		snprintf(url, sizeof(url), "sqlite:%s/pxed.db", conf.state_dir);
	signal(SIGPIPE, SIG_IGN);
	if (ev_loop_new(&loop) < 0 || store_open(url, &store) < 0 ||
	    decider_new(&conf, store, &dec) < 0 || content_new(conf.tftp_root, NULL, NULL, &content) < 0 ||
	    http_server_new(loop, &conf, dec, store, content, &http) < 0)
		goto done;
	ev_signal_add(loop, SIGTERM, on_stop, NULL);
	ev_signal_add(loop, SIGINT, on_stop, NULL);
	ev_run(loop);
	rc = 0;
done:
	http_server_free(http);
	content_free(content);
	decider_free(dec);
	store_close(store);
	ev_loop_free(loop);
	return rc;
}
