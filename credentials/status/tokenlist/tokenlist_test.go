package tokenlist_test

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/base64"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/medid/medid/credentials/status/tokenlist"
)

// The examples of draft-ietf-oauth-status-list, section "Status List"
// (bits=1) and "Further Examples" (bits=2).
var specExamples = []struct {
	name     string
	bits     int
	lst      string
	bytes    []byte
	statuses []uint8
}{
	{
		name:     "bits=1",
		bits:     1,
		lst:      "eNrbuRgAAhcBXQ",
		bytes:    []byte{0xb9, 0xa3},
		statuses: []uint8{1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1},
	},
	{
		name:     "bits=2",
		bits:     2,
		lst:      "eNo76fITAAPfAgc",
		bytes:    []byte{0xc9, 0x44, 0xf9},
		statuses: []uint8{1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3},
	},
}

func TestSpecExamples(t *testing.T) {
	for _, ex := range specExamples {
		t.Run(ex.name, func(t *testing.T) {
			// Decode the draft's lst: exactly its byte array and statuses.
			l, err := tokenlist.Decode(ex.bits, ex.lst, len(ex.statuses))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(l.Bytes(), ex.bytes) {
				t.Fatalf("Bytes = % x, want % x", l.Bytes(), ex.bytes)
			}
			if l.Len() != len(ex.statuses) || l.Bits() != ex.bits {
				t.Fatalf("Len, Bits = %d, %d; want %d, %d", l.Len(), l.Bits(), len(ex.statuses), ex.bits)
			}
			for i, want := range ex.statuses {
				if got, err := l.Get(i); err != nil || got != want {
					t.Errorf("Get(%d) = %d, %v; want %d", i, got, err, want)
				}
			}
			if _, err := l.Get(len(ex.statuses)); !errors.Is(err, tokenlist.ErrRange) {
				t.Errorf("Get(past the end) = %v, want ErrRange", err)
			}

			// Build the list from the statuses: exactly the draft's bytes.
			b, err := tokenlist.New(ex.bits, len(ex.statuses))
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range ex.statuses {
				if err := b.Set(i, v); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(b.Bytes(), ex.bytes) {
				t.Fatalf("built Bytes = % x, want % x", b.Bytes(), ex.bytes)
			}
			// Our lst differs from the draft's as a string (see Encode) but
			// is a ZLIB stream at the highest level of the same bytes.
			lst, err := b.Encode()
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := base64.RawURLEncoding.DecodeString(lst)
			if raw[0] != 0x78 || raw[1] != 0xda {
				t.Errorf("ZLIB header % x, want 78 da (best compression)", raw[:2])
			}
			back, err := tokenlist.Decode(ex.bits, lst, len(ex.statuses))
			if err != nil || !bytes.Equal(back.Bytes(), ex.bytes) {
				t.Fatalf("Decode(Encode) = %v, %v", back, err)
			}
		})
	}
}

// TestBitOrder pins the draft's order: index 0 in the least significant
// bits of byte 0.
func TestBitOrder(t *testing.T) {
	tests := []struct {
		bits, index int
		value       uint8
		want        []byte
	}{
		{1, 0, 1, []byte{0x01, 0x00}},
		{1, 7, 1, []byte{0x80, 0x00}},
		{1, 9, 1, []byte{0x00, 0x02}},
		{2, 0, 3, []byte{0x03, 0x00}},
		{2, 1, 2, []byte{0x08, 0x00}},
		{2, 5, 1, []byte{0x00, 0x04}},
		{4, 0, 0xa, []byte{0x0a, 0x00}},
		{4, 1, 0xa, []byte{0xa0, 0x00}},
		{8, 1, 0xfe, []byte{0x00, 0xfe}},
	}
	for _, tt := range tests {
		l, err := tokenlist.New(tt.bits, 16/tt.bits)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Set(tt.index, tt.value); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(l.Bytes(), tt.want) {
			t.Errorf("bits=%d Set(%d, %#x): % x, want % x", tt.bits, tt.index, tt.value, l.Bytes(), tt.want)
		}
		// Neighbours are untouched.
		for i := range l.Len() {
			got, _ := l.Get(i)
			want := uint8(0)
			if i == tt.index {
				want = tt.value
			}
			if got != want {
				t.Errorf("bits=%d: Get(%d) = %#x, want %#x", tt.bits, i, got, want)
			}
		}
	}
}

func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, bits := range []int{1, 2, 4, 8} {
		const size = 10000
		l, err := tokenlist.New(bits, size)
		if err != nil {
			t.Fatal(err)
		}
		want := make([]uint8, l.Len())
		for range 500 {
			i, v := r.IntN(l.Len()), uint8(r.IntN(1<<bits))
			if err := l.Set(i, v); err != nil {
				t.Fatal(err)
			}
			want[i] = v
		}
		lst, err := l.Encode()
		if err != nil {
			t.Fatal(err)
		}
		back, err := tokenlist.Decode(bits, lst, size)
		if err != nil {
			t.Fatal(err)
		}
		if back.Len() != l.Len() {
			t.Fatalf("bits=%d: Len %d, want %d", bits, back.Len(), l.Len())
		}
		for i, w := range want {
			if got, _ := back.Get(i); got != w {
				t.Fatalf("bits=%d: Get(%d) = %d, want %d", bits, i, got, w)
			}
		}
	}
}

