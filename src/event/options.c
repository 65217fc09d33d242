/* options.c — the event commands' syntax, as HyperDbg has it:
 *   !syscall [number] [pid P] [core C] [imm yes|no] [sc on|off] [stage pre|post|all]
 *            [buffer N] [script {..}] [condition {hex} | asm condition {..}]
 *            [code {hex} | asm code {..}] [output {A, B}]
 * Everything is checked before the event exists: a refused command changes
 * nothing. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "native.h"

#define MAX_TOKENS      64
#define MAX_SCRIPT_FILE (1u << 20)

struct token {
    const char *text; /* NUL-terminated copy */
    bool block;       /* was { ... } */
};

struct tokens {
    struct token t[MAX_TOKENS];
    size_t n;
    char *store;
};

/* End of a { } block starting at p ('{'): nesting, "strings" and 'c' skipped. */
static const char *block_end(const char *p)
{
    int depth = 0;
    for (; *p; p++) {
        if (*p == '"' || *p == '\'') {
            char q = *p;
            for (p++; *p && *p != q; p++)
                if (*p == '\\' && p[1])
                    p++;
            if (!*p)
                return NULL;
        } else if (*p == '{') {
            depth++;
        } else if (*p == '}' && --depth == 0) {
            return p;
        }
    }
    return NULL;
}

static int tokenize(const char *line, struct tokens *tk)
{
    tk->n = 0;
    tk->store = malloc(strlen(line) * 2 + 2);
    if (!tk->store)
        return err_set(VMDBG_ENOMEM, "out of memory");
    char *w = tk->store;
    for (const char *p = line; *p;) {
        if (isspace((unsigned char)*p)) {
            p++;
            continue;
        }
        if (tk->n == MAX_TOKENS)
            return err_set(VMDBG_EINVAL, "too many parameters");
        struct token *t = &tk->t[tk->n++];
        if (*p == '{') {
            const char *end = block_end(p);
            if (!end)
                return err_set(VMDBG_EINVAL, "a '{' block is not closed");
            size_t len = (size_t)(end - p - 1);
            memcpy(w, p + 1, len);
            w[len] = '\0';
            t->text = w;
            t->block = true;
            w += len + 1;
            p = end + 1;
            continue;
        }
        const char *start = p;
        while (*p && !isspace((unsigned char)*p) && *p != '{')
            p++;
        memcpy(w, start, (size_t)(p - start));
        w[p - start] = '\0';
        t->text = w;
        t->block = false;
        w += p - start + 1;
    }
    return 0;
}

/* The command words and what they create. ORDER: none. */
static const struct {
    const char *name;
    enum ev_type type;
    enum ev_variant variant;
    bool takes_number; /* !syscall's syscall-number filter */
} event_commands[] = {
    {"!syscall", EV_SYSCALL, EV_VARIANT_SAFE, true},
    {"!syscall2", EV_SYSCALL, EV_VARIANT_ALL_UD, true},
    {"!sysret", EV_SYSRET, EV_VARIANT_SAFE, false},
    {"!sysret2", EV_SYSRET, EV_VARIANT_ALL_UD, false},
    {"!mode", EV_MODE, EV_VARIANT_SAFE, false},
};

/* !mode's mode token and the OptionalParam1 it sets. ORDER: none. */
static const struct {
    const char *word;
    enum ev_mode mode;
} mode_words[] = {
    {"u", EV_MODE_USER},
    {"k", EV_MODE_KERNEL},
    {"uk", EV_MODE_BOTH},
    {"ku", EV_MODE_BOTH},
};

struct parsed {
    struct ev_event *ev;
    const char *script_src;
    bool script_from_file;
    const char *cond_src, *code_src;
    bool cond_asm, code_asm;
    bool have_number, have_pid, have_stage, have_sc, have_imm, have_mode;
    const char *output_list;
    const char *unopened_output; /* warned about once the event exists */
};

static int want_value(const struct tokens *tk, size_t i, const char *opt)
{
    if (i + 1 >= tk->n || tk->t[i + 1].block)
        return err_set(VMDBG_EINVAL, "'%s' needs a value", opt);
    return 0;
}

static int want_block(const struct tokens *tk, size_t i, const char *opt)
{
    if (i + 1 >= tk->n || !tk->t[i + 1].block)
        return err_set(VMDBG_EINVAL, "'%s' needs a { } block", opt);
    return 0;
}

static int parse_u32(const char *text, const char *opt, uint32_t *out)
{
    uint64_t v;
    if (!parse_number(text, &v) || v > 0xffffffffu)
        return err_set(VMDBG_EINVAL, "'%s' is not a valid %s (hex by default, 0n for decimal)",
                       text, opt);
    *out = (uint32_t)v;
    return 0;
}

