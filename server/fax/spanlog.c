/* spanlog.c: see spanlog.h. spandsp 0.0.6's message handler has no user pointer, so the
 * call a line belongs to travels in the line itself, as spandsp's tag. */
#include "spanlog.h"

#include <string.h>

#include "log.h"

static void
span_message(int level, const char *text)
{
	size_t n = strlen(text);

	(void)level;
	log_debug("%.*s", (int)(n > 0 && text[n - 1] == '\n' ? n - 1 : n), text);
}

void
spanlog_attach(logging_state_t *ls, const char *tag)
{
	if (ls == NULL || log_get_level() < LOG_LVL_DEBUG)
		return;
	span_log_set_level(ls, SPAN_LOG_SHOW_SEVERITY | SPAN_LOG_SHOW_PROTOCOL |
	    SPAN_LOG_SHOW_TAG | SPAN_LOG_FLOW);
	span_log_set_tag(ls, tag);
	span_log_set_message_handler(ls, span_message);
}
