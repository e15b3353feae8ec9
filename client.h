/* SPDX-License-Identifier: MIT */
/*
 * client.h: `vpngw connect`, the Linux client: a TUN interface, a WebSocket
 * (ws:// or wss://) to a gateway, routes, keepalive and reconnection with
 * session resumption. Reuses ws.c, tls.c and tun.c.
 */
#ifndef VPNGW_CLIENT_H
#define VPNGW_CLIENT_H

/* Runs `vpngw connect ...` (argv[0] is "connect"). Returns the exit code. */
int client_main(int argc, char **argv);

#endif
