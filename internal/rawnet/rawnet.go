package rawnet

import (
	"context"
	"net"
)

// Listen wraps l so that the TCP connections it accepts are wrapped (Wrap).
func Listen(l net.Listener) net.Listener { return listener{l} }

type listener struct{ net.Listener }

func (l listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return Wrap(c), nil
}

// Dial dials addr over TCP with d and wraps the connection (Wrap).
func Dial(ctx context.Context, d *net.Dialer, addr string) (net.Conn, error) {
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return Wrap(c), nil
}
