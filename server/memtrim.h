/* memtrim.h: gives freed heap back to the system after many connections have gone. glibc keeps
 * the memory of freed chunks in its heap; after a reconnect storm, or once thousands of idle
 * SCPs are closed, that is most of the server's resident memory. malloc_trim returns every
 * whole free page, also from the middle of the heap; it walks the heap, so it runs once for a
 * wave of closes, a moment after the last. */
#ifndef NETCFAX_MEMTRIM_H
#define NETCFAX_MEMTRIM_H

struct event_base;
struct memtrim;

struct memtrim *memtrim_new(struct event_base *base);
void memtrim_free(struct memtrim *mt);
/* A connection (or other large state) was freed. */
void memtrim_note(struct memtrim *mt);

#endif
