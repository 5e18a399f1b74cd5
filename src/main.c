/* pxed: the daemon.  main() only wires the modules together:
 *   conf -> store -> content -> decider -> dhcp, tftp, http on one ev loop,
 * with the store's worker (ev_work: one thread per call the store serves
 * at once) for what may wait for the database: uncached decisions, the
 * API's store calls, writing events (HTTP and TFTP run their own ev_work
 * instances for password hashes and disk reads); and turns
 * signals into actions (TERM/INT stop, HUP reloads settings). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/content.h"
#include "common/log.h"
#include "common/notify.h"
#include "common/util.h"
#include "wake/wol.h"
#include "conf/conf.h"
#include "decide/boot_token.h"
#include "decide/decide.h"
#include "dhcp/dhcp_server.h"
#include "dhcp/pxe.h"
#include "http/grub_boot.h"
#include "ev/ev.h"
#include "ev/ev_work.h"
#include "http/http_server.h"
#include "store/store.h"
#include "tftp/tftp_server.h"

#ifndef PXED_VERSION
#define PXED_VERSION "0.1.0"
#endif

struct pxed {
	const char *conf_path;  /* NULL = embedded defaults */
	struct pxed_conf conf;  /* the settings in force; modules read it */
	struct ev_loop *loop;
	struct store *store;
	struct content *content;
	struct decider *decider;
	struct dhcp_server *dhcp;
	struct tftp_server *tftp;
	struct http_server *http;
	struct boot_tokens *tokens; /* script URL tokens: issued by DHCP, checked by HTTP */
	struct grub_boot *grub;   /* GRUB configurations on the TFTP side */
	struct wol_sched *wol;      /* Wake-on-LAN: relays noted by DHCP, sent for HTTP */
	struct ev_work *work;     /* the store and the disk, off the loop */
	struct ev_timer maintain; /* the decider's housekeeping: events, retention */
	struct ev_work_job maintain_job; /* ... which runs on the worker */
	bool maintain_running;
	int maintain_next;        /* ms, decider_maintain()'s answer */
	/* SIGHUP: the new settings wait for a moment when no worker job
	 * reads them (ev_work_submit_exclusive()). */
	struct pxed_conf *reload_next; /* NULL = none pending */
	bool reload_queued;
	struct ev_work_job reload_job;
	struct ev_timer reload_retry;  /* the queue was full */
};

/* Jobs waiting for the worker at most: DHCP requests (bounded on their
 * own, see dhcp_server.c), HTTP requests, the housekeeping. */
#define PXED_WORK_QUEUE 1024

static void usage(FILE *out)
{
	fputs("Usage: pxed [-c FILE] [-t] [-d] [-V] [-h]\n"
	      "PXE deployment service point: ProxyDHCP (UDP 67, 4011), TFTP (UDP 69),\n"
	      "HTTP boot scripts, files and admin API.\n"
	      "\n"
	      "  -c, --config FILE  read settings from FILE (INI); default: embedded defaults\n"
	      "  -t, --test         check the settings, print the settings block, exit\n"
	      "                     (0 if valid; 1 with FILE:LINE: reason if not)\n"
	      "  -d, --debug        log at debug level\n"
	      "  -V, --version      print the version and exit\n"
	      "  -h, --help         this help\n"
	      "\n"
	      "Signals: SIGHUP reloads FILE (a bad file is refused, the running\n"
	      "settings stay in force; changes made with `pxectl settings set` are\n"
	      "replaced by the file's values); SIGTERM and SIGINT stop.\n"
	      "See docs/pxed.8.md and docs/pxed.conf.example.\n",
	      out);
}

static void print_block_to_log(const struct pxed_conf *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return;
	conf_print_block(c, f);
	fclose(f);
	for (char *save = NULL, *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		log_info("conf", "%s", line);
	free(buf);
}

/* 1 when the last component was created now, 0 when it existed, or a
 * negative errno. */
static int mkdir_p(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];
	if (str_copy(tmp, sizeof(tmp), path) < 0)
		return -ENAMETOOLONG;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) == 0)
		return 1;
	if (errno != EEXIST)
		return -errno;
	return 0;
}

/* The database's directory: the part of sqlite:PATH before the last '/'
 * ("." for a bare name).  NULL for another kind of store. */
