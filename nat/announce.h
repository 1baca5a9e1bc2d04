/* announce.h: hears the local router say that it (re)started, so that a reboot is noticed at
 * once rather than at the next check: NAT-PMP gateways multicast their public address to
 * 224.0.0.1:5350 when they start (RFC 6886 3.2.1; PCP gateways an ANNOUNCE, RFC 6887
 * 14.1.3), UPnP devices send SSDP NOTIFY ssdp:alive to
 * 239.255.255.250:1900, with a LOCATION (miniupnpd's HTTP port changes at each start) and a
 * BOOTID.UPNP.ORG, so a boot key never heard before means a restart. Only datagrams from our
 * default gateway count. Runs on the event loop: it
 * only reads datagrams. */
#ifndef NETCFAX_ANNOUNCE_H
#define NETCFAX_ANNOUNCE_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct announce;

/* proto is "natpmp" or "upnp"; restarted is 1 when the router certainly (re)started, 0 when
 * it is only heard for the first time (it may just have started); why says what was heard,
 * in words. */
typedef void (*announce_fn)(const char *proto, int restarted, const char *why, void *arg);

/* Listens on whichever of the two groups can be joined; NULL when neither (the caller
 * carries on without). cb runs on base's loop. */
struct announce *announce_new(struct event_base *base, announce_fn cb, void *arg);
void announce_free(struct announce *a);

/* The parsers, pure functions of the datagram's bytes. A NAT-PMP public-address
 * announcement, or a PCP ANNOUNCE (which routers that speak PCP send instead): 0 with its
 * epoch and address (network order; 0 for PCP, which carries none), -1 if it is neither. */
int announce_natpmp_parse(const uint8_t *b, size_t n, uint32_t *epoch, uint32_t *addr);
/* Does a NAT-PMP/PCP announcement (epoch, addr) after the last one (have: there was one;
 * last_addr: the last non-zero address) say the router (re)started? 1 yes, 0 a repeat. */
int announce_natpmp_news(int have, uint32_t last_epoch, uint32_t last_addr, uint32_t epoch,
    uint32_t addr);
/* An SSDP NOTIFY ssdp:alive: 0 with key set to what identifies the device's current boot
 * (LOCATION, BOOTID.UPNP.ORG and 01-NLS, joined), -1 if it is not one. */
int announce_ssdp_parse(const char *b, size_t n, char *key, size_t keylen);

#endif
