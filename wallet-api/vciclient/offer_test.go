package vciclient

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

const goodOffer = `{"credential_issuer":"https://issuer.example","credential_configuration_ids":["PatientIdentityCredential_dc+sd-jwt"],` +
	`"grants":{"urn:ietf:params:oauth:grant-type:pre-authorized_code":{"pre-authorized_code":"secret-code",` +
	`"tx_code":{"input_mode":"numeric","length":6,"description":"Enter the code"}}}}`

func TestParseOfferLink(t *testing.T) {
	byValue := "openid-credential-offer://?credential_offer=" + url.QueryEscape(goodOffer)
	l, err := ParseOfferLink(byValue)
	if err != nil {
		t.Fatal(err)
	}
	if l.URI != "" || l.Offer == nil || l.Offer.CredentialIssuer != "https://issuer.example" ||
		l.Offer.Grants.PreAuthorized.Code != "secret-code" || l.Offer.Grants.PreAuthorized.TxCode.Length != 6 {
		t.Fatalf("by value: %+v", l)
	}
	// The code never prints.
	if s := fmt.Sprintf("%v %+v %#v %s", *l.Offer.Grants.PreAuthorized, l.Offer, l.Offer.Grants, l.Offer.Grants.PreAuthorized); strings.Contains(s, "secret-code") {
		t.Fatalf("code printed: %s", s)
	}
	l, err = ParseOfferLink("openid-credential-offer://?credential_offer_uri=" + url.QueryEscape("https://issuer.example/offers/1"))
	if err != nil || l.URI != "https://issuer.example/offers/1" || l.Offer != nil {
		t.Fatalf("by reference: %+v %v", l, err)
	}
	l, err = ParseOfferLink("https://wallet.example/offer?credential_offer_uri=" + url.QueryEscape("https://issuer.example/offers/1"))
	if err != nil || l.URI == "" {
		t.Fatalf("https link: %+v %v", l, err)
	}

	for name, bad := range map[string]string{
		"empty":              "",
		"other scheme":       "openid4vp://?credential_offer_uri=https%3A%2F%2Fa.example%2Fo",
		"neither":            "openid-credential-offer://?foo=bar",
		"both":               "openid-credential-offer://?credential_offer=" + url.QueryEscape(goodOffer) + "&credential_offer_uri=https%3A%2F%2Fa.example%2Fo",
		"twice":              "openid-credential-offer://?credential_offer_uri=https%3A%2F%2Fa.example%2Fo&credential_offer_uri=https%3A%2F%2Fb.example%2Fo",
		"relative reference": "openid-credential-offer://?credential_offer_uri=%2Foffers%2F1",
		"ftp reference":      "openid-credential-offer://?credential_offer_uri=ftp%3A%2F%2Fa.example%2Fo",
		"user info":          "openid-credential-offer://?credential_offer_uri=https%3A%2F%2Fu%3Ap%40a.example%2Fo",
		"bad query":          "openid-credential-offer://?credential_offer=%zz",
		"not JSON":           "openid-credential-offer://?credential_offer=hello",
		"too long":           "openid-credential-offer://?credential_offer_uri=https%3A%2F%2Fa.example%2F" + strings.Repeat("a", MaxOfferLink),
	} {
		if _, err := ParseOfferLink(bad); !errors.Is(err, ErrMalformedOffer) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestParseCredentialOffer(t *testing.T) {
	if _, err := ParseCredentialOffer([]byte(goodOffer)); err != nil {
		t.Fatal(err)
	}
	// Unknown members are ignored, as the specification asks.
	if _, err := ParseCredentialOffer([]byte(`{"credential_issuer":"https://i.example","credential_configuration_ids":["a"],"x-extension":{"y":1}}`)); err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string]string{
		"not an object":     `[]`,
		"null":              `null`,
		"no issuer":         `{"credential_configuration_ids":["a"]}`,
		"issuer with query": `{"credential_issuer":"https://i.example?x=1","credential_configuration_ids":["a"]}`,
		"issuer not a URL":  `{"credential_issuer":"did:example:123","credential_configuration_ids":["a"]}`,
		"no configurations": `{"credential_issuer":"https://i.example","credential_configuration_ids":[]}`,
		"repeated config":   `{"credential_issuer":"https://i.example","credential_configuration_ids":["a","a"]}`,
		"empty config":      `{"credential_issuer":"https://i.example","credential_configuration_ids":[""]}`,
		"duplicate member":  `{"credential_issuer":"https://i.example","credential_issuer":"https://evil.example","credential_configuration_ids":["a"]}`,
		"nested duplicate":  `{"credential_issuer":"https://i.example","credential_configuration_ids":["a"],"grants":{"urn:ietf:params:oauth:grant-type:pre-authorized_code":{"pre-authorized_code":"a","pre-authorized_code":"b"}}}`,
		"empty code":        `{"credential_issuer":"https://i.example","credential_configuration_ids":["a"],"grants":{"urn:ietf:params:oauth:grant-type:pre-authorized_code":{"pre-authorized_code":""}}}`,
		"bad input mode":    `{"credential_issuer":"https://i.example","credential_configuration_ids":["a"],"grants":{"urn:ietf:params:oauth:grant-type:pre-authorized_code":{"pre-authorized_code":"c","tx_code":{"input_mode":"voice"}}}}`,
		"trailing data":     goodOffer + `{}`,
		"wrong type":        `{"credential_issuer":5,"credential_configuration_ids":["a"]}`,
		"deep":              strings.Repeat(`{"a":`, 100) + `1` + strings.Repeat(`}`, 100),
	} {
		if _, err := ParseCredentialOffer([]byte(bad)); !errors.Is(err, ErrMalformedOffer) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestWellKnownURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://issuer.example":        "https://issuer.example/.well-known/openid-credential-issuer",
		"https://issuer.example/":       "https://issuer.example/.well-known/openid-credential-issuer",
		"https://issuer.example/tenant": "https://issuer.example/.well-known/openid-credential-issuer/tenant",
		"http://127.0.0.1:8080/a/b":     "http://127.0.0.1:8080/.well-known/openid-credential-issuer/a/b",
	} {
		got, err := WellKnownURL(in, "openid-credential-issuer")
		if err != nil || got != want {
			t.Errorf("%s: %s %v, want %s", in, got, err, want)
		}
	}
	if _, err := WellKnownURL("https://i.example?q", "x"); err == nil {
		t.Error("query accepted")
	}
}

// FuzzParseOfferLink: no input panics, and an accepted link holds exactly
// one of an offer that passes ParseCredentialOffer and an absolute URI.
func FuzzParseOfferLink(f *testing.F) {
	f.Add("openid-credential-offer://?credential_offer=" + url.QueryEscape(goodOffer))
	f.Add("openid-credential-offer://?credential_offer_uri=" + url.QueryEscape("https://issuer.example/offers/1"))
	f.Add("https://wallet.example/?credential_offer_uri=https%3A%2F%2Fa.example%2Fo")
	f.Add("openid-credential-offer://?credential_offer=%7B%7D&credential_offer_uri=x")
	f.Add("openid-credential-offer://?credential_offer=%zz")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseOfferLink(s)
		if err != nil {
			if !errors.Is(err, ErrMalformedOffer) {
				t.Fatalf("error without ErrMalformedOffer: %v", err)
			}
			return
		}
		if (l.Offer == nil) == (l.URI == "") {
			t.Fatalf("link with both or neither: %+v", l)
		}
		if l.Offer != nil {
			if err := CheckIssuerID(l.Offer.CredentialIssuer); err != nil || len(l.Offer.ConfigurationIDs) == 0 {
				t.Fatalf("accepted a bad offer: %+v", l.Offer)
			}
		} else if u, err := url.Parse(l.URI); err != nil || !u.IsAbs() {
			t.Fatalf("accepted a bad URI %q", l.URI)
		}
	})
}

// FuzzParseCredentialOffer: no input panics; what is accepted is sound.
func FuzzParseCredentialOffer(f *testing.F) {
	f.Add([]byte(goodOffer))
	f.Add([]byte(`{"credential_issuer":"https://i.example","credential_configuration_ids":["a"]}`))
	f.Add([]byte(`{"credential_issuer":"https://i.example","credential_issuer":"x"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := ParseCredentialOffer(b)
		if err != nil {
			return
		}
		if CheckIssuerID(o.CredentialIssuer) != nil || len(o.ConfigurationIDs) == 0 {
			t.Fatalf("accepted %+v", o)
		}
		if g := o.Grants.PreAuthorized; g != nil && g.Code == "" {
			t.Fatal("accepted an empty code")
		}
	})
}
