/* SPDX-License-Identifier: MIT */
/*
 * unit_metrics.c: cases for metrics.c's renderer: each family has its
 * # HELP and # TYPE lines before its samples, every value of every enum
 * appears as a label, counters end in _total, the numbers come out as
 * given, the largest values still fit an answer, and a buffer too small by
 * any amount gives 0. Also the label names and the HTTP status mapping.
 * The harness is unit.c's; promtool checks real scrapes in test/metrics.sh.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../link.h"
#include "../metrics.h"
#include "../nat.h"
#include "../tun.h"
#include "unit.h"

static struct link_stats st;
static struct gw_counters cnt;
static uint64_t fw[TUN_FW_N];
static char buf[METRICS_RESP_MAX];

static struct metrics_view view(void)
{
	memset(&st, 0, sizeof st);
	memset(&cnt, 0, sizeof cnt);
	memset(fw, 0, sizeof fw);
	st.up.packets = 11;
	st.up.bytes = 1100;
	st.down.packets = 22;
	st.down.bytes = 2200;
	st.drops[DROP_DENIED] = 3;
	cnt.handshakes[HS_ACCEPTED] = 5;
	cnt.tls[TLSR_PLAIN_HTTP] = 2;
	cnt.auth_failures = 7;
	fw[TUN_FW_LEAK] = 9;
	return (struct metrics_view){
		.version = "1.2.3", .tls_built = true, .tls_on = true,
		.start_time_s = 1700000000, .uptime_ms = 12345, .clients = 1,
		.connections = 4, .handshaking = 2,
		.slots = { [METRICS_SLOT_FREE] = 3, [METRICS_SLOT_BUSY] = 1 },
		.st = &st, .fw = fw, .cnt = &cnt, .max_handshakes = 256,
		.handshake_rate = 20, .linger_s = 10, .keepalive_s = 20,
		.client_rate = 1000001, .max_msg = 65535,
	};
}

static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return true;
	return false;
}

static size_t render(const struct metrics_view *v)
{
	size_t n = metrics_render(buf, sizeof buf - 1, v);

	buf[n] = 0;
	return n;
}

static void samples_as_given(void)
{
	struct metrics_view v = view();

	CHECK(render(&v) > 0);
	CHECK(has_line(buf, "vpngw_build_info{version=\"1.2.3\",tls=\"yes\"} 1"));
	CHECK(has_line(buf, "vpngw_start_time_seconds 1700000000"));
	CHECK(has_line(buf, "vpngw_uptime_seconds 12.345"));
	CHECK(has_line(buf, "vpngw_clients 1"));
	CHECK(has_line(buf, "vpngw_connections 4"));
	CHECK(has_line(buf, "vpngw_handshakes_in_progress 2"));
	CHECK(has_line(buf, "vpngw_slots{state=\"free\"} 3"));
	CHECK(has_line(buf, "vpngw_slots{state=\"busy\"} 1"));
	CHECK(has_line(buf, "vpngw_slots{state=\"retired\"} 0"));
	CHECK(has_line(buf, "vpngw_packets_total{direction=\"up\"} 11"));
	CHECK(has_line(buf, "vpngw_packets_total{direction=\"down\"} 22"));
	CHECK(has_line(buf, "vpngw_bytes_total{direction=\"up\"} 1100"));
	CHECK(has_line(buf, "vpngw_bytes_total{direction=\"down\"} 2200"));
	CHECK(has_line(buf, "vpngw_drops_total{reason=\"denied\"} 3"));
	CHECK(has_line(buf, "vpngw_firewall_packets_total{reason=\"leak\"} 9"));
	CHECK(has_line(buf, "vpngw_handshakes_total{result=\"accepted\"} 5"));
	CHECK(has_line(buf, "vpngw_tls_handshakes_total{result=\"plain_http\"} 2"));
	CHECK(has_line(buf, "vpngw_auth_failures_total 7"));
	CHECK(has_line(buf, "vpngw_config_max_handshakes 256"));
	CHECK(has_line(buf, "vpngw_config_handshake_rate_per_source 20"));
	CHECK(has_line(buf, "vpngw_config_client_rate_bytes_per_second 125000.125"));
	CHECK(has_line(buf, "vpngw_config_max_message_bytes 65535"));
	CHECK(has_line(buf, "vpngw_config_linger_seconds 10"));
	CHECK(has_line(buf, "vpngw_config_keepalive_seconds 20"));
	CHECK(buf[strlen(buf) - 1] == '\n');
}

/* Every value of each enum is a label, in a sample line of its family. */
static void every_enum_value(void)
{
	struct metrics_view v = view();
	char want[128];

	CHECK(render(&v) > 0);
	for (unsigned i = DROP_NONE + 1; i < DROP_N; i++) {
		snprintf(want, sizeof want, "vpngw_drops_total{reason=\"%s\"} %u",
			 drop_name((enum drop)i), i == DROP_DENIED ? 3 : 0);
		CHECK(has_line(buf, want));
	}
	CHECK(!strstr(buf, "reason=\"none\""));
	for (unsigned i = 0; i < TUN_FW_N; i++) {
		snprintf(want, sizeof want, "vpngw_firewall_packets_total{reason=\"%s\"}",
			 tun_fw_name((enum tun_fw)i));
		CHECK(strstr(buf, want) != NULL);
	}
	for (unsigned i = 0; i < HS_N; i++) {
		CHECK(metrics_hs_name((enum hs_result)i) != NULL);
		snprintf(want, sizeof want, "vpngw_handshakes_total{result=\"%s\"}",
			 metrics_hs_name((enum hs_result)i));
		CHECK(strstr(buf, want) != NULL);
	}
	for (unsigned i = 0; i < TLSR_N; i++) {
		CHECK(metrics_tls_name((enum tls_result)i) != NULL);
		snprintf(want, sizeof want, "vpngw_tls_handshakes_total{result=\"%s\"}",
			 metrics_tls_name((enum tls_result)i));
		CHECK(strstr(buf, want) != NULL);
	}
	for (unsigned i = 0; i < METRICS_SLOT_N; i++) {
		CHECK(metrics_slot_name((enum metrics_slot)i) != NULL);
		snprintf(want, sizeof want, "vpngw_slots{state=\"%s\"}",
			 metrics_slot_name((enum metrics_slot)i));
		CHECK(strstr(buf, want) != NULL);
	}
	CHECK(metrics_hs_name(HS_N) == NULL);
	CHECK(metrics_tls_name(TLSR_N) == NULL);
	CHECK(metrics_slot_name(METRICS_SLOT_N) == NULL);
}

