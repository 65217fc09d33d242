/* cmd_output.c — `output`: HyperDbg's event forwarding sources (list,
 * create, open, close). The registry and the sinks live in src/event. */
#include <string.h>

#include "commands.h"
#include "event.h"

#define OUTPUT_USAGE                                                                           \
    "usage: output [create NAME file|namedpipe|tcp|module ADDRESS [format json|text] | open "  \
    "NAME | close NAME]"

static int parse_format(int argc, char **argv, enum ev_output_format *format)
{
    static const struct {
        const char *name;
        enum ev_output_format format;
    } formats[] = {{"text", EV_FORMAT_TEXT}, {"json", EV_FORMAT_JSON}};
    *format = EV_FORMAT_TEXT;
    if (argc == 5)
        return 0;
    if (argc != 7 || strcmp(argv[5], "format"))
        return err_set(VMDBG_EINVAL, OUTPUT_USAGE);
    for (size_t i = 0; i < ARRAY_LEN(formats); i++) {
        if (!strcmp(argv[6], formats[i].name)) {
            *format = formats[i].format;
            return 0;
        }
    }
    return err_set(VMDBG_EINVAL, "'format' takes json or text, got '%s'", argv[6]);
}

static int output_create(struct ev_outputs *o, int argc, char **argv)
{
    enum ev_output_format format;
    int rc = parse_format(argc, argv, &format);
    return rc ? rc : ev_output_create(o, argv[2], argv[3], argv[4], format);
}

static int output_open(struct ev_outputs *o, int argc, char **argv)
{
    return argc == 3 ? ev_output_open(o, argv[2]) : err_set(VMDBG_EINVAL, OUTPUT_USAGE);
}

static int output_close(struct ev_outputs *o, int argc, char **argv)
{
    return argc == 3 ? ev_output_close(o, argv[2]) : err_set(VMDBG_EINVAL, OUTPUT_USAGE);
}

int cmd_output(struct session *s, int argc, char **argv)
{
    static const struct {
        const char *word;
        int (*fn)(struct ev_outputs *o, int argc, char **argv);
    } actions[] = {{"create", output_create}, {"open", output_open}, {"close", output_close}};
    if (!s->events)
        return err_set(VMDBG_ESTATE, "no event engine in this session");
    struct ev_outputs *o = ev_engine_outputs(s->events);
    if (argc == 1) {
        ev_outputs_list(o, s->out);
        return 0;
    }
    for (size_t i = 0; i < ARRAY_LEN(actions); i++)
        if (!strcmp(argv[1], actions[i].word))
            return actions[i].fn(o, argc, argv);
    return err_set(VMDBG_EINVAL, OUTPUT_USAGE);
}
