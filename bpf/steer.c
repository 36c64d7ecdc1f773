//go:build ignore

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * steer.c: esphub's XDP steering programs.
 *
 * xdp_wan runs on underlay (WAN) interfaces. ESP (IP protocol 50) and
 * ESP-in-UDP (destination port nat_t_port with a non-zero first word, RFC 3948)
 * go to the AF_XDP socket of the receive queue; IKE (ike_port, and nat_t_port
 * with the four-byte zero non-ESP marker), NAT-T keepalives, fragments and
 * everything else go to the kernel stack.
 *
 * xdp_lan runs on overlay-facing (LAN) interfaces. A packet whose IPv4 or IPv6
 * destination lies in one of the interface's VRF's protected prefixes goes to
 * the AF_XDP socket of the receive queue; everything else goes to the kernel.
 * Multicast, broadcast and IPv6 link-local destinations, and destinations in
 * the VRF's local prefixes (the router's own addresses), always go to the
 * kernel, even under a protected default route.
 *
 * bpf/classify.go is the reference implementation of both decisions; the
 * differential test in bpf/ keeps the two identical. Change both together.
 */
#include "headers/common.h"
#include "headers/bpf_helpers.h"
#include "headers/bpf_endian.h"

#define MAX_IFACES 16
#define MAX_QUEUES 64
#define MAX_PREFIXES 65536
#define MAX_EXT_HEADERS 4
/* One row of counters per interface slot, and a last row for frames on
 * interfaces that are not registered. */
#define COUNTER_ROWS (MAX_IFACES + 1)

/* Verdicts; the numbers are part of the Go API (bpf.Verdict). */
enum verdict {
	VERDICT_PASS_OTHER = 0,
	VERDICT_PASS_IKE = 1,
	VERDICT_PASS_KEEPALIVE = 2,
	VERDICT_PASS_FRAGMENT = 3,
	VERDICT_PASS_MALFORMED = 4,
	VERDICT_PASS_UNPROTECTED = 5,
	VERDICT_PASS_LOCAL = 6,
	VERDICT_ESP = 7,
	VERDICT_ESP_IN_UDP = 8,
	VERDICT_PROTECTED = 9,
	/* Not a classification: counted in addition to ESP, ESP_IN_UDP or
	 * PROTECTED when no socket is bound for the interface and queue, in
	 * which case the packet goes to the kernel. */
	COUNTER_NO_SOCKET = 10,
	NUM_COUNTERS = 11,
};

struct iface_cfg {
	__u32 slot; /* XSKMAP index = slot*MAX_QUEUES + rx queue */
	__u32 vrf;  /* LAN: VRF whose protected prefixes apply */
};

struct counter {
	__u64 packets;
	__u64 bytes;
};

/* The prefix length covers the 32 VRF bits too: 32 + IP prefix length. */
struct lpm4_key {
	__u32 prefixlen;
	__u32 vrf;
	__u8 addr[4];
};

struct lpm6_key {
	__u32 prefixlen;
	__u32 vrf;
	__u8 addr[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, MAX_IFACES * MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} xsks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_IFACES);
	__type(key, __u32); /* ifindex */
	__type(value, struct iface_cfg);
} ifaces SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, MAX_PREFIXES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm4_key);
	__type(value, __u32);
} protected4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, MAX_PREFIXES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm6_key);
	__type(value, __u32);
} protected6 SEC(".maps");

/* Local prefixes: LAN destinations left to the kernel even when a protected
 * prefix covers them. Same keys as protected4/6. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, MAX_PREFIXES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm4_key);
	__type(value, __u32);
} local4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, MAX_PREFIXES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm6_key);
	__type(value, __u32);
} local6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, COUNTER_ROWS * NUM_COUNTERS);
	__type(key, __u32);
	__type(value, struct counter);
} counters SEC(".maps");

/* Set from Go before loading (bpf.Options). */
volatile const __u16 ike_port = 500;
volatile const __u16 nat_t_port = 4500;

