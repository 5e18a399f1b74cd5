#include "common/content.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/vocab.h"

#define CONTENT_MAX_PROGRAMS 16
#define CONTENT_MAX_MAPS 16

/* A virtual name served from a package directory (content_map_add). */
struct content_map {
	char *virt;     /* "shimx64.efi", or a prefix ending in '/' */
	char *file;     /* the name in dir_fd; NULL for a prefix */
	int dir_fd;     /* O_PATH */
};

struct content {
	int root_fd;    /* O_PATH fd of the content root */
	int program_fd; /* O_PATH fd of the boot program dir, -1 when absent */
	char *programs[CONTENT_MAX_PROGRAMS]; /* names allowed from program_fd */
	size_t n_programs;
	struct content_map maps[CONTENT_MAX_MAPS];
	size_t n_maps;
};

int content_check_name(const char *name, size_t len)
{
	switch (vocab_path_check(name, len, VOCAB_PATH_REQUEST)) {
	case VOCAB_OK:
		return 0;
	case VOCAB_EMPTY:
		return -EINVAL;
	case VOCAB_TOO_LONG:
		return -ENAMETOOLONG;
	default:
		/* Embedded NUL (the name the client meant is not this C
		 * string), a character outside the set, "//", "..". */
		return -EACCES;
	}
}

/* beneath: the client's name must stay inside dirfd, symlinks included
 * (the content root).  Without it, a symlink may lead anywhere: only for
 * the admin's boot program directory, where the client's name is one of
 * the configured program names and Debian's ipxe package itself links
 * /usr/lib/ipxe/ipxe.efi to /boot/ipxe.efi. */
static int open_file(int dirfd, const char *name, bool beneath, int *fd_out, uint64_t *size_out)
{
	/* O_NONBLOCK so a FIFO planted in the root cannot block the loop in
	 * open(); pread on a regular file ignores it. */
	struct open_how how = {
		.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
		.resolve = beneath ? RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS : RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int)syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		return -EISDIR;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return -EPERM;
	}
	*fd_out = fd;
	*size_out = (uint64_t)st.st_size;
	return 0;
}

/* The package maps, after the root (where an admin's own copy wins).  A
 * prefix map opens the rest of the name beneath its directory, by the same
 * rules as the root: the name was checked, and no symlink leads out. */
static int content_open_mapped(const struct content *c, const char *name, int *fd_out,
			       uint64_t *size_out)
{
	for (size_t i = 0; i < c->n_maps; i++) {
		const struct content_map *m = &c->maps[i];
		size_t vl = strlen(m->virt);
		if (m->file && strcmp(m->virt, name) == 0)
			return open_file(m->dir_fd, m->file, false, fd_out, size_out);
		if (!m->file && strncmp(m->virt, name, vl) == 0 && name[vl] && name[vl] != '/')
			return open_file(m->dir_fd, name + vl, true, fd_out, size_out);
	}
	return -ENOENT;
}

int content_map_add(struct content *c, const char *virt, const char *dir, const char *file)
{
	struct content_map *m;
	size_t vl = strlen(virt);

	if (c->n_maps == CONTENT_MAX_MAPS || vl == 0 || content_check_name(virt, vl) < 0 ||
	    virt[0] == '/' || (file == NULL) != (virt[vl - 1] == '/'))
		return -EINVAL;
	m = &c->maps[c->n_maps];
	m->dir_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (m->dir_fd < 0)
		return -errno;
	m->virt = strdup(virt);
	m->file = file ? strdup(file) : NULL;
	if (!m->virt || (file && !m->file)) {
		free(m->virt);
		free(m->file);
		close(m->dir_fd);
		return -ENOMEM;
	}
	c->n_maps++;
	return 0;
}

bool content_exists(const struct content *c, const char *name)
{
	uint64_t size;
	int fd;
	if (content_open(c, name, &fd, &size) < 0)
		return false;
	close(fd);
	return true;
}

int content_open(const struct content *c, const char *name, int *fd_out, uint64_t *size_out)
{
	size_t len = strnlen(name, CONTENT_NAME_MAX + 1);
	int r = content_check_name(name, len);
	if (r < 0)
		return r;
	if (name[0] == '/')
		name++;
	r = open_file(c->root_fd, name, true, fd_out, size_out);
	if (r != -ENOENT)
		return r;
	if (c->program_fd < 0)
		return content_open_mapped(c, name, fd_out, size_out);
	for (size_t i = 0; i < c->n_programs; i++)
		if (strcmp(c->programs[i], name) == 0)
			return open_file(c->program_fd, name, false, fd_out, size_out);
	return content_open_mapped(c, name, fd_out, size_out);
}

const char *content_strerror(int err)
{
	switch (err) {
	case -EINVAL: return "empty name";
	case -ENAMETOOLONG: return "name too long";
	case -EACCES: return "hostile name";
	case -EXDEV: return "path leads out of the root";
	case -ELOOP: return "symlink loop or magic link";
	case -ENOENT: return "not found";
	case -EISDIR: return "is a directory";
	case -EPERM: return "not a regular file";
	default: return strerror(-err);
	}
}

void content_free(struct content *c)
{
	if (!c)
		return;
	if (c->root_fd >= 0)
		close(c->root_fd);
	if (c->program_fd >= 0)
		close(c->program_fd);
	for (size_t i = 0; i < c->n_programs; i++)
		free(c->programs[i]);
	for (size_t i = 0; i < c->n_maps; i++) {
		close(c->maps[i].dir_fd);
		free(c->maps[i].virt);
		free(c->maps[i].file);
	}
	free(c);
}

int content_new(const char *root, const char *program_dir,
		const char *const *program_names, struct content **out)
{
	struct content *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->program_fd = -1;
	c->root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (c->root_fd < 0) {
		int r = -errno;
		free(c);
		return r;
	}
	if (program_dir && program_dir[0])
		c->program_fd = open(program_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	for (size_t i = 0; program_names && program_names[i]; i++) {
		const char *p = program_names[i];
		if (!p[0])
			continue;
		/* A program name is looked up beneath program_dir by the same
		 * rules as any client name. */
		if (content_check_name(p, strlen(p)) < 0 || p[0] == '/' ||
		    c->n_programs == CONTENT_MAX_PROGRAMS) {
			content_free(c);
			return -EINVAL;
		}
		c->programs[c->n_programs] = strdup(p);
		if (!c->programs[c->n_programs]) {
			content_free(c);
			return -ENOMEM;
		}
		c->n_programs++;
	}
	*out = c;
	return 0;
}

bool content_is_private(const char *name)
{
	/* the one leading '/' content_open strips, then "templates" as the
	 * first component, whatever follows */
	if (name[0] == '/')
		name++;
	return !strncmp(name, "templates", 9) && (name[9] == '/' || name[9] == '\0');
}
