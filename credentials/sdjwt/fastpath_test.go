package sdjwt

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"math/big"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"

	"github.com/medid/medid/internal/keys"
)

// The direct readers of common forms (plainDisclosure, plainHeader,
// plainJWK, asn1Signature, sum256) must agree with the general code they
// stand in for wherever they answer, and must answer for the forms this
// package and common wallets produce.

var disclosureSeeds = []string{
	`["-cVjuNMktj7L9MdnJH4nxg", "birthdate", "1990-12-10"]`,
	`["salt","name",{"a":[1,2,{"b":null}],"c":true}]`,
	`["salt", "FR"]`,
	`["salt", {"_sd": ["x"]}]`,
	` [ "s" , "n" , [ ] ] `,
	`["s","n",1.5e3]`,
	`["s","Möbius","v"]`,
	`["s","_sd",1]`, `["s","...",1]`, `["s"]`, `[]`, `["s","n","v",1]`, `["s","n",]`, `["s",1,2]`,
	`["s\u0061","n","v"]`, `["s","n\\","v"]`, `["s","n","v"]]`, `["s","n","v"] x`, `{"s":1}`,
	`["s","n",{"a":1,"a":2}]`, `["s","n","\ud800"]`, "[\"s\",\"n\",\"\xff\"]", "[\"\xff\",\"n\",1]",
	`["s","n",[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`,
	`["s","n",[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`,
}

// checkPlainDisclosure fails t if plainDisclosure answers for raw
// differently from the full decoding.
func checkPlainDisclosure(t *testing.T, raw []byte) (ok bool) {
	salt, name, hasName, value, ok := plainDisclosure(raw)
	if !ok {
		return false
	}
	v, err := decodeJSON(raw)
	if err != nil {
		t.Fatalf("%q: plainDisclosure took what decodeJSON refuses: %v", raw, err)
	}
	arr, _ := v.([]any)
	want := 2
	if hasName {
		want = 3
	}
	if len(arr) != want || arr[0] != salt || (hasName && (arr[1] != name || checkName(name) != nil)) ||
		!reflect.DeepEqual(arr[len(arr)-1], value) {
		t.Fatalf("%q: plainDisclosure gives %q %q %v %#v, decodeJSON %#v", raw, salt, name, hasName, value, v)
	}
	return true
}

func TestPlainDisclosure(t *testing.T) {
	for _, s := range disclosureSeeds {
		checkPlainDisclosure(t, []byte(s))
	}
	for _, s := range disclosureSeeds[:7] {
		if !checkPlainDisclosure(t, []byte(s)) {
			t.Errorf("%s: the common form is not read directly", s)
		}
	}
	// DecodeDisclosure gives what its general path gives, errors included.
	for _, s := range disclosureSeeds {
		enc := b64.EncodeToString([]byte(s))
		d, err := DecodeDisclosure(enc)
		want, werr := decodeDisclosureJSON(enc, []byte(s))
		if !reflect.DeepEqual(d, want) || fmtErr(err) != fmtErr(werr) {
			t.Errorf("%s: DecodeDisclosure: %#v, %v; general: %#v, %v", s, d.value, err, want.value, werr)
		}
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func FuzzPlainDisclosure(f *testing.F) {
	for _, s := range disclosureSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) { checkPlainDisclosure(t, raw) })
}

var headerSeeds = []string{
	`{"alg":"ES256","typ":"kb+jwt"}`,
	`{"alg":"ES256","kid":"did:jwk:eyJjcnYiOiJQLTI1NiJ9#0","typ":"dc+sd-jwt"}`,
	` { "typ" : "dc+sd-jwt" , "alg" : "EdDSA" } `,
	`{"alg":"ES256"}`,
	`{}`, `{"typ":"x"}`, `{"alg":"ES256","alg":"EdDSA"}`, `{"alg":"ES256","x5c":["MIIB"]}`, `{"alg":"ES256","crit":["b64"]}`,
	`{"alg":"ES\u0032"}`, `{"alg":1}`, `{"alg":"ES256",}`, `{"alg":"ES256"} x`, `{"alg":"ES256"}}`, `{"alg" "ES256"}`,
	`{"alg":"ES256","jku":"https://x.example"}`, "{\"alg\":\"\xff\"}", `[]`, ``,
}

func checkPlainHeader(t *testing.T, hb []byte) bool {
	hdr, ok := plainHeader(hb)
	if !ok {
		return false
	}
	want, err := decodeHeader(hb)
	if err != nil || !reflect.DeepEqual(hdr, want) {
		t.Fatalf("%q: plainHeader gives %+v, decodeHeader %+v, %v", hb, hdr, want, err)
	}
	return true
}

