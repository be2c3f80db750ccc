package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// The span stream carries every entry of a span from ExportSpan to
// IngestSpan (a Raft snapshot). It is self-describing, length-prefixed and
// checksummed frame by frame, so a receiver detects truncation and
// corruption before it changes anything:
//
//	stream  = magic frame*
//	magic   = "SHRDSPN" 0x01                        (the last byte is the format version)
//	frame   = length:u32be crc:u32be type:u8 payload[length]
//	          crc = CRC-32C (Castagnoli) of type||payload
//	'H' header  (first frame):  uvarint len(start) start uvarint len(end) end
//	'D' data    (zero or more): { uvarint len(key) key uvarint len(value) value }+
//	            keys are engine-encoded (EncodeKey), strictly ascending, inside
//	            [start, end); values are stored bytes (MVCC tag included)
//	'T' trailer (last frame):   uvarint entries uvarint bytes (sum of key and value lengths)
//
// The stream ends after the trailer; the reader does not consume anything
// past it.
const (
	spanMagic        = "SHRDSPN\x01"
	frameHeaderLen   = 9
	frameHeader      = 'H'
	frameData        = 'D'
	frameTrailer     = 'T'
	dataFrameTarget  = 256 << 10
	maxFramePayload  = 64 << 20 // > one entry of MaxKeySize + MaxValueSize
	maxStreamKeyLen  = MaxKeySize + minVersionedLen
	maxStreamDataLen = MaxValueSize + 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// spanWriter writes a span stream.
type spanWriter struct {
	w       io.Writer
	n       int64  // bytes written
	buf     []byte // payload of the data frame being built
	entries uint64
	bytes   uint64
}

func newSpanWriter(w io.Writer, start, end []byte) (*spanWriter, error) {
	sw := &spanWriter{w: w}
	if err := sw.write([]byte(spanMagic)); err != nil {
		return nil, err
	}
	var hdr []byte
	hdr = appendBytes(hdr, start)
	hdr = appendBytes(hdr, end)
	if err := sw.writeFrame(frameHeader, hdr); err != nil {
		return nil, err
	}
	return sw, nil
}

func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

func (sw *spanWriter) write(p []byte) error {
	n, err := sw.w.Write(p)
	sw.n += int64(n)
	return err
}

func (sw *spanWriter) writeFrame(typ byte, payload []byte) error {
	var h [frameHeaderLen]byte
	binary.BigEndian.PutUint32(h[0:4], uint32(len(payload)))
	crc := crc32.Update(crc32.Update(0, castagnoli, []byte{typ}), castagnoli, payload)
	binary.BigEndian.PutUint32(h[4:8], crc)
	h[8] = typ
	if err := sw.write(h[:]); err != nil {
		return err
	}
	return sw.write(payload)
}

// add appends one entry; key and value may be reused after it returns.
func (sw *spanWriter) add(key, value []byte) error {
	sw.buf = appendBytes(sw.buf, key)
	sw.buf = appendBytes(sw.buf, value)
	sw.entries++
	sw.bytes += uint64(len(key) + len(value))
	if len(sw.buf) >= dataFrameTarget {
		return sw.flush()
	}
	return nil
}

func (sw *spanWriter) flush() error {
	if len(sw.buf) == 0 {
		return nil
	}
	err := sw.writeFrame(frameData, sw.buf)
	sw.buf = sw.buf[:0]
	return err
}

// finish writes the last data frame and the trailer.
func (sw *spanWriter) finish() error {
	if err := sw.flush(); err != nil {
		return err
	}
	var t []byte
	t = binary.AppendUvarint(t, sw.entries)
	t = binary.AppendUvarint(t, sw.bytes)
	return sw.writeFrame(frameTrailer, t)
}

// spanReader reads and verifies a span stream. Every error it returns wraps
// ErrCorrupt, except read errors of the underlying reader other than EOF.
type spanReader struct {
	r          io.Reader
	start, end []byte
	frame      []byte // reused payload buffer
	data       []byte // unread part of the current data frame
	entries    uint64
	bytes      uint64
	done       bool
}

func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: span stream: "+format, append([]any{ErrCorrupt}, args...)...)
}

