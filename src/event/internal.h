/* internal.h — what the files of src/event share. */
#ifndef VMDBG_EV_INTERNAL_H
#define VMDBG_EV_INTERNAL_H

#include "event.h"
#include "script.h"
#include "util.h"

struct ev_engine {
    struct ev_host host;
    struct ev_event **events; /* creation order; dispatch walks it backwards */
    size_t count, cap;
    uint32_t next_id;         /* ids are never reused */
    struct scr_globals *globals;
    struct buf held;          /* messages of imm-no events, not yet printed */
    struct ev_hit *current;   /* the hit being dispatched (for events sc) */
    uint64_t *deferred;       /* event_clear from scripts: applied after dispatch */
    size_t ndeferred, capdeferred;
    bool in_dispatch;
    bool pause_requested;     /* pause() in a script */
    uint64_t delivered;
};

/* options.c: parse a whole event command into a new event. */
int ev_parse_event(struct ev_engine *e, const char *line, struct ev_event **out);
void ev_event_free(struct ev_event *ev);

/* dispatch.c: print or hold one message of an event. */
void ev_message(struct ev_engine *e, const struct ev_event *ev, const char *text, size_t len);

#endif
