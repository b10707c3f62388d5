package multikey

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"strings"
	"testing"
)

// Test vectors from the did:key specification.
const (
	vectorEd25519 = "z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp"
	vectorP256    = "zDnaerDaTF5BXEavCrfRZEk316dpbLsfPDZ3WJ5hRTPFU2169"
)

func TestVectors(t *testing.T) {
	for _, s := range []string{vectorEd25519, vectorP256} {
		pub, err := Decode(s)
		if err != nil {
			t.Fatalf("Decode(%s): %v", s, err)
		}
		got, err := Encode(pub)
		if err != nil {
			t.Fatalf("Encode(Decode(%s)): %v", s, err)
		}
		if got != s {
			t.Errorf("Encode(Decode(%s)) = %s", s, got)
		}
	}
	pub, _ := Decode(vectorEd25519)
	if k, ok := pub.(ed25519.PublicKey); !ok || len(k) != 32 {
		t.Errorf("Ed25519 vector decodes to %T of length %d, want 32-byte ed25519.PublicKey", pub, len(pub.(ed25519.PublicKey)))
	}
	pub, _ = Decode(vectorP256)
	if k, ok := pub.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
		t.Errorf("P-256 vector decodes to %T, want *ecdsa.PublicKey on P-256", pub)
	}
}

func TestRoundTripGenerated(t *testing.T) {
	for range 50 {
		edPub, _, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		for _, pub := range []interface{ Equal(x crypto.PublicKey) bool }{edPub, &ec.PublicKey} {
			s, err := Encode(pub)
			if err != nil {
				t.Fatal(err)
			}
			wantPrefix := "z6Mk"
			if _, ok := pub.(*ecdsa.PublicKey); ok {
				wantPrefix = "zDn"
			}
			if !strings.HasPrefix(s, wantPrefix) {
				t.Errorf("Encode(%T) = %s, want prefix %s", pub, s, wantPrefix)
			}
			back, err := Decode(s)
			if err != nil {
				t.Fatalf("Decode(%s): %v", s, err)
			}
			if !pub.Equal(back) {
				t.Fatalf("Decode(Encode(key)) differs from key")
			}
		}
	}
}

func TestEncodeRejects(t *testing.T) {
	ec384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	for name, pub := range map[string]any{
		"P-384":              &ec384.PublicKey,
		"short Ed25519":      ed25519.PublicKey(make([]byte, 31)),
		"Ed25519 private":    edPriv,
		"nil ECDSA":          (*ecdsa.PublicKey)(nil),
		"nil":                nil,
		"bytes":              []byte{1, 2, 3},
		"ECDSA value, not *": ec384.PublicKey,
	} {
		if s, err := Encode(pub); err == nil {
			t.Errorf("Encode(%s) = %s, want error", name, s)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	ed, _ := Decode(vectorEd25519)
	edBytes := []byte(ed.(ed25519.PublicKey))
	p, _ := Decode(vectorP256)
	u, _ := p.(*ecdsa.PublicKey).Bytes()
	compressed := append([]byte{2 | u[64]&1}, u[1:33]...)

	enc := func(parts ...[]byte) string { return "z" + base58Encode(bytes.Join(parts, nil)) }
	notOnCurve := bytes.Clone(compressed)
	notOnCurve[32] ^= 1 // about half of all x have no point; search for one
	for i := 0; i < 256; i++ {
		notOnCurve[32] = byte(i)
		if x, _ := elliptic.UnmarshalCompressed(elliptic.P256(), notOnCurve); x == nil {
			break
		}
	}
	xTooBig := append([]byte{2}, bytes.Repeat([]byte{0xff}, 32)...)

	for name, s := range map[string]string{
		"empty":               "",
		"just z":              "z",
		"base64url multibase": "u" + vectorEd25519[1:],
		"bad base58 char":     vectorEd25519[:10] + "0" + vectorEd25519[11:],
		"non-ASCII":           vectorEd25519 + "é",
		"too long":            "z" + strings.Repeat("2", 1000),
		"ed25519 short":       enc(prefixEd25519, edBytes[:31]),
		"ed25519 long":        enc(prefixEd25519, edBytes, []byte{0}),
		"p256 uncompressed":   enc(prefixP256, u),
		"p256 short":          enc(prefixP256, compressed[:32]),
		"p256 bad tag":        enc(prefixP256, []byte{4}, compressed[1:]),
		"p256 not on curve":   enc(prefixP256, notOnCurve),
		"p256 x not reduced":  enc(prefixP256, xTooBig),
		"secp256k1":           enc([]byte{0xe7, 0x01}, compressed),
		"non-minimal varint":  enc([]byte{0xed, 0x81, 0x00}, edBytes),
		"x25519":              enc([]byte{0xec, 0x01}, edBytes),
		"no codec":            enc(edBytes),
	} {
		if pub, err := Decode(s); err == nil {
			t.Errorf("Decode(%s) = %T, want error", name, pub)
		}
	}
}

func TestBase58(t *testing.T) {
	for _, tt := range []struct {
		in   []byte
		want string
	}{
		{nil, ""},
		{[]byte{0}, "1"},
		{[]byte{0, 0, 1}, "112"},
		{[]byte{57}, "z"},
		{[]byte{58}, "21"},
		{[]byte("Hello World!"), "2NEpo7TZRRrLZSi2U"},
		{[]byte{0, 0, 0x28, 0x7f, 0xb4, 0xcd}, "11233QC4"},
	} {
		if got := base58Encode(tt.in); got != tt.want {
			t.Errorf("base58Encode(%x) = %q, want %q", tt.in, got, tt.want)
		}
		back, err := base58Decode(tt.want)
		if err != nil || !bytes.Equal(back, tt.in) {
			t.Errorf("base58Decode(%q) = %x, %v; want %x", tt.want, back, err, tt.in)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(vectorEd25519)
	f.Add(vectorP256)
	f.Add("z")
	f.Add("z1111")
	f.Add("zDnaerDaTF5BXEavCrfRZEk316dpbLsfPDZ3WJ5hRTPFU216")
	f.Fuzz(func(t *testing.T, s string) {
		pub, err := Decode(s)
		if err != nil {
			return
		}
		got, err := Encode(pub)
		if err != nil {
			t.Fatalf("Decode(%q) accepted a key that Encode rejects: %v", s, err)
		}
		if got != s {
			t.Fatalf("Encode(Decode(%q)) = %q", s, got)
		}
	})
}

func FuzzBase58(f *testing.F) {
	f.Add([]byte{0, 0, 1, 2, 3})
	f.Add([]byte("Hello World!"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 256 {
			return
		}
		s := base58Encode(b)
		back, err := base58Decode(s)
		if err != nil || !bytes.Equal(back, b) {
			t.Fatalf("base58Decode(base58Encode(%x)) = %x, %v", b, back, err)
		}
	})
}