/* One option at tk->t[*i]; advances *i past its value. */
static int parse_option(const struct tokens *tk, size_t *i, struct parsed *p)
{
    const char *w = tk->t[*i].text;
    struct ev_event *ev = p->ev;
    int rc;
    if (!strcmp(w, "pid") || !strcmp(w, "core")) {
        if ((rc = want_value(tk, *i, w)))
            return rc;
        const char *v = tk->t[++*i].text;
        bool is_pid = w[0] == 'p';
        if (is_pid)
            p->have_pid = true;
        if (!strcmp(v, "all")) {
            *(is_pid ? &ev->pid : &ev->core) = EV_ALL;
            return 0;
        }
        return parse_u32(v, is_pid ? "process id" : "core", is_pid ? &ev->pid : &ev->core);
    }
    if (!strcmp(w, "imm") || !strcmp(w, "sc")) {
        if ((rc = want_value(tk, *i, w)))
            return rc;
        const char *v = tk->t[++*i].text;
        bool imm = w[0] == 'i';
        const char *yes = imm ? "yes" : "on", *no = imm ? "no" : "off";
        if (strcmp(v, yes) && strcmp(v, no))
            return err_set(VMDBG_EINVAL, "'%s' takes %s or %s", w, yes, no);
        *(imm ? &ev->imm : &ev->sc_default) = !strcmp(v, yes);
        *(imm ? &p->have_imm : &p->have_sc) = true;
        return 0;
    }
    if (!strcmp(w, "stage")) {
        static const char *const stages[] = {NULL, "pre", "post", "all"};
        if ((rc = want_value(tk, *i, w)))
            return rc;
        const char *v = tk->t[++*i].text;
        for (int s = EV_STAGE_PRE; s <= EV_STAGE_ALL; s++) {
            if (!strcmp(v, stages[s])) {
                ev->stage = (enum ev_stage)s;
                p->have_stage = true;
                return 0;
            }
        }
        return err_set(VMDBG_EINVAL, "'stage' takes pre, post or all");
    }
    if (!strcmp(w, "buffer")) {
        if ((rc = want_value(tk, *i, w)))
            return rc;
        if ((rc = parse_u32(tk->t[++*i].text, "buffer size", &ev->buffer_size)))
            return rc;
        if (ev->buffer_size == 0 || ev->buffer_size >= EV_BUFFER_LIMIT)
            return err_set(VMDBG_EINVAL,
                           "buffer size must be from 1 to 0x%x bytes (HyperDbg's limit)",
                           EV_BUFFER_LIMIT - 1);
        return 0;
    }
    if (!strcmp(w, "script")) {
        if ((rc = want_block(tk, *i, w)))
            return rc;
        if (p->script_src)
            return err_set(VMDBG_EINVAL, "only one script per event");
        p->script_src = tk->t[++*i].text;
        return 0;
    }
    if (!strcmp(w, "output")) {
        if ((rc = want_block(tk, *i, w)))
            return rc;
        p->output_list = tk->t[++*i].text;
        return 0;
    }
    bool is_asm = !strcmp(w, "asm");
    if (is_asm) {
        if (*i + 1 >= tk->n || tk->t[*i + 1].block)
            return err_set(VMDBG_EINVAL, "'asm' must be followed by condition or code");
        w = tk->t[++*i].text;
    }
    if (!strcmp(w, "condition") || !strcmp(w, "code")) {
        if ((rc = want_block(tk, *i, w)))
            return rc;
        bool cond = w[1] == 'o' && w[2] == 'n';
        const char **src = cond ? &p->cond_src : &p->code_src;
        if (*src)
            return err_set(VMDBG_EINVAL, "only one %s per event", w);
        *src = tk->t[++*i].text;
        *(cond ? &p->cond_asm : &p->code_asm) = is_asm;
        return 0;
    }
    return err_set(VMDBG_EINVAL, "unknown parameter '%s'", tk->t[*i].text);
}

static char *read_script_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        err_set(VMDBG_ENOENT, "cannot open script file %s", path);
        return NULL;
    }
    struct buf b;
    buf_init(&b);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && b.len < MAX_SCRIPT_FILE)
        buf_append(&b, chunk, n);
    fclose(f);
    if (b.len >= MAX_SCRIPT_FILE) {
        buf_free(&b);
        err_set(VMDBG_EINVAL, "script file %s is too large", path);
        return NULL;
    }
    return b.data ? b.data : strdup("");
}

