package wire

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/shardingsystem/shard/sql/pgerror"
)

// Framing limits.
const (
	// maxStartupPacket is PostgreSQL's MAX_STARTUP_PACKET_LENGTH.
	maxStartupPacket = 10000
	// smallBody is the size up to which a message body is allocated in
	// one piece; larger bodies grow as their bytes arrive, so a length
	// header alone cannot make the server allocate MaxMessageSize.
	smallBody = 64 << 10
	// flushAt is the buffered output size at which Send flushes by itself
	// (a large result streams instead of piling up).
	flushAt = 32 << 10
)

// frameReader splits the client's byte stream into messages. Every body it
// returns is freshly allocated and owned by the caller: nothing is reused,
// so messages may be kept after the next read (pgproto3.Backend reuses its
// buffers, which is why the server does its own framing and only uses
// pgproto3 to decode bodies).
type frameReader struct {
	r   *bufio.Reader
	max int // largest message, header included
	hdr [5]byte
}

func newFrameReader(r io.Reader, max int) *frameReader {
	return &frameReader{r: bufio.NewReaderSize(r, 8<<10), max: max}
}

// buffered reports how many bytes were read from the connection but not
// yet consumed.
func (f *frameReader) buffered() int { return f.r.Buffered() }

// startupPacket reads one untyped startup packet (StartupMessage,
// SSLRequest, GSSENCRequest, CancelRequest): its request code and the rest.
func (f *frameReader) startupPacket() (code uint32, body []byte, err error) {
	if _, err := io.ReadFull(f.r, f.hdr[:4]); err != nil {
		return 0, nil, err
	}
	n := int(int32(binary.BigEndian.Uint32(f.hdr[:4])))
	if n < 8 || n > maxStartupPacket {
		return 0, nil, protocolErrorf("invalid length of startup packet: %d", n)
	}
	buf := make([]byte, n-4)
	if _, err := io.ReadFull(f.r, buf); err != nil {
		return 0, nil, unexpectedEOF(err)
	}
	return binary.BigEndian.Uint32(buf), buf, nil
}

// next reads one typed message: its type byte and body. A length over
// the limit is a *pgerror.Error (08P01) and leaves the stream unusable.
func (f *frameReader) next() (typ byte, body []byte, err error) {
	if _, err := io.ReadFull(f.r, f.hdr[:]); err != nil {
		return 0, nil, unexpectedEOF(err)
	}
	typ = f.hdr[0]
	n := int64(int32(binary.BigEndian.Uint32(f.hdr[1:])))
	if n < 4 {
		return 0, nil, protocolErrorf("invalid message length %d for message type %q", n, typ)
	}
	if n+1 > int64(f.max) {
		return 0, nil, protocolErrorf("message of type %q is %d bytes, over the limit of %d bytes", typ, n+1, f.max)
	}
	n -= 4
	if n <= smallBody {
		body = make([]byte, n)
		if _, err := io.ReadFull(f.r, body); err != nil {
			return 0, nil, unexpectedEOF(err)
		}
		return typ, body, nil
	}
	var b bytes.Buffer
	b.Grow(smallBody)
	if _, err := io.CopyN(&b, f.r, n); err != nil {
		return 0, nil, unexpectedEOF(err)
	}
	return typ, b.Bytes(), nil
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// decodeFrontend decodes a typed client message body into a fresh
// message. 'p' (password and SASL responses) is decoded by the
// authentication code, which knows which one it expects. An unknown type
// or a malformed body is a protocol violation.
func decodeFrontend(typ byte, body []byte) (pgproto3.FrontendMessage, error) {
	var m pgproto3.FrontendMessage
	switch typ {
	case 'B':
		m = &pgproto3.Bind{}
	case 'C':
		m = &pgproto3.Close{}
	case 'D':
		m = &pgproto3.Describe{}
	case 'E':
		m = &pgproto3.Execute{}
	case 'F':
		m = &pgproto3.FunctionCall{}
	case 'H':
		m = &pgproto3.Flush{}
	case 'P':
		m = &pgproto3.Parse{}
	case 'Q':
		m = &pgproto3.Query{}
	case 'S':
		m = &pgproto3.Sync{}
	case 'X':
		m = &pgproto3.Terminate{}
	case 'c':
		m = &pgproto3.CopyDone{}
	case 'd':
		// CopyData is the hot path of COPY: no decoding, no copy.
		return &pgproto3.CopyData{Data: body}, nil
	case 'f':
		m = &pgproto3.CopyFail{}
	default:
		return nil, protocolErrorf("invalid frontend message type %d", typ)
	}
	if err := m.Decode(body); err != nil {
		return nil, protocolErrorf("invalid message format for message type %q: %v", typ, err)
	}
	return m, nil
}

func protocolErrorf(format string, args ...any) *pgerror.Error {
	return pgerror.New(pgerror.CodeProtocolViolation, format, args...)
}

// msgWriter buffers backend messages. Errors are sticky: after a failed
// write every later send is dropped and flush returns the first error, so
// a statement writing rows to a vanished client stops at its next row.
type msgWriter struct {
	w   io.Writer
	buf []byte
	err error
}

// send encodes m into the buffer, flushing when the buffer is large.
func (w *msgWriter) send(m pgproto3.BackendMessage) error {
	if w.err != nil {
		return w.err
	}
	buf, err := m.Encode(w.buf)
	if err != nil {
		// Only an oversized field fails to encode; the message is lost
		// and so is the stream's framing.
		w.err = fmt.Errorf("encode %T: %w", m, err)
		return w.err
	}
	w.buf = buf
	if len(w.buf) >= flushAt {
		return w.flush()
	}
	return nil
}

// flush writes what is buffered.
func (w *msgWriter) flush() error {
	if w.err != nil {
		return w.err
	}
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.w.Write(w.buf)
	if cap(w.buf) > 4*flushAt {
		w.buf = nil
	} else {
		w.buf = w.buf[:0]
	}
	if err != nil {
		w.err = err
	}
	return err
}
