/* SPDX-License-Identifier: MIT */
/*
 * ws.h: the WebSocket protocol (RFC 6455) as pure functions over bytes: the
 * ws:// and wss:// URIs, the HTTP/1.1 upgrade request and response, and the
 * frame parser and encoder. No syscalls and no allocation: the caller owns every buffer, feeds bytes
 * in as they arrive (one at a time works) and sends what it is given.
 */
#ifndef VPNGW_WS_H
#define VPNGW_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WS_REQ_MAX      8192  /* request head cap; more is 431 (SPEC) */
#define WS_MSG_MAX      65535 /* default message limit; more is 1009 */
#define WS_HDR_MAX      14    /* largest frame header: 2 + 8 + mask 4 */
#define WS_SRV_HDR_MAX  10    /* largest unmasked (server) frame header */
#define WS_CTRL_MAX     125   /* control frame payload cap (§5.5) */
#define WS_KEY_LEN      24    /* base64 of 16 bytes (§4.1) */
#define WS_ACCEPT_LEN   28    /* base64 of a SHA-1 (§4.2.2) */
#define WS_PROTO_V1     "vpngw.v1"
#define WS_EXT_GSO      "vpngw-gso" /* super-packet messages (gso.h) */
#define WS_XFF_LINES    8     /* X-Forwarded-For lines kept: the last ones */

/* Opcodes (§5.2). */
enum ws_op {
	WS_OP_CONT = 0x0, WS_OP_TEXT = 0x1, WS_OP_BINARY = 0x2,
	WS_OP_CLOSE = 0x8, WS_OP_PING = 0x9, WS_OP_PONG = 0xA,
};

/* Close codes (§7.4.1). */
enum ws_close {
	WS_CLOSE_NORMAL = 1000, WS_CLOSE_GOING_AWAY = 1001,
	WS_CLOSE_PROTOCOL = 1002, WS_CLOSE_UNSUPPORTED = 1003,
	WS_CLOSE_NO_STATUS = 1005, WS_CLOSE_BAD_DATA = 1007, WS_CLOSE_TOO_BIG = 1009,
	WS_CLOSE_INTERNAL = 1011, WS_CLOSE_TRY_AGAIN = 1013,
};

/* ---- WebSocket URIs (§3) ---- */

#define WS_URL_HOST_MAX 255   /* a host name, or an address without brackets */
#define WS_URL_PATH_MAX 1023  /* the path with its query */

struct ws_url {
	bool tls;                                 /* wss:// */
	uint16_t port;                            /* as given, else 80 or 443 */
	char host[WS_URL_HOST_MAX + 1];           /* name or address, no brackets */
	char hosthdr[WS_URL_HOST_MAX + 2 + 7];    /* the Host header: as in the URI */
	char path[WS_URL_PATH_MAX + 1];           /* path and query, "/" if none */
};

/*
 * Parses s[0..len) (the caller's; no NUL needed) as a ws-URI or wss-URI
 * (§3): "ws[s]://" (the scheme in any case), a host that is a name, a
 * dotted-quad IPv4 address or an [IPv6] literal, an optional ":port" of
 * 1..65535 (no sign, no leading zero), then a path and query of RFC 3986
 * characters (percent-escapes must be whole). Refused: userinfo, a fragment,
 * spaces, controls, '\', an empty or overlong host or path. A host that
 * ends in a numeric label must be a dotted quad. On success fills u (every
 * string NUL-terminated) and returns NULL; else returns a short reason for
 * a one-line error, and u holds nothing of use.
 */
const char *ws_url_parse(struct ws_url *u, const char *s, size_t len)
	__attribute__((warn_unused_result));

/* ---- The upgrade request (server side, §4.2.1) ---- */

/* A string inside struct ws_req's buffer; not NUL-terminated. */
struct ws_str {
	const char *p;
	size_t len;
};

