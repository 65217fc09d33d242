/* symbols.c — the kernel symbol table of a Linux profile, read from a
 * System.map or a /proc/kallsyms file ("ADDRESS TYPE NAME[\t[module]]").
 * Names are kept sorted so that a lookup is a binary search; a name that
 * appears with different addresses is marked ambiguous rather than
 * resolved to whichever came first. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linux.h"

/* The kernel's KSYM_NAME_LEN (6.1): longer names are not kernel symbols. */
#define SYM_NAME_MAX 512
/* Refuse files beyond this: a System.map is a few MiB. */
#define SYMTAB_FILE_MAX (512u << 20)

struct sym {
    uint64_t addr;
    uint32_t name; /* offset into names */
    bool ambiguous;
};

struct lnx_symtab {
    struct sym *syms;
    size_t count;
    size_t cap;
    char *names;
    size_t names_len;
    size_t names_cap;
};

void lnx_symtab_free(struct lnx_symtab *st)
{
    if (!st)
        return;
    free(st->syms);
    free(st->names);
    free(st);
}

size_t lnx_symtab_count(const struct lnx_symtab *st)
{
    return st ? st->count : 0;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : 1024;
    while (ncap < need)
        ncap *= 2;
    void *np = realloc(*p, ncap * elem);
    if (!np)
        return err_set(VMDBG_ENOMEM, "out of memory reading a symbol table");
    *p = np;
    *cap = ncap;
    return 0;
}

static int symtab_add(struct lnx_symtab *st, uint64_t addr, const char *name, size_t len)
{
    int rc = grow((void **)&st->syms, &st->cap, st->count + 1, sizeof(*st->syms));
    if (!rc)
        rc = grow((void **)&st->names, &st->names_cap, st->names_len + len + 1, 1);
    if (rc)
        return rc;
    memcpy(st->names + st->names_len, name, len);
    st->names[st->names_len + len] = '\0';
    st->syms[st->count++] = (struct sym){addr, (uint32_t)st->names_len, false};
    st->names_len += len + 1;
    return 0;
}

/* One line: hex address, blank, one-character type, blank, name, and for
 * kallsyms optionally blank + "[module]". Sets *module for module lines.
 * Returns 0, or -1 when the line is malformed. */
static int parse_line(const char *p, const char *end, uint64_t *addr, const char **name,
                      size_t *name_len, bool *module)
{
    uint64_t a = 0;
    int digits = 0;
    for (; p < end && hex_val((unsigned char)*p) >= 0; p++, digits++)
        a = a << 4 | (uint64_t)hex_val((unsigned char)*p);
    if (digits == 0 || digits > 16 || p == end || *p != ' ')
        return -1;
    p++;
    if (p == end || *p == ' ' || *p == '\t' || p + 1 == end || p[1] != ' ')
        return -1;
    p += 2;
    const char *n = p;
    while (p < end && *p != ' ' && *p != '\t')
        p++;
    if (p == n || (size_t)(p - n) >= SYM_NAME_MAX)
        return -1;
    *addr = a;
    *name = n;
    *name_len = (size_t)(p - n);
    *module = false;
    if (p == end)
        return 0;
    p++;
    if (end - p < 3 || *p != '[' || end[-1] != ']' || memchr(p, ' ', (size_t)(end - p)))
        return -1;
    *module = true;
    return 0;
}

static const struct lnx_symtab *sort_table; /* qsort has no context argument in C17 */

