/* test_initrd.c — the initramfs overlay writer, checked with the real GNU
 * cpio (listing, extraction, modes) and by walking the newc headers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "target.h"

#define TOOL_TEXT "#!/bin/sh\necho tool ran\n"
#define RUN_TEXT  "echo hello from run\n/usr/bin/tool\n"
#define DATA_SIZE 1001 /* odd: the data needs padding */

struct dirs {
    char root[128];    /* temporary directory */
    char archive[192]; /* the overlay written by the code under test */
    char src_tool[192], src_data[192], src_empty[192];
};

static void write_file(const char *path, const void *data, size_t n, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
}

static int setup(void **state)
{
    struct dirs *d = calloc(1, sizeof(*d));
    if (!d)
        return -1;
    const char *tmp = getenv("TMPDIR");
    snprintf(d->root, sizeof(d->root), "%s/vmdbg-initrd-XXXXXX",
             tmp && *tmp && strlen(tmp) < 60 ? tmp : "/tmp");
    if (!mkdtemp(d->root)) {
        free(d);
        return -1;
    }
    snprintf(d->archive, sizeof(d->archive), "%s/overlay.cpio", d->root);
    snprintf(d->src_tool, sizeof(d->src_tool), "%s/tool", d->root);
    snprintf(d->src_data, sizeof(d->src_data), "%s/data", d->root);
    snprintf(d->src_empty, sizeof(d->src_empty), "%s/empty", d->root);
    *state = d;
    return 0;
}

static int teardown(void **state)
{
    struct dirs *d = *state;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->root);
    int rc = system(cmd);
    free(d);
    return rc == 0 ? 0 : -1;
}

/* Run a shell command and capture its standard output. */
static void run_capture(const char *cmd, struct buf *out)
{
    buf_reset(out);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
        buf_append(out, chunk, n);
    int status = pclose(p);
    if (status != 0)
        fail_msg("'%s' failed (status %d): %s", cmd, status, out->data ? out->data : "");
}

static int write_overlay(const struct dirs *d, const char *const *src, const char *const *dest,
                         size_t n, const char *run)
{
    int fd = open(d->archive, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    int rc = initrd_write_overlay(fd, src, dest, n, run);
    close(fd);
    return rc;
}

/* ---- a newc walker -------------------------------------------------------- */

struct newc_entry {
    char name[256];
    unsigned ino, mode, nlink;
    size_t size;
    size_t header_offset, data_offset;
};

static unsigned long field(const char *hdr, int i)
{
    char tmp[9];
    memcpy(tmp, hdr + 6 + 8 * i, 8);
    tmp[8] = '\0';
    char *end;
    unsigned long v = strtoul(tmp, &end, 16);
    if (*end)
        fail_msg("header field %d is not hex: %s", i, tmp);
    return v;
}

/* Parse the whole archive; every header must sit on a 4-byte boundary and
 * the archive must end right after the trailer's padding. */
static size_t walk_newc(const char *path, struct newc_entry *out, size_t cap)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char data[1 << 16];
    size_t len = fread(data, 1, sizeof(data), f);
    fclose(f);
    assert_true(len > 0 && len < sizeof(data));
    assert_int_equal(len % 4, 0);
    size_t pos = 0, n = 0;
    for (;;) {
        assert_int_equal(pos % 4, 0);
        assert_true(pos + 110 <= len);
        assert_memory_equal(data + pos, "070701", 6);
        assert_true(n < cap);
        struct newc_entry *e = &out[n++];
        e->header_offset = pos;
        e->ino = (unsigned)field(data + pos, 0);
        e->mode = (unsigned)field(data + pos, 1);
        e->nlink = (unsigned)field(data + pos, 4);
        e->size = field(data + pos, 6);
        size_t namesize = field(data + pos, 11);
        assert_int_equal(field(data + pos, 12), 0); /* check field: 0 in newc */
        assert_true(namesize >= 2 && namesize < sizeof(e->name));
        assert_true(pos + 110 + namesize <= len);
        memcpy(e->name, data + pos + 110, namesize);
        assert_int_equal(e->name[namesize - 1], '\0'); /* NUL included in namesize */
        size_t after_name = pos + 110 + namesize;
        for (size_t k = after_name; k % 4; k++)
            assert_int_equal(data[k], 0); /* zero padding */
        e->data_offset = (after_name + 3) & ~(size_t)3;
        size_t end = e->data_offset + e->size;
        assert_true(end <= len);
        for (size_t k = end; k % 4; k++)
            assert_int_equal(data[k], 0);
        pos = (end + 3) & ~(size_t)3;
        if (!strcmp(e->name, "TRAILER!!!")) {
            assert_int_equal(e->size, 0);
            assert_int_equal(pos, len); /* nothing after the trailer */
            return n;
        }
    }
}