func TestPlainHeader(t *testing.T) {
	for _, s := range headerSeeds {
		checkPlainHeader(t, []byte(s))
	}
	for _, s := range headerSeeds[:4] {
		if !checkPlainHeader(t, []byte(s)) {
			t.Errorf("%s: the common form is not read directly", s)
		}
	}
}

func FuzzPlainHeader(f *testing.F) {
	for _, s := range headerSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, hb []byte) { checkPlainHeader(t, hb) })
}

// jwkSeeds are JWKs as JSON: valid ones of both kinds and ones
// keys.PublicKeyFromJWK refuses.
func jwkSeeds(t testing.TB) []string {
	var out []string
	for _, alg := range []keys.Algorithm{keys.ES256, keys.EdDSA} {
		k, err := keys.Generate(alg)
		if err != nil {
			t.Fatal(err)
		}
		j, err := k.PublicJWKJSON()
		if err != nil {
			t.Fatal(err)
		}
		s := string(j)
		out = append(out, s,
			strings.Replace(s, `{`, `{"alg":"`+string(alg)+`","use":"sig","kid":"k1",`, 1),
			strings.Replace(s, `{`, `{"alg":"ES384",`, 1),
			strings.Replace(s, `{`, `{"use":"enc",`, 1),
			strings.Replace(s, `{`, `{"d":"AAAA",`, 1),
			strings.Replace(s, `{`, `{"key_ops":["verify"],`, 1),
			strings.Replace(s, `"x":"`, `"x":"A`, 1),
			strings.Replace(s, `"x":"`, `"x":"`+strings.Repeat("A", 43)+`","z":"`, 1),
		)
	}
	out = append(out,
		`{"kty":"EC","crv":"P-256","x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","y":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`,
		`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","y":"AAAA"}`,
		`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`,
		`{"kty":"OKP","crv":"X25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`,
		`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHUR="}`,
		`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURp"}`,
		`{"kty":"oct","k":"AAAA"}`, `{"kty":"EC"}`, `{}`,
	)
	return out
}

func checkPlainJWK(t *testing.T, data []byte) bool {
	j, err := decodeObject(data)
	if err != nil {
		return false
	}
	pub, ok := plainJWK(j)
	if !ok {
		return false
	}
	raw, err := marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	want, _, err := keys.PublicKeyFromJWK(raw)
	if err != nil {
		t.Fatalf("%s: plainJWK took what keys.PublicKeyFromJWK refuses: %v", data, err)
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if !want.(equaler).Equal(pub) {
		t.Fatalf("%s: plainJWK and keys.PublicKeyFromJWK give different keys", data)
	}
	return true
}

func TestPlainJWK(t *testing.T) {
	seeds := jwkSeeds(t)
	for _, s := range seeds {
		checkPlainJWK(t, []byte(s))
	}
	for i, s := range seeds {
		if (i == 0 || i == 1 || i == 8 || i == 9 || i == len(seeds)-7) != checkPlainJWK(t, []byte(s)) {
			t.Errorf("%s: read directly or not, against expectation", s)
		}
	}
}

func FuzzPlainJWK(f *testing.F) {
	for _, s := range jwkSeeds(f) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkPlainJWK(t, data) })
}

// referenceASN1 is the encoding crypto/ecdsa.Verify makes of R and S.
func referenceASN1(sig []byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1BigInt(new(big.Int).SetBytes(sig[:32]))
		b.AddASN1BigInt(new(big.Int).SetBytes(sig[32:]))
	})
	return b.BytesOrPanic()
}

func TestASN1Signature(t *testing.T) {
	var sigs [][]byte
	for _, fill := range []func(i int) byte{
		func(int) byte { return 0xff },
		func(int) byte { return 0x7f },
		func(i int) byte { return byte(i) },      // R begins with a zero byte
		func(i int) byte { return byte(i % 32) }, // both begin with zero bytes
		func(i int) byte { return byte(i) | 0x80 },
		func(i int) byte {
			if i%32 < 31 {
				return 0
			}
			return 0x80
		},
	} {
		s := make([]byte, 64)
		for i := range s {
			s[i] = fill(i)
		}
		sigs = append(sigs, s)
	}
	for range 64 {
		s := make([]byte, 64)
		rand.Read(s)
		sigs = append(sigs, s)
	}
	for _, s := range sigs {
		if got, want := asn1Signature(nil, s), referenceASN1(s); !bytes.Equal(got, want) {
			t.Fatalf("%x: got %x, want %x", s, got, want)
		}
	}
	zeroR := make([]byte, 64)
	zeroR[63] = 1
	if asn1Signature(nil, zeroR) != nil || asn1Signature(nil, make([]byte, 64)) != nil {
		t.Fatal("a zero R or S is encoded")
	}

	// Real signatures verify through it, and a changed one does not.
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	msg := sha256.Sum256([]byte("message"))
	for range 16 {
		r, s, err := ecdsa.Sign(rand.Reader, k, msg[:])
		if err != nil {
			t.Fatal(err)
		}
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		if !ecdsa.VerifyASN1(&k.PublicKey, msg[:], asn1Signature(nil, sig)) {
			t.Fatal("a valid signature does not verify")
		}
		sig[5] ^= 1
		if ecdsa.VerifyASN1(&k.PublicKey, msg[:], asn1Signature(nil, sig)) {
			t.Fatal("a changed signature verifies")
		}
	}
}

