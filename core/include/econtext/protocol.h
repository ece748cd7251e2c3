/* econtext/protocol.h: the markers of the boot protocol that the core and transports
 * look for in a context's output. docs/protocol.md ("1. Boot") is the contract; the
 * payload (payload/first_stage.py, payload/econtext_core.py) writes the same bytes. */
#ifndef ECONTEXT_PROTOCOL_H
#define ECONTEXT_PROTOCOL_H

/* The first stage writes it to fd 1 before it reads its stdin: a transport that must
 * talk to the command first (sudo -S reading a password) waits for it. */
#define EC_MARKER_BOOT "ECBOOT0\n"
#define EC_MARKER_BOOT_LEN (sizeof(EC_MARKER_BOOT) - 1)

/* The remote core writes it just before its HELLO frame: what came before is boot
 * output (stderr may join stdout until then). */
#define EC_MARKER_READY "ECREADY\n"
#define EC_MARKER_READY_LEN (sizeof(EC_MARKER_READY) - 1)

#endif
