package xdp

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestCollector(t *testing.T) {
	s := Status{Backend: NameAFXDP,
		Queues:     []QueueStatus{{Queue: 0, CPU: 1, RxWAN: 10, TxLAN: 9, TTLExpired: 1, FramesFree: 4000, FramesInUse: 96}},
		Verdicts:   map[string]Counter{"esp": {Packets: 10, Bytes: 1000}},
		KernelPath: 3}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewCollector(func() Status { return s }))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			got[key] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	for key, v := range map[string]float64{
		"esphub_dataplane_queue_packets_total,cpu=1,direction=rx,queue=0,role=wan": 10,
		"esphub_dataplane_queue_packets_total,cpu=1,direction=tx,queue=0,role=lan": 9,
		"esphub_dataplane_queue_drops_total,queue=0,reason=ttl-expired":            1,
		"esphub_dataplane_queue_frames,queue=0,state=in_use":                       96,
		"esphub_dataplane_kernel_path_packets_total,result=sent":                   3,
		"esphub_xdp_verdict_bytes_total,verdict=esp":                               1000,
		"esphub_xdp_verdict_packets_total,verdict=esp":                             10,
		"esphub_dataplane_backend_info,backend=af_xdp":                             1,
	} {
		if got[key] != v {
			t.Errorf("%s = %v, want %v", key, got[key], v)
		}
	}
	// The portable backend reports its name only.
	reg = prometheus.NewPedanticRegistry()
	reg.MustRegister(NewCollector(func() Status { return Status{Backend: NamePortable} }))
	if mfs, err := reg.Gather(); err != nil || len(mfs) != 1 || mfs[0].GetName() != "esphub_dataplane_backend_info" {
		t.Errorf("portable: %v, %v; want the info metric only", mfs, err)
	}
}
