package xdp

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	descInfo = prometheus.NewDesc("esphub_dataplane_backend_info",
		"The dataplane backend in use (value 1).", []string{"backend"}, nil)
	descQueuePackets = prometheus.NewDesc("esphub_dataplane_queue_packets_total",
		"Packets an AF_XDP worker received or transmitted, by queue, direction and interface role.", []string{"queue", "cpu", "direction", "role"}, nil)
	descQueuePath = prometheus.NewDesc("esphub_dataplane_queue_path_packets_total",
		"Packets an AF_XDP worker did not transmit itself, by queue and where they went (kernel, punt, consumed, handoff, handoff_rx).", []string{"queue", "path"}, nil)
	descQueueDrops = prometheus.NewDesc("esphub_dataplane_queue_drops_total",
		"Packets an AF_XDP worker dropped before or after the engine, by queue and reason (engine drops are in esphub_dataplane_drops_total).", []string{"queue", "reason"}, nil)
	descFrames = prometheus.NewDesc("esphub_dataplane_queue_frames",
		"UMEM frames of a worker, by state (free, in_use).", []string{"queue", "state"}, nil)
	descVerdictPackets = prometheus.NewDesc("esphub_xdp_verdict_packets_total",
		"Packets the XDP steering programs classified, by verdict.", []string{"verdict"}, nil)
	descVerdictBytes = prometheus.NewDesc("esphub_xdp_verdict_bytes_total",
		"Bytes the XDP steering programs classified, by verdict.", []string{"verdict"}, nil)
	descKernelPath = prometheus.NewDesc("esphub_dataplane_kernel_path_packets_total",
		"Packets handed to the kernel because their next hop was not resolved, by result (sent, error).", []string{"result"}, nil)
	descPuntDropped = prometheus.NewDesc("esphub_dataplane_punt_dropped_total",
		"Control packets (NHRP, IKE) the AF_XDP workers dropped because the control plane lagged or they were too large.", nil, nil)
)

// Collector exports a backend's Status as Prometheus metrics, read at
// scrape time from status (Backend.Status, or a fixed Status for the
// portable backend). Engine drop reasons are not repeated here: the
// control daemon's collector exports them as esphub_dataplane_drops_total.
type Collector struct {
	status func() Status
}

// NewCollector returns a Collector over status.
func NewCollector(status func() Status) *Collector { return &Collector{status: status} }

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descInfo, descQueuePackets, descQueuePath, descQueueDrops, descFrames,
		descVerdictPackets, descVerdictBytes, descKernelPath, descPuntDropped} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	st := c.status()
	ch <- prometheus.MustNewConstMetric(descInfo, prometheus.GaugeValue, 1, st.Backend)
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for _, q := range st.Queues {
		qn, cpu := strconv.Itoa(q.Queue), strconv.Itoa(q.CPU)
		counter(descQueuePackets, q.RxWAN, qn, cpu, "rx", "wan")
		counter(descQueuePackets, q.RxLAN, qn, cpu, "rx", "lan")
		counter(descQueuePackets, q.TxWAN, qn, cpu, "tx", "wan")
		counter(descQueuePackets, q.TxLAN, qn, cpu, "tx", "lan")
		counter(descQueuePath, q.ToKernel, qn, "kernel")
		counter(descQueuePath, q.Punted, qn, "punt")
		counter(descQueuePath, q.Consumed, qn, "consumed")
		counter(descQueuePath, q.HandedOff, qn, "handoff")
		counter(descQueuePath, q.HandoffRx, qn, "handoff_rx")
		counter(descQueueDrops, q.Dropped, qn, "engine")
		counter(descQueueDrops, q.NotIP, qn, "not-ip")
		counter(descQueueDrops, q.TXRingFull, qn, "tx-ring-full")
		counter(descQueueDrops, q.HandoffFull, qn, "handoff-full")
		counter(descQueueDrops, q.NoFrame, qn, "no-frame")
		counter(descQueueDrops, q.TTLExpired, qn, "ttl-expired")
		counter(descQueueDrops, q.KernelRxDrop, qn, "socket-rx-dropped")
		ch <- prometheus.MustNewConstMetric(descFrames, prometheus.GaugeValue, float64(q.FramesFree), qn, "free")
		ch <- prometheus.MustNewConstMetric(descFrames, prometheus.GaugeValue, float64(q.FramesInUse), qn, "in_use")
	}
	for name, v := range st.Verdicts {
		counter(descVerdictPackets, v.Packets, name)
		counter(descVerdictBytes, v.Bytes, name)
	}
	if st.Backend == NameAFXDP {
		counter(descKernelPath, st.KernelPath, "sent")
		counter(descKernelPath, st.KernelPathError, "error")
		counter(descPuntDropped, st.PuntDropped)
	}
}