func TestRanges(t *testing.T) {
	for _, bits := range []int{0, 3, 16, -1} {
		if _, err := tokenlist.New(bits, 8); err == nil {
			t.Errorf("New(bits=%d) accepted", bits)
		}
		if _, err := tokenlist.Decode(bits, "eNrbuRgAAhcBXQ", 100); err == nil {
			t.Errorf("Decode(bits=%d) accepted", bits)
		}
	}
	if _, err := tokenlist.New(1, 0); err == nil {
		t.Error("New(size=0) accepted")
	}
	l, _ := tokenlist.New(2, 8)
	for _, i := range []int{-1, 8, 1 << 40} {
		if _, err := l.Get(i); !errors.Is(err, tokenlist.ErrRange) {
			t.Errorf("Get(%d) = %v, want ErrRange", i, err)
		}
		if err := l.Set(i, 1); !errors.Is(err, tokenlist.ErrRange) {
			t.Errorf("Set(%d) = %v, want ErrRange", i, err)
		}
	}
	if err := l.Set(0, 4); !errors.Is(err, tokenlist.ErrValue) {
		t.Errorf("Set(value 4, bits 2) = %v, want ErrValue", err)
	}
	if v, _ := l.Get(0); v != 0 {
		t.Errorf("a refused Set changed the list: %d", v)
	}
	var zero tokenlist.List
	if _, err := zero.Encode(); err == nil {
		t.Error("Encode of the zero List succeeded")
	}
	if _, err := zero.Get(0); !errors.Is(err, tokenlist.ErrRange) {
		t.Errorf("zero List Get = %v", err)
	}
}

func zlibOf(b []byte) []byte {
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func TestDecompressionBomb(t *testing.T) {
	// 16 MiB of zeros compresses to ~16 KB: far more than 131,072 1-bit
	// entries (16 KiB).
	bomb := b64(zlibOf(make([]byte, 16<<20)))
	if len(bomb) > 200<<10 {
		t.Fatalf("bomb is %d bytes; expected a small input", len(bomb))
	}
	_, err := tokenlist.Decode(1, bomb, 131072)
	if !errors.Is(err, tokenlist.ErrTooLarge) {
		t.Fatalf("Decode(bomb) = %v, want ErrTooLarge", err)
	}
	// One byte over the limit is refused; exactly the limit is accepted.
	if _, err := tokenlist.Decode(1, b64(zlibOf(make([]byte, 16385))), 131072); !errors.Is(err, tokenlist.ErrTooLarge) {
		t.Errorf("16385 bytes for 131072 entries: %v, want ErrTooLarge", err)
	}
	if _, err := tokenlist.Decode(1, b64(zlibOf(make([]byte, 16384))), 131072); err != nil {
		t.Errorf("16384 bytes for 131072 entries: %v", err)
	}
	// An input far longer than any list within the limit is refused
	// before it is decoded.
	if _, err := tokenlist.Decode(8, strings.Repeat("A", 1<<20), 1000); !errors.Is(err, tokenlist.ErrTooLarge) {
		t.Errorf("long input: %v, want ErrTooLarge", err)
	}
}

func TestDecodeMalformed(t *testing.T) {
	good := zlibOf([]byte{0xb9, 0xa3})
	badSum := bytes.Clone(good)
	badSum[len(badSum)-1] ^= 1
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write([]byte{1})
	w.Close()
	for name, lst := range map[string]string{
		"padding":         "eNrbuRgAAhcBXQ==",
		"std alphabet":    "eNrbuRgAAhcBX+",
		"not base64":      "eNrb uRgAAhcBXQ",
		"empty":           "",
		"empty list":      b64(zlibOf(nil)),
		"trailing bytes":  b64(append(bytes.Clone(good), 0)),
		"bad checksum":    b64(badSum),
		"truncated":       b64(good[:len(good)-2]),
		"gzip, not zlib":  b64(gz.Bytes()),
		"raw deflate":     b64(good[2 : len(good)-4]),
		"non-zero unused": "eNrbuRgAAhcBXR",
	} {
		if _, err := tokenlist.Decode(1, lst, 1000); !errors.Is(err, tokenlist.ErrMalformed) {
			t.Errorf("%s: Decode = %v, want ErrMalformed", name, err)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	l, _ := tokenlist.New(2, 131072)
	r := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		l.Set(r.IntN(l.Len()), tokenlist.Invalid)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Encode(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	l, _ := tokenlist.New(2, 131072)
	r := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		l.Set(r.IntN(l.Len()), tokenlist.Invalid)
	}
	lst, _ := l.Encode()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tokenlist.Decode(2, lst, 131072); err != nil {
			b.Fatal(err)
		}
	}
}