static __always_inline void count(__u32 idx, __u64 bytes)
{
	struct counter *c = bpf_map_lookup_elem(&counters, &idx);
	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
}

static __always_inline struct iface_cfg *lookup_iface(struct xdp_md *ctx)
{
	__u32 ifindex = ctx->ingress_ifindex;
	return bpf_map_lookup_elem(&ifaces, &ifindex);
}

/* finish counts verdict v in the interface's row and sends steered frames
 * to the socket of (interface slot, receive queue). */
static __always_inline int finish(struct xdp_md *ctx, struct iface_cfg *cfg, __u32 v)
{
	__u64 bytes = ctx->data_end - ctx->data;
	__u32 row = MAX_IFACES;
	if (cfg && cfg->slot < MAX_IFACES)
		row = cfg->slot;
	count(row * NUM_COUNTERS + v, bytes);
	if (v != VERDICT_ESP && v != VERDICT_ESP_IN_UDP && v != VERDICT_PROTECTED)
		return XDP_PASS;

	__u32 q = ctx->rx_queue_index;
	if (row == MAX_IFACES || q >= MAX_QUEUES) {
		count(row * NUM_COUNTERS + COUNTER_NO_SOCKET, bytes);
		return XDP_PASS;
	}
	int rc = bpf_redirect_map(&xsks, row * MAX_QUEUES + q, XDP_PASS);
	if (rc != XDP_REDIRECT)
		count(row * NUM_COUNTERS + COUNTER_NO_SOCKET, bytes);
	return rc;
}

static __always_inline __u32 classify_udp(void *l4, void *end)
{
	struct udphdr *udp = l4;
	if ((void *)(udp + 1) > end)
		return VERDICT_PASS_MALFORMED;
	__u16 dport = bpf_ntohs(udp->dest);
	if (dport == ike_port)
		return VERDICT_PASS_IKE;
	if (dport != nat_t_port)
		return VERDICT_PASS_OTHER;

	/* Trust the UDP length, not the frame end: Ethernet pads short
	 * frames with zeros, which would turn a keepalive into a marker. */
	__u16 ulen = bpf_ntohs(udp->len);
	if (ulen < sizeof(*udp))
		return VERDICT_PASS_MALFORMED;
	__u8 *payload = (void *)(udp + 1);
	__u16 plen = ulen - sizeof(*udp);
	if (plen < 4) {
		if (plen == 1 && (void *)(payload + 1) <= end && payload[0] == 0xff)
			return VERDICT_PASS_KEEPALIVE;
		return VERDICT_PASS_MALFORMED;
	}
	if ((void *)(payload + 4) > end)
		return VERDICT_PASS_MALFORMED;
	if (payload[0] == 0 && payload[1] == 0 && payload[2] == 0 && payload[3] == 0)
		return VERDICT_PASS_IKE;
	return VERDICT_ESP_IN_UDP;
}

static __always_inline __u32 classify_l4(__u8 proto, void *l4, void *end)
{
	if (proto == IPPROTO_ESP) {
		/* SPI and sequence number must be present. */
		if (l4 + 8 > end)
			return VERDICT_PASS_MALFORMED;
		return VERDICT_ESP;
	}
	if (proto == IPPROTO_UDP)
		return classify_udp(l4, end);
	return VERDICT_PASS_OTHER;
}

static __always_inline __u32 classify_wan(void *data, void *end)
{
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		return VERDICT_PASS_MALFORMED;

	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		if ((void *)(ip + 1) > end)
			return VERDICT_PASS_MALFORMED;
		__u32 ihl = ip->ver_ihl & 0x0f;
		if ((ip->ver_ihl >> 4) != 4 || ihl < 5)
			return VERDICT_PASS_MALFORMED;
		if (bpf_ntohs(ip->tot_len) < ihl * 4)
			return VERDICT_PASS_MALFORMED;
		void *l4 = (void *)ip + ihl * 4;
		if (l4 > end)
			return VERDICT_PASS_MALFORMED;
		if (ip->frag_off & bpf_htons(IP_MF | IP_OFFSET))
			return VERDICT_PASS_FRAGMENT;
		return classify_l4(ip->protocol, l4, end);
	}

	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		if ((void *)(ip6 + 1) > end)
			return VERDICT_PASS_MALFORMED;
		if ((ip6->ver_tc >> 4) != 6)
			return VERDICT_PASS_MALFORMED;
		__u8 nh = ip6->nexthdr;
		__u8 *l4 = (void *)(ip6 + 1);