struct ws_req {
	size_t len;            /* bytes held in buf */
	size_t scan;           /* where the search for the blank line resumes */
	char buf[WS_REQ_MAX];
	/* Filled in when ws_req_feed returns WS_REQ_DONE: */
	bool is_get;
	bool upgrade_ws;       /* Upgrade: lists "websocket" */
	bool conn_upgrade;     /* Connection: lists "upgrade" */
	bool proto_v1;         /* Sec-WebSocket-Protocol: lists vpngw.v1 */
	bool ext_gso;          /* Sec-WebSocket-Extensions: lists vpngw-gso */
	int version;           /* Sec-WebSocket-Version, -1 if absent/bad */
	struct ws_str target;  /* request-target as sent, with the query */
	struct ws_str path;    /* target without the query */
	struct ws_str key;     /* Sec-WebSocket-Key, trimmed */
	struct ws_str bearer;  /* Authorization: Bearer <this> */
	struct ws_str qtoken;  /* token=<this> from the query, raw */
	struct ws_str session; /* session=<this> from the query, raw */
	struct ws_str xff[WS_XFF_LINES]; /* X-Forwarded-For lines, in order */
	unsigned xff_n;        /* how many: the last WS_XFF_LINES of them */
	struct ws_str host;
};

enum {
	WS_REQ_MORE = 0,       /* the head is not complete yet */
	WS_REQ_DONE = 1,       /* parsed; fields above are valid */
	/* otherwise an HTTP status: 400 malformed, 431 head too large */
};

void ws_req_init(struct ws_req *r);

/*
 * Feeds len bytes of in (the caller's; copied). *used is set to the number of
 * bytes consumed: all of them on WS_REQ_MORE, up to and including the blank
 * line on WS_REQ_DONE (bytes after it belong to the frame stream). Returns
 * WS_REQ_MORE, WS_REQ_DONE, 400 or 431. Header names and the Upgrade and
 * Connection tokens compare case-insensitively (RFC 7230 §3.2, §6.1).
 */
int ws_req_feed(struct ws_req *r, const uint8_t *in, size_t len, size_t *used);

/*
 * What a parsed request deserves (§4.2.2): 101 to accept, 426 for a plain
 * GET or a version other than 13, 400 for a malformed upgrade, 404 when
 * want_path is non-NULL and differs from the request's path.
 */
int ws_req_status(const struct ws_req *r, const char *want_path);

struct nat_cidr;

/*
 * The client behind the proxies that forwarded a request (X-Forwarded-For):
 * lines[0..n_lines) are the header's lines in order (struct ws_req's xff),
 * read as one comma-joined list, each entry an IPv4 address with optional
 * whitespace around it; empty entries are skipped (RFC 7230 §7). Call it
 * only for a TCP peer in a trusted range: that proxy wrote the right-most
 * entry. trusted[0..n_trusted) are those ranges (host order). The walk goes
 * from the right, past the entries in a trusted range, and the first one
 * that is not is the client. When all are trusted, the left-most is. An
 * entry that is not an IPv4 address (IPv6, a port, a name, garbage) stops
 * the walk: what lies left of it was never vouched for by a trusted hop, so
 * the client is the last address the walk reached, the trusted proxy that
 * wrote it.
 * Returns true with *client set (host order); false, *client untouched,
 * when the list is empty or its right-most entry is not an address: then
 * the peer itself is the client.
 */
bool ws_xff_client(const struct ws_str *lines, size_t n_lines, const struct nat_cidr *trusted,
                   size_t n_trusted, uint32_t *client) __attribute__((warn_unused_result));

/* The accept key for a client key (§4.2.2 step 5.4); out is NUL-terminated. */
void ws_accept_key(char out[static WS_ACCEPT_LEN + 1], const char *key, size_t key_len);

/*
 * Writes the 101 response into out (capacity cap). proto, if not NULL, is the
 * selected subprotocol; ext, if not NULL, the accepted extensions (§9.1).
 * Returns the length, or 0 if it does not fit.
 */
size_t ws_resp_101(char *out, size_t cap, const char *key, size_t key_len, const char *proto,
                   const char *ext);

/*
 * Writes a complete error response for status (400, 401, 404, 426, 431, 503)
 * into out, with Connection: close and a one-line text body: body, or the
 * status's reason when body is NULL; 426 carries Sec-WebSocket-Version: 13.
 * Returns the length, or 0 if it does not fit.
 */
size_t ws_resp_error(char *out, size_t cap, int status, const char *body);

/* ---- The client side of the handshake (§4.1) ---- */

/*
 * Writes a GET upgrade request. key is 24 base64 characters. proto and
 * extra_headers (each line ending in \r\n) may be NULL. Returns the length,
 * or 0 if it does not fit.
 */
size_t ws_client_request(char *out, size_t cap, const char *host, const char *path,
                         const char *key, const char *proto, const char *extra_headers);