static int by_name_then_addr(const void *a, const void *b)
{
    const struct sym *x = a, *y = b;
    int c = strcmp(sort_table->names + x->name, sort_table->names + y->name);
    if (c)
        return c;
    return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* Sort by name; collapse exact duplicates, mark names with several addresses. */
static void symtab_index(struct lnx_symtab *st)
{
    sort_table = st;
    qsort(st->syms, st->count, sizeof(*st->syms), by_name_then_addr);
    sort_table = NULL;
    size_t w = 0;
    for (size_t i = 0; i < st->count; i++) {
        struct sym *s = &st->syms[i];
        if (w && !strcmp(st->names + st->syms[w - 1].name, st->names + s->name)) {
            if (st->syms[w - 1].addr != s->addr)
                st->syms[w - 1].ambiguous = true;
            continue;
        }
        st->syms[w++] = *s;
    }
    st->count = w;
}

int lnx_symtab_parse(const char *text, size_t len, const char *origin, struct lnx_symtab **out)
{
    *out = NULL;
    struct lnx_symtab *st = calloc(1, sizeof(*st));
    if (!st)
        return err_set(VMDBG_ENOMEM, "out of memory reading %s", origin);
    int rc = 0;
    bool any_nonzero = false;
    size_t lineno = 0;
    for (const char *p = text, *end = text + len; !rc && p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        lineno++;
        const char *le = eol > p && eol[-1] == '\r' ? eol - 1 : eol;
        if (le > p) {
            uint64_t addr;
            const char *name;
            size_t nlen;
            bool module;
            if (parse_line(p, le, &addr, &name, &nlen, &module))
                rc = err_set(VMDBG_EINVAL,
                             "%s line %zu is not 'ADDRESS TYPE NAME': not a System.map or "
                             "kallsyms file, or corrupt",
                             origin, lineno);
            else if (!module) {
                any_nonzero |= addr != 0;
                rc = symtab_add(st, addr, name, nlen);
            }
        }
        p = nl ? nl + 1 : end;
    }
    if (!rc && st->count == 0)
        rc = err_set(VMDBG_EINVAL, "%s holds no kernel symbols", origin);
    if (!rc && !any_nonzero)
        rc = err_set(VMDBG_EINVAL, "%s has only zero addresses (kallsyms read without privilege?)",
                     origin);
    if (rc) {
        lnx_symtab_free(st);
        return rc;
    }
    symtab_index(st);
    *out = st;
    return 0;
}

int lnx_symtab_load(const char *path, struct lnx_symtab **out)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return err_set(VMDBG_ENOENT, "cannot open symbol map %s: %s", path, strerror(errno));
    struct buf text;
    buf_init(&text);
    char chunk[65536];
    size_t n;
    int rc = 0;
    while (!rc && (n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (text.len + n > SYMTAB_FILE_MAX)
            rc = err_set(VMDBG_EINVAL, "symbol map %s is larger than %u MiB", path,
                         SYMTAB_FILE_MAX >> 20);
        else
            rc = buf_append(&text, chunk, n);
    }
    if (!rc && ferror(f))
        rc = err_set(VMDBG_EIO, "cannot read symbol map %s", path);
    fclose(f);
    if (!rc)
        rc = lnx_symtab_parse(text.data ? text.data : "", text.len, path, out);
    buf_free(&text);
    return rc;
}

int lnx_symtab_lookup(const struct lnx_symtab *st, const char *name, uint64_t *addr)
{
    size_t lo = 0, hi = st ? st->count : 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, st->names + st->syms[mid].name);
        if (c == 0) {
            if (st->syms[mid].ambiguous)
                return err_set(VMDBG_EINVAL, "symbol %s has several addresses in the map", name);
            *addr = st->syms[mid].addr;
            return 0;
        }
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return err_set(VMDBG_ENOENT, "symbol %s is not in the map", name);
}

int lnx_symtab_next(const struct lnx_symtab *st, uint64_t addr, uint64_t *next)
{
    /* a linear scan: the table is sorted by name, and this is asked once
     * per function when events are armed */
    uint64_t best = UINT64_MAX;
    for (size_t i = 0; st && i < st->count; i++)
        if (st->syms[i].addr > addr && st->syms[i].addr < best)
            best = st->syms[i].addr;
    if (best == UINT64_MAX)
        return err_set(VMDBG_ENOENT, "no symbol follows %llx in the map", (unsigned long long)addr);
    *next = best;
    return 0;
}
