package bitstring_test

import (
	"bytes"
	"testing"

	"github.com/medid/medid/credentials/status/bitstring"
)

func FuzzDecodeBitstring(f *testing.F) {
	f.Add(specEncodedList, uint32(0), uint32(131072))
	f.Add(u(gzipOf([]byte{0x80, 1, 2})), uint32(8), uint32(64))
	f.Add(u(append(gzipOf([]byte{1}), gzipOf([]byte{2})...)), uint32(0), uint32(64))
	f.Add("u", uint32(0), uint32(1))
	f.Fuzz(func(t *testing.T, enc string, minBits, maxBits uint32) {
		max := int(maxBits%(1<<23)) + 1
		min := int(minBits) % (max + 1)
		l, err := bitstring.Decode(enc, min, max)
		if err != nil {
			return
		}
		if l.Len() < min || l.Len() > (max+7)/8*8 || l.Len() == 0 {
			t.Fatalf("Len %d outside [%d, %d]", l.Len(), min, max)
		}
		if _, err := l.Get(l.Len() - 1); err != nil {
			t.Fatal(err)
		}
		again, err := l.Encode()
		if err != nil {
			t.Fatal(err)
		}
		back, err := bitstring.Decode(again, min, max)
		if err != nil || !bytes.Equal(back.Bytes(), l.Bytes()) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func FuzzParseIndex(f *testing.F) {
	for _, s := range []string{"0", "94567", "-1", "1e3", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		i, err := bitstring.ParseIndex(s)
		if err == nil && i < 0 {
			t.Fatalf("ParseIndex(%q) = %d", s, i)
		}
	})
}
