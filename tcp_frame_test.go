package blockchain

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

// countingReader counts the bytes its reader has returned.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// trickle returns at most one byte per Read, as a slow network might.
type trickle struct{ r io.Reader }

func (t trickle) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:1]
	}
	return t.r.Read(p)
}

func frameHeader(size uint32, kind byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, size), kind)
}

func TestFrameDecode(t *testing.T) {
	const max, chunk = 1000, 16
	payload := bytes.Repeat([]byte("0123456789"), 10) // 100 bytes: several chunks
	for _, tt := range []struct {
		name    string
		in      []byte
		kind    byte
		payload []byte
		err     error // nil, io.EOF, io.ErrUnexpectedEOF or errMalformedFrame
	}{
		{"Data", appendFrame(nil, frameData, []byte("hi")), frameData, []byte("hi"), nil},
		{"Empty", appendFrame(nil, frameData, nil), frameData, []byte{}, nil},
		{"Chunked", appendFrame(nil, frameData, payload), frameData, payload, nil},
		{"Max", appendFrame(nil, frameData, make([]byte, max)), frameData, make([]byte, max), nil},
		{"Ping", appendFrame(nil, framePing, []byte("12345678")), framePing, []byte("12345678"), nil},
		{"Pong", appendFrame(nil, framePong, []byte("87654321")), framePong, []byte("87654321"), nil},
		{"Nothing", nil, 0, nil, io.EOF},
		{"ShortHeader", []byte{0, 0, 0}, 0, nil, io.ErrUnexpectedEOF},
		{"ShortPayload", appendFrame(nil, frameData, payload)[:50], 0, nil, io.ErrUnexpectedEOF},
		{"ShortSmallPayload", appendFrame(nil, frameData, []byte("abc"))[:6], 0, nil, io.ErrUnexpectedEOF},
		{"AboveMax", frameHeader(max+1, frameData), 0, nil, errMalformedFrame},
		{"MaxUint32", frameHeader(0xFFFFFFFF, frameData), 0, nil, errMalformedFrame},
		{"UnknownKind", appendFrame(nil, 0x00, []byte("hi")), 0, nil, errMalformedFrame},
		{"KindFF", appendFrame(nil, 0xFF, nil), 0, nil, errMalformedFrame},
		{"ShortPing", appendFrame(nil, framePing, []byte("1234567")), 0, nil, errMalformedFrame},
		{"LongPong", appendFrame(nil, framePong, []byte("123456789")), 0, nil, errMalformedFrame},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, r := range []io.Reader{bytes.NewReader(tt.in), trickle{bytes.NewReader(tt.in)}} {
				kind, got, err := readFrame(r, max, chunk, nil)
				if tt.err != nil {
					if !errors.Is(err, tt.err) {
						t.Fatalf("err = %v, want %v", err, tt.err)
					}
					continue
				}
				if err != nil || kind != tt.kind || !bytes.Equal(got, tt.payload) || got == nil {
					t.Fatalf("readFrame = %#x, %d bytes, %v; want %#x, %d bytes", kind, len(got), err, tt.kind, len(tt.payload))
				}
			}
		})
	}

	// Two frames back to back: the first read takes exactly one.
	r := bytes.NewReader(append(appendFrame(nil, frameData, []byte("one")), appendFrame(nil, frameData, []byte("two"))...))
	for _, want := range []string{"one", "two"} {
		if _, got, err := readFrame(r, max, chunk, nil); err != nil || string(got) != want {
			t.Fatalf("readFrame = %q, %v; want %q", got, err, want)
		}
	}
}

// A claimed length costs no memory until its bytes arrive: at most one
// chunk ahead of them.
func TestFrameDecodeAllocation(t *testing.T) {
	const chunk = 1 << 10
	for _, arrived := range []int{0, 1, chunk - 1, chunk, 10 * chunk, 10*chunk + 1} {
		in := append(frameHeader(MaxMessageSize, frameData), make([]byte, arrived)...)
		allocated := 0
		_, _, err := readFrame(bytes.NewReader(in), MaxMessageSize, chunk, func(n int) []byte {
			allocated += n
			return make([]byte, n)
		})
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("%d bytes of a %d-byte payload: err = %v, want io.ErrUnexpectedEOF", arrived, MaxMessageSize, err)
		}
		if allocated > arrived+chunk {
			t.Errorf("%d bytes of a %d-byte payload arrived and %d were allocated, want at most %d",
				arrived, MaxMessageSize, allocated, arrived+chunk)
		}
	}
}

func FuzzFrameDecode(f *testing.F) {
	f.Add(appendFrame(nil, frameData, []byte("hello")))
	f.Add(appendFrame(nil, frameData, nil))
	f.Add(appendFrame(nil, frameData, bytes.Repeat([]byte{7}, 100)))
	f.Add(appendFrame(nil, framePing, []byte("12345678")))
	f.Add(appendFrame(nil, framePong, []byte("12345678")))
	f.Add(frameHeader(0xFFFFFFFF, frameData))
	f.Add(frameHeader(MaxMessageSize, frameData))
	f.Add(frameHeader(MaxMessageSize+1, frameData))
	f.Add(appendFrame(nil, 0x04, []byte("x")))
	f.Add([]byte{0, 0})
	// A small chunk makes the fuzzer's short inputs cross chunk
	// boundaries.
	const chunk = 16
	f.Fuzz(func(t *testing.T, in []byte) {
		r := &countingReader{r: bytes.NewReader(in)}
		allocated := 0
		kind, payload, err := readFrame(r, MaxMessageSize, chunk, func(n int) []byte {
			allocated += n
			// Memory held before a payload is complete is what arrived
			// plus one chunk; completing a chunked one copies it once.
			if allocated > 2*r.n+chunk {
				t.Fatalf("allocated %d bytes with %d read", allocated, r.n)
			}
			return make([]byte, n)
		})
		if err != nil {
			switch {
			case errors.Is(err, errMalformedFrame), errors.Is(err, io.ErrUnexpectedEOF):
			case errors.Is(err, io.EOF):
				if r.n != 0 {
					t.Fatalf("io.EOF after %d bytes", r.n)
				}
			default:
				t.Fatalf("unexpected error %v", err)
			}
			if allocated > r.n+chunk {
				t.Fatalf("failed frame: allocated %d bytes with %d read", allocated, r.n)
			}
			return
		}
		if r.n != frameHeaderSize+len(payload) {
			t.Fatalf("read %d bytes for a %d-byte payload", r.n, len(payload))
		}
		if again := appendFrame(nil, kind, payload); !bytes.Equal(again, in[:r.n]) {
			t.Fatalf("re-encoded frame %x differs from the input %x", again, in[:r.n])
		}
		switch kind {
		case frameData:
		case framePing, framePong:
			if len(payload) != pingSize {
				t.Fatalf("accepted a %d-byte ping or pong", len(payload))
			}
		default:
			t.Fatalf("accepted kind %#x", kind)
		}
	})
}
