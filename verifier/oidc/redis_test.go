package oidc_test

import (
	"context"
	"errors"
	"testing"

	"golang.org/x/oauth2"

	"github.com/medid/medid/internal/kv/kvtest"
	"github.com/medid/medid/internal/kv/rediskv"
)

// TestLoginOnRedis runs a login and a code replay over real Redis (shared
// state for several instances). It skips when Redis is down, and fails in
// CI.
func TestLoginOnRedis(t *testing.T) {
	store, err := rediskv.Open(kvtest.RedisURL(t), "medid-oidc-test:"+randString()+":")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	f := newFixtureOn(t, store)
	r := f.relyingParty(f.register(map[string]any{"client_name": "A", "redirect_uris": []string{"https://app-a.example/cb"},
		"allowed_claims": []string{"given_name", "family_name"}}), oauth2.AuthStyleInHeader)
	_, idt, claims := r.login(f.newPatient(nil), nil)
	checkPersonal(t, claims, map[string]string{"given_name": "Ada", "family_name": "Lovelace"})
	if idt.Subject == "" {
		t.Fatal("no sub")
	}
	a := r.authorize(f.newPatient(nil), nil)
	if _, err := r.conf.Exchange(context.Background(), a.code, oauth2.VerifierOption(a.verifier)); err != nil {
		t.Fatal(err)
	}
	_, err = r.conf.Exchange(context.Background(), a.code, oauth2.VerifierOption(a.verifier))
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Fatalf("replayed code on Redis: %v", err)
	}
}
