package oidc_test

import (
	"bytes"
	"testing"

	"github.com/medid/medid/verifier/oidc"
)

func TestPairwiseSubjectFunction(t *testing.T) {
	secret := bytes.Repeat([]byte{1}, 32)
	a := oidc.PairwiseSubject(secret, "app-a.example", "did:jwk:abc")
	if a != oidc.PairwiseSubject(secret, "app-a.example", "did:jwk:abc") {
		t.Fatal("not deterministic")
	}
	for name, other := range map[string]string{
		"sector":  oidc.PairwiseSubject(secret, "app-b.example", "did:jwk:abc"),
		"DID":     oidc.PairwiseSubject(secret, "app-a.example", "did:jwk:abd"),
		"secret":  oidc.PairwiseSubject(bytes.Repeat([]byte{2}, 32), "app-a.example", "did:jwk:abc"),
		"framing": oidc.PairwiseSubject(secret, "app-a.exampled", "id:jwk:abc"),
	} {
		if other == a {
			t.Errorf("changing the %s keeps the sub", name)
		}
	}
	if len(a) != 43 {
		t.Errorf("sub %q is not base64url of 32 bytes", a)
	}
}

func TestHolderDID(t *testing.T) {
	jwk := map[string]any{"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
	for name, c := range map[string]struct {
		claims map[string]any
		want   string
	}{
		"DID sub wins":    {map[string]any{"sub": "did:example:123", "cnf": map[string]any{"jwk": jwk}}, "did:example:123"},
		"cnf when no sub": {map[string]any{"cnf": map[string]any{"jwk": jwk}}, "did:jwk:eyJjcnYiOiJFZDI1NTE5Iiwia3R5IjoiT0tQIiwieCI6IjExcVlBWUt4Q3JmVlNfN1R5V1FIT2c3aGN2UGFwaU1scndJYWFQY0hVUm8ifQ"},
		"non-DID sub":     {map[string]any{"sub": "patient-7", "cnf": map[string]any{"jwk": jwk}}, "did:jwk:eyJjcnYiOiJFZDI1NTE5Iiwia3R5IjoiT0tQIiwieCI6IjExcVlBWUt4Q3JmVlNfN1R5V1FIT2c3aGN2UGFwaU1scndJYWFQY0hVUm8ifQ"},
	} {
		got, err := oidc.HolderDID(c.claims)
		if err != nil || got != c.want {
			t.Errorf("%s: %q %v, want %q", name, got, err, c.want)
		}
	}
	for name, claims := range map[string]map[string]any{
		"nothing":     {"given_name": "Ada"},
		"cnf not obj": {"cnf": "x"},
		"no jwk":      {"cnf": map[string]any{"kid": "k"}},
		"private jwk": {"cnf": map[string]any{"jwk": map[string]any{"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "d": "x"}}},
	} {
		if _, err := oidc.HolderDID(claims); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
