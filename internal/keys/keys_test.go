package keys

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/medid/medid/did/multikey"
)

var algs = []Algorithm{EdDSA, ES256}

func generate(t *testing.T, alg Algorithm) *PrivateKey {
	t.Helper()
	k, err := Generate(alg)
	if err != nil {
		t.Fatalf("Generate(%s): %v", alg, err)
	}
	return k
}

func TestGenerate(t *testing.T) {
	for _, alg := range algs {
		t.Run(string(alg), func(t *testing.T) {
			k := generate(t, alg)
			if k.Algorithm() != alg {
				t.Errorf("Algorithm() = %s", k.Algorithm())
			}
			switch p := k.Public().(type) {
			case ed25519.PublicKey:
				if alg != EdDSA || len(p) != ed25519.PublicKeySize {
					t.Errorf("Public() = %T of %d bytes for %s", p, len(p), alg)
				}
				if _, ok := k.Signer().(ed25519.PrivateKey); !ok {
					t.Errorf("Signer() = %T", k.Signer())
				}
			case *ecdsa.PublicKey:
				if alg != ES256 || p.Curve != elliptic.P256() {
					t.Errorf("Public() = %T on %v for %s", p, p.Curve, alg)
				}
				if _, ok := k.Signer().(*ecdsa.PrivateKey); !ok {
					t.Errorf("Signer() = %T", k.Signer())
				}
			default:
				t.Fatalf("Public() = %T", p)
			}
			if k2 := generate(t, alg); k2.Thumbprint() == k.Thumbprint() {
				t.Error("two generated keys have the same thumbprint")
			}
		})
	}
	for _, bad := range []Algorithm{"", "RS256", "ES384", "none", "eddsa", "HS256"} {
		if k, err := Generate(bad); err == nil {
			t.Errorf("Generate(%q) = %v, want error", bad, k)
		}
	}
}

