package jwtvc

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/medid/medid/internal/keys"
)

// appendJSON writes what json.Marshal writes.
func TestAppendJSONMatchesMarshal(t *testing.T) {
	values := []any{
		nil, true, false, "", "plain", "quote \" backslash \\ slash /", "<script>&amp;</script>",
		"tab\tnewline\nreturn\rbell\x07nul\x00del\x7f", "Zoë Ægir 中文 🩺", "line\u2028para\u2029", "bad \xff utf-8 \xc3",
		0.0, math.Copysign(0, -1), 1.0, -1.5, 42.0, 1e20, 1e21, 123456789012345678901234.0, 1e-6, 1e-7, 1.5e-9,
		-2.5e-300, math.MaxFloat64, math.SmallestNonzeroFloat64, 0.1, 1.0 / 3,
		7, int64(-1) << 62, json.Number("12.50"), json.RawMessage(`{"b": 1, "a": [ 2 ]}`),
		[]any{}, []any(nil), []string{"a", "<b>"}, []string(nil), map[string]any{}, map[string]any(nil),
		map[string]any{"b": 1.0, "a": []any{"x", nil, map[string]any{"z": false, "é": "<"}}, "": "empty", "A": "upper", "<": ">"},
		map[string]any{"t": time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC), "s": struct {
			X int `json:"x"`
		}{3}},
	}
	for _, v := range values {
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("json.Marshal(%#v): %v", v, err)
		}
		got, err := appendJSON([]byte("prefix"), v)
		if err != nil || !bytes.Equal(got, append([]byte("prefix"), want...)) {
			t.Errorf("appendJSON(%#v) = %s, %v; want %s", v, got, err, want)
		}
	}
	for _, v := range []any{math.NaN(), math.Inf(1), []any{math.Inf(-1)}, map[string]any{"f": func() {}}} {
		if _, err := appendJSON(nil, v); err == nil {
			t.Errorf("appendJSON(%#v) succeeded", v)
		}
	}
}

// Any JSON text decoded as encoding/json decodes it encodes as json.Marshal
// encodes it.
func FuzzAppendJSON(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":[true,null,"x"]}`, `"\u2028<&>"`, `[1e-7,1e21,0.1,-0]`, `{"é":{"\u0000":"\ud800"}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var v any
		if json.Unmarshal(data, &v) != nil {
			return
		}
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendJSON(nil, v)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("appendJSON = %s, %v; want %s", got, err, want)
		}
	})
}

// The compact JWS: a protected header of alg, cty, kid and typ only, the
// payload as given, and a signature jws.Verify accepts (ES256 as R || S).
func TestSignedForm(t *testing.T) {
	for _, a := range []keys.Algorithm{keys.ES256, keys.EdDSA} {
		k := key(t, a)
		o := opts(k)
		o.KID = issuer + `#key-"1"<>`
		tok, err := IssueVCJWT(vc20(), o)
		if err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(tok, ".")
		if len(parts) != 3 {
			t.Fatalf("%d parts", len(parts))
		}
		hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
		var h map[string]any
		if err := json.Unmarshal(hdr, &h); err != nil || len(h) != 4 || h["alg"] != string(a) || h["typ"] != "vc+jwt" ||
			h["cty"] != "vc" || h["kid"] != o.KID {
			t.Fatalf("%s header %s: %v", a, hdr, err)
		}
		ja := jwa.ES256()
		if a == keys.EdDSA {
			ja = jwa.EdDSA()
		}
		payload, err := jws.Verify([]byte(tok), jws.WithKey(ja, k.Public()))
		if err != nil {
			t.Fatalf("%s: jws.Verify: %v", a, err)
		}
		want, _ := json.Marshal(map[string]any{"@context": []any{"https://www.w3.org/ns/credentials/v2"},
			"type": []any{"VerifiableCredential", "PatientIdentityCredential"}, "credentialSubject": map[string]any{"id": "did:jwk:abc", "given_name": "Ada"},
			"issuer": issuer, "id": "urn:uuid:1", "validFrom": "2026-06-01T12:00:00Z", "validUntil": "2027-06-01T12:00:00Z",
			"iat": t0.Unix(), "cnf": map[string]any{"jwk": json.RawMessage(o.HolderJWK)}})
		if !bytes.Equal(payload, want) {
			t.Fatalf("%s payload\n%s\nwant\n%s", a, payload, want)
		}
		if sig, _ := base64.RawURLEncoding.DecodeString(parts[2]); a == keys.ES256 && len(sig) != 64 {
			t.Fatalf("ES256 signature of %d bytes", len(sig))
		}
		byKID := func(_ context.Context, _, kid string, _ time.Time) (crypto.PublicKey, error) {
			if kid != o.KID {
				return nil, errors.New("unknown key")
			}
			return k.Public(), nil
		}
		if _, err := Verify(context.Background(), tok, VerifyOptions{Key: byKID, Now: func() time.Time { return t0 }}); err != nil {
			t.Fatalf("%s: Verify: %v", a, err)
		}
	}
}

// A zero key is refused, not a panic.
func TestSignZeroKey(t *testing.T) {
	o := opts(&keys.PrivateKey{})
	if _, err := IssueVCJWT(vc20(), o); err == nil {
		t.Fatal("signed with a zero key")
	}
}