#pragma unroll
		for (int i = 0; i < MAX_EXT_HEADERS; i++) {
			if (nh == IPPROTO_FRAGMENT)
				return VERDICT_PASS_FRAGMENT;
			if (nh != IPPROTO_HOPOPTS && nh != IPPROTO_ROUTING && nh != IPPROTO_DSTOPTS)
				break;
			if ((void *)(l4 + 2) > end)
				return VERDICT_PASS_MALFORMED;
			nh = l4[0];
			l4 += ((__u32)l4[1] + 1) * 8;
		}
		if (nh == IPPROTO_FRAGMENT)
			return VERDICT_PASS_FRAGMENT;
		if (nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING || nh == IPPROTO_DSTOPTS)
			return VERDICT_PASS_OTHER; /* too deep a chain to follow here */
		if ((void *)l4 > end)
			return VERDICT_PASS_MALFORMED;
		return classify_l4(nh, l4, end);
	}
	return VERDICT_PASS_OTHER;
}

static __always_inline __u32 classify_lan(__u32 vrf, void *data, void *end)
{
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		return VERDICT_PASS_MALFORMED;

	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		if ((void *)(ip + 1) > end)
			return VERDICT_PASS_MALFORMED;
		if ((ip->ver_ihl >> 4) != 4 || (ip->ver_ihl & 0x0f) < 5)
			return VERDICT_PASS_MALFORMED;
		struct lpm4_key k4 = {.prefixlen = 64, .vrf = vrf};
		__builtin_memcpy(k4.addr, &ip->daddr, 4);
		/* 224.0.0.0/4 multicast, 255.255.255.255 broadcast */
		if ((k4.addr[0] & 0xf0) == 0xe0 || ip->daddr == 0xffffffff)
			return VERDICT_PASS_LOCAL;
		if (bpf_map_lookup_elem(&local4, &k4))
			return VERDICT_PASS_LOCAL;
		if (bpf_map_lookup_elem(&protected4, &k4))
			return VERDICT_PROTECTED;
		return VERDICT_PASS_UNPROTECTED;
	}
	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		if ((void *)(ip6 + 1) > end)
			return VERDICT_PASS_MALFORMED;
		if ((ip6->ver_tc >> 4) != 6)
			return VERDICT_PASS_MALFORMED;
		struct lpm6_key k6 = {.prefixlen = 160, .vrf = vrf};
		__builtin_memcpy(k6.addr, ip6->daddr, 16);
		/* ff00::/8 multicast, fe80::/10 link-local */
		if (k6.addr[0] == 0xff || (k6.addr[0] == 0xfe && (k6.addr[1] & 0xc0) == 0x80))
			return VERDICT_PASS_LOCAL;
		if (bpf_map_lookup_elem(&local6, &k6))
			return VERDICT_PASS_LOCAL;
		if (bpf_map_lookup_elem(&protected6, &k6))
			return VERDICT_PROTECTED;
		return VERDICT_PASS_UNPROTECTED;
	}
	return VERDICT_PASS_OTHER;
}

SEC("xdp.frags")
int xdp_wan(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	return finish(ctx, lookup_iface(ctx), classify_wan(data, end));
}

SEC("xdp.frags")
int xdp_lan(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct iface_cfg *cfg = lookup_iface(ctx);
	return finish(ctx, cfg, classify_lan(cfg ? cfg->vrf : 0, data, end));
}

char __license[] SEC("license") = "Dual BSD/GPL";
