/*
** api.c: the compile boundary (scr_compile), the compile arena and error throw, globals and
** program lifetime. A compile error longjmps back to scr_compile, which frees the arena and
** the output vectors and undoes new global names, so a failed compile leaks nothing.
*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* {====================================================================
** Arena and errors
** ===================================================================== */

struct scr_achunk {
    struct scr_achunk *next;
    size_t used, size;
    max_align_t data[];
};

#define CHUNK_MIN 16384

void *scr_alloc(struct scr_comp *C, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    struct scr_achunk *c = C->arena;
    if (!c || c->size - c->used < size) {
        size_t cs = size > CHUNK_MIN ? size : CHUNK_MIN;
        c = malloc(sizeof *c + cs);
        if (!c)
            scr_throw(C, SCR_ENOMEM, C->lx.tk.line, C->lx.tk.col, "out of memory");
        c->size = cs;
        c->used = 0;
        c->next = C->arena;
        C->arena = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += size;
    memset(p, 0, size);
    return p;
}

char *scr_strdup(struct scr_comp *C, const char *s, size_t len)
{
    char *p = scr_alloc(C, len + 1);
    memcpy(p, s, len);
    p[len] = 0;
    return p;
}

void scr_grow(struct scr_comp *C, void **vec, size_t *cap, size_t need, size_t elsize)
{
    if (need <= *cap)
        return;
    size_t ncap = *cap ? *cap * 2 : 16;
    if (ncap < need)
        ncap = need;
    void *p = ncap > SIZE_MAX / elsize ? NULL : realloc(*vec, ncap * elsize);
    if (!p)
        scr_throw(C, SCR_ENOMEM, C->lx.tk.line, C->lx.tk.col, "out of memory");
    *vec = p;
    *cap = ncap;
}

uint64_t scr_addstr(struct scr_comp *C, const char *s, size_t len)
{
    if (C->nstr + len > 0x40000000)
        scr_throw(C, SCR_ELIMIT, C->lx.tk.line, C->lx.tk.col, "too much string data");
    scr_grow(C, (void **)&C->str, &C->capstr, C->nstr + len, 1);
    memcpy(C->str + C->nstr, s, len);
    uint64_t addr = SCR_ADDR_STRINGS + C->nstr;
    C->nstr += len;
    return addr;
}

void scr_throw(struct scr_comp *C, int status, int line, int col, const char *fmt, ...)
{
    if (C->err && C->errlen) {
        int n = snprintf(C->err, C->errlen, "%s:%d:%d: ", C->srcname, line, col);
        if (n >= 0 && (size_t)n < C->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(C->err + n, C->errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    C->status = status;
    longjmp(C->jb, 1);
}

/* }==================================================================== */

static void comp_cleanup(struct scr_comp *C)
{
    while (C->arena) {
        struct scr_achunk *n = C->arena->next;
        free(C->arena);
        C->arena = n;
    }
    free(C->funcs);
    free(C->str);
    free(C->code);
    free(C->lines);
    free(C->k);
}

/* The protected part: a compile error longjmps back here. */
static int compile_protected(struct scr_comp *C, const char *src, size_t len,
                             struct scr_program **out)
{
    if (setjmp(C->jb) != 0)
        return C->status;
    scr_lex_init(C, src, len);
    scr_parse(C);
    scr_codegen(C);
    for (int i = 0; i < C->nfuncs; i++)
        if (C->funcs[i]->framesize > SCR_STACK_SLOTS / 2)
            scr_throw(C, SCR_ELIMIT, C->funcs[i]->line, C->funcs[i]->col,
                      "function '%s' needs too many slots (%d)", C->funcs[i]->name,
                      C->funcs[i]->framesize);
    *out = scr_code_finish(C);
    if (!*out) {
        if (C->err && C->errlen)
            snprintf(C->err, C->errlen, "out of memory");
        return SCR_ENOMEM;
    }
    return SCR_OK;
}

int scr_compile(const char *src, size_t len, const char *srcname, struct scr_globals *g,
                unsigned flags, struct scr_program **out, char *err, size_t errlen)
{
    if (out)
        *out = NULL;
    if (err && errlen)
        err[0] = 0;
    if (!src || !g || !out) {
        if (err && errlen)
            snprintf(err, errlen, "scr_compile: missing source, globals or output");
        return SCR_EINVAL;
    }
    if (len == (size_t)-1)
        len = strlen(src);
    struct scr_comp *C = calloc(1, sizeof *C);
    if (!C) {
        if (err && errlen)
            snprintf(err, errlen, "out of memory");
        return SCR_ENOMEM;
    }
    C->err = err;
    C->errlen = errlen;
    C->srcname = srcname ? srcname : "script";
    C->flags = flags;
    C->g = g;
    C->g_count0 = g->count;
    int status = compile_protected(C, src, len, out);
    if (status != SCR_OK) {
        for (unsigned i = C->g_count0; i < g->count; i++) {
            free(g->name[i]);
            g->name[i] = NULL;
        }
        g->count = C->g_count0;
    }
    comp_cleanup(C);
    free(C);
    return status;
}

void scr_free(struct scr_program *prog)
{
    free(prog);
}

/* {====================================================================
** Globals
** ===================================================================== */

struct scr_globals *scr_globals_new(void)
{
    return calloc(1, sizeof(struct scr_globals));
}

void scr_globals_free(struct scr_globals *g)
{
    if (!g)
        return;
    for (unsigned i = 0; i < g->count; i++)
        free(g->name[i]);
    free(g);
}

static int global_find(const struct scr_globals *g, const char *name)
{
    if (!g || !name)
        return -1;
    if (name[0] == '.')
        name++;
    for (unsigned i = 0; i < g->count; i++)
        if (strcmp(g->name[i], name) == 0)
            return (int)i;
    return -1;
}

int scr_globals_get(const struct scr_globals *g, const char *name, uint64_t *val)
{
    int i = global_find(g, name);
    if (i < 0)
        return SCR_EINVAL;
    *val = __atomic_load_n(&g->val[i], __ATOMIC_RELAXED);
    return 0;
}

int scr_globals_set(struct scr_globals *g, const char *name, uint64_t val)
{
    int i = global_find(g, name);
    if (i < 0)
        return SCR_EINVAL;
    __atomic_store_n(&g->val[i], val, __ATOMIC_RELAXED);
    return 0;
}

/* }==================================================================== */
