package oidc_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/medid/medid/did/didjwk"
	"github.com/medid/medid/internal/keys"
	"github.com/medid/medid/verifier/oidc"
)

// logins collects what Options.OnLogin receives.
type logins struct {
	mu   sync.Mutex
	list []oidc.LoginEvent
}

func (l *logins) record(_ context.Context, e oidc.LoginEvent) {
	l.mu.Lock()
	l.list = append(l.list, e)
	l.mu.Unlock()
}

// one returns the single event since the last call, and checks that it
// carries no claim value.
func (l *logins) one(t *testing.T, what string) oidc.LoginEvent {
	t.Helper()
	l.mu.Lock()
	got := l.list
	l.list = nil
	l.mu.Unlock()
	if len(got) != 1 {
		t.Fatalf("%s: %d login events, want 1: %+v", what, len(got), got)
	}
	s := fmt.Sprintf("%+v", got[0])
	for _, v := range []string{"Ada", "Lovelace", "1815-12-10", "female"} {
		if strings.Contains(s, v) {
			t.Fatalf("%s: the login event carries the claim value %q: %s", what, v, s)
		}
	}
	return got[0]
}

func (l *logins) none(t *testing.T, what string) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.list) != 0 {
		t.Fatalf("%s: unexpected login events %+v", what, l.list)
	}
}

func TestOnLogin(t *testing.T) {
	var got logins
	f := newFixture(t, func(o *oidc.Options) { o.OnLogin = got.record })
	rc := f.register(map[string]any{"client_name": "Telehealth A", "redirect_uris": []string{"https://app-a.example/callback"},
		"allowed_claims": []string{"given_name", "family_name"}})
	r := f.relyingParty(rc, oauth2.AuthStyleInHeader)

	t.Run("verified", func(t *testing.T) {
		ada := f.newPatient(nil)
		// The patient discloses given_name and birthdate only; the client
		// registered given_name and family_name: only given_name
		// is released.
		_, idt, _ := r.login(ada, []string{"given_name", "birthdate"})
		e := got.one(t, "verified login")
		jwk, err := keys.PublicJWKJSONOf(ada.key.Public())
		if err != nil {
			t.Fatal(err)
		}
		holder, err := didjwk.New(jwk)
		if err != nil {
			t.Fatal(err)
		}
		if !e.Verified || e.Reason != "" || e.ClientID != rc.ID {
			t.Fatalf("outcome %+v", e)
		}
		if e.Patient != holder || oidc.PairwiseSubject(f.pairwiseSecret(), "app-a.example", e.Patient.String()) != idt.Subject {
			t.Fatalf("patient %q is not the DID behind sub %q", e.Patient, idt.Subject)
		}
		if !slices.Equal(e.ClaimNames, []string{"given_name"}) {
			t.Fatalf("released claim names %v, want [given_name]", e.ClaimNames)
		}
		if !slices.Equal(e.Scopes, []string{"openid", "profile"}) {
			t.Fatalf("scopes %v", e.Scopes)
		}
	})

	authURL := f.base + "/oidc/authorize?" + authorizeParams(rc.ID, rc.RedirectURIs[0]).Encode()
	denied := func(t *testing.T, b *browser, page *loginPage) {
		t.Helper()
		resp, _ := b.complete(page)
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusSeeOther || loc.Query().Get("error") != "access_denied" {
			t.Fatalf("%d %s", resp.StatusCode, loc)
		}
	}
	failed := func(t *testing.T, what, reason string) {
		t.Helper()
		e := got.one(t, what)
		if e.Verified || e.Reason != reason || e.ClientID != rc.ID || !e.Patient.IsZero() || e.ClaimNames != nil {
			t.Fatalf("%s: %+v, want failed with %q", what, e, reason)
		}
	}

	t.Run("pending is not an end", func(t *testing.T) {
		b := f.newBrowser()
		page := b.open(authURL)
		if resp, _ := b.complete(page); resp.StatusCode != http.StatusConflict {
			t.Fatalf("complete before the wallet answered: %d", resp.StatusCode)
		}
		got.none(t, "pending")
		if code, body := f.walletRefuse(page.Link); code != 200 {
			t.Fatalf("wallet: %d %s", code, body)
		}
		denied(t, b, page)
		failed(t, "wallet refused", "access_denied")
	})
	t.Run("verification failed", func(t *testing.T) {
		b := f.newBrowser()
		page := b.open(authURL)
		saved := f.issuer
		f.issuer = mustKey(t, keys.ES256)
		p := f.newPatient(nil) // signed by a key the verifier does not trust
		f.issuer = saved
		if code, _ := f.wallet(page.Link, p, nil); code != 400 {
			t.Fatalf("wallet with an untrusted credential: %d", code)
		}
		denied(t, b, page)
		failed(t, "untrusted credential", "verification_failed")
	})
	t.Run("expired", func(t *testing.T) {
		b := f.newBrowser()
		page := b.open(authURL)
		f.clock.Advance(11 * time.Minute)
		denied(t, b, page)
		failed(t, "expired", oidc.LoginReasonExpired)
	})
}
