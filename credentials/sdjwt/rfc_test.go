package sdjwt_test

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/medid/medid/credentials/sdjwt"
	"github.com/medid/medid/internal/keys"
)

// rfcIssuerJWK is the Issuer's public key from RFC 9901 Appendix A.5
// ("Elliptic Curve Key Used in the Examples").
const rfcIssuerJWK = `{"kty": "EC", "crv": "P-256",
  "x": "b28d4MwZMjw8-00CG4xfnn9SLMVMM19SlqZpVb_uNtQ",
  "y": "Xv5zWwuoaTgdS6hV43yI6gBwTnjukmFQQnJ_kCxzqk8"}`

func rfcIssuerKey(t testing.TB) crypto.PublicKey {
	t.Helper()
	pub, alg, err := keys.PublicKeyFromJWK([]byte(rfcIssuerJWK))
	if err != nil || alg != keys.ES256 {
		t.Fatalf("RFC issuer key: %v %v", alg, err)
	}
	return pub
}

func readTestdata(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// jsonEqual compares v with the JSON want, numbers as json.Number.
func jsonEqual(t *testing.T, got any, want string) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(want))
	dec.UseNumber()
	var w any
	if err := dec.Decode(&w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, w) {
		g, _ := json.MarshalIndent(got, "", "  ")
		t.Errorf("got\n%s\nwant\n%s", g, want)
	}
}

