/* SPDX-License-Identifier: MIT */
/*
 * fuzz_frame.c: libFuzzer target for the frame parser of ws.c. The first
 * input byte picks the receiver (masked or not, text delivered or refused),
 * its message limit and the piece size; the rest is a byte stream, consumed
 * frame by frame both whole and in pieces, and the two runs must report the
 * same events. Text is only ever delivered when asked for, and is UTF-8.
 */
#include <assert.h>
#include <string.h>

#include "../../base64.c"
#include "../../nat.c"
#include "../../sha1.c"
#include "../../ws.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CAP 4096

struct run {
	uint8_t buf[1 << 17];
	uint8_t frag[CAP];
	uint32_t sum;           /* of every event and payload, in order */
	unsigned events;
	bool failed;
};

static struct run whole, piece;

static void mix(struct run *r, uint32_t v)
{
	r->sum = (r->sum ^ v) * 16777619u;
}

/*
 * Appends in[0..len) to r->buf, which holds *have bytes, in steps of step
 * bytes, taking every frame after each step.
 */
static void consume(struct run *r, struct ws_rx *rx, const uint8_t *in, size_t len,
                    size_t step)
{
	size_t have = 0, off = 0;
	struct ws_msg m;

	while (off < len && !r->failed) {
		size_t k = len - off < step ? len - off : step;

		memcpy(r->buf + have, in + off, k);
		have += k;
		off += k;
		for (;;) {
			size_t n = ws_rx_next(rx, r->buf, have, &m);

			assert(n <= have);
			if (n == 0) {
				assert(m.ev == WS_EV_MORE);
				break;
			}
			assert(m.ev >= WS_EV_MORE && m.ev <= WS_EV_ERROR);
			if (m.len) {
				assert(m.data);
				assert((m.data >= r->buf && m.data + m.len <= r->buf + n) ||
				       (m.data >= r->frag && m.data + m.len <= r->frag + CAP));
			}
			if (m.ev == WS_EV_BINARY || m.ev == WS_EV_TEXT)
				assert(m.len <= rx->max);
			if (m.ev == WS_EV_TEXT)
				assert(rx->text && utf8_ok(m.data, m.len));
			if (m.ev == WS_EV_PING || m.ev == WS_EV_PONG)
				assert(m.len <= WS_CTRL_MAX);
			if (m.ev == WS_EV_CLOSE)
				assert(m.code == WS_CLOSE_NO_STATUS || close_code_ok(m.code));
			if (m.ev == WS_EV_ERROR)
				assert(m.code == 1002 || (m.code == 1003 && !rx->text) ||
				       m.code == 1007 || m.code == 1009);
			assert(rx->frag_len <= CAP);
			if (m.ev != WS_EV_MORE) {
				r->events++;
				mix(r, m.ev);
				mix(r, m.code);
				mix(r, (uint32_t)m.len);
				for (size_t i = 0; i < m.len; i++)
					mix(r, m.data[i]);
			}
			if (m.ev == WS_EV_ERROR) {
				r->failed = true;
				break;
			}
			memmove(r->buf, r->buf + n, have - n);
			have -= n;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ws_rx rx;
	bool masked, text;
	size_t max, step;

	if (size < 1 || size - 1 > sizeof whole.buf)
		return 0;
	masked = data[0] & 1;
	max = (data[0] & 2) ? CAP : 200;
	text = data[0] & 4;
	step = 1 + (data[0] >> 3);
	data++, size--;

	whole.sum = piece.sum = 2166136261u;
	whole.events = piece.events = 0;
	whole.failed = piece.failed = false;

	ws_rx_init(&rx, masked, max, whole.frag, CAP);
	rx.text = text;
	consume(&whole, &rx, data, size, size ? size : 1);
	ws_rx_init(&rx, masked, max, piece.frag, CAP);
	rx.text = text;
	consume(&piece, &rx, data, size, step);

	assert(whole.events == piece.events);
	assert(whole.sum == piece.sum);
	assert(whole.failed == piece.failed);

	/* The encoder's output goes back through the parser unchanged. */
	if (size <= CAP) {
		static uint8_t f[CAP + WS_HDR_MAX], p[CAP];
		static const uint8_t key[4] = { 9, 8, 7, 6 };
		struct ws_msg m;
		size_t h;

		memcpy(p, data, size);
		h = masked ? ws_hdr_put_masked(f, WS_OP_BINARY, size, key, p)
		           : ws_hdr_put(f, WS_OP_BINARY, size);
		memcpy(f + h, p, size);
		ws_rx_init(&rx, masked, CAP, NULL, 0);
		assert(ws_rx_next(&rx, f, h + size, &m) == h + size);
		assert(m.ev == WS_EV_BINARY && m.len == size);
		assert(size == 0 || memcmp(m.data, data, size) == 0);

		/* As text: delivered whole exactly when it is UTF-8. */
		memcpy(p, data, size);
		h = masked ? ws_hdr_put_masked(f, WS_OP_TEXT, size, key, p)
		           : ws_hdr_put(f, WS_OP_TEXT, size);
		memcpy(f + h, p, size);
		ws_rx_init(&rx, masked, CAP, NULL, 0);
		rx.text = true;
		assert(ws_rx_next(&rx, f, h + size, &m) == h + size);
		if (utf8_ok(data, size))
			assert(m.ev == WS_EV_TEXT && m.len == size &&
			       (size == 0 || memcmp(m.data, data, size) == 0));
		else
			assert(m.ev == WS_EV_ERROR && m.code == WS_CLOSE_BAD_DATA);
	}
	return 0;
}
