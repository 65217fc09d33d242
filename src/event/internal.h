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
    struct ev_outputs *outputs; /* output.c: event forwarding */
};

/* options.c: parse a whole event command into a new event. */
int ev_parse_event(struct ev_engine *e, const char *line, struct ev_event **out);
void ev_event_free(struct ev_event *ev);

/* dispatch.c: one message. Script text of an event's hit (ev and hit
 * given) goes to the event's outputs and the JSON log; other text, and
 * events without outputs, print or hold it (imm no). */
void ev_message(struct ev_engine *e, const struct ev_event *ev, const struct ev_hit *hit,
                enum ev_stage stage, const char *text, size_t len);

/* output.c: the registry's life, and forwarding one message of a hit.
 * ev_outputs_forward returns true when the event has outputs (then the
 * console does not get the message). */
struct ev_outputs *ev_outputs_new(void);
void ev_outputs_free(struct ev_outputs *o);
FILE *ev_outputs_err(const struct ev_outputs *o);
bool ev_outputs_forward(struct ev_outputs *o, const struct ev_event *ev,
                        const struct ev_hit *hit, enum ev_stage stage, const char *text,
                        size_t len);

#endif