// TestRFC9901Disclosures reproduces the Disclosures printed in RFC 9901
// from their salt, name and value, byte for byte, and their digests.
func TestRFC9901Disclosures(t *testing.T) {
	tests := []struct {
		name    string
		salt    string
		claim   *string // nil for an array element
		value   any
		encoded string
		digest  string // "" where the RFC prints none; the end-to-end test covers those
	}{
		{ // Section 4.2.1, with the umlaut as UTF-8; digest from 4.2.3.
			name: "4.2.1 family_name", salt: "_26bc4LT-ac6q2KI6cBW5es", claim: ptr("family_name"), value: "Möbius",
			encoded: "WyJfMjZiYzRMVC1hYzZxMktJNmNCVzVlcyIsICJmYW1pbHlfbmFtZSIsICJNw7ZiaXVzIl0",
			digest:  "X9yH0Ajrdm1Oij4tWso9UzzKJvPoDxwmuEcO3XAdRC0",
		},
		{ // Section 4.2.1, the same claim with the umlaut escaped.
			name: "4.2.1 family_name escaped", salt: "_26bc4LT-ac6q2KI6cBW5es", claim: ptr("family_name"), value: json.RawMessage(`"M\u00f6bius"`),
			encoded: "WyJfMjZiYzRMVC1hYzZxMktJNmNCVzVlcyIsICJmYW1pbHlfbmFtZSIsICJNXHUwMGY2Yml1cyJd",
		},
		{ // Section 4.2.2 and its digest in 4.2.3.
			name: "4.2.2 array element", salt: "lklxF5jMYlGTPUovMNIvCA", value: "FR",
			encoded: "WyJsa2x4RjVqTVlsR1RQVW92TU5JdkNBIiwgIkZSIl0",
			digest:  "w0I8EKcdCtUPkGCNUrfwVp2xEgNjtoIDlOxc9-PlOhs",
		},
		{ // Section 5.1: the digest is the last entry of the payload's _sd.
			name: "5.1 given_name", salt: "2GLC42sKQveCfGfryNRN9w", claim: ptr("given_name"), value: "John",
			encoded: "WyIyR0xDNDJzS1F2ZUNmR2ZyeU5STjl3IiwgImdpdmVuX25hbWUiLCAiSm9obiJd",
			digest:  "jsu9yVulwQQlhFlM_3JlzMaSFzglhQG0DpfayQwLUK4",
		},
		{
			name: "5.1 family_name", salt: "eluV5Og3gSNII8EYnsxA_A", claim: ptr("family_name"), value: "Doe",
			encoded: "WyJlbHVWNU9nM2dTTklJOEVZbnN4QV9BIiwgImZhbWlseV9uYW1lIiwgIkRvZSJd",
		},
		{ // An object value, in the RFC's member order and spacing.
			name: "5.1 address", salt: "AJx-095VPrpTtN4QMOqROA", claim: ptr("address"),
			value:   json.RawMessage(`{"street_address": "123 Main St", "locality": "Anytown", "region": "Anystate", "country": "US"}`),
			encoded: "WyJBSngtMDk1VlBycFR0TjRRTU9xUk9BIiwgImFkZHJlc3MiLCB7InN0cmVldF9hZGRyZXNzIjogIjEyMyBNYWluIFN0IiwgImxvY2FsaXR5IjogIkFueXRvd24iLCAicmVnaW9uIjogIkFueXN0YXRlIiwgImNvdW50cnkiOiAiVVMifV0",
		},
		{
			name: "5.1 phone_number_verified", salt: "Qg_O64zqAxe412a108iroA", claim: ptr("phone_number_verified"), value: true,
			encoded: "WyJRZ19PNjR6cUF4ZTQxMmExMDhpcm9BIiwgInBob25lX251bWJlcl92ZXJpZmllZCIsIHRydWVd",
		},
		{
			name: "5.1 updated_at", salt: "G02NSrQfjFXQ7Io09syajA", claim: ptr("updated_at"), value: 1570000000,
			encoded: "WyJHMDJOU3JRZmpGWFE3SW8wOXN5YWpBIiwgInVwZGF0ZWRfYXQiLCAxNTcwMDAwMDAwXQ",
		},
		{
			name: "5.1 nationalities US", salt: "lklxF5jMYlGTPUovMNIvCA", value: "US",
			encoded: "WyJsa2x4RjVqTVlsR1RQVW92TU5JdkNBIiwgIlVTIl0",
		},
		{ // Appendix A.3: an array value.
			name: "A.3 nationalities", salt: "lklxF5jMYlGTPUovMNIvCA", claim: ptr("nationalities"), value: []string{"DE"},
			encoded: "WyJsa2x4RjVqTVlsR1RQVW92TU5JdkNBIiwgIm5hdGlvbmFsaXRpZXMiLCBbIkRFIl1d",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var d sdjwt.Disclosure
			var err error
			if tc.claim != nil {
				d, err = sdjwt.NewDisclosure(tc.salt, *tc.claim, tc.value)
			} else {
				d, err = sdjwt.NewArrayElementDisclosure(tc.salt, tc.value)
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Encoded() != tc.encoded {
				t.Errorf("encoded\n got %s\nwant %s", d.Encoded(), tc.encoded)
			}
			if tc.digest != "" && d.Digest() != tc.digest {
				t.Errorf("digest %s, want %s", d.Digest(), tc.digest)
			}
			if sdjwt.Digest(tc.encoded) != d.Digest() {
				t.Error("Digest(encoded) differs from the Disclosure's digest")
			}
			back, err := sdjwt.DecodeDisclosure(tc.encoded)
			if err != nil {
				t.Fatal(err)
			}
			name, ok := back.Name()
			if back.Salt() != tc.salt || ok != (tc.claim != nil) || (ok && name != *tc.claim) || back.Digest() != d.Digest() {
				t.Errorf("decoded %q %q %v", back.Salt(), name, ok)
			}
			if !reflect.DeepEqual(back.Value(), d.Value()) {
				t.Errorf("decoded value %#v, want %#v", back.Value(), d.Value())
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// rfc51Claims are the claims the Verifier obtains from the SD-JWT of RFC
// 9901 section 5.1 with every Disclosure (the user claims of section 5.1,
// plus the always-visible iss, iat, exp and cnf).
const rfc51Claims = `{
  "iss": "https://issuer.example.com",
  "iat": 1683000000,
  "exp": 1883000000,
  "sub": "user_42",
  "given_name": "John",
  "family_name": "Doe",
  "email": "johndoe@example.com",
  "phone_number": "+1-202-555-0101",
  "phone_number_verified": true,
  "address": {"street_address": "123 Main St", "locality": "Anytown", "region": "Anystate", "country": "US"},
  "birthdate": "1940-01-01",
  "updated_at": 1570000000,
  "nationalities": ["US", "DE"],
  "cnf": {"jwk": {"kty": "EC", "crv": "P-256",
    "x": "TCAER19Zvu3OHF4j4W4vfSVoHIP1ILilDls7vCeGemc",
    "y": "ZxjiWWbZMQGHVWKVQ4hbSIirsVfuecCE6t4jT9F2HZQ"}}
}`

func rfcOptions(t testing.TB, typ string, now time.Time) sdjwt.VerifyOptions {
	pub := rfcIssuerKey(t)
	return sdjwt.VerifyOptions{
		IssuerKey: func(_ context.Context, iss string, h sdjwt.Header) (crypto.PublicKey, error) {
			if h.Alg != "ES256" {
				return nil, errors.New("unexpected alg")
			}
			return pub, nil
		},
		ExpectedTyp: typ,
		Now:         func() time.Time { return now },
	}
}

// TestRFC9901Section5 verifies the SD-JWT of RFC 9901 section 5.1 end to
// end with the key of Appendix A.5 and checks the processed claims.
func TestRFC9901Section5(t *testing.T) {
	sd := readTestdata(t, "rfc9901-5.1.txt")
	v, err := sdjwt.Verify(context.Background(), sd, rfcOptions(t, "example+sd-jwt", time.Unix(1700000000, 0)))
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, v.Claims, rfc51Claims)
	if len(v.Disclosed) != 10 || v.KeyBound || v.Holder == nil {
		t.Errorf("disclosed %v, key bound %v, holder %v", v.Disclosed, v.KeyBound, v.Holder)
	}
	if v.Header.Typ != "example+sd-jwt" || v.Header.Alg != "ES256" {
		t.Errorf("header %+v", v.Header)
	}

	// The Holder reveals given_name and the second nationality only.
	p, err := sdjwt.Present(sd, sdjwt.DisclosePaths([]any{"given_name"}, []any{"nationalities", 1}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(p, "~") != 3 {
		t.Errorf("presentation has %d disclosures, want 2", strings.Count(p, "~")-1)
	}
	v, err = sdjwt.Verify(context.Background(), p, rfcOptions(t, "example+sd-jwt", time.Unix(1700000000, 0)))
	if err != nil {
		t.Fatal(err)
	}
	if v.Claims["given_name"] != "John" || !reflect.DeepEqual(v.Claims["nationalities"], []any{"DE"}) || v.Claims["family_name"] != nil {
		t.Errorf("claims %v", v.Claims)
	}
	if !reflect.DeepEqual(v.Disclosed, [][]any{{"given_name"}, {"nationalities", 0}}) &&
		!reflect.DeepEqual(v.Disclosed, [][]any{{"nationalities", 0}, {"given_name"}}) {
		t.Errorf("disclosed %v", v.Disclosed)
	}
}

// TestRFC9901AppendixA3 verifies the SD-JWT VC presentation with Key
// Binding of RFC 9901 Appendix A.3, whose Disclosures are recursive.
func TestRFC9901AppendixA3(t *testing.T) {
	p := readTestdata(t, "rfc9901-a.3-kb.txt")
	opts := rfcOptions(t, sdjwt.TypVC, time.Unix(1748454271+30, 0))
	opts.RequireKeyBinding = true
	opts.Nonce = "1234567890"
	opts.Audience = "https://verifier.example.org"
	v, err := sdjwt.Verify(context.Background(), p, opts)
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, v.Claims, `{
	  "iss": "https://pid-issuer.bund.de.example",
	  "iat": 1683000000,
	  "exp": 1883000000,
	  "vct": "urn:eudi:pid:de:1",
	  "cnf": {"jwk": {"kty": "EC", "crv": "P-256",
	    "x": "TCAER19Zvu3OHF4j4W4vfSVoHIP1ILilDls7vCeGemc",
	    "y": "ZxjiWWbZMQGHVWKVQ4hbSIirsVfuecCE6t4jT9F2HZQ"}},
	  "age_equal_or_over": {"18": true},
	  "nationalities": ["DE"]
	}`)
	if !v.KeyBound {
		t.Error("not key bound")
	}
	want := [][]any{{"age_equal_or_over"}, {"age_equal_or_over", "18"}, {"nationalities"}}
	for _, w := range want {
		found := false
		for _, d := range v.Disclosed {
			found = found || reflect.DeepEqual(d, w)
		}
		if !found {
			t.Errorf("disclosed %v lacks %v", v.Disclosed, w)
		}
	}

	// The same presentation, checked against another nonce, audience or
	// time, fails the corresponding check.
	for _, tc := range []struct {
		name   string
		change func(*sdjwt.VerifyOptions)
		want   error
	}{
		{"nonce", func(o *sdjwt.VerifyOptions) { o.Nonce = "0987654321" }, sdjwt.ErrNonce},
		{"audience", func(o *sdjwt.VerifyOptions) { o.Audience = "https://other.example.org" }, sdjwt.ErrAudience},
		{"stale", func(o *sdjwt.VerifyOptions) { o.Now = func() time.Time { return time.Unix(1748454271+3600, 0) } }, sdjwt.ErrExpired},
		{"typ", func(o *sdjwt.VerifyOptions) { o.ExpectedTyp = "example+sd-jwt" }, sdjwt.ErrTyp},
	} {
		o := opts
		tc.change(&o)
		if _, err := sdjwt.Verify(context.Background(), p, o); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}
