package control

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics exports the daemon's state to Prometheus. It is a Collector that
// reads the engine's and dataplane's counters at scrape time, so nothing is
// counted twice and the packet path is untouched. Register it on the
// daemon's own registry.
type Metrics Daemon

// Metrics returns the daemon's Prometheus collector.
func (d *Daemon) Metrics() *Metrics { return (*Metrics)(d) }

var (
	descSessions    = prometheus.NewDesc("esphub_sessions", "IKE sessions with an interface (virtual-access or tunnel) up.", nil, nil)
	descIKESAs      = prometheus.NewDesc("esphub_ike_sas", "IKE SAs up or being negotiated.", nil, nil)
	descChildSAs    = prometheus.NewDesc("esphub_child_sas", "Installed dataplane SAs by direction.", []string{"direction"}, nil)
	descSAPackets   = prometheus.NewDesc("esphub_sa_packets_total", "Packets through an SA.", []string{"spi", "direction", "tunnel"}, nil)
	descSABytes     = prometheus.NewDesc("esphub_sa_bytes_total", "Bytes through an SA.", []string{"spi", "direction", "tunnel"}, nil)
	descTunPackets  = prometheus.NewDesc("esphub_tunnel_packets_total", "Packets through a tunnel interface.", []string{"interface", "direction"}, nil)
	descTunBytes    = prometheus.NewDesc("esphub_tunnel_bytes_total", "Bytes through a tunnel interface.", []string{"interface", "direction"}, nil)
	descDrops       = prometheus.NewDesc("esphub_dataplane_drops_total", "Packets the dataplane dropped, by reason.", []string{"reason"}, nil)
	descIKE         = prometheus.NewDesc("esphub_ike_events_total", "IKE engine counters (messages, exchanges, drops).", []string{"counter"}, nil)
	descFailures    = prometheus.NewDesc("esphub_ike_failures_total", "IKE negotiations that failed or SAs that died, by notify type.", []string{"notify"}, nil)
	descRoutes      = prometheus.NewDesc("esphub_routes", "Best routes in the RIB by VRF.", []string{"vrf"}, nil)
	descCertRejects = prometheus.NewDesc("esphub_ike_certificates_refused_total", "Peer certificates refused, by reason.", []string{"reason"}, nil)
	descConnectors  = prometheus.NewDesc("esphub_initiator_tunnels", "Initiator tunnels by state.", []string{"state"}, nil)
	descSGT         = prometheus.NewDesc("esphub_sgt_packets_total", "Packets sent or received with a Cisco TrustSec tag, by SGT.", []string{"sgt", "direction"}, nil)
	descSGACL       = prometheus.NewDesc("esphub_sgacl_packets_total", "Packets the role-based permissions matrix judged, by cell (\"*\" for the default) and action.", []string{"from", "to", "action"}, nil)
)

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSessions, descIKESAs, descChildSAs, descSAPackets, descSABytes,
		descTunPackets, descTunBytes, descDrops, descIKE, descFailures, descRoutes, descConnectors, descCertRejects, descSGT, descSGACL} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	d := (*Daemon)(m)
	sessions := d.Sessions()
	ch <- prometheus.MustNewConstMetric(descSessions, prometheus.GaugeValue, float64(len(sessions)))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if sas, err := d.engine.IKESAs(ctx); err == nil {
		ch <- prometheus.MustNewConstMetric(descIKESAs, prometheus.GaugeValue, float64(len(sas)))
	}
	ifName := map[uint32]string{}
	for _, s := range sessions {
		ifName[uint32(s.TunnelID)] = s.Interface
	}
	name := func(id uint32) string {
		if n, ok := ifName[id]; ok {
			return n
		}
		return strconv.FormatUint(uint64(id), 10)
	}
	var in, out float64
	for _, st := range d.dp.SAs() {
		dir := st.Direction.String()
		if st.Direction == 1 {
			in++
		} else {
			out++
		}
		spi := "0x" + strconv.FormatUint(uint64(st.SPI), 16)
		ch <- prometheus.MustNewConstMetric(descSAPackets, prometheus.CounterValue, float64(st.Packets), spi, dir, name(uint32(st.Tunnel)))
		ch <- prometheus.MustNewConstMetric(descSABytes, prometheus.CounterValue, float64(st.Bytes), spi, dir, name(uint32(st.Tunnel)))
	}
	ch <- prometheus.MustNewConstMetric(descChildSAs, prometheus.GaugeValue, in, "inbound")
	ch <- prometheus.MustNewConstMetric(descChildSAs, prometheus.GaugeValue, out, "outbound")
	for _, t := range d.dp.Tunnels() {
		n := name(uint32(t.Config.ID))
		ch <- prometheus.MustNewConstMetric(descTunPackets, prometheus.CounterValue, float64(t.RxPackets), n, "rx")
		ch <- prometheus.MustNewConstMetric(descTunPackets, prometheus.CounterValue, float64(t.TxPackets), n, "tx")
		ch <- prometheus.MustNewConstMetric(descTunBytes, prometheus.CounterValue, float64(t.RxBytes), n, "rx")
		ch <- prometheus.MustNewConstMetric(descTunBytes, prometheus.CounterValue, float64(t.TxBytes), n, "tx")
	}
	for r, n := range d.dp.Drops() {
		ch <- prometheus.MustNewConstMetric(descDrops, prometheus.CounterValue, float64(n), r.String())
	}
	for k, v := range d.engine.Stats().Map() {
		ch <- prometheus.MustNewConstMetric(descIKE, prometheus.CounterValue, float64(v), k)
	}
	for k, v := range d.engine.CertificateRejects() {
		ch <- prometheus.MustNewConstMetric(descCertRejects, prometheus.CounterValue, float64(v), k)
	}
	for k, v := range d.Failures() {
		ch <- prometheus.MustNewConstMetric(descFailures, prometheus.CounterValue, float64(v), k)
	}
	for _, v := range d.rib.VRFs() {
		label := v
		if label == "" {
			label = "default"
		}
		ch <- prometheus.MustNewConstMetric(descRoutes, prometheus.GaugeValue, float64(len(d.rib.Routes(v, 0))), label)
	}
	states := map[string]float64{connReady: 0, connNegotiating: 0, connRetry: 0, connDown: 0}
	for _, c := range d.Connectors() {
		states[c.State]++
	}
	for s, n := range states {
		ch <- prometheus.MustNewConstMetric(descConnectors, prometheus.GaugeValue, n, s)
	}
	if cd, ok := d.dp.(ctsDataplane); ok {
		rx, tx := cd.SGTCounters()
		for s, n := range rx {
			ch <- prometheus.MustNewConstMetric(descSGT, prometheus.CounterValue, float64(n), strconv.Itoa(int(s)), "rx")
		}
		for s, n := range tx {
			ch <- prometheus.MustNewConstMetric(descSGT, prometheus.CounterValue, float64(n), strconv.Itoa(int(s)), "tx")
		}
		for _, c := range cd.SGACLCounters() {
			from, to := strconv.Itoa(int(c.From)), strconv.Itoa(int(c.To))
			if c.Default {
				from, to = "*", "*"
			}
			ch <- prometheus.MustNewConstMetric(descSGACL, prometheus.CounterValue, float64(c.Permitted), from, to, "permit")
			ch <- prometheus.MustNewConstMetric(descSGACL, prometheus.CounterValue, float64(c.Denied), from, to, "deny")
		}
	}
}
