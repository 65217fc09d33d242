/* event.c — the event registry: ids and tags, create, enable/disable/clear,
 * and the `events` command. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "native.h"

#define EVENTS_TEXT_WIDTH 70

struct ev_engine *ev_engine_new(const struct ev_host *host)
{
    struct ev_engine *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->host = *host;
    if (!e->host.out)
        e->host.out = stdout;
    e->globals = scr_globals_new();
    e->outputs = ev_outputs_new();
    buf_init(&e->held);
    if (!e->globals || !e->outputs) {
        scr_globals_free(e->globals);
        ev_outputs_free(e->outputs);
        free(e);
        return NULL;
    }
    return e;
}

void ev_engine_free(struct ev_engine *e)
{
    if (!e)
        return;
    ev_flush_messages(e);
    for (size_t i = 0; i < e->count; i++)
        ev_event_free(e->events[i]);
    free(e->events);
    free(e->deferred);
    scr_globals_free(e->globals);
    ev_outputs_free(e->outputs);
    buf_free(&e->held);
    free(e);
}

int ev_create(struct ev_engine *e, const char *line)
{
    struct ev_event *ev;
    int rc = ev_parse_event(e, line, &ev);
    if (rc)
        return rc;
    if (e->count == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 8;
        struct ev_event **p = realloc(e->events, cap * sizeof(*p));
        if (!p) {
            ev_event_free(ev);
            return err_set(VMDBG_ENOMEM, "out of memory");
        }
        e->events = p;
        e->cap = cap;
    }
    ev->id = e->next_id++;
    ev->tag = EV_TAG_SEED + ev->id;
    e->events[e->count++] = ev;
    /* A hit waiting at a break walks from the newest event: keep its place
     * (the new event joins with the next hit, as in HyperDbg). */
    if (e->current)
        e->current->next++;
    return 0;
}

static void remove_at(struct ev_engine *e, size_t i)
{
    ev_event_free(e->events[i]);
    memmove(&e->events[i], &e->events[i + 1], (e->count - i - 1) * sizeof(e->events[0]));
    e->count--;
}

/* A clear requested by a script while events are being walked is applied
 * after the walk (event_clear), so the walk never sees a freed event. */
static int defer_clear(struct ev_engine *e, uint64_t id)
{
    if (e->ndeferred == e->capdeferred) {
        size_t cap = e->capdeferred ? e->capdeferred * 2 : 4;
        uint64_t *p = realloc(e->deferred, cap * sizeof(*p));
        if (!p)
            return err_set(VMDBG_ENOMEM, "out of memory");
        e->deferred = p;
        e->capdeferred = cap;
    }
    e->deferred[e->ndeferred++] = id;
    return 0;
}

int ev_modify(struct ev_engine *e, uint64_t id, int how)
{
    /* During a dispatch, and while a hit waits at a break, a clear acts as
     * a disable and is completed when the hit is done (as HyperDbg does in
     * Debugger Mode): the walk never loses its place. */
    if (how < 0 && (e->in_dispatch || e->current)) {
        int rc = ev_modify(e, id, 0);
        return rc ? rc : defer_clear(e, id);
    }
    bool found = false;
    for (size_t i = e->count; i-- > 0;) {
        if (id != EV_ID_ALL && e->events[i]->id != id)
            continue;
        found = true;
        if (how < 0)
            remove_at(e, i);
        else
            e->events[i]->enabled = how > 0;
    }
    if (!found && id != EV_ID_ALL)
        return err_set(VMDBG_ENOENT, "no event with id %llx", (unsigned long long)id);
    return 0;
}

/* Apply the clears scripts asked for during the last dispatch. */
void ev_apply_deferred(struct ev_engine *e);
void ev_apply_deferred(struct ev_engine *e)
{
    size_t n = e->ndeferred;
    e->ndeferred = 0;
    for (size_t i = 0; i < n; i++)
        ev_modify(e, e->deferred[i], -1);
}

bool ev_type_needed(const struct ev_engine *e, enum ev_type type, uint64_t *cores,
                    enum ev_variant *variant)
{
    bool any = false;
    uint64_t mask = 0;
    for (size_t i = 0; i < e->count; i++) {
        const struct ev_event *ev = e->events[i];
        if (ev->type != type || !ev->enabled)
            continue;
        any = true;
        mask |= ev->core == EV_ALL || ev->core >= 64 ? UINT64_MAX : 1ull << ev->core;
        /* As in HyperDbg, the newest event's variant decides for all. */
        if (variant)
            *variant = (enum ev_variant)ev->param[1];
    }
    if (cores)
        *cores = mask;
    return any;
}

static void list_events(struct ev_engine *e)
{
    if (e->count == 0) {
        fprintf(e->host.out, "no active events\n");
        return;
    }
    for (size_t i = 0; i < e->count; i++) {
        const struct ev_event *ev = e->events[i];
        int len = (int)strlen(ev->text);
        fprintf(e->host.out, "%x\t(%s)\t%.*s%s\n", ev->id, ev->enabled ? "enabled" : "disabled",
                len > EVENTS_TEXT_WIDTH ? EVENTS_TEXT_WIDTH : len, ev->text,
                len > EVENTS_TEXT_WIDTH ? "..." : "");
    }
}

int ev_events_cmd(struct ev_engine *e, int argc, char **argv)
{
    static const struct {
        const char *word;
        int how;
    } actions[] = {{"e", 1}, {"d", 0}, {"c", -1}};
    if (argc == 1) {
        list_events(e);
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "sc")) {
        if (strcmp(argv[2], "on") && strcmp(argv[2], "off"))
            return err_set(VMDBG_EINVAL, "usage: events sc on|off");
        if (!e->current)
            return err_set(VMDBG_ESTATE, "'events sc' works only at an event's break");
        ev_set_pending_sc(e, !strcmp(argv[2], "on"));
        return 0;
    }
    for (size_t a = 0; argc == 3 && a < ARRAY_LEN(actions); a++) {
        if (strcmp(argv[1], actions[a].word))
            continue;
        uint64_t id = EV_ID_ALL;
        if (strcmp(argv[2], "all") && !parse_number(argv[2], &id))
            return err_set(VMDBG_EINVAL, "'%s' is not an event id (hex)", argv[2]);
        return ev_modify(e, id, actions[a].how);
    }
    return err_set(VMDBG_EINVAL, "usage: events [e|d|c ID|all] [sc on|off]");
}

uint64_t ev_delivered(const struct ev_engine *e)
{
    return e->delivered;
}
