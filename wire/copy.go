package wire

import (
	"context"
	"errors"
	"io"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/shardingsystem/shard/sql/pgerror"
)

// rowWriter is the RowWriter handed to Portal.Execute: rows, notices and
// COPY FROM STDIN of one Execute call.
type rowWriter struct {
	c    *conn
	ctx  context.Context
	copy *copyReader // set by CopyIn
}

func (w *rowWriter) WriteRow(values [][]byte) error {
	return w.c.w.send(&pgproto3.DataRow{Values: values})
}

func (w *rowWriter) Notice(n *pgerror.Error) error {
	if n == nil {
		return nil
	}
	return w.c.w.send(noticeResponse(n))
}

// CopyIn sends CopyInResponse, flushes it, and returns a reader of the
// CopyData that follow.
func (w *rowWriter) CopyIn(format int16, columnFormats []int16) (io.Reader, error) {
	if w.copy != nil {
		return nil, pgerror.New(pgerror.CodeInternalError, "COPY FROM STDIN started twice by one statement")
	}
	if format != 0 && format != 1 {
		return nil, pgerror.New(pgerror.CodeInternalError, "invalid COPY format %d", format)
	}
	formats := make([]uint16, len(columnFormats))
	for i, f := range columnFormats {
		formats[i] = uint16(f)
	}
	_ = w.c.w.send(&pgproto3.CopyInResponse{OverallFormat: byte(format), ColumnFormatCodes: formats})
	if err := w.c.w.flush(); err != nil {
		return nil, connectionLost(err)
	}
	w.copy = &copyReader{c: w.c, ctx: w.ctx}
	return w.copy, nil
}

// finish ends a COPY that the statement left unfinished after succeeding:
// the rest of the data is read and dropped, and a CopyFail turns the
// statement into an error. It returns err unchanged otherwise.
func (w *rowWriter) finish(err error) error {
	if w.copy == nil || err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, w.copy); err != nil {
		return err
	}
	return nil
}

// copyReader reads the CopyData of a COPY FROM STDIN, straight from the
// connection's frames. It ends with io.EOF at CopyDone, 57014 at CopyFail,
// 08P01 at any message PostgreSQL does not allow in COPY, the statement's
// cancellation, or a connection error. Flush and Sync are ignored.
type copyReader struct {
	c   *conn
	ctx context.Context
	buf []byte
	err error
}

func (r *copyReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		r.buf, r.err = r.nextData()
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// nextData waits for the next CopyData payload or the end of the copy.
func (r *copyReader) nextData() ([]byte, error) {
	for {
		var f frame
		if r.c.readErr != nil {
			return nil, connectionLost(r.c.readErr)
		}
		select {
		case f = <-r.c.frames:
		case <-r.ctx.Done():
			return nil, pgerror.Flatten(r.ctx.Err())
		}
		if f.err != nil {
			// The main loop acts on the error once the statement returns.
			r.c.readErr = f.err
			return nil, connectionLost(f.err)
		}
		switch f.typ {
		case 'd':
			return f.body, nil
		case 'c':
			return nil, io.EOF
		case 'f':
			var m pgproto3.CopyFail
			if err := m.Decode(f.body); err != nil {
				return nil, protocolErrorf("invalid CopyFail message: %v", err)
			}
			return nil, pgerror.New(pgerror.CodeQueryCanceled, "COPY from stdin failed: %s", m.Message)
		case 'H', 'S':
			// PostgreSQL ignores these during COPY, for clients that send
			// them after every message.
		case 'X':
			r.c.terminated = true
			return nil, connectionLost(errClientLeft)
		default:
			return nil, protocolErrorf("unexpected message type 0x%02X during COPY from stdin", f.typ)
		}
	}
}

func connectionLost(err error) *pgerror.Error {
	var pe *pgerror.Error
	if errors.As(err, &pe) {
		return pe
	}
	return pgerror.Wrap(err, pgerror.CodeConnectionFailure, "connection lost during COPY")
}