struct ws_resp {
	size_t len;
	size_t scan;
	char buf[WS_REQ_MAX];
	/* Filled in on WS_REQ_DONE: */
	int status;            /* HTTP status code */
	bool upgrade_ws, conn_upgrade;
	struct ws_str accept;  /* Sec-WebSocket-Accept */
	struct ws_str proto;   /* Sec-WebSocket-Protocol */
	bool ext_gso;          /* Sec-WebSocket-Extensions lists vpngw-gso */
	bool ext_other;        /* ... and another one (the client must fail, §9.1) */
};

void ws_resp_init(struct ws_resp *r);
/* As ws_req_feed, for the server's response. Returns MORE, DONE, 400, 431. */
int ws_resp_feed(struct ws_resp *r, const uint8_t *in, size_t len, size_t *used);

/* ---- Frames (§5) ---- */

enum ws_ev {
	WS_EV_MORE = 0,        /* need more bytes */
	WS_EV_BINARY,          /* a whole binary message in data/len */
	WS_EV_TEXT,            /* a whole text message, UTF-8, when rx->text */
	WS_EV_PING,            /* answer with a pong carrying data/len */
	WS_EV_PONG,
	WS_EV_CLOSE,           /* peer's close; code to echo in code */
	WS_EV_ERROR,           /* fail the connection with close code */
};

struct ws_msg {
	enum ws_ev ev;
	uint8_t *data;         /* into the caller's buffer or rx->frag */
	size_t len;
	uint16_t code;         /* WS_EV_CLOSE / WS_EV_ERROR */
};

/*
 * Receiver state: fragment reassembly and the message limit. Text messages
 * fail the connection with 1003 unless text is set (ws_rx_init clears it;
 * the caller may set it after): then they are delivered as WS_EV_TEXT.
 */
struct ws_rx {
	bool masked;           /* true: frames must be masked (we are the server) */
	bool text;             /* deliver text messages instead of failing */
	enum ws_op frag_op;    /* the open fragmented message's, else WS_OP_CONT */
	size_t max;            /* message limit, <= frag_cap */
	uint8_t *frag;         /* caller's buffer for reassembly, frag_cap bytes */
	size_t frag_cap;
	size_t frag_len;
};

void ws_rx_init(struct ws_rx *rx, bool masked, size_t max, uint8_t *frag, size_t frag_cap);

/*
 * Parses at most one frame from buf[0..len), which the caller owns and lets
 * this function modify: the payload is unmasked in place. Returns the number
 * of bytes the frame took (the caller drops them after handling m), or 0 with
 * m->ev == WS_EV_MORE when the frame is not complete (or a fragment was
 * consumed with nothing to report yet: then the return is non-zero and
 * m->ev == WS_EV_MORE). On WS_EV_ERROR the connection must be failed with
 * m->code: 1002 for bad masking, reserved bits, unknown opcodes, bad control
 * frames or continuations; 1003 for text unless rx->text; 1007 for a text
 * message (or a close reason) that is not UTF-8 (§8.1); 1009 over the limit
 * (§5.2-5.5, §7.4.1). Oversize is detected from the header alone; the
 * limit and the reassembly buffer are the same for text as for binary.
 */
size_t ws_rx_next(struct ws_rx *rx, uint8_t *buf, size_t len, struct ws_msg *m);

/* Size of an unmasked header for a payload of len bytes: 2, 4 or 10. */
size_t ws_hdr_len(size_t len);

/*
 * Writes a final (FIN) unmasked frame header for opcode op and payload len
 * into dst, which has room for ws_hdr_len(len) bytes. Returns that length.
 */
size_t ws_hdr_put(uint8_t *dst, enum ws_op op, size_t len);

/*
 * Client frames (§5.3): writes a masked header (ws_hdr_len(len) + 4 bytes)
 * and masks payload[0..len) in place with mask. Returns the header length.
 */
size_t ws_hdr_put_masked(uint8_t *dst, enum ws_op op, size_t len,
                         const uint8_t mask[static 4], uint8_t *payload);

/* XORs buf[0..len) with the 4-byte mask starting at mask phase 0. */
void ws_mask(uint8_t *buf, size_t len, const uint8_t mask[static 4]);

/*
 * Writes a whole unmasked control frame (close with code, or ping/pong with
 * payload of at most 125 bytes) into out[WS_CTRL_MAX + 2]. Returns its length.
 */
size_t ws_ctrl_frame(uint8_t *out, enum ws_op op, const uint8_t *payload, size_t len);
size_t ws_close_frame(uint8_t out[static 4], uint16_t code);

#endif