func TestSum256(t *testing.T) {
	for _, n := range []int{0, 1, 32, 33, 2500, DefaultMaxLength, DefaultMaxLength + 1, 3 * DefaultMaxLength} {
		s := strings.Repeat("a~b.", n/4+1)[:n]
		for range 2 { // the second time with a pooled buffer
			if sum256(s) != sha256.Sum256([]byte(s)) {
				t.Fatalf("sum256 of %d bytes", n)
			}
		}
	}
}

// TestEd25519Pooled checks an EdDSA signature through the pooled buffer.
func TestEd25519Pooled(t *testing.T) {
	k := newTestKey(t, keys.EdDSA)
	tok, err := sign(k, "x", "", []byte(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	c, err := parseCompact(tok)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := c.verify(k.Public()); err != nil {
			t.Fatal(err)
		}
	}
	other := newTestKey(t, keys.EdDSA)
	if err := c.verify(other.Public()); err == nil {
		t.Fatal("verified with another key")
	}
}

func newTestKey(t *testing.T, alg keys.Algorithm) *keys.PrivateKey {
	t.Helper()
	k, err := keys.Generate(alg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestProcessKeepsPayload: processing shares what holds no digest but
// changes neither the payload nor the Disclosures' values.
func TestProcessKeepsPayload(t *testing.T) {
	d1, _ := NewDisclosure("salt1", "a", map[string]any{"b": []any{"x", map[string]any{"c": "d"}}})
	d2, _ := NewArrayElementDisclosure("salt2", map[string]any{"e": "f"})
	d3, _ := NewDisclosure("salt3", "g", map[string]any{"_sd": []any{d1.Digest()}, "h": []any{1, 2}})
	payload := `{"_sd":["` + d3.Digest() + `","decoy"],"_sd_alg":"sha-256","keep":{"k":[1,{"l":"m"}]},` +
		`"list":[{"...":"gone"},{"...":"` + d2.Digest() + `"},"z",{"n":{"o":"p"}}]}`
	pm, err := decodeObject([]byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	before, _ := decodeObject([]byte(payload))
	set, err := decodeDisclosures([]string{d1.Encoded(), d2.Encoded(), d3.Encoded()})
	if err != nil {
		t.Fatal(err)
	}
	values := make([]any, len(set.list))
	for i, d := range set.list {
		values[i], _ = decodeJSON(mustMarshal(t, d.value))
	}
	out, placed, err := process(pm, set)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(pm, before) {
		t.Fatalf("the payload changed: %v", pm)
	}
	for i, d := range set.list {
		if !reflect.DeepEqual(d.value, values[i]) {
			t.Fatalf("disclosure %d changed: %v", i, d.value)
		}
	}
	want, _ := decodeObject([]byte(`{"g":{"a":{"b":["x",{"c":"d"}]},"h":[1,2]},"keep":{"k":[1,{"l":"m"}]},` +
		`"list":[{"e":"f"},"z",{"n":{"o":"p"}}]}`))
	if !reflect.DeepEqual(out, want) {
		t.Fatalf("processed: %v", out)
	}
	paths := map[string]bool{}
	for _, pl := range placed {
		paths[formatPath(pl.path)+"|"+formatPath(pl.orig)] = true
	}
	for _, p := range []string{"g|g", "g.a|g.a", "list.0|list.1"} {
		if !paths[p] {
			t.Fatalf("placements %v lack %s", paths, p)
		}
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	b, err := marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func formatPath(p []any) string {
	var parts []string
	for _, e := range p {
		switch e := e.(type) {
		case string:
			parts = append(parts, e)
		case int:
			parts = append(parts, string(rune('0'+e)))
		}
	}
	return strings.Join(parts, ".")
}
