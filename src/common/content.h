/* content: safe lookup of an untrusted client path in the content root.
 *
 * Shared by the TFTP and HTTP servers.  A client names a file; content_open
 * checks the name against an allow-list, then opens it with openat2()
 * RESOLVE_BENEATH relative to the root directory, so symlinks inside the
 * root work but no name (and no symlink) reaches outside it.  The
 * configured boot programs (undionly.kpxe, ipxe.efi, ...) fall back to the
 * boot program directory (Debian's ipxe package: /usr/lib/ipxe) when the
 * root does not hold them.
 *
 * Name rules (vocab_path_check(), VOCAB_PATH_REQUEST, in common/vocab.h;
 * each refusal has its own errno so a log line names one check):
 *   -EINVAL        empty name (or only "/")
 *   -ENAMETOOLONG  more than CONTENT_NAME_MAX bytes
 *   -EACCES        hostile name: a byte outside [A-Za-z0-9._+~,@=-/],
 *                  which refuses backslashes, control bytes, spaces and
 *                  non-ASCII; a ".." component; "//" (an absolute path
 *                  once the one allowed leading '/' is stripped)
 *   -EXDEV         a symlink that leads out of the root (from openat2)
 *   -ELOOP         a magic link (/proc/self/...) or a symlink loop
 *   -ENOENT        no such file
 *   -EISDIR        a directory
 *   -EPERM         not a regular file (device, FIFO, socket)
 *
 * One leading '/' is stripped: many PXE setups send "/pxelinux.0" or
 * "/boot/x.efi" (DHCP option 67 written for tftp-hpa -s, which chroots, so
 * "/" means the TFTP root there too).  The name is always relative to the
 * root; a second leading '/' is refused.  (No embedded NUL can reach
 * content_open, which takes a C string: packet parsers check that the
 * string ends at its first NUL, and content_check_name takes the length.) */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/vocab.h"

#define CONTENT_NAME_MAX VOCAB_PATH_MAX

struct content;

/* root: the content directory (must exist).  program_dir: where boot
 * programs live, NULL or "" for none; a missing program_dir is not an
 * error (the ipxe package may not be installed): no fallback then.
 * program_names: NULL-terminated list of the boot program names
 * that may come from program_dir, NULL for none.  0 or negative errno. */
int content_new(const char *root, const char *program_dir,
		const char *const *program_names, struct content **out);
void content_free(struct content *c); /* accepts NULL */

/* Check an untrusted name of len bytes (as counted in the packet, so an
 * embedded NUL is caught: len must equal strnlen).  0 or a negative errno
 * from the list above (name rules only). */
int content_check_name(const char *name, size_t len);

/* Open name read-only (O_CLOEXEC).  On success *fd_out is the caller's to
 * close and *size_out the file size.  0 or a negative errno. */
int content_open(const struct content *c, const char *name, int *fd_out,
		 uint64_t *size_out);

/* Serve a package's file under the name a client asks for, without the
 * admin copying it: virt "shimx64.efi" opens file "shimx64.efi.signed" in
 * dir; virt ending in '/' (file NULL) serves everything beneath dir under
 * that prefix ("grub/x86_64-efi/command.lst").  The content root is
 * looked at first, so an admin's own copy wins.  0; -ENOENT (or another
 * errno) when dir cannot be opened -- the package is not installed --,
 * -EINVAL for a bad virt name or when the table is full. */
int content_map_add(struct content *c, const char *virt, const char *dir, const char *file);

/* Whether name opens (root, boot programs or maps). */
bool content_exists(const struct content *c, const char *name);
/* True for a name under the root's templates/ folder: answer file
 * templates, served only rendered, to their boot (/answers/), never as
 * they are by TFTP or /files/. */
bool content_is_private(const char *name);

/* Short text for a content_open error, for log lines. */
const char *content_strerror(int err);
