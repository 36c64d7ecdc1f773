package lab_test

import (
	"context"
	"fmt"
	"log"
	"net"

	"github.com/esphub/esphub/lab"
)

// A test or tool brings a topology up, works inside its nodes and takes it
// down again. Tests use labtest.Up instead, which picks a unique prefix and
// cleans up by itself.
func ExampleUp() {
	spec, err := lab.Parse("inline", []byte(`
nodes:
  a: {}
  b: {forward: false}
links:
  - a: {node: a, addr: [198.18.0.1/24, 2001:db8::1/64]}
    b: {node: b, iface: eth0, addr: [198.18.0.2/24, 2001:db8::2/64]}
    loss: 1
`))
	if err != nil {
		log.Fatal(err) // every problem, as inline:LINE: message
	}
	l, err := lab.Up(context.Background(), spec, lab.Options{Prefix: "ex1"})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Down()

	// A program inside a node:
	out, err := l.Exec(context.Background(), "a", "ping", "-c", "1", l.Addr4("b", "eth0").String())
	fmt.Println(string(out), err)

	// A socket inside a node: it stays in b's namespace after Do returns.
	var conn net.PacketConn
	err = l.Do("b", func() (err error) {
		conn, err = net.ListenPacket("udp", "198.18.0.2:500")
		return err
	})
	if err == nil {
		conn.Close()
	}
}
