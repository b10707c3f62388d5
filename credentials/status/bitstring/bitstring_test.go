package bitstring_test

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/medid/medid/credentials/status/bitstring"
)

// specEncodedList is the encodedList of the example
// BitstringStatusListCredential in Bitstring Status List v1.0: 131,072
// bits, none set.
const specEncodedList = "uH4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIC3AYbSVKsAQAAA"

func TestSpecExample(t *testing.T) {
	l, err := bitstring.Decode(specEncodedList, bitstring.MinEntries, bitstring.MinEntries)
	if err != nil {
		t.Fatal(err)
	}
	if l.Len() != 131072 {
		t.Fatalf("Len = %d, want 131072", l.Len())
	}
	if !bytes.Equal(l.Bytes(), make([]byte, 16384)) {
		t.Fatal("the example list has bits set")
	}
	// It is also accepted as the smallest list allowed.
	if _, err := bitstring.Decode(specEncodedList, bitstring.MinEntries+1, 1<<20); !errors.Is(err, bitstring.ErrTooSmall) {
		t.Errorf("one bit short of the minimum: %v, want ErrTooSmall", err)
	}
}

// TestBitOrder pins the spec's order: index 0 is the left-most bit, the
// most significant bit of byte 0 (the reverse of the Token Status List).
func TestBitOrder(t *testing.T) {
	for _, tt := range []struct {
		index int
		want  []byte
	}{
		{0, []byte{0x80, 0x00}},
		{1, []byte{0x40, 0x00}},
		{7, []byte{0x01, 0x00}},
		{8, []byte{0x00, 0x80}},
		{15, []byte{0x00, 0x01}},
	} {
		l, _ := bitstring.New(16)
		if err := l.Set(tt.index, true); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(l.Bytes(), tt.want) {
			t.Errorf("Set(%d): % x, want % x", tt.index, l.Bytes(), tt.want)
		}
		for i := range 16 {
			if got, _ := l.Get(i); got != (i == tt.index) {
				t.Errorf("after Set(%d): Get(%d) = %v", tt.index, i, got)
			}
		}
		if err := l.Set(tt.index, false); err != nil || !bytes.Equal(l.Bytes(), []byte{0, 0}) {
			t.Errorf("clear %d: % x, %v", tt.index, l.Bytes(), err)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	l, err := bitstring.New(bitstring.MinEntries)
	if err != nil {
		t.Fatal(err)
	}
	set := map[int]bool{}
	for range 2000 {
		i := r.IntN(l.Len())
		l.Set(i, true)
		set[i] = true
	}
	enc, err := l.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "u") {
		t.Fatalf("encodedList %q lacks the multibase prefix", enc[:10])
	}
	raw, _ := base64.RawURLEncoding.DecodeString(enc[1:])
	if raw[0] != 0x1f || raw[1] != 0x8b {
		t.Fatalf("not GZIP: % x", raw[:2])
	}
	back, err := bitstring.Decode(enc, bitstring.MinEntries, bitstring.MinEntries)
	if err != nil {
		t.Fatal(err)
	}
	for i := range back.Len() {
		if got, _ := back.Get(i); got != set[i] {
			t.Fatalf("Get(%d) = %v, want %v", i, got, set[i])
		}
	}
}

func TestRanges(t *testing.T) {
	if _, err := bitstring.New(0); err == nil {
		t.Error("New(0) accepted")
	}
	l, _ := bitstring.New(16)
	for _, i := range []int{-1, 16, 1 << 40} {
		if _, err := l.Get(i); !errors.Is(err, bitstring.ErrRange) {
			t.Errorf("Get(%d) = %v, want ErrRange", i, err)
		}
		if err := l.Set(i, true); !errors.Is(err, bitstring.ErrRange) {
			t.Errorf("Set(%d) = %v, want ErrRange", i, err)
		}
	}
	if _, err := bitstring.Decode(specEncodedList, 10, 5); err == nil {
		t.Error("min > max accepted")
	}
	if _, err := bitstring.Decode(specEncodedList, 0, 0); err == nil {
		t.Error("max 0 accepted")
	}
}

func gzipOf(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func u(b []byte) string { return "u" + base64.RawURLEncoding.EncodeToString(b) }

func TestDecompressionBomb(t *testing.T) {
	bomb := u(gzipOf(make([]byte, 16<<20))) // ~16 KB for 16 MiB
	if _, err := bitstring.Decode(bomb, bitstring.MinEntries, 1<<20); !errors.Is(err, bitstring.ErrTooLarge) {
		t.Fatalf("Decode(bomb) = %v, want ErrTooLarge", err)
	}
	if _, err := bitstring.Decode(u(gzipOf(make([]byte, 16385))), 0, 131072); !errors.Is(err, bitstring.ErrTooLarge) {
		t.Errorf("one byte over: %v, want ErrTooLarge", err)
	}
	if _, err := bitstring.Decode("u"+strings.Repeat("A", 1<<20), 0, 131072); !errors.Is(err, bitstring.ErrTooLarge) {
		t.Errorf("long input: %v, want ErrTooLarge", err)
	}
}

func TestDecodeMalformed(t *testing.T) {
	good := gzipOf(make([]byte, 16384))
	badCRC := bytes.Clone(good)
	badCRC[len(badCRC)-5] ^= 1
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(make([]byte, 16384))
	zw.Close()
	for name, enc := range map[string]string{
		"no prefix":       specEncodedList[1:],
		"base58 prefix":   "z" + specEncodedList[1:],
		"padding":         u(good) + "==",
		"std alphabet":    strings.Replace(specEncodedList, "-", "+", 1),
		"empty":           "",
		"only prefix":     "u",
		"empty bitstring": u(gzipOf(nil)),
		"two members":     u(append(bytes.Clone(good), good...)),
		"trailing bytes":  u(append(bytes.Clone(good), 0)),
		"bad crc":         u(badCRC),
		"truncated":       u(good[:len(good)-3]),
		"zlib, not gzip":  u(z.Bytes()),
	} {
		if _, err := bitstring.Decode(enc, 0, 1<<20); !errors.Is(err, bitstring.ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}

func TestCredential(t *testing.T) {
	l, _ := bitstring.New(bitstring.MinEntries)
	l.Set(94567, true)
	enc, _ := l.Encode()
	c, err := bitstring.NewCredential(bitstring.CredentialParams{
		ID:          "https://example.com/credentials/status/3",
		Issuer:      "did:example:12345",
		ValidFrom:   time.Date(2021, 4, 5, 14, 27, 40, 0, time.UTC),
		Purpose:     bitstring.Revocation,
		EncodedList: enc,
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"@context":["https://www.w3.org/ns/credentials/v2"],"id":"https://example.com/credentials/status/3",` +
		`"type":["VerifiableCredential","BitstringStatusListCredential"],"issuer":"did:example:12345",` +
		`"validFrom":"2021-04-05T14:27:40Z","credentialSubject":{"id":"https://example.com/credentials/status/3#list",` +
		`"type":"BitstringStatusList","statusPurpose":"revocation","encodedList":"` + enc + `"}}`
	if string(got) != want {
		t.Errorf("credential:\n got %s\nwant %s", got, want)
	}

	with, err := bitstring.NewCredential(bitstring.CredentialParams{
		ID: "https://example.com/s/4", Issuer: "https://issuer.example", Purpose: bitstring.Suspension,
		ValidFrom: time.Unix(0, 0), ValidUntil: time.Unix(86400, 0), TTL: time.Minute, EncodedList: specEncodedList,
	})
	if err != nil {
		t.Fatal(err)
	}
	if with.ValidUntil != "1970-01-02T00:00:00Z" || with.CredentialSubject.TTL != 60000 || with.CredentialSubject.StatusPurpose != "suspension" {
		t.Errorf("credential = %+v", with)
	}

	short := u(gzipOf(make([]byte, 1024)))
	for name, p := range map[string]bitstring.CredentialParams{
		"no id":        {Issuer: "did:example:1", ValidFrom: time.Unix(1, 0), Purpose: bitstring.Revocation, EncodedList: enc},
		"no issuer":    {ID: "https://x.example/1", ValidFrom: time.Unix(1, 0), Purpose: bitstring.Revocation, EncodedList: enc},
		"no validFrom": {ID: "https://x.example/1", Issuer: "did:example:1", Purpose: bitstring.Revocation, EncodedList: enc},
		"until<=from":  {ID: "https://x.example/1", Issuer: "did:example:1", ValidFrom: time.Unix(2, 0), ValidUntil: time.Unix(1, 0), Purpose: bitstring.Revocation, EncodedList: enc},
		"message":      {ID: "https://x.example/1", Issuer: "did:example:1", ValidFrom: time.Unix(1, 0), Purpose: "message", EncodedList: enc},
		"short list":   {ID: "https://x.example/1", Issuer: "did:example:1", ValidFrom: time.Unix(1, 0), Purpose: bitstring.Revocation, EncodedList: short},
		"bad list":     {ID: "https://x.example/1", Issuer: "did:example:1", ValidFrom: time.Unix(1, 0), Purpose: bitstring.Revocation, EncodedList: "u!!"},
	} {
		if _, err := bitstring.NewCredential(p); err == nil {
			t.Errorf("%s: NewCredential accepted", name)
		}
	}
}

func TestEntry(t *testing.T) {
	e, err := bitstring.NewEntry("https://example.com/credentials/status/3", bitstring.Revocation, 94567)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(e)
	const want = `{"id":"https://example.com/credentials/status/3#94567","type":"BitstringStatusListEntry",` +
		`"statusPurpose":"revocation","statusListIndex":"94567","statusListCredential":"https://example.com/credentials/status/3"}`
	if string(got) != want {
		t.Errorf("entry:\n got %s\nwant %s", got, want)
	}
	if i, err := e.Index(); err != nil || i != 94567 {
		t.Errorf("Index = %d, %v", i, err)
	}
	if _, err := bitstring.NewEntry("https://x.example/1", bitstring.Revocation, -1); err == nil {
		t.Error("negative index accepted")
	}
	if _, err := bitstring.NewEntry("relative", bitstring.Revocation, 1); err == nil {
		t.Error("relative URL accepted")
	}
	for s, ok := range map[string]bool{"0": true, "007": true, "131071": true, "": false, "-1": false, "+1": false, " 1": false, "1e3": false, "0x10": false, "99999999999999999999999": false} {
		_, err := bitstring.ParseIndex(s)
		if (err == nil) != ok {
			t.Errorf("ParseIndex(%q) = %v", s, err)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	l, _ := bitstring.New(bitstring.MinEntries)
	r := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		l.Set(r.IntN(l.Len()), true)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Encode(); err != nil {
			b.Fatal(err)
		}
	}
}
