// Package freeport picks TCP ports that are free now, for tests and for
// the harnesses that start servers of their own (clusters, PostgreSQL,
// etcd).
//
// Ports come from below the kernel's ephemeral range
// (/proc/sys/net/ipv4/ip_local_port_range), never from it. A test that
// stops a server and starts it again on the same port would otherwise
// race every outgoing connection on the machine: the kernel hands out
// ephemeral ports as the local end of connections, and a connection that
// took the stopped server's port makes the restart fail with "address
// already in use".
package freeport

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// lowest is the lowest port handed out: well above the registered ports
// most system services listen on.
const lowest = 10000

// ephemeralLow is used when the kernel's range cannot be read; it is
// Linux's default low end.
const ephemeralLow = 32768

// Addrs returns n distinct host:port addresses on host whose ports were
// free a moment ago and lie below the ephemeral range. It keeps every
// listener open until all are chosen, so that no port is handed out
// twice, then closes them. Another process may still take a port before
// the caller binds it, though only by choosing it too; callers that start
// servers retry with new ports.
func Addrs(host string, n int) ([]string, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	high := ephemeralStart()
	out := make([]string, 0, n)
	for len(out) < n {
		l, err := listenBelow(host, high)
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		out = append(out, l.Addr().String())
	}
	return out, nil
}

// listenBelow listens on a random free port in [lowest, high).
func listenBelow(host string, high int) (net.Listener, error) {
	const attempts = 200
	var err error
	for range attempts {
		port := lowest + rand.IntN(high-lowest)
		var l net.Listener
		l, err = net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err == nil {
			return l, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
	}
	return nil, fmt.Errorf("freeport: pick a free port on %s: %w", host, err)
}

// ephemeralStart is the low end of the kernel's ephemeral port range.
func ephemeralStart() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return ephemeralLow
	}
	f := strings.Fields(string(b))
	if len(f) < 1 {
		return ephemeralLow
	}
	v, err := strconv.Atoi(f[0])
	if err != nil || v <= lowest+1000 {
		return ephemeralLow
	}
	return v
}
