/* softline.h: the built-in software line: a small telephone network inside the server. */
#ifndef NETCFAX_SOFTLINE_H
#define NETCFAX_SOFTLINE_H

#include <stddef.h>

#include "line.h"

extern const struct line_ops softline_ops;

struct softline_opts {
	/* This server's own numbers and the users they belong to: "+15550100 alice, 5550101 bob".
	 * A call to one of them is received by the server, into that user's inbox. */
	const char *own_numbers;
	/* Simulated remote machines and how they behave: "5550199 answer, 5550188 busy,
	 * 5550177 no-answer, 5550166 hangup-after-2, 5550155 noisy, 5550144 no-fine". */
	const char *remotes;
	int         alaw;        /* the audio passes through G.711 A-law, as on a phone line */
	int         paced;       /* calls (and rings) take real time: for a demonstration */
	int         ecm;         /* error correction offered */
};

/* The line, or NULL with a reason naming the entry at fault. Numbers compare by their digits
 * only ("+1 555-0100" is 15550100). */
void *softline_new(const struct softline_opts *o, char *err, size_t errlen);

#endif