func newSpanReader(r io.Reader) (*spanReader, error) {
	sr := &spanReader{r: r}
	var magic [len(spanMagic)]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil {
		return nil, sr.readErr(err)
	}
	if string(magic[:]) != spanMagic {
		return nil, corruptf("bad magic %q", magic[:])
	}
	typ, p, err := sr.readFrame()
	if err != nil {
		return nil, err
	}
	if typ != frameHeader {
		return nil, corruptf("first frame has type %q, want header", typ)
	}
	if sr.start, p, err = readBytes(p, maxStreamKeyLen); err != nil {
		return nil, err
	}
	if sr.end, p, err = readBytes(p, maxStreamKeyLen); err != nil {
		return nil, err
	}
	if len(p) != 0 {
		return nil, corruptf("%d trailing bytes in header", len(p))
	}
	sr.start, sr.end = append([]byte{}, sr.start...), append([]byte{}, sr.end...)
	return sr, nil
}

func (sr *spanReader) readErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return corruptf("truncated")
	}
	return fmt.Errorf("engine: reading span stream: %w", err)
}

func (sr *spanReader) readFrame() (typ byte, payload []byte, err error) {
	var h [frameHeaderLen]byte
	if _, err := io.ReadFull(sr.r, h[:]); err != nil {
		return 0, nil, sr.readErr(err)
	}
	n := binary.BigEndian.Uint32(h[0:4])
	if n > maxFramePayload {
		return 0, nil, corruptf("frame of %d bytes exceeds %d", n, maxFramePayload)
	}
	if cap(sr.frame) < int(n) {
		sr.frame = make([]byte, n)
	}
	payload = sr.frame[:n]
	if _, err := io.ReadFull(sr.r, payload); err != nil {
		return 0, nil, sr.readErr(err)
	}
	typ = h[8]
	crc := crc32.Update(crc32.Update(0, castagnoli, []byte{typ}), castagnoli, payload)
	if crc != binary.BigEndian.Uint32(h[4:8]) {
		return 0, nil, corruptf("checksum mismatch in %q frame", typ)
	}
	return typ, payload, nil
}

func readBytes(p []byte, maxLen int) (b, rest []byte, err error) {
	n, k := binary.Uvarint(p)
	if k <= 0 || n > uint64(maxLen) || n > uint64(len(p)-k) {
		return nil, nil, corruptf("bad length prefix")
	}
	return p[k : k+int(n)], p[k+int(n):], nil
}

// next returns the next entry, or ok=false after a verified trailer. key
// and value are valid until the next call.
func (sr *spanReader) next() (key, value []byte, ok bool, err error) {
	for len(sr.data) == 0 {
		if sr.done {
			return nil, nil, false, nil
		}
		typ, p, err := sr.readFrame()
		if err != nil {
			return nil, nil, false, err
		}
		switch typ {
		case frameData:
			if len(p) == 0 {
				return nil, nil, false, corruptf("empty data frame")
			}
			sr.data = p
		case frameTrailer:
			if err := sr.checkTrailer(p); err != nil {
				return nil, nil, false, err
			}
			sr.done = true
		default:
			return nil, nil, false, corruptf("unexpected frame type %q", typ)
		}
	}
	if key, sr.data, err = readBytes(sr.data, maxStreamKeyLen); err != nil {
		return nil, nil, false, err
	}
	if value, sr.data, err = readBytes(sr.data, maxStreamDataLen); err != nil {
		return nil, nil, false, err
	}
	sr.entries++
	sr.bytes += uint64(len(key) + len(value))
	return key, value, true, nil
}

func (sr *spanReader) checkTrailer(p []byte) error {
	entries, k := binary.Uvarint(p)
	if k <= 0 {
		return corruptf("bad trailer")
	}
	total, k2 := binary.Uvarint(p[k:])
	if k2 <= 0 || k+k2 != len(p) {
		return corruptf("bad trailer")
	}
	if entries != sr.entries || total != sr.bytes {
		return corruptf("trailer says %d entries / %d bytes, read %d / %d", entries, total, sr.entries, sr.bytes)
	}
	return nil
}