static const char *db_dir_of(const struct pxed_conf *c, char *out, size_t len)
{
	const char *db = store_url_file(c->store_url);
	char *slash;
	if (!db || str_copy(out, len, db) < 0)
		return NULL;
	slash = strrchr(out, '/');
	if (!slash)
		return str_copy(out, len, ".") < 0 ? NULL : out;
	if (slash == out)
		slash[1] = '\0'; /* "/pxed.db": the root directory */
	else
		*slash = '\0';
	return out;
}

/* What holds the inventory must not be readable by every local user:
 * StateDir (the database, the tokens, the server GUID) and the database
 * file.  What pxed creates itself gets a safe mode; what it finds, it
 * does not change: it refuses to start and says what to fix.  Returns 0
 * or a negative errno (logged). */
static int state_modes_check(const struct pxed_conf *c, bool state_created)
{
	struct stat st;
	const char *db = store_url_file(c->store_url);
	if (state_created && chmod(c->state_dir, 0750) < 0) {
		int r = -errno;
		log_error("pxed", "StateDir %s: cannot set mode 0750: %s", c->state_dir, strerror(-r));
		return r;
	}
	if (stat(c->state_dir, &st) < 0) {
		int r = -errno;
		log_error("pxed", "StateDir %s: %s", c->state_dir, strerror(-r));
		return r;
	}
	if (st.st_mode & 007) {
		log_error("pxed", "StateDir %s is open to every user (mode %04o): it holds the "
				  "database and the API tokens; chmod o-rwx it",
			  c->state_dir, (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	if (db && stat(db, &st) == 0 && (st.st_mode & 007)) {
		log_error("pxed", "database %s is open to every user (mode %04o); chmod o-rwx it",
			  db, (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

/* The server's identity (seed: "PXE GUID"): from the settings, else the one
 * kept in the state directory, else a new random one kept there. */
static int server_guid_ensure(struct pxed_conf *c)
{
	char path[PATH_MAX + 32], text[GUID_STR_LEN + 2] = "";
	uint8_t g[GUID_LEN];
	if (c->pxe_guid[0])
		return 0;
	snprintf(path, sizeof(path), "%s/server.guid", c->state_dir);
	FILE *f = fopen(path, "re");
	if (f) {
		if (fgets(text, sizeof(text), f)) {
			text[strcspn(text, "\n")] = '\0';
			if (guid_parse(text, g) == 0) {
				fclose(f);
				guid_format(g, c->pxe_guid);
				return 0;
			}
		}
		fclose(f);
	}
	if (getrandom(g, sizeof(g), 0) != (ssize_t)sizeof(g))
		return -EIO;
	g[6] = (uint8_t)((g[6] & 0x0f) | 0x40); /* RFC 9562 version 4 */
	g[8] = (uint8_t)((g[8] & 0x3f) | 0x80);
	guid_format(g, c->pxe_guid);
	f = fopen(path, "we");
	if (!f)
		return -errno;
	fprintf(f, "%s\n", c->pxe_guid);
	fclose(f);
	return 0;
}

static void on_stop(struct ev_loop *loop, int signo, void *data)
{
	log_info("pxed", "signal %d: stopping", signo);
	notify_stopping();
	ev_stop(loop);
}

static void warn_restart(void *ctx, const char *label)
{
	log_warn("conf", "%s changed: takes effect after a restart", label);
}

/* After px->conf changed (SIGHUP, or pxectl settings set through the
 * API): cached decisions go, the log level follows, the block is logged
 * again. */
static void settings_applied(void *ctx, const char *what)
{
	struct pxed *px = ctx;
	enum log_level lvl;
	decider_settings_changed(px->decider);
	if (log_level_parse(px->conf.log_level, &lvl) == 0)
		log_set_level(lvl);
	log_info("conf", "%s", what);
	print_block_to_log(&px->conf);
}

/* Swap the reloaded settings in: on the loop, while no worker job runs
 * (decisions and API calls on the worker read px->conf). */
static void reload_done(struct ev_work_job *job, bool cancelled)
{
	struct pxed *px = job->data;
	px->reload_queued = false;
	if (!cancelled && px->reload_next) {
		conf_keep_restart(px->reload_next, &px->conf, warn_restart, NULL);
		px->conf = *px->reload_next;
		settings_applied(px, "settings reloaded");
	}
	free(px->reload_next);
	px->reload_next = NULL;
	if (!cancelled) /* cancelled: pxed is stopping, STOPPING=1 said so */
		notify_ready();
}

static void reload_submit(struct pxed *px)
{
	ev_work_job_init(&px->reload_job, NULL, reload_done, px);
	if (ev_work_submit_exclusive(px->work, &px->reload_job) < 0) {
		ev_timer_start(px->loop, &px->reload_retry, 100);
		return;
	}
	px->reload_queued = true;
}

static void on_reload_retry(struct ev_loop *loop, struct ev_timer *t)
{
	struct pxed *px = t->data;
	if (px->reload_next && !px->reload_queued)
		reload_submit(px);
}

/* SIGHUP: settings that only sockets, files or the database opened at
 * start-up use need a restart; everything else takes effect at once. */
static void on_reload(struct ev_loop *loop, int signo, void *data)
{
	struct pxed *px = data;
	struct pxed_conf *next = malloc(sizeof(*next));
	char err[CONF_ERR_LEN];
	/* The service manager hears READY=1 again when the new settings are
	 * in force (reload_done()) or the file was refused. */
	notify_reloading();
	if (!next) {
		log_error("conf", "reload refused: out of memory");
		notify_ready();
		return;
	}
	if (conf_load(next, px->conf_path, err) < 0) {
		log_error("conf", "reload refused: %s; the running settings stay in force", err);
		free(next);
		notify_ready();
		return;
	}
	if (!next->pxe_guid[0])
		strcpy(next->pxe_guid, px->conf.pxe_guid);
	/* A reload still waiting is replaced: the file as it is now wins. */
	free(px->reload_next);
	px->reload_next = next;
	if (!px->reload_queued && !ev_timer_active(&px->reload_retry))
		reload_submit(px);
}

/* Write queued decision events, prune old ones, re-check the ignore list:
 * all store or disk work, so on the worker; the decider says when it wants
 * to run next, and the timer is armed again when the job is back. */
static void maintain_work(struct ev_work_job *job)
{
	struct pxed *px = job->data;
	px->maintain_next = decider_maintain(px->decider, px->conf.event_retention_days);
}

static void maintain_done(struct ev_work_job *job, bool cancelled)
{
	struct pxed *px = job->data;
	px->maintain_running = false;
	if (!cancelled)
		ev_timer_start(px->loop, &px->maintain,
			       px->maintain_next > 0 ? (uint64_t)px->maintain_next : 100);
}

static void on_maintain(struct ev_loop *loop, struct ev_timer *t)
{
	struct pxed *px = t->data;
	if (px->maintain_running)
		return;
	ev_work_job_init(&px->maintain_job, maintain_work, maintain_done, px);
	if (ev_work_submit(px->work, &px->maintain_job) < 0) {
		ev_timer_start(loop, t, 100); /* queue full: try again soon */
		return;
	}
	px->maintain_running = true;
}

/* Hand a directory to the service user: one pxed created itself now is
 * changed; one that existed must already be the user's, else pxed refuses
 * (it never takes over a directory someone else made, such as /var/lib
 * for URL=sqlite:/var/lib/pxed.db).  0 or a negative errno (logged). */
static int dir_hand_over(const char *what, const char *dir, bool created, const struct passwd *pw)
{
	struct stat st;
	if (created) {
		if (lchown(dir, pw->pw_uid, pw->pw_gid) < 0) {
			int r = -errno;
			log_error("pxed", "%s %s: cannot hand it to %s: %s", what, dir, pw->pw_name,
				  strerror(-r));
			return r;
		}
		return 0;
	}
	if (lstat(dir, &st) < 0) {
		int r = -errno;
		log_error("pxed", "%s %s: %s", what, dir, strerror(-r));
		return r;
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != pw->pw_uid) {
		log_error("pxed", "%s %s belongs to uid %u, not to User %s: pxed changes the owner "
				  "only of directories it created; give it a directory of its own "
				  "(chown %s it, or use StateDir)",
			  what, dir, (unsigned)st.st_uid, pw->pw_name, pw->pw_name);
		return -EPERM;
	}
	return 0;
}

/* Least privilege, in OpenBSD tftpd's order: ports are bound and files
 * opened as root; then pxed's own files (the database, its WAL files, the
 * tokens) and the directories it created are handed to the user, and the
 * process becomes that user for good.  state_created: StateDir was made
 * at this start.  0 or a negative errno (logged). */
static int drop_privileges(const struct pxed_conf *c, bool state_created)
{
	if (!c->run_user[0])
		return 0;
	if (geteuid() != 0) {
		/* A service manager may start pxed as the user already, with
		 * only the capability to bind low ports (the systemd unit
		 * does): that is the drop done, not a reason to warn. */
		const struct passwd *me = getpwnam(c->run_user);
		if (me && me->pw_uid == geteuid())
			log_info("pxed", "running as user %s (uid %u)", c->run_user, (unsigned)me->pw_uid);
		else
			log_warn("pxed", "User %s: not started as root, keeping the current user", c->run_user);
		return 0;
	}
	struct passwd *pw = getpwnam(c->run_user);
	if (!pw) {
		log_error("pxed", "User %s: no such user", c->run_user);
		return -ENOENT;
	}
	const char *db = store_url_file(c->store_url);
	char dbdir[PATH_MAX], sdir[PATH_MAX], real_db[PATH_MAX];
	const char *suffixes[] = { "", "-wal", "-shm", "-journal" };
	const char *tokens[] = { c->http_token_file, c->http_read_token_file };
	int r;
	if ((r = dir_hand_over("StateDir", c->state_dir, state_created, pw)) < 0)
		return r;
	/* SQLite creates its -wal, -shm and -journal files beside the
	 * database, so the user needs that directory: StateDir (handled
	 * above) or one that is already its own. */
	if (db && db_dir_of(c, dbdir, sizeof(dbdir))) {
		bool same = realpath(dbdir, real_db) && realpath(c->state_dir, sdir) &&
			    !strcmp(real_db, sdir);
		if (!same && (r = dir_hand_over("the database's directory", dbdir, false, pw)) < 0)
			return r;
		for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++) {
			char path[PATH_MAX + 16];
			snprintf(path, sizeof(path), "%s%s", db, suffixes[i]);
			if (lchown(path, pw->pw_uid, pw->pw_gid) < 0 && errno != ENOENT) {
				r = -errno;
				log_error("pxed", "%s: cannot hand it to %s: %s", path, pw->pw_name,
					  strerror(-r));
				return r;
			}
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(tokens); i++)
		if (tokens[i][0] && lchown(tokens[i], pw->pw_uid, pw->pw_gid) < 0 && errno != ENOENT) {
			r = -errno;
			log_error("pxed", "%s: cannot hand it to %s: %s", tokens[i], pw->pw_name,
				  strerror(-r));
			return r;
		}
	if (setgroups(1, &pw->pw_gid) < 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0) {
		r = -errno;
		log_error("pxed", "cannot run as user %s: %s", c->run_user, strerror(-r));
		return r;
	}
	if (setuid(0) == 0) { /* must be impossible now */
		log_error("pxed", "cannot run as user %s: root is still reachable", c->run_user);
		return -EPERM;
	}
	log_info("pxed", "running as user %s (uid %u)", c->run_user, (unsigned)pw->pw_uid);
	return 0;
}

/* The GRUB family's files, served from where Debian's packages put them
 * under the names shim and GRUB ask for (docs/bootloaders.md).  A package
 * that is not installed leaves its names out. */
static void grub_maps_add(const struct pxed_conf *conf, struct content *content)
{
	static const struct {
		const char *virt, *dir, *sub, *file;
	} maps[] = {
		{ PXE_SHIM_X64, "shim", "", "shimx64.efi.signed" },
		{ PXE_GRUB_X64, "grub", "/x86_64-efi-signed", "grubnetx64.efi.signed" },
		{ PXE_GRUB_ARM64, "grub", "/arm64-efi/monolithic", "grubnetaa64.efi" },
		{ "grub/x86_64-efi/", "grub", "/x86_64-efi", NULL },
		{ "grub/arm64-efi/", "grub", "/arm64-efi", NULL },
	};
	char dir[PATH_MAX + 32];

	for (size_t i = 0; i < ARRAY_SIZE(maps); i++) {
		snprintf(dir, sizeof(dir), "%s%s",
			 maps[i].dir[0] == 's' ? conf->shim_dir : conf->grub_dir, maps[i].sub);
		int r = content_map_add(content, maps[i].virt, dir, maps[i].file);
		if (r < 0)
			log_debug("pxed", "%s not served from %s: %s", maps[i].virt, dir, strerror(-r));
	}
}

/* Which GRUB-family machines can be served; say at start-up when a
 * setting asks for GRUB that is not installed. */
static void grub_check(const struct pxed_conf *conf, const struct content *content,
		       struct dhcp_server *dhcp)
{
	bool x64 = content_exists(content, PXE_SHIM_X64) && content_exists(content, PXE_GRUB_X64);
	bool arm64 = content_exists(content, PXE_GRUB_ARM64);

	dhcp_server_set_grub(dhcp, x64, arm64);
	if (conf_loader_grub(conf->loader_uefi_x64) && !x64)
		log_warn("pxed", "BootLoaderUEFIx64 is grub but %s or %s is missing (Debian packages "
				 "shim-signed and grub-efi-amd64-signed; ShimDir %s, GrubDir %s): UEFI x64 "
				 "machines are not serviced",
			 PXE_SHIM_X64, PXE_GRUB_X64, conf->shim_dir, conf->grub_dir);
	if (!arm64)
		log_info("pxed", "no %s (Debian package grub-efi-arm64-bin, GrubDir %s): ARM64 UEFI "
				 "machines are not serviced", PXE_GRUB_ARM64, conf->grub_dir);
}

static void pxed_teardown(struct pxed *px)
{
	if (px->loop) {
		ev_timer_stop(px->loop, &px->maintain);
		ev_timer_stop(px->loop, &px->reload_retry);
	}
	/* First: its completions answer clients through the servers. */
	ev_work_free(px->work);
	free(px->reload_next);
	http_server_free(px->http);
	grub_boot_free(px->grub);
	tftp_server_free(px->tftp);
	dhcp_server_free(px->dhcp);
	decider_free(px->decider);
	boot_tokens_free(px->tokens);
	wol_sched_free(px->wol);
	content_free(px->content);
	store_close(px->store);
	ev_loop_free(px->loop);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' }, { "test", no_argument, NULL, 't' },
		{ "debug", no_argument, NULL, 'd' },        { "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 },
	};
	struct pxed px = { 0 };
	ev_timer_init(&px.maintain, on_maintain, &px); /* stopped until the loop runs */
	ev_timer_init(&px.reload_retry, on_reload_retry, &px);
	bool test_only = false, debug = false;
	char err[CONF_ERR_LEN];
	int c, r;

	while ((c = getopt_long(argc, argv, "c:tdVh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': px.conf_path = optarg; break;
		case 't': test_only = true; break;
		case 'd': debug = true; break;
		case 'V': printf("pxed %s\n", PXED_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	if (conf_load(&px.conf, px.conf_path, err) < 0) {
		/* -t answers with the bare reason; a daemon that cannot start
		 * logs it as an error (the journal's priority 3). */
		if (test_only)
			fprintf(stderr, "%s\n", err);
		else
			log_error("conf", "%s", err);
		return 1;
	}
	if (test_only) {
		conf_print_block(&px.conf, stdout);
		return 0;
	}
	enum log_level lvl = LOG_LVL_INFO;
	log_level_parse(px.conf.log_level, &lvl);
	log_set_level(debug ? LOG_LVL_DEBUG : lvl);
	log_info("pxed", "pxed %s starting", PXED_VERSION);

	if ((r = mkdir_p(px.conf.state_dir, 0750)) < 0) {
		log_error("pxed", "cannot create StateDir %s: %s", px.conf.state_dir, strerror(-r));
		return 1;
	}
	bool state_created = r == 1;
	if (state_modes_check(&px.conf, state_created) < 0)
		return 1;
	if ((r = mkdir_p(px.conf.tftp_root, 0755)) < 0) {
		log_error("pxed", "cannot create TFTP Root %s: %s", px.conf.tftp_root, strerror(-r));
		return 1;
	}
	if ((r = server_guid_ensure(&px.conf)) < 0) {
		log_error("pxed", "cannot keep the server GUID in %s: %s", px.conf.state_dir, strerror(-r));
		return 1;
	}
	print_block_to_log(&px.conf);
	if ((r = notify_init()) < 0) {
		log_error("pxed", "NOTIFY_SOCKET: %s", strerror(-r));
		return 1;
	}

	signal(SIGPIPE, SIG_IGN);
	if ((r = ev_loop_new(&px.loop)) < 0) {
		log_error("pxed", "event loop: %s", strerror(-r));
		goto fail;
	}
	/* The database and the files SQLite makes beside it (with the
	 * database's mode): not for every local user.  No other thread runs
	 * yet, so the process-wide umask is only this open's. */
	mode_t old_mask = umask(027);
	r = store_open(px.conf.store_url, &px.store);
	umask(old_mask);
	if (r < 0) {
		log_error("pxed", "store %s: %s", px.conf.store_url,
			  px.store ? store_last_error(px.store) : strerror(-r));
		goto fail;
	}
	const char *const programs[] = { px.conf.boot_bios, px.conf.boot_uefi_x64, "undionly.kpxe",
					 "ipxe.efi", "snponly.efi", NULL };
	if ((r = content_new(px.conf.tftp_root, px.conf.boot_program_dir, programs, &px.content)) < 0) {
		log_error("pxed", "content root %s: %s", px.conf.tftp_root, strerror(-r));
		goto fail;
	}
	grub_maps_add(&px.conf, px.content);
	if ((r = decider_new(&px.conf, px.store, &px.decider)) < 0) {
		log_error("pxed", "decision engine: %s", strerror(-r));
		goto fail;
	}
	/* The housekeeping job writes the events; a decision never waits
	 * for that write. */
	decider_set_event_flush_inline(px.decider, false);
	/* As many workers as the store serves calls at once: one for SQLite
	 * (it serialises its calls anyway), one per pooled connection for a
	 * database server, so a slow query does not hold up the others. */
	unsigned workers = store_parallel(px.store);
	if (workers > EV_WORK_MAX_THREADS)
		workers = EV_WORK_MAX_THREADS;
	if ((r = ev_work_new(px.loop, workers, PXED_WORK_QUEUE, &px.work)) < 0) {
		log_error("pxed", "worker thread: %s", strerror(-r));
		goto fail;
	}
	if ((r = http_server_new(px.loop, &px.conf, px.decider, px.store, px.content, px.work,
				   &px.http)) < 0) {
		log_error("pxed", "HTTP on port %u: %s", px.conf.http_port, strerror(-r));
		goto fail;
	}
	if ((r = tftp_server_new(px.loop, &px.conf, px.content, &px.tftp)) < 0) {
		log_error("pxed", "TFTP on port %u: %s", px.conf.tftp_port, strerror(-r));
		goto fail;
	}
	if ((r = dhcp_server_new(px.loop, &px.conf, px.decider, px.work, &px.dhcp)) < 0) {
		log_error("pxed", "ProxyDHCP on ports %u/%u: %s", px.conf.dhcp_port, px.conf.pxe_port,
			  strerror(-r));
		goto fail;
	}
	if ((r = boot_tokens_new(px.conf.boot_tokens, &px.tokens)) < 0) {
		log_error("pxed", "boot tokens: %s", strerror(-r));
		goto fail;
	}
	dhcp_server_set_tokens(px.dhcp, px.tokens);
	http_server_set_tokens(px.http, px.tokens);
	if ((r = grub_boot_new(px.loop, &px.conf, px.decider, px.store, px.work, px.dhcp, px.tftp,
			       &px.grub)) < 0) {
		log_error("pxed", "GRUB configurations: %s", strerror(-r));
		goto fail;
	}
	grub_check(&px.conf, px.content, px.dhcp);
	if ((r = wol_sched_new(px.loop, &px.wol)) < 0) {
		log_error("pxed", "Wake-on-LAN socket: %s", strerror(-r));
		goto fail;
	}
	dhcp_server_set_wol(px.dhcp, px.wol);
	http_server_set_wol(px.http, px.wol);
	ev_timer_start(px.loop, &px.maintain, 100);
	http_server_set_sources(px.http, &(struct http_metrics_sources){
		.dhcp = px.dhcp, .tftp = px.tftp, .grub = px.grub, .version = PXED_VERSION });
	http_server_set_settings(px.http, &px.conf, settings_applied, &px);
	ev_signal_add(px.loop, SIGTERM, on_stop, &px);
	ev_signal_add(px.loop, SIGINT, on_stop, &px);
	ev_signal_add(px.loop, SIGHUP, on_reload, &px);

	if ((r = drop_privileges(&px.conf, state_created)) < 0)
		goto fail;
	log_info("pxed", "ready: ProxyDHCP on UDP %u and %u, TFTP on UDP %u, HTTP on TCP %u",
		 px.conf.dhcp_port, px.conf.pxe_port, px.conf.tftp_port, px.conf.http_port);
	/* Every socket is bound and the store is open: only now may the
	 * service manager start what comes after pxed. */
	char status[160];
	snprintf(status, sizeof(status), "ProxyDHCP on UDP %u and %u, TFTP on UDP %u, HTTP on TCP %u",
		 px.conf.dhcp_port, px.conf.pxe_port, px.conf.tftp_port, px.conf.http_port);
	notify_status(status);
	notify_ready();
	r = ev_run(px.loop);
	if (r < 0)
		log_error("pxed", "event loop: %s", strerror(-r));
	pxed_teardown(&px);
	log_info("pxed", "stopped");
	notify_close();
	return r < 0 ? 1 : 0;
fail:
	pxed_teardown(&px);
	notify_close();
	return 1;
}
