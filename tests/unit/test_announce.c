/* test_announce.c: the router restart announcements netcfax believes, and those it does not:
 * NAT-PMP and PCP announcements by their bytes, SSDP NOTIFY by its headers. */
#include <stdint.h>
#include <string.h>

#include "announce.h"
#include "check.h"

int
main(void)
{
	/* NAT-PMP: version 0, opcode 128, result 0, epoch 7, address 11.22.33.10. */
	static const uint8_t natpmp[12] = { 0, 128, 0, 0, 0, 0, 0, 7, 11, 22, 33, 10 };
	/* PCP ANNOUNCE response as miniupnpd 2.3.1 sends it at start: epoch 0. */
	static const uint8_t pcp[24] = { 2, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3 };
	uint8_t bad[24];
	uint32_t epoch = 99, addr = 99;
	char key[320];
	const char *alive =
	    "NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nCACHE-CONTROL: max-age=60\r\n"
	    "LOCATION: http://192.168.10.1:36619/rootDesc.xml\r\nNT: upnp:rootdevice\r\n"
	    "NTS: ssdp:alive\r\n01-NLS: 1796592596\r\nBOOTID.UPNP.ORG: 1796592596\r\n\r\n";
	const char *again =
	    "NOTIFY * HTTP/1.1\r\nlocation:http://192.168.10.1:40511/rootDesc.xml\r\n"
	    "nts: SSDP:ALIVE\r\n\r\n";
	const char *byebye =
	    "NOTIFY * HTTP/1.1\r\nLOCATION: http://192.168.10.1:36619/rootDesc.xml\r\n"
	    "NTS: ssdp:byebye\r\n\r\n";
	const char *search = "M-SEARCH * HTTP/1.1\r\nLOCATION: http://x/\r\nNTS: ssdp:alive\r\n";

	CHECK_INT(announce_natpmp_parse(natpmp, sizeof(natpmp), &epoch, &addr), 0);
	CHECK_INT(epoch, 7);
	CHECK(memcmp(&addr, natpmp + 8, 4) == 0);
	CHECK_INT(announce_natpmp_parse(natpmp, 11, &epoch, &addr), -1);    /* cut short */
	CHECK_INT(announce_natpmp_parse(pcp, sizeof(pcp), &epoch, &addr), 0);
	CHECK_INT(epoch, 3);
	CHECK_INT(addr, 0);
	CHECK_INT(announce_natpmp_parse(pcp, 23, &epoch, &addr), -1);
	memcpy(bad, natpmp, sizeof(natpmp));
	bad[1] = 129;                                  /* a mapping reply, not an announcement */
	CHECK_INT(announce_natpmp_parse(bad, 12, &epoch, &addr), -1);
	bad[1] = 128;
	bad[3] = 3;                                    /* a failure result */
	CHECK_INT(announce_natpmp_parse(bad, 12, &epoch, &addr), -1);
	memcpy(bad, pcp, sizeof(pcp));
	bad[1] = 0x81;                                 /* PCP MAP, not ANNOUNCE */
	CHECK_INT(announce_natpmp_parse(bad, 24, &epoch, &addr), -1);

	/* What counts as a restart: the first heard, an epoch gone down, a new address; not a
	 * repeat, nor a PCP ANNOUNCE (no address) between NAT-PMP ones as miniupnpd sends. */
	memcpy(&addr, natpmp + 8, 4);
	CHECK_INT(announce_natpmp_news(0, 0, 0, 0, addr), 1);
	CHECK_INT(announce_natpmp_news(1, 0, addr, 0, addr), 0);
	CHECK_INT(announce_natpmp_news(1, 0, addr, 2, 0), 0);     /* PCP after NAT-PMP */
	CHECK_INT(announce_natpmp_news(1, 2, addr, 4, addr), 0);  /* NAT-PMP after PCP */
	CHECK_INT(announce_natpmp_news(1, 0, 0, 1, 0), 0);        /* PCP only */
	CHECK_INT(announce_natpmp_news(1, 0, 0, 1, addr), 0);     /* the first address heard */
	CHECK_INT(announce_natpmp_news(1, 9, addr, 3, 0), 1);     /* epoch went down */
	CHECK_INT(announce_natpmp_news(1, 9, addr, 12, addr ^ 0x01000000u), 1); /* new address */

	CHECK_INT(announce_ssdp_parse(alive, strlen(alive), key, sizeof(key)), 0);
	CHECK_STR(key, "http://192.168.10.1:36619/rootDesc.xml|1796592596|1796592596");
	CHECK_INT(announce_ssdp_parse(again, strlen(again), key, sizeof(key)), 0);
	CHECK_STR(key, "http://192.168.10.1:40511/rootDesc.xml||");
	CHECK_INT(announce_ssdp_parse(byebye, strlen(byebye), key, sizeof(key)), -1);
	CHECK_INT(announce_ssdp_parse(search, strlen(search), key, sizeof(key)), -1);
	CHECK_INT(announce_ssdp_parse(alive, 40, key, sizeof(key)), -1);    /* no LOCATION yet */
	CHECK_INT(announce_ssdp_parse(alive, strlen(alive), key, 8), 0);   /* cut to fit */
	CHECK_INT(strlen(key), 7);
	return check_report("test_announce");
}