/* ---- tests ------------------------------------------------------------------ */

static void test_overlay_with_cpio(void **state)
{
    struct dirs *d = *state;
    char big[DATA_SIZE];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)('a' + i % 26);
    write_file(d->src_tool, TOOL_TEXT, strlen(TOOL_TEXT), 0755);
    write_file(d->src_data, big, sizeof(big), 0600);
    write_file(d->src_empty, "", 0, 0644);
    const char *const src[] = {d->src_tool, d->src_data, d->src_empty};
    const char *const dest[] = {"/usr/bin/tool", "data/x.txt", "//empty"};
    assert_int_equal(write_overlay(d, src, dest, 3, RUN_TEXT), 0);

    /* the listing, in archive order, with every parent directory */
    struct buf out;
    buf_init(&out);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "cpio -t --quiet < '%s'", d->archive);
    run_capture(cmd, &out);
    assert_string_equal(out.data, "usr\nusr/bin\nusr/bin/tool\ndata\ndata/x.txt\nempty\n"
                                  "etc\netc/vmdbg\netc/vmdbg/run\n");

    /* modes and sizes as cpio reads them */
    snprintf(cmd, sizeof(cmd), "cpio -tvn --quiet < '%s'", d->archive);
    run_capture(cmd, &out);
    static const struct {
        const char *name, *perms;
        long size;
    } want[] = {
        {"usr", "drwxr-xr-x", 0},
        {"usr/bin/tool", "-rwxr-xr-x", (long)sizeof(TOOL_TEXT) - 1},
        {"data/x.txt", "-rw-------", DATA_SIZE},
        {"empty", "-rw-r--r--", 0},
        {"etc/vmdbg", "drwxr-xr-x", 0},
        {"etc/vmdbg/run", "-rw-r--r--", (long)sizeof(RUN_TEXT) - 1},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        bool found = false;
        for (char *line = out.data; line && *line;) {
            char *nl = strchr(line, '\n');
            if (nl)
                *nl = '\0';
            char perms[16], name[256];
            long links, size;
            unsigned uid, gid;
            /* perms links uid gid size month day year name */
            if (sscanf(line, "%15s %ld %u %u %ld %*s %*s %*s %255s", perms, &links, &uid, &gid,
                       &size, name) == 6 &&
                !strcmp(name, want[i].name)) {
                found = true;
                assert_string_equal(perms, want[i].perms);
                assert_int_equal(size, want[i].size);
                assert_int_equal(uid, 0);
                assert_int_equal(gid, 0);
            }
            if (nl)
                *nl = '\n';
            line = nl ? nl + 1 : NULL;
        }
        if (!found)
            fail_msg("cpio -tv does not list %s:\n%s", want[i].name, out.data);
    }

    /* extraction gives the same bytes */
    char ex[200];
    snprintf(ex, sizeof(ex), "%s/x", d->root);
    assert_int_equal(mkdir(ex, 0700), 0);
    snprintf(cmd, sizeof(cmd), "cd '%s' && cpio -idm --quiet --no-absolute-filenames < '%s'", ex,
             d->archive);
    run_capture(cmd, &out);
    snprintf(cmd, sizeof(cmd), "cat '%s/usr/bin/tool'", ex);
    run_capture(cmd, &out);
    assert_string_equal(out.data, TOOL_TEXT);
    snprintf(cmd, sizeof(cmd), "cat '%s/etc/vmdbg/run'", ex);
    run_capture(cmd, &out);
    assert_string_equal(out.data, RUN_TEXT);
    snprintf(cmd, sizeof(cmd), "cat '%s/data/x.txt'", ex);
    run_capture(cmd, &out);
    assert_int_equal(out.len, DATA_SIZE);
    assert_memory_equal(out.data, big, DATA_SIZE);
    char path[300];
    struct stat st;
    snprintf(path, sizeof(path), "%s/usr/bin/tool", ex);
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_true(st.st_mode & S_IXUSR);
    snprintf(path, sizeof(path), "%s/empty", ex);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 0);
    buf_free(&out);

    /* the headers: alignment, modes, inode numbers, trailer last */
    struct newc_entry e[32];
    size_t n = walk_newc(d->archive, e, 32);
    assert_int_equal(n, 10); /* 9 entries + trailer */
    assert_string_equal(e[n - 1].name, "TRAILER!!!");
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(e[i].data_offset % 4, 0);
        assert_int_equal(e[i].nlink, 1);
        for (size_t k = 0; k < i; k++)
            assert_int_not_equal(e[i].ino, e[k].ino);
    }
    assert_string_equal(e[0].name, "usr");
    assert_int_equal(e[0].mode, 040755);
    assert_string_equal(e[2].name, "usr/bin/tool");
    assert_int_equal(e[2].mode, 0100755);
    assert_int_equal(e[4].mode, 0100600);
    assert_string_equal(e[8].name, "etc/vmdbg/run");
    assert_int_equal(e[8].mode, 0100644);
    assert_int_equal(e[8].size, strlen(RUN_TEXT));
}

