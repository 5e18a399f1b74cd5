/* wol: Wake-on-LAN magic packets.
 *
 * A magic packet is 6 bytes 0xFF then the target MAC 16 times (AMD's
 * "Magic Packet Technology" white paper, 1995), sent here as a UDP
 * datagram to port 9 (discard) at the IPv4 broadcast address of each
 * chosen interface, so it reaches a powered-off NIC on that segment.
 * A plain UDP socket with SO_BROADCAST: no extra capability. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

#define WOL_PACKET_LEN 102
#define WOL_PORT 9
#define WOL_REPEAT 3          /* packets per request */
#define WOL_REPEAT_GAP_MS 100 /* between them */

/* Pure: the magic packet for mac. */
void wol_build(const uint8_t mac[MAC_LEN], uint8_t out[WOL_PACKET_LEN]);

/* Send one packet for mac out of every interface named in ifaces (comma
 * or space separated; NULL or "" = every up, non-loopback interface with
 * an IPv4 broadcast address).  Returns how many interfaces it went out of
 * (0: none matched), or a negative errno; sent_on lists them. */
int wol_send(const char *ifaces, const uint8_t mac[MAC_LEN], char *sent_on, size_t len);