static int build_script(struct ev_engine *e, struct parsed *p)
{
    const char *src = p->script_src;
    char *file_text = NULL;
    const char *name = "script";
    const char *s = src + strspn(src, " \t\n");
    if (!strncmp(s, "file:", 5)) {
        char path[1024];
        snprintf(path, sizeof(path), "%s", s + 5);
        path[strcspn(path, "\n")] = '\0';
        for (size_t n = strlen(path); n && isspace((unsigned char)path[n - 1]); n--)
            path[n - 1] = '\0';
        file_text = read_script_file(path);
        if (!file_text)
            return -VMDBG_ENOENT;
        src = file_text;
        name = path[0] ? "script file" : name;
    }
    char err[256];
    int rc = scr_compile(src, (size_t)-1, name, e->globals, 0, &p->ev->script, err, sizeof(err));
    free(file_text);
    if (rc)
        return err_set(VMDBG_EINVAL, "%s", err);
    return 0;
}

static int build_native(const char *src, bool is_asm, struct ev_native **out)
{
    return is_asm ? ev_native_from_asm(src, out) : ev_native_from_hex(src, out);
}

/* output {A, B}: up to EV_MAX_OUTPUTS names, comma separated, each one
 * existing and not closed (HyperDbg only warns about one not opened). */
static int parse_outputs(struct ev_engine *e, struct parsed *p)
{
    struct ev_event *ev = p->ev;
    const char *s = p->output_list;
    for (;;) {
        s += strspn(s, " \t\n");
        size_t len = strcspn(s, ",");
        size_t trimmed = len;
        while (trimmed && isspace((unsigned char)s[trimmed - 1]))
            trimmed--;
        if (trimmed == 0)
            return err_set(VMDBG_EINVAL, "'output' wants names separated by commas");
        if (ev->noutputs == EV_MAX_OUTPUTS)
            return err_set(VMDBG_EINVAL, "at most %d outputs per event", EV_MAX_OUTPUTS);
        char *name = strndup(s, trimmed);
        if (!name)
            return err_set(VMDBG_ENOMEM, "out of memory");
        ev->outputs[ev->noutputs++] = name;
        for (int i = 0; i < ev->noutputs - 1; i++)
            if (!strcmp(ev->outputs[i], name))
                return err_set(VMDBG_EINVAL, "output '%s' is listed twice", name);
        struct ev_output *out = ev_output_find(e->outputs, name);
        if (!out)
            return err_set(VMDBG_ENOENT,
                           "output source '%s' does not exist (create it with "
                           "'output create')",
                           name);
        if (ev_output_state(out) == EV_OUT_CLOSED)
            return err_set(VMDBG_ESTATE, "output source '%s' is closed", name);
        if (ev_output_state(out) == EV_OUT_NOT_OPENED && !p->unopened_output)
            p->unopened_output = name;
        s += len;
        if (!*s)
            return 0;
        s++; /* the comma */
    }
}

/* HyperDbg's cross-option rules. */
static int validate(struct ev_engine *e, struct parsed *p)
{
    struct ev_event *ev = p->ev;
    if (ev->sc_default && ev->stage != EV_STAGE_PRE)
        return err_set(VMDBG_EINVAL, "short-circuiting ('sc on') is not possible in the post "
                                     "stage ('stage post' or 'stage all')");
    if (ev->type == EV_MODE) {
        if (!p->have_mode)
            return err_set(VMDBG_EINVAL, "!mode needs the mode: u, k or ku (uk)");
        if (ev->pid == EV_ALL)
            return err_set(VMDBG_EINVAL, "!mode needs the process: 'pid ID' (not 'all')");
        if (ev->stage != EV_STAGE_PRE)
            return err_set(VMDBG_EINVAL, "!mode has no post stage ('stage post' and 'stage "
                                         "all' are not possible)");
    }
    if (p->output_list && p->have_imm && !ev->imm)
        return err_set(VMDBG_EINVAL, "'imm no' cannot be used with 'output'");
    int rc;
    if (p->output_list && (rc = parse_outputs(e, p)))
        return rc;
    if (ev->pid != EV_ALL && !(e->host.has_os && e->host.has_os(e->host.ctx)))
        return err_set(VMDBG_EUNSUP, "'pid' needs a Linux profile of the guest (System.map "
                                     "and BTF): give --system-map, or use the default guest");
    if (ev->core != EV_ALL && e->host.vcpu_count) {
        int n = e->host.vcpu_count(e->host.ctx);
        if (n > 0 && ev->core >= (uint32_t)n)
            return err_set(VMDBG_EINVAL, "core %x does not exist (the guest has %d vCPUs)",
                           ev->core, n);
    }
    return 0;
}