func TestPublicForms(t *testing.T) {
	for _, alg := range algs {
		t.Run(string(alg), func(t *testing.T) {
			k := generate(t, alg)

			// Canonical JSON: exactly the RFC 7638 members, sorted, compact.
			j, err := k.PublicJWKJSON()
			if err != nil {
				t.Fatal(err)
			}
			wantMembers := []string{"crv", "kty", "x", "y"}
			if alg == EdDSA {
				wantMembers = []string{"crv", "kty", "x"}
			}
			var m map[string]string
			if err := json.Unmarshal(j, &m); err != nil {
				t.Fatalf("PublicJWKJSON = %s: %v", j, err)
			}
			members := slices.Sorted(func(yield func(string) bool) {
				for n := range m {
					if !yield(n) {
						return
					}
				}
			})
			if !slices.Equal(members, wantMembers) {
				t.Errorf("PublicJWKJSON members = %q, want %q", members, wantMembers)
			}
			var compact bytes.Buffer
			json.Compact(&compact, j)
			if !bytes.Equal(compact.Bytes(), j) || !strings.HasPrefix(string(j), `{"crv":`) {
				t.Errorf("PublicJWKJSON not canonical: %s", j)
			}

			// The jwx JWK agrees, carries alg, and has no private part.
			jk, err := k.PublicJWK()
			if err != nil {
				t.Fatal(err)
			}
			var gotAlg any
			if err := jk.Get(jwk.AlgorithmKey, &gotAlg); err != nil || fmt.Sprint(gotAlg) != string(alg) {
				t.Errorf("PublicJWK alg = %v, %v; want %s", gotAlg, err, alg)
			}
			if isPriv, err := jwk.IsPrivateKey(jk); err != nil || isPriv {
				t.Errorf("PublicJWK is private: %v, %v", isPriv, err)
			}
			tp, err := jk.Thumbprint(crypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			if got := base64.RawURLEncoding.EncodeToString(tp); got != k.Thumbprint() {
				t.Errorf("Thumbprint() = %s, jwx computes %s", k.Thumbprint(), got)
			}
			if tp2, err := ThumbprintOf(k.Public()); err != nil || tp2 != k.Thumbprint() {
				t.Errorf("ThumbprintOf = %s, %v; want %s", tp2, err, k.Thumbprint())
			}

			// Both JSON forms parse back to the same public key.
			jwxJSON, err := json.Marshal(jk)
			if err != nil {
				t.Fatal(err)
			}
			for _, data := range [][]byte{j, jwxJSON} {
				pub, gotAlg, err := PublicKeyFromJWK(data)
				if err != nil {
					t.Fatalf("PublicKeyFromJWK(%s): %v", data, err)
				}
				if gotAlg != alg || !k.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(pub) {
					t.Errorf("PublicKeyFromJWK(%s) = %T, %s; want the key, %s", data, pub, gotAlg, alg)
				}
			}

			// Multikey.
			mk, err := k.Multikey()
			if err != nil {
				t.Fatal(err)
			}
			pub, err := multikey.Decode(mk)
			if err != nil {
				t.Fatal(err)
			}
			if !k.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(pub) {
				t.Errorf("Multikey %s does not decode to the public key", mk)
			}
		})
	}
}

// TestRFC8037 checks the thumbprint against the example of RFC 8037
// appendix A.3.
func TestRFC8037(t *testing.T) {
	const (
		jwkJSON = `{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`
		want    = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
	)
	pub, alg, err := PublicKeyFromJWK([]byte(jwkJSON))
	if err != nil || alg != EdDSA {
		t.Fatalf("PublicKeyFromJWK = %v, %v", alg, err)
	}
	if got, err := ThumbprintOf(pub); err != nil || got != want {
		t.Errorf("ThumbprintOf = %s, %v; want %s", got, err, want)
	}
}

func TestKeyFromPKCS8Errors(t *testing.T) {
	ed := generate(t, EdDSA)
	ec := generate(t, ES256)
	if _, err := newPrivateKey(ES256, ed.Signer()); err == nil {
		t.Error("an Ed25519 key accepted as ES256")
	}
	if _, err := newPrivateKey(EdDSA, ec.Signer()); err == nil {
		t.Error("a P-256 key accepted as EdDSA")
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newPrivateKey(ES256, p384); err == nil {
		t.Error("a P-384 key accepted as ES256")
	}
}

func TestPublicJWKJSONOfRejects(t *testing.T) {
	p384, err := ecdsa.GenerateKey(elliptic.P384(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ed := generate(t, EdDSA)
	for name, pub := range map[string]crypto.PublicKey{
		"P-384":           &p384.PublicKey,
		"P-256 private":   generate(t, ES256).Signer(),
		"Ed25519 private": ed.Signer(),
		"short Ed25519":   ed25519.PublicKey(make([]byte, 31)),
		"nil":             nil,
		"nil ECDSA":       (*ecdsa.PublicKey)(nil),
	} {
		if j, err := PublicJWKJSONOf(pub); err == nil {
			t.Errorf("PublicJWKJSONOf(%s) = %s, want error", name, j)
		}
		if _, err := ThumbprintOf(pub); err == nil {
			t.Errorf("ThumbprintOf(%s) succeeded", name)
		}
	}
}

// Keys from RFC 7517 appendix A.
const (
	rfcECx = "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4"
	rfcECy = "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"
	rfcECd = "870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE"
	rfcEd  = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
)

func TestPublicKeyFromJWK(t *testing.T) {
	ok := []struct {
		jwk string
		alg Algorithm
	}{
		{`{"kty":"EC","crv":"P-256","x":"` + rfcECx + `","y":"` + rfcECy + `"}`, ES256},
		{`{"kty":"EC","crv":"P-256","x":"` + rfcECx + `","y":"` + rfcECy + `","alg":"ES256","use":"sig","kid":"1"}`, ES256},
		{` {"crv":"Ed25519","x":"` + rfcEd + `","kty":"OKP","alg":"EdDSA","key_ops":["verify"]} `, EdDSA},
	}
	for _, tt := range ok {
		pub, alg, err := PublicKeyFromJWK([]byte(tt.jwk))
		if err != nil || alg != tt.alg || pub == nil {
			t.Errorf("PublicKeyFromJWK(%s) = %T, %q, %v; want a %s key", tt.jwk, pub, alg, err, tt.alg)
		}
	}
	// The thumbprint of the RFC 7517 P-256 key, as other implementations
	// compute it.
	pub, _, _ := PublicKeyFromJWK([]byte(ok[0].jwk))
	if tp, err := ThumbprintOf(pub); err != nil || tp != "cn-I_WNMClehiVp51i_0VpOENW1upEerA8sEam5hn-s" {
		t.Errorf("ThumbprintOf(RFC 7517 key) = %s, %v", tp, err)
	}

	// A y that is not on the curve with rfcECx: flip its last bit.
	yb, _ := base64.RawURLEncoding.DecodeString(rfcECy)
	yb[31] ^= 1
	badY := base64.RawURLEncoding.EncodeToString(yb)
	bad := map[string]string{
		"private EC":          `{"kty":"EC","crv":"P-256","x":"` + rfcECx + `","y":"` + rfcECy + `","d":"` + rfcECd + `"}`,
		"private OKP":         `{"kty":"OKP","crv":"Ed25519","x":"` + rfcEd + `","d":"` + rfcEd + `"}`,
		"oct":                 `{"kty":"oct","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"}`,
		"oct without k":       `{"kty":"oct"}`,
		"RSA":                 `{"kty":"RSA","n":"0vx7","e":"AQAB"}`,
		"RSA private":         `{"kty":"RSA","n":"0vx7","e":"AQAB","p":"83i","q":"4j"}`,
		"P-384":               `{"kty":"EC","crv":"P-384","x":"` + rfcECx + `","y":"` + rfcECy + `"}`,
		"secp256k1":           `{"kty":"EC","crv":"secp256k1","x":"` + rfcECx + `","y":"` + rfcECy + `"}`,
		"X25519":              `{"kty":"OKP","crv":"X25519","x":"` + rfcEd + `"}`,
		"Ed448":               `{"kty":"OKP","crv":"Ed448","x":"` + rfcEd + `"}`,
		"off curve":           `{"kty":"EC","crv":"P-256","x":"` + rfcECx + `","y":"` + badY + `"}`,
		"zero point":          `{"kty":"EC","crv":"P-256","x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","y":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`,
		"no y":                `{"kty":"EC","crv":"P-256","x":"` + rfcECx + `"}`,
		"OKP with y":          `{"kty":"OKP","crv":"Ed25519","x":"` + rfcEd + `","y":"` + rfcEd + `"}`,
		"short x":             `{"kty":"EC","crv":"P-256","x":"` + rfcECx[:40] + `","y":"` + rfcECy + `"}`,
		"padded x":            `{"kty":"OKP","crv":"Ed25519","x":"` + rfcEd + `="}`,
		"std base64 x":        `{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`,
		"wrong alg EC":        `{"kty":"EC","crv":"P-256","x":"` + rfcECx + `","y":"` + rfcECy + `","alg":"EdDSA"}`,
		"wrong alg OKP":       `{"kty":"OKP","crv":"Ed25519","x":"` + rfcEd + `","alg":"ES256"}`,
		"alg none":            `{"kty":"OKP","crv":"Ed25519","x":"` + rfcEd + `","alg":"none"}`,
		"alg not string":      `{"kty":"OKP","crv":"Ed25519","x":"` + rfcEd + `","alg":1}`,
		"use enc":             `{"kty":"EC","crv":"P-256","x":"` + rfcECx + `","y":"` + rfcECy + `","use":"enc"}`,
		"null kty":            `{"kty":null,"crv":"Ed25519","x":"` + rfcEd + `"}`,
		"null crv":            `{"kty":"OKP","crv":null,"x":"` + rfcEd + `"}`,
		"number x":            `{"kty":"OKP","crv":"Ed25519","x":12}`,
		"duplicate x":         `{"kty":"OKP","crv":"Ed25519","x":"` + rfcEd + `","x":"` + rfcEd + `"}`,
		"duplicate kty":       `{"kty":"oct","kty":"OKP","crv":"Ed25519","x":"` + rfcEd + `"}`,
		"trailing data":       `{"kty":"OKP","crv":"Ed25519","x":"` + rfcEd + `"}{}`,
		"array":               `[{"kty":"OKP","crv":"Ed25519","x":"` + rfcEd + `"}]`,
		"JWK set":             `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + rfcEd + `"}]}`,
		"empty":               ``,
		"null":                `null`,
		"truncated":           `{"kty":"OKP","crv":"Ed25519","x":"` + rfcEd,
		"huge":                `{"kty":"OKP","crv":"Ed25519","x":"` + rfcEd + `","pad":"` + strings.Repeat("a", maxJWKSize) + `"}`,
		"private with escape": `{"kty":"OKP","crv":"Ed25519","x":"` + rfcEd + `","\u0064":"` + rfcEd + `"}`,
	}
	for name, data := range bad {
		if pub, alg, err := PublicKeyFromJWK([]byte(data)); err == nil {
			t.Errorf("PublicKeyFromJWK(%s) = %T, %s; want error", name, pub, alg)
		}
	}
}

// scalarForms returns renderings of k's private material that must never
// appear in output.
func scalarForms(t *testing.T, k *PrivateKey) []string {
	t.Helper()
	var raw []byte
	switch s := k.Signer().(type) {
	case ed25519.PrivateKey:
		raw = s.Seed()
	case *ecdsa.PrivateKey:
		var err error
		if raw, err = s.Bytes(); err != nil {
			t.Fatal(err)
		}
	}
	forms := []string{
		hex.EncodeToString(raw),
		strings.ToUpper(hex.EncodeToString(raw)),
		base64.StdEncoding.EncodeToString(raw),
		base64.RawURLEncoding.EncodeToString(raw),
		fmt.Sprint(raw),                // [12 34 ...]
		fmt.Sprintf("%#v", raw)[12:40], // 0x.., 0x.., ...
		string(raw),
	}
	if s, ok := k.Signer().(*ecdsa.PrivateKey); ok {
		forms = append(forms, s.D.String()) // what a naive %v of the struct shows
	}
	return forms
}

func TestPrintingRedacts(t *testing.T) {
	for _, alg := range algs {
		k := generate(t, alg)
		want := fmt.Sprintf("keys.PrivateKey(%s, thumbprint=%s)", alg, k.Thumbprint())
		var outputs []string
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"} {
			outputs = append(outputs, fmt.Sprintf(verb, k), fmt.Sprintf(verb, *k))
		}
		outputs = append(outputs,
			fmt.Sprintf("%v", []*PrivateKey{k}),
			fmt.Sprintf("%+v", struct{ K PrivateKey }{*k}),
			fmt.Sprintf("%#v", map[string]*PrivateKey{"k": k}),
			k.String(), k.GoString(), fmt.Sprint(k), fmt.Sprintln(*k),
		)
		var logged bytes.Buffer
		slog.New(slog.NewJSONHandler(&logged, nil)).Info("key", "k", k, "v", *k)
		slog.New(slog.NewTextHandler(&logged, nil)).Info("key", "k", k)
		outputs = append(outputs, logged.String())

		if got := fmt.Sprintf("%v", k); got != want {
			t.Errorf("%%v = %q, want %q", got, want)
		}
		if !strings.Contains(logged.String(), want) {
			t.Errorf("slog output %q lacks %q", logged.String(), want)
		}
		forms := scalarForms(t, k)
		for _, out := range outputs {
			for _, f := range forms {
				if strings.Contains(out, f) {
					t.Errorf("%s output %q contains private material %q", alg, out, f)
				}
			}
		}
	}
	if got := fmt.Sprint(PrivateKey{}); got != "keys.PrivateKey(zero)" {
		t.Errorf("zero PrivateKey prints %q", got)
	}
	if got := fmt.Sprint((*PrivateKey)(nil)); got != "<nil>" {
		t.Errorf("nil *PrivateKey prints %q", got)
	}
}

func TestMarshalRefused(t *testing.T) {
	k := generate(t, ES256)
	for name, v := range map[string]any{
		"pointer":   k,
		"value":     *k,
		"in struct": struct{ Key *PrivateKey }{k},
		"in map":    map[string]PrivateKey{"k": *k},
	} {
		if out, err := json.Marshal(v); err == nil {
			t.Errorf("json.Marshal(%s) = %s, want error", name, out)
		}
	}
	if out, err := k.MarshalText(); err == nil {
		t.Errorf("MarshalText = %s, want error", out)
	}
}

func TestZeroPrivateKey(t *testing.T) {
	var k PrivateKey
	if k.Public() != nil || k.Signer() != nil || k.Thumbprint() != "" {
		t.Error("zero PrivateKey has a public key, signer or thumbprint")
	}
	if _, err := k.PublicJWK(); err == nil {
		t.Error("zero PrivateKey: PublicJWK succeeded")
	}
	if _, err := k.PublicJWKJSON(); err == nil {
		t.Error("zero PrivateKey: PublicJWKJSON succeeded")
	}
	if _, err := k.Multikey(); err == nil {
		t.Error("zero PrivateKey: Multikey succeeded")
	}
}

func TestSignVerifyJWS(t *testing.T) {
	for _, alg := range algs {
		t.Run(string(alg), func(t *testing.T) {
			k := generate(t, alg)
			payload := []byte(`{"iss":"did:example:123"}`)
			signed, err := jws.Sign(payload, jws.WithKey(alg.jwa(), k.Signer()))
			if err != nil {
				t.Fatalf("jws.Sign: %v", err)
			}
			got, err := jws.Verify(signed, jws.WithKey(alg.jwa(), k.Public()))
			if err != nil || !bytes.Equal(got, payload) {
				t.Fatalf("jws.Verify with the public key = %s, %v", got, err)
			}
			jk, err := k.PublicJWK()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := jws.Verify(signed, jws.WithKey(alg.jwa(), jk)); err != nil {
				t.Fatalf("jws.Verify with the public JWK: %v", err)
			}
			other := generate(t, alg)
			if _, err := jws.Verify(signed, jws.WithKey(alg.jwa(), other.Public())); err == nil {
				t.Fatal("jws.Verify with another key succeeded")
			}
		})
	}
}

func FuzzPublicKeyFromJWK(f *testing.F) {
	f.Add([]byte(`{"kty":"EC","crv":"P-256","x":"` + rfcECx + `","y":"` + rfcECy + `"}`))
	f.Add([]byte(`{"kty":"EC","crv":"P-256","x":"` + rfcECx + `","y":"` + rfcECy + `","d":"` + rfcECd + `"}`))
	f.Add([]byte(`{"kty":"OKP","crv":"Ed25519","x":"` + rfcEd + `","alg":"EdDSA"}`))
	f.Add([]byte(`{"kty":"oct","k":"AAAA"}`))
	f.Add([]byte(`{"kty":"OKP","kty":"OKP"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		pub, alg, err := PublicKeyFromJWK(data)
		if err != nil {
			return
		}
		// An accepted key has a canonical form that parses to the same key.
		j, err := PublicJWKJSONOf(pub)
		if err != nil {
			t.Fatalf("accepted %s but PublicJWKJSONOf fails: %v", data, err)
		}
		pub2, alg2, err := PublicKeyFromJWK(j)
		if err != nil || alg2 != alg || !pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(pub2) {
			t.Fatalf("canonical form %s of accepted %s does not round trip: %v", j, data, err)
		}
		if _, err := multikey.Encode(pub); err != nil {
			t.Fatalf("accepted key has no Multikey: %v", err)
		}
	})
}
