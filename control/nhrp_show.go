package control

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/esphub/esphub/control/api"
	"github.com/esphub/esphub/nhrp"
	"github.com/prometheus/client_golang/prometheus"
)

// nhrpCommands registers the NHRP show and clear commands.
func (d *Daemon) nhrpCommands(c *api.Commands) {
	c.Handle("show ip nhrp traffic", "NHRP packet counters and drops by reason", d.showNHRPTraffic)
	c.Handle("show ip nhrp", "IPv4 NHRP cache: dynamic entries and shortcuts [detail]", d.showNHRP(true))
	c.Handle("show ipv6 nhrp", "IPv6 NHRP cache [detail]", d.showNHRP(false))
	c.Handle("show dmvpn", "NHRP peers: one line per tunnel with its entries", d.showDMVPN)
	c.Handle("clear ip nhrp", "flush dynamic IPv4 NHRP entries and their shortcuts", d.clearNHRP(true))
	c.Handle("clear ipv6 nhrp", "flush dynamic IPv6 NHRP entries and their shortcuts", d.clearNHRP(false))
}

// nhrpEntryJSON is one cache entry as `-o json` prints it.
type nhrpEntryJSON struct {
	VRF string `json:"vrf,omitempty"`
	nhrp.EntryView
}

func (d *Daemon) showNHRP(v4 bool) api.Handler {
	return func(ctx context.Context, args []string) (api.Result, error) {
		detail, err := oneFlag(args, "detail")
		if err != nil {
			return api.Result{}, err
		}
		now := d.now()
		var b bytes.Buffer
		rows := []nhrpEntryJSON{}
		nodes := d.nhrp.allNodes()
		for _, nn := range nodes {
			entries := nn.node.Cache()
			if len(nodes) > 1 && slices.ContainsFunc(entries, func(e nhrp.Entry) bool { return e.Prefix.Addr().Is4() == v4 }) {
				// Several instances (the VRFs of an MPLS overlay) may
				// hold the same prefixes.
				fmt.Fprintf(&b, "VRF %s:\n", vrfLabelName(nn.vrf))
			}
			if err := nhrp.WriteNHRP(&b, entries, now, v4, detail); err != nil {
				return api.Result{}, err
			}
			for i := range entries {
				if entries[i].Prefix.Addr().Is4() == v4 {
					rows = append(rows, nhrpEntryJSON{VRF: nn.vrf, EntryView: entries[i].View(now)})
				}
			}
		}
		return api.Result{Data: rows, Text: b.String()}, nil
	}
}

func (d *Daemon) showDMVPN(ctx context.Context, args []string) (api.Result, error) {
	if len(args) != 0 {
		return api.Result{}, usage("unexpected %q", strings.Join(args, " "))
	}
	var peers []nhrp.PeerView
	for _, nn := range d.nhrp.allNodes() {
		peers = append(peers, nn.node.DMVPN()...)
	}
	var b bytes.Buffer
	if err := nhrp.WriteDMVPN(&b, peers, d.now()); err != nil {
		return api.Result{}, err
	}
	if peers == nil {
		peers = []nhrp.PeerView{}
	}
	return api.Result{Data: peers, Text: b.String()}, nil
}

func (d *Daemon) showNHRPTraffic(ctx context.Context, args []string) (api.Result, error) {
	if len(args) != 0 {
		return api.Result{}, usage("unexpected %q", strings.Join(args, " "))
	}
	var b bytes.Buffer
	nodes := d.nhrp.allNodes()
	if len(nodes) == 0 {
		b.WriteString("NHRP is not configured (no tunnel interface has ip nhrp network-id)\n")
	}
	data := map[string]nhrp.Stats{}
	for _, nn := range nodes {
		st := nn.node.Stats()
		name := nn.vrf
		if name == "" {
			name = "default"
		}
		data[name] = st
		if len(nodes) > 1 {
			fmt.Fprintf(&b, "VRF %s:\n", name)
		}
		if err := nhrp.WriteTraffic(&b, st); err != nil {
			return api.Result{}, err
		}
	}
	return api.Result{Data: data, Text: b.String()}, nil
}

func (d *Daemon) clearNHRP(v4 bool) api.Handler {
	return func(ctx context.Context, args []string) (api.Result, error) {
		if len(args) != 0 {
			return api.Result{}, usage("unexpected %q", strings.Join(args, " "))
		}
		n := d.ClearNHRP(v4)
		return api.Result{Data: map[string]int{"cleared": n}, Text: fmt.Sprintf("%d NHRP entries cleared\n", n)}, nil
	}
}

// NHRPMetrics is a Prometheus collector for the NHRP counters of every
// instance, labelled by VRF. It reads the Nodes' counters at scrape time.
type NHRPMetrics Daemon

// NHRPMetrics returns the NHRP collector, to register beside Metrics.
func (d *Daemon) NHRPMetrics() *NHRPMetrics { return (*NHRPMetrics)(d) }

// Describe implements prometheus.Collector. The metric set follows
// nhrp.Stats.Metrics, so the collector is unchecked (it describes nothing).
func (m *NHRPMetrics) Describe(chan<- *prometheus.Desc) {}

// Collect implements prometheus.Collector.
func (m *NHRPMetrics) Collect(ch chan<- prometheus.Metric) {
	d := (*Daemon)(m)
	descs := map[string]*prometheus.Desc{}
	for _, nn := range d.nhrp.allNodes() {
		vrf := nn.vrf
		if vrf == "" {
			vrf = "default"
		}
		for _, mt := range nn.node.Stats().Metrics() {
			labels := []string{"vrf"}
			values := []string{vrf}
			if mt.LabelName != "" {
				labels, values = append(labels, mt.LabelName), append(values, mt.LabelValue)
			}
			desc := descs[mt.Name]
			if desc == nil {
				desc = prometheus.NewDesc(mt.Name, mt.Help, labels, nil)
				descs[mt.Name] = desc
			}
			ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(mt.Value), values...)
		}
		ch <- prometheus.MustNewConstMetric(descNHRPEntries, prometheus.GaugeValue, float64(len(nn.node.Cache())), vrf)
	}
	d.nhrp.mu.Lock()
	lost, unknown := d.nhrp.hairpinsLost, d.nhrp.unknownLabel
	d.nhrp.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(descNHRPHairpinsLost, prometheus.CounterValue, float64(lost))
	ch <- prometheus.MustNewConstMetric(descNHRPUnknownLabel, prometheus.CounterValue, float64(unknown))
}

func vrfLabelName(vrf string) string {
	if vrf == "" {
		return "default"
	}
	return vrf
}

var (
	descNHRPEntries      = prometheus.NewDesc("esphub_nhrp_cache_entries", "NHRP cache entries.", []string{"vrf"}, nil)
	descNHRPHairpinsLost = prometheus.NewDesc("esphub_nhrp_hairpin_events_lost_total", "Hairpin reports dropped because the NHRP side lagged.", nil, nil)
	descNHRPUnknownLabel = prometheus.NewDesc("esphub_nhrp_unknown_vrf_label_total", "NHRP packets dropped because their VRF label names no VRF of this node.", nil, nil)
)
