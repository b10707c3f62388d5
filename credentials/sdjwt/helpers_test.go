package sdjwt_test

import (
	"context"
	"crypto"
	"encoding/base64"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/medid/medid/credentials/sdjwt"
	"github.com/medid/medid/internal/keys"
)

const (
	issuerURL   = "https://issuer.medid.example"
	verifierURL = "https://verifier.example.org"
)

// t0 is the tests' "now".
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newKey(t testing.TB, alg keys.Algorithm) *keys.PrivateKey {
	t.Helper()
	k, err := keys.Generate(alg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// fixedRand is a deterministic source for salts and decoys.
func fixedRand(seed byte) *rand.ChaCha8 {
	var s [32]byte
	s[0] = seed
	return rand.NewChaCha8(s)
}

// patient is a small medical credential with nested objects and arrays.
func patient(holder crypto.PublicKey) sdjwt.VCClaims {
	return sdjwt.VCClaims{
		VCT:      "https://medid.example/vct/PatientIdentityCredential",
		Issuer:   issuerURL,
		IssuedAt: t0.Add(-time.Hour),
		Expires:  t0.Add(365 * 24 * time.Hour),
		Holder:   holder,
		Status:   &sdjwt.StatusListRef{Index: 42, URI: issuerURL + "/status/1"},
		Claims: map[string]any{
			"sub":         "patient-7f3a",
			"given_name":  "Erika",
			"family_name": "Mustermann",
			"birthdate":   "1963-08-12",
			"blood_type":  "AB-",
			"address": map[string]any{
				"street_address": "Heidestraße 17",
				"locality":       "Köln",
				"postal_code":    "51147",
				"country":        "DE",
			},
			"identifiers": []any{
				map[string]any{"system": "urn:oid:1.2.276.0.76.4.8", "value": "X110411675"},
				map[string]any{"system": "urn:ietf:rfc:3986", "value": "urn:uuid:5f1a"},
			},
			"allergies": []any{"penicillin", "latex"},
		},
	}
}

// patientPolicy makes every top-level claim disclosable, and also the
// members of address, each identifier and each allergy.
var patientPolicy = sdjwt.Policy{Paths: [][]any{
	{"address", "street_address"}, {"address", "locality"}, {"address", "postal_code"},
	{"identifiers", nil},
	{"allergies", nil},
}}

func issuerKeyFunc(pub crypto.PublicKey) sdjwt.IssuerKeyFunc {
	return func(_ context.Context, iss string, _ sdjwt.Header) (crypto.PublicKey, error) {
		if iss != issuerURL {
			return nil, errors.New("unknown issuer")
		}
		return pub, nil
	}
}

func verifyOptions(issuer *keys.PrivateKey) sdjwt.VerifyOptions {
	return sdjwt.VerifyOptions{
		IssuerKey:         issuerKeyFunc(issuer.Public()),
		ExpectedTyp:       sdjwt.TypVC,
		Now:               func() time.Time { return t0 },
		RequireKeyBinding: true,
		Nonce:             "n-0S6_WzA2Mj",
		Audience:          verifierURL,
	}
}

func kbOptions(holder *keys.PrivateKey) *sdjwt.KeyBindingOptions {
	return &sdjwt.KeyBindingOptions{Key: holder, Nonce: "n-0S6_WzA2Mj", Audience: verifierURL, IssuedAt: t0.Add(-10 * time.Second)}
}

// plaintext returns p together with every base64url part of it decoded, so
// that a test can check that a value appears nowhere in a presentation.
func plaintext(p string) string {
	var b strings.Builder
	b.WriteString(p)
	for _, part := range strings.Split(p, "~") {
		for _, seg := range strings.Split(part, ".") {
			if d, err := base64.RawURLEncoding.DecodeString(seg); err == nil {
				b.WriteByte('\n')
				b.Write(d)
			}
		}
	}
	return b.String()
}

func mustB64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
