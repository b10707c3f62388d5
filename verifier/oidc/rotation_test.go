package oidc_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/medid/medid/internal/keys"
	"github.com/medid/medid/internal/kv"
	"github.com/medid/medid/internal/kv/boltkv"
	"github.com/medid/medid/internal/kv/kvtest"
	"github.com/medid/medid/internal/kv/rediskv"
	"github.com/medid/medid/verifier/oidc"
)

// TestSigningKeyRotation: a rotated key is published at once, signs only
// from its activation on (go-oidc, which caches the JWKS, checks tokens
// on both sides of it), the replaced key stays published until the
// tokens it signed and the caches that saw it are gone, and another
// instance over the same store signs and publishes alike.
func TestSigningKeyRotation(t *testing.T) {
	store, err := boltkv.Open(filepath.Join(t.TempDir(), "kv.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	testSigningKeyRotation(t, store)
}

// TestSigningKeyRotationOnRedis: the same over real Redis, the store
// instances share (skipped when Redis is down, except in CI).
func TestSigningKeyRotationOnRedis(t *testing.T) {
	store, err := rediskv.Open(kvtest.RedisURL(t), "medid-oidc-test:"+randString()+":")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	testSigningKeyRotation(t, store)
}

func testSigningKeyRotation(t *testing.T, store kv.Store) {
	mk, _, err := keys.LoadMasterKey(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)), "")
	if err != nil {
		t.Fatal(err)
	}
	ks, err := keys.NewKeystore(store, mk)
	if err != nil {
		t.Fatal(err)
	}
	var opts oidc.Options
	f := newFixtureOn(t, store, func(o *oidc.Options) { o.Keystore = ks; opts = *o })
	r := f.relyingParty(f.register(map[string]any{"client_name": "Clinic", "redirect_uris": []string{"https://clinic.example/cb"},
		"allowed_claims": []string{"given_name"}}), oauth2.AuthStyleInHeader)
	kidOf := func(tok *oauth2.Token) string {
		t.Helper()
		raw, _ := tok.Extra("id_token").(string)
		h, err := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[0])
		if err != nil {
			t.Fatal(err)
		}
		var hdr struct {
			KID string `json:"kid"`
		}
		if err := json.Unmarshal(h, &hdr); err != nil {
			t.Fatal(err)
		}
		return hdr.KID
	}
	jwks := func() []string {
		t.Helper()
		code, body, _ := f.do("GET", oidc.PathJWKS, "", "", nil)
		var set struct {
			Keys []struct {
				KID string `json:"kid"`
				Alg string `json:"alg"`
			} `json:"keys"`
		}
		if code != http.StatusOK || json.Unmarshal(body, &set) != nil {
			t.Fatalf("JWKS: %d %s", code, body)
		}
		var kids []string
		for _, k := range set.Keys {
			kids = append(kids, k.KID)
		}
		slices.Sort(kids)
		return kids
	}
	states := func(p *oidc.Provider) string {
		t.Helper()
		ks, err := p.SigningKeys(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var s []string
		for _, k := range ks {
			s = append(s, k.KID+":"+k.State)
		}
		return strings.Join(s, ",")
	}

	tok, _, _ := r.login(f.newPatient(nil), nil)
	if kid := kidOf(tok); kid != "oidc-1" {
		t.Fatalf("signed with %q before any rotation", kid)
	}

	code, body, _ := f.do("POST", oidc.PathKeys+"/rotate", "", "Bearer "+adminToken, nil)
	var next oidc.SigningKey
	if code != http.StatusCreated || json.Unmarshal(body, &next) != nil || next.KID == "" || next.State != "next" ||
		!next.ActivatesAt.Equal(f.clock.Now().Add(6*time.Minute).UTC().Truncate(time.Second)) {
		t.Fatalf("rotate: %d %s", code, body)
	}
	if code, body, _ := f.do("POST", oidc.PathKeys+"/rotate", "", "Bearer "+adminToken, nil); code != http.StatusConflict {
		t.Fatalf("a second rotation before the first key signs: %d %s", code, body)
	}
	if code, _, _ := f.do("POST", oidc.PathKeys+"/rotate", "", "", nil); code != http.StatusUnauthorized {
		t.Fatalf("rotation without the admin token: %d", code)
	}
	if got, want := jwks(), sorted("oidc-1", next.KID); !slices.Equal(got, want) {
		t.Fatalf("JWKS after the rotation: %v, want %v", got, want)
	}
	tok, _, _ = r.login(f.newPatient(nil), nil)
	if kid := kidOf(tok); kid != "oidc-1" {
		t.Fatalf("signed with %q before the new key's activation", kid)
	}

	// Another instance over the same store, with the same first key.
	opts.Presentations = oidc.OpenID4VP{}
	sealer, err := keys.NewSealer(mk, "verifier sessions")
	if err != nil {
		t.Fatal(err)
	}
	other, err := oidc.New(store, sealer, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := states(other), "oidc-1:active,"+next.KID+":next"; got != want {
		t.Fatalf("another instance's keys: %s, want %s", got, want)
	}

	f.clock.Advance(6*time.Minute + time.Second)
	tok, _, _ = r.login(f.newPatient(nil), nil) // go-oidc fetches the JWKS again for the new kid
	if kid := kidOf(tok); kid != next.KID {
		t.Fatalf("signed with %q after the activation, want %q", kid, next.KID)
	}
	if got, want := jwks(), sorted("oidc-1", next.KID); !slices.Equal(got, want) {
		t.Fatalf("JWKS just after the activation: %v, want %v", got, want)
	}
	if got, want := states(other), "oidc-1:retiring,"+next.KID+":active"; got != want {
		t.Fatalf("another instance's keys after the activation: %s, want %s", got, want)
	}

	// ID token lifetime (5 min) + JWKS max-age (5 min) + 1 min later.
	f.clock.Advance(11 * time.Minute)
	if got, want := jwks(), []string{next.KID}; !slices.Equal(got, want) {
		t.Fatalf("JWKS once the old key retired: %v, want %v", got, want)
	}
	code, body, _ = f.do("POST", oidc.PathKeys+"/rotate", "", "Bearer "+adminToken, nil)
	var third oidc.SigningKey
	if code != http.StatusCreated || json.Unmarshal(body, &third) != nil {
		t.Fatalf("second rotation: %d %s", code, body)
	}
	f.clock.Advance(11 * time.Second) // past the other instance's reload
	if got, want := states(other), next.KID+":active,"+third.KID+":next"; got != want {
		t.Fatalf("another instance's keys after the second rotation: %s, want %s", got, want)
	}
	code, body, _ = f.do("GET", oidc.PathKeys, "", "Bearer "+adminToken, nil)
	if code != http.StatusOK || !strings.Contains(string(body), `"state":"next"`) || strings.Contains(string(body), `"oidc-1"`) {
		t.Fatalf("GET keys: %d %s", code, body)
	}
}

func sorted(s ...string) []string { slices.Sort(s); return s }
