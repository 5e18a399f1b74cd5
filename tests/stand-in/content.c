/* STAND-IN, delete at merge: minimal safe lookup under a root, refusing
 * "..", absolute names, backslashes and symlinks (openat2 RESOLVE_BENEATH). */
#include "common/content.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

struct content {
	int dirfd;
};

int content_new(const char *root, const char *program_dir,
		const char *const *program_names, struct content **out)
{
	struct content *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->dirfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (c->dirfd < 0) {
		free(c);
		return -errno;
	}
	*out = c;
	return 0;
}

void content_free(struct content *c)
{
	if (!c)
		return;
	close(c->dirfd);
	free(c);
}

int content_open(const struct content *c, const char *name, int *fd_out, uint64_t *size_out)
{
	struct open_how how = { .flags = O_RDONLY | O_CLOEXEC,
				.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS };
	struct stat st;
	int fd;
	if (!*name || name[0] == '/' || strchr(name, '\\') || strstr(name, ".."))
		return -EACCES;
	fd = (int)syscall(SYS_openat2, c->dirfd, name, &how, sizeof(how));
	if (fd < 0)
		return -errno; /* -EXDEV: a symlink leads out, as the real one */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return S_ISDIR(st.st_mode) ? -EISDIR : -EPERM;
	}
	*fd_out = fd;
	*size_out = (uint64_t)st.st_size;
	return 0;
}