/*
 * The format: each sample's metric name has had its # HELP and then its
 * # TYPE line before it, once; a counter's name ends in _total.
 */
static void help_and_type(void)
{
	struct metrics_view v = view();
	char last_help[128] = "", last_type[128] = "", kind[16];
	unsigned samples = 0;

	CHECK(render(&v) > 0);
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		char name[128];
		if (sscanf(line, "# HELP %127s", name) == 1) {
			CHECK(strcmp(name, last_help) != 0);
			snprintf(last_help, sizeof last_help, "%s", name);
			continue;
		}
		if (sscanf(line, "# TYPE %127s %15s", name, kind) == 2) {
			CHECK(!strcmp(name, last_help));
			CHECK(!strcmp(kind, "counter") || !strcmp(kind, "gauge"));
			if (!strcmp(kind, "counter"))
				CHECK(strlen(name) > 6 && !strcmp(name + strlen(name) - 6, "_total"));
			snprintf(last_type, sizeof last_type, "%s", name);
			continue;
		}
		size_t n = strcspn(line, "{ ");
		CHECK(n == strlen(last_type) && !strncmp(line, last_type, n));
		CHECK(strchr(line, ' ') != NULL);
		samples++;
	}
	CHECK(samples > 40);
}

/* Off: no TLS counters without TLS, no firewall counters until known. */
static void optional_families(void)
{
	struct metrics_view v = view();

	v.tls_on = false;
	v.tls_built = false;
	v.fw = NULL;
	CHECK(render(&v) > 0);
	CHECK(!strstr(buf, "vpngw_tls_handshakes_total"));
	CHECK(!strstr(buf, "vpngw_firewall_packets_total"));
	CHECK(strstr(buf, "tls=\"no\"") != NULL);
}

/* The largest numbers fit an answer, with room for its head. */
static void largest_fits(void)
{
	struct metrics_view v = view();

	memset(&st, 0xff, sizeof st);
	memset(&cnt, 0xff, sizeof cnt);
	memset(fw, 0xff, sizeof fw);
	memset(v.slots, 0xff, sizeof v.slots);
	v.uptime_ms = v.start_time_s = UINT64_MAX;
	v.client_rate = UINT64_MAX / 125;
	size_t n = render(&v);
	CHECK(n > 0 && n < METRICS_RESP_MAX - 200);
	CHECK(has_line(buf, "vpngw_auth_failures_total 18446744073709551615"));
}

/* A buffer short by any number of bytes: 0, and nothing past cap. */
static void too_small(void)
{
	struct metrics_view v = view();
	static char small[METRICS_RESP_MAX];
	size_t full = render(&v);

	CHECK(full > 0);
	for (size_t cap = 0; cap < full; cap++) {
		memset(small, 'x', sizeof small);
		if (metrics_render(small, cap, &v) != 0) {
			CHECK(!"fits in a buffer too small");
			break;
		}
		CHECK(small[cap] == 'x');
	}
	CHECK(metrics_render(small, full, &v) == full);
}

static void status_mapping(void)
{
	CHECK(metrics_hs_of_status(400) == HS_BAD_REQUEST);
	CHECK(metrics_hs_of_status(401) == HS_UNAUTHORIZED);
	CHECK(metrics_hs_of_status(404) == HS_NOT_FOUND);
	CHECK(metrics_hs_of_status(426) == HS_UPGRADE);
	CHECK(metrics_hs_of_status(429) == HS_RATE_LIMITED);
	CHECK(metrics_hs_of_status(431) == HS_TOO_LARGE);
	CHECK(metrics_hs_of_status(503) == HS_UNAVAILABLE);
	CHECK(metrics_hs_of_status(599) == HS_BAD_REQUEST);
}

const struct unit_case unit_metrics[] = {
	{ "metrics_samples_as_given", samples_as_given },
	{ "metrics_every_enum_value", every_enum_value },
	{ "metrics_help_and_type", help_and_type },
	{ "metrics_optional_families", optional_families },
	{ "metrics_largest_fits", largest_fits },
	{ "metrics_too_small", too_small },
	{ "metrics_status_mapping", status_mapping },
	{ NULL, NULL },
};
