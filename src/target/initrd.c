/* initrd.c — a newc cpio writer for the initramfs overlay. The kernel
 * unpacks concatenated archives in order, so files appended here are added
 * to (or replace files of) the default guest's initramfs without rebuilding
 * it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "target.h"

struct cpio_out {
    int fd;
    unsigned ino;
    off_t pos;
};

static int put(struct cpio_out *o, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t w = write(o->fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return err_set(VMDBG_EIO, "cannot write the initramfs overlay: %s", strerror(errno));
        p += w;
        len -= (size_t)w;
        o->pos += w;
    }
    return 0;
}

static int pad4(struct cpio_out *o)
{
    static const char zeros[4];
    size_t n = (size_t)((4 - (o->pos & 3)) & 3);
    return n ? put(o, zeros, n) : 0;
}

/* One entry: header, name, padding, data, padding. */
static int entry(struct cpio_out *o, const char *name, unsigned mode, const void *data,
                 size_t size)
{
    char hdr[128];
    size_t namesize = strlen(name) + 1;
    snprintf(hdr, sizeof(hdr),
             "070701%08X%08X%08X%08X%08X%08X%08zX%08X%08X%08X%08X%08zX%08X", ++o->ino, mode, 0u,
             0u, 1u, 0u, size, 0u, 0u, 0u, 0u, namesize, 0u);
    int rc = put(o, hdr, 110);
    if (!rc)
        rc = put(o, name, namesize);
    if (!rc)
        rc = pad4(o);
    if (!rc && size)
        rc = put(o, data, size);
    return rc ? rc : pad4(o);
}

/* Directory entries for every parent of path ("a/b/c" -> "a", "a/b"). */
static int parents(struct cpio_out *o, const char *path)
{
    char tmp[512];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *s = strchr(tmp, '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';
        int rc = entry(o, tmp, 040755, NULL, 0);
        *s = '/';
        if (rc)
            return rc;
    }
    return 0;
}

static int slurp(const char *path, char **data, size_t *size, unsigned *mode)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return err_set(VMDBG_ENOENT, "cannot read guest file %s: %s", path,
                       fd < 0 ? strerror(errno) : "not a regular file");
    }
    *data = malloc((size_t)st.st_size + 1);
    if (!*data) {
        close(fd);
        return err_set(VMDBG_ENOMEM, "out of memory");
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, *data + got, (size_t)st.st_size - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (got != (size_t)st.st_size) {
        free(*data);
        return err_set(VMDBG_EIO, "short read of %s", path);
    }
    *size = got;
    *mode = 0100000 | (st.st_mode & 0777);
    return 0;
}

int initrd_write_overlay(int fd, const char *const *src, const char *const *dest, size_t n,
                         const char *run)
{
    struct cpio_out o = {.fd = fd, .ino = 0x7f000000u, .pos = 0};
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        const char *name = dest[i];
        while (*name == '/')
            name++;
        if (!*name || strlen(name) > 400)
            return err_set(VMDBG_EINVAL, "bad guest path '%s'", dest[i]);
        char *data = NULL;
        size_t size = 0;
        unsigned mode = 0;
        rc = slurp(src[i], &data, &size, &mode);
        if (rc)
            return rc;
        rc = parents(&o, name);
        if (!rc)
            rc = entry(&o, name, mode, data, size);
        free(data);
    }
    if (!rc && run) {
        rc = parents(&o, "etc/vmdbg/run");
        if (!rc)
            rc = entry(&o, "etc/vmdbg/run", 0100644, run, strlen(run));
    }
    return rc ? rc : entry(&o, "TRAILER!!!", 0, NULL, 0);
}