void ev_event_free(struct ev_event *ev)
{
    if (!ev)
        return;
    scr_free(ev->script);
    ev_native_free(ev->code);
    ev_native_free(ev->condition);
    for (int i = 0; i < ev->noutputs; i++)
        free(ev->outputs[i]);
    free(ev->buffer);
    free(ev->text);
    free(ev);
}

static bool parse_mode_word(const char *w, struct parsed *p)
{
    for (size_t i = 0; i < ARRAY_LEN(mode_words); i++) {
        if (!strcmp(w, mode_words[i].word)) {
            p->ev->param[0] = mode_words[i].mode;
            p->have_mode = true;
            return true;
        }
    }
    return false;
}

static int parse_tokens(struct ev_engine *e, const struct tokens *tk, struct parsed *p)
{
    struct ev_event *ev = p->ev;
    size_t ci;
    for (ci = 0; ci < ARRAY_LEN(event_commands); ci++)
        if (!strcmp(tk->t[0].text, event_commands[ci].name))
            break;
    if (ci == ARRAY_LEN(event_commands))
        return err_set(VMDBG_EINVAL, "unknown event command '%s'", tk->t[0].text);
    ev->type = event_commands[ci].type;
    ev->param[1] = event_commands[ci].variant;
    ev->param[0] = event_commands[ci].type == EV_SYSCALL ? EV_ALL : 0;
    for (size_t i = 1; i < tk->n; i++) {
        const struct token *t = &tk->t[i];
        bool is_option_word = !t->block && (isalpha((unsigned char)t->text[0]) &&
                                            !parse_number(t->text, &(uint64_t){0}));
        /* The one free token of !syscall is its syscall number (hex by default). */
        if (!is_option_word && !t->block && event_commands[ci].takes_number && !p->have_number) {
            uint64_t v;
            if (!parse_number(t->text, &v) || v > 0xffffffffu)
                return err_set(VMDBG_EINVAL, "'%s' is not a syscall number", t->text);
            ev->param[0] = v;
            p->have_number = true;
            continue;
        }
        if (t->block)
            return err_set(VMDBG_EINVAL, "unexpected { } block");
        if (ev->type == EV_MODE && !p->have_mode && parse_mode_word(t->text, p))
            continue;
        int rc = parse_option(tk, &i, p);
        if (rc)
            return rc;
    }
    (void)e;
    return 0;
}

int ev_parse_event(struct ev_engine *e, const char *line, struct ev_event **out)
{
    struct tokens tk = {0};
    struct parsed p = {0};
    int rc = tokenize(line, &tk);
    if (!rc && tk.n == 0)
        rc = err_set(VMDBG_EINVAL, "empty event command");
    if (!rc) {
        p.ev = calloc(1, sizeof(*p.ev));
        if (!p.ev)
            rc = err_set(VMDBG_ENOMEM, "out of memory");
    }
    if (!rc) {
        p.ev->enabled = true;
        p.ev->core = EV_ALL;
        p.ev->pid = EV_ALL;
        p.ev->stage = EV_STAGE_PRE;
        p.ev->imm = true; /* HyperDbg's default */
        rc = parse_tokens(e, &tk, &p);
    }
    if (!rc)
        rc = validate(e, &p);
    if (!rc && p.script_src)
        rc = build_script(e, &p);
    if (!rc && p.cond_src)
        rc = build_native(p.cond_src, p.cond_asm, &p.ev->condition);
    if (!rc && p.code_src)
        rc = build_native(p.code_src, p.code_asm, &p.ev->code);
    if (!rc && p.ev->buffer_size) {
        p.ev->buffer = calloc(1, p.ev->buffer_size);
        if (!p.ev->buffer)
            rc = err_set(VMDBG_ENOMEM, "out of memory");
    }
    if (!rc) {
        p.ev->action_break = !p.ev->script && !p.ev->code;
        p.ev->text = strdup(line + strspn(line, " \t"));
        if (!p.ev->text)
            rc = err_set(VMDBG_ENOMEM, "out of memory");
    }
    free(tk.store);
    if (rc) {
        ev_event_free(p.ev);
        return rc;
    }
    if (p.ev->type == EV_MODE && p.ev->sc_default && p.ev->param[0] != EV_MODE_USER)
        fprintf(ev_outputs_err(e->outputs),
                "warning: short-circuiting kernel-mode transitions (k) is ignored by vmdbg "
                "(in HyperDbg it blocks syscalls and interrupts and may hang the core)\n");
    if (p.unopened_output)
        fprintf(ev_outputs_err(e->outputs),
                "warning: output source '%s' is not opened yet: its messages are dropped "
                "until 'output open %s'\n",
                p.unopened_output, p.unopened_output);
    *out = p.ev;
    return 0;
}
