package rawnet

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

// pair returns the two ends of a loopback TCP connection, both wrapped:
// the dialed one by Dial, the accepted one by Listen.
func pair(t *testing.T) (dialed, accepted net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	wl := Listen(l)
	defer wl.Close()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := wl.Accept()
		ch <- res{c, err}
	}()
	dialed, err = Dial(context.Background(), &net.Dialer{}, l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() { dialed.Close(); r.c.Close() })
	for _, c := range []net.Conn{dialed, r.c} {
		if _, ok := c.(*Conn); !ok {
			t.Fatalf("connection is a %T, not a *rawnet.Conn", c)
		}
	}
	return dialed, r.c
}

// smallBuffers makes the kernel's socket buffers small, so that large
// writes meet a full buffer (EAGAIN) and wait for the reader.
func smallBuffers(t *testing.T, cs ...net.Conn) {
	t.Helper()
	for _, c := range cs {
		tc := c.(*Conn).TCPConn
		if err := tc.SetWriteBuffer(64 << 10); err != nil {
			t.Fatal(err)
		}
		if err := tc.SetReadBuffer(64 << 10); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	a, b := pair(t)
	for _, m := range []struct {
		from, to net.Conn
		msg      string
	}{{a, b, "ping"}, {b, a, "pong"}, {a, b, ""}, {a, b, "again"}} {
		n, err := m.from.Write([]byte(m.msg))
		if err != nil || n != len(m.msg) {
			t.Fatalf("write %q: %d, %v", m.msg, n, err)
		}
		if m.msg == "" {
			continue
		}
		got := make([]byte, len(m.msg))
		if _, err := io.ReadFull(m.to, got); err != nil || string(got) != m.msg {
			t.Fatalf("read %q, %v; want %q", got, err, m.msg)
		}
	}
	if n, err := a.Read(nil); n != 0 || err != nil {
		t.Fatalf("empty read: %d, %v", n, err)
	}
}

// A write larger than the socket's buffers returns only when all of it is
// sent, waiting for the reader, and the reader gets every byte in order.
func TestLargeWriteWaitsForReader(t *testing.T) {
	a, b := pair(t)
	smallBuffers(t, a, b)
	want := make([]byte, 8<<20)
	for i := range want {
		want[i] = byte(i * 7)
	}
	got := make(chan []byte, 1)
	go func() {
		buf, _ := io.ReadAll(b)
		got <- buf
	}()
	n, err := a.Write(want)
	if err != nil || n != len(want) {
		t.Fatalf("write: %d of %d, %v", n, len(want), err)
	}
	a.Close()
	if g := <-got; !bytes.Equal(g, want) {
		t.Fatalf("read %d bytes, not the %d written", len(g), len(want))
	}
}

// Concurrent Writes each arrive whole: a Write that meets a full buffer
// keeps the socket until it is done.
func TestConcurrentWritesDoNotInterleave(t *testing.T) {
	a, b := pair(t)
	smallBuffers(t, a, b)
	const writers, size = 8, 256 << 10
	got := make(chan []byte, 1)
	go func() {
		buf, _ := io.ReadAll(b)
		got <- buf
	}()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := a.Write(bytes.Repeat([]byte{byte('a' + w)}, size)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	a.Close()
	buf := <-got
	if len(buf) != writers*size {
		t.Fatalf("read %d bytes, want %d", len(buf), writers*size)
	}
	for i := 0; i < len(buf); i += size {
		chunk := buf[i : i+size]
		if bytes.Count(chunk, chunk[:1]) != size {
			t.Fatalf("bytes %d-%d mix writers: one Write was interleaved with another", i, i+size)
		}
	}
}

func TestReadDeadline(t *testing.T) {
	a, _ := pair(t)
	if err := a.SetReadDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	_, err := a.Read(make([]byte, 8))
	var ne net.Error
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read past the deadline: %v, want a timeout", err)
	}
}

func TestEndAndClose(t *testing.T) {
	a, b := pair(t)
	b.Close()
	if n, err := a.Read(make([]byte, 8)); n != 0 || err != io.EOF {
		t.Fatalf("read after the peer closed: %d, %v; want io.EOF", n, err)
	}
	a.Close()
	if _, err := a.Read(make([]byte, 8)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read after Close: %v, want net.ErrClosed", err)
	}
	if _, err := a.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after Close: %v, want net.ErrClosed", err)
	}
}

// A write to a peer that is gone fails with the system call's error, as a
// *net.OpError.
func TestWriteToClosedPeer(t *testing.T) {
	a, b := pair(t)
	b.Close()
	var err error
	for i := 0; i < 100 && err == nil; i++ { // the first writes may be buffered
		_, err = a.Write(make([]byte, 64<<10))
	}
	var oe *net.OpError
	var se *os.SyscallError
	if !errors.As(err, &oe) || oe.Op != "write" || !errors.As(err, &se) {
		t.Fatalf("write to a closed peer: %v (%T), want a *net.OpError around an *os.SyscallError", err, err)
	}
}
