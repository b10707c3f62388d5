package oidc_test

import (
	"net/url"
	"slices"
	"testing"

	"github.com/medid/medid/verifier/oidc"
)

const validChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"

func FuzzParseAuthorizeRequest(f *testing.F) {
	f.Add("client_id=abc&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&response_type=code&scope=openid+profile&state=s&nonce=n&code_challenge=" + validChallenge + "&code_challenge_method=S256")
	f.Add("client_id=abc&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&response_type=code&scope=openid&state=s&nonce=n&code_challenge=" + validChallenge + "&code_challenge_method=plain")
	f.Add("client_id=abc&client_id=def&response_type=token&scope=profile")
	f.Add("request_uri=https%3A%2F%2Fx&prompt=none+login&response_mode=fragment&scope=%22openid%22")
	f.Add("scope=openid%20%20openid&state=%00&nonce=%FF")
	f.Add("")
	f.Add("%zz=1&a=%")
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		r, err := oidc.ParseAuthorizeRequest(v)
		if r == nil {
			t.Fatal("ParseAuthorizeRequest returned no request")
		}
		if len(r.ClientID) > 512 || len(r.RedirectURI) > 2048 {
			t.Fatalf("over-long client_id or redirect_uri kept")
		}
		if err != nil {
			if e := oidc.AsError(err); e == nil || e.Code == "" || e.Status != 400 {
				t.Fatalf("error %v is not a 400 OAuth error", err)
			}
			return
		}
		switch {
		case r.ClientID == "" || r.RedirectURI == "" || r.State == "" || r.Nonce == "":
			t.Fatalf("accepted without a required parameter: %+v", r)
		case r.ResponseType != "code" || r.CodeChallengeMethod != "S256" || len(r.CodeChallenge) != 43:
			t.Fatalf("accepted a request that is not code+S256: %+v", r)
		case !slices.Contains(r.Scopes, "openid"):
			t.Fatalf("accepted without openid: %v", r.Scopes)
		}
		for _, name := range []string{"client_id", "redirect_uri", "state", "nonce", "code_challenge"} {
			if len(v[name]) != 1 {
				t.Fatalf("accepted %s given %d times", name, len(v[name]))
			}
		}
	})
}

func FuzzParseTokenRequest(f *testing.F) {
	verifier := "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	f.Add("", "grant_type=authorization_code&code=c&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&code_verifier="+verifier+"&client_id=abc")
	f.Add("Basic YWJjOnNlY3JldA==", "grant_type=authorization_code&code=c&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&code_verifier="+verifier)
	f.Add("Basic YWJjOnNlY3JldA==", "grant_type=authorization_code&code=c&redirect_uri=x&code_verifier="+verifier+"&client_secret=s")
	f.Add("Basic !!!", "grant_type=password")
	f.Add("Bearer x", "grant_type=authorization_code&grant_type=authorization_code")
	f.Add("", "grant_type=authorization_code&code=c&redirect_uri=r&code_verifier=short&client_id=abc&client_secret=s")
	f.Add("Basic JXp6OiV6eg==", "")
	f.Fuzz(func(t *testing.T, auth, body string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		r, err := oidc.ParseTokenRequest(auth, form)
		if err != nil {
			if e := oidc.AsError(err); e == nil || e.Code == "" || (e.Status != 400 && e.Status != 401) {
				t.Fatalf("error %v is not a 400/401 OAuth error", err)
			}
			if r != nil {
				t.Fatal("a request returned with an error")
			}
			return
		}
		switch {
		case r.GrantType != "authorization_code" || r.Code == "" || r.RedirectURI == "" || r.ClientID == "":
			t.Fatalf("accepted an incomplete request: %+v", r)
		case len(r.CodeVerifier) < 43 || len(r.CodeVerifier) > 128:
			t.Fatalf("accepted verifier of %d characters", len(r.CodeVerifier))
		}
		switch r.AuthMethod {
		case oidc.AuthSecretBasic:
			if auth == "" || form.Get("client_secret") != "" {
				t.Fatalf("basic without a header, or with a body secret too")
			}
		case oidc.AuthSecretPost:
			if auth != "" || r.ClientSecret == "" {
				t.Fatalf("post with a header or without a secret")
			}
		case oidc.AuthNone:
			if auth != "" || r.ClientSecret != "" {
				t.Fatalf("none with credentials")
			}
		default:
			t.Fatalf("auth method %q", r.AuthMethod)
		}
	})
}