static void test_overlay_run_only_and_empty(void **state)
{
    struct dirs *d = *state;
    assert_int_equal(write_overlay(d, NULL, NULL, 0, "true\n"), 0);
    struct buf out;
    buf_init(&out);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "cpio -t --quiet < '%s'", d->archive);
    run_capture(cmd, &out);
    assert_string_equal(out.data, "etc\netc/vmdbg\netc/vmdbg/run\n");
    struct newc_entry e[8];
    assert_int_equal(walk_newc(d->archive, e, 8), 4);

    /* nothing at all: a valid archive holding only the trailer */
    assert_int_equal(write_overlay(d, NULL, NULL, 0, NULL), 0);
    run_capture(cmd, &out);
    assert_string_equal(out.data ? out.data : "", "");
    assert_int_equal(walk_newc(d->archive, e, 8), 1);
    buf_free(&out);
}

static void test_overlay_errors(void **state)
{
    struct dirs *d = *state;
    write_file(d->src_tool, TOOL_TEXT, strlen(TOOL_TEXT), 0755);
    const char *const missing[] = {"/nonexistent/vmdbg-file"};
    const char *const ok_dest[] = {"/bin/x"};
    assert_int_equal(write_overlay(d, missing, ok_dest, 1, NULL), -VMDBG_ENOENT);
    const char *const dir_src[] = {d->root}; /* a directory is not a file */
    assert_int_equal(write_overlay(d, dir_src, ok_dest, 1, NULL), -VMDBG_ENOENT);
    const char *const src[] = {d->src_tool};
    const char *const empty_dest[] = {"/"};
    assert_int_equal(write_overlay(d, src, empty_dest, 1, NULL), -VMDBG_EINVAL);
    const char *const blank_dest[] = {""};
    assert_int_equal(write_overlay(d, src, blank_dest, 1, NULL), -VMDBG_EINVAL);
    /* a file descriptor that cannot be written */
    int fd = open("/dev/null", O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(initrd_write_overlay(fd, src, ok_dest, 1, NULL), -VMDBG_EIO);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_overlay_with_cpio, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overlay_run_only_and_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overlay_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
