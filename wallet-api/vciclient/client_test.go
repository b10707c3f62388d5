package vciclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/medid/medid/internal/keys"
)

func TestCheckURL(t *testing.T) {
	strict := &Client{HTTP: http.DefaultClient}
	loose := &Client{HTTP: http.DefaultClient, AllowHTTPLoopback: true}
	for _, tc := range []struct {
		u             string
		strict, loose bool
	}{
		{"https://issuer.example/x", true, true},
		{"http://issuer.example/x", false, false},
		{"http://127.0.0.1:8080/x", false, true},
		{"http://localhost/x", false, true},
		{"http://[::1]/x", false, true},
		{"ftp://issuer.example/x", false, false},
		{"https://user:pw@issuer.example/x", false, false},
		{"/relative", false, false},
	} {
		_, e1 := strict.CheckURL(tc.u)
		_, e2 := loose.CheckURL(tc.u)
		if (e1 == nil) != tc.strict || (e2 == nil) != tc.loose {
			t.Errorf("%s: strict %v, loose %v", tc.u, e1, e2)
		}
	}
}

func TestProofVerifies(t *testing.T) {
	for _, alg := range []keys.Algorithm{keys.ES256, keys.EdDSA} {
		k, err := keys.Generate(alg)
		if err != nil {
			t.Fatal(err)
		}
		iat := time.Unix(1_800_000_000, 0)
		p, err := Proof(k, "https://issuer.example", "n-1", iat)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := jws.Parse([]byte(p))
		if err != nil {
			t.Fatal(err)
		}
		h := msg.Signatures()[0].ProtectedHeaders()
		typ, _ := h.Type()
		a, _ := h.Algorithm()
		_, ok := h.JWK()
		if typ != ProofType || a.String() != string(alg) || !ok {
			t.Fatalf("%s header: typ %q alg %q jwk %v", alg, typ, a, ok)
		}
		ja := jwa.ES256()
		if alg == keys.EdDSA {
			ja = jwa.EdDSA()
		}
		payload, err := jws.Verify([]byte(p), jws.WithKey(ja, k.Public()))
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		var c map[string]any
		json.Unmarshal(payload, &c)
		if c["aud"] != "https://issuer.example" || c["nonce"] != "n-1" || c["iat"] != float64(iat.Unix()) || c["iss"] != nil {
			t.Fatalf("%s claims: %v", alg, c)
		}
	}
}

// fakeIssuer serves metadata and endpoints for client tests.
func fakeIssuer(t *testing.T, mutate func(base string, md map[string]any)) *httptest.Server {
	var srv *httptest.Server
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-credential-issuer", func(w http.ResponseWriter, r *http.Request) {
		md := map[string]any{"credential_issuer": srv.URL, "credential_endpoint": srv.URL + "/credential",
			"nonce_endpoint": srv.URL + "/nonce", "batch_credential_issuance": map[string]any{"batch_size": 4},
			"credential_configurations_supported": map[string]any{"X": map[string]any{"format": "dc+sd-jwt",
				"proof_types_supported": map[string]any{"jwt": map[string]any{"proof_signing_alg_values_supported": []string{"ES256"}}},
				"credential_metadata":   map[string]any{"display": []any{map[string]any{"name": "X card"}}}}}}
		if mutate != nil {
			mutate(srv.URL, md)
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(md)
	})
	mux.HandleFunc("/.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"issuer":%q,"token_endpoint":%q}`, srv.URL, srv.URL+"/token")
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		if r.PostForm.Get("tx_code") != "123456" {
			w.WriteHeader(400)
			fmt.Fprint(w, `{"error":"invalid_grant","error_description":"wrong code"}`)
			return
		}
		fmt.Fprint(w, `{"access_token":"at-secret","token_type":"Bearer","expires_in":60}`)
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://issuer.example/offer", http.StatusFound)
	})
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestClientAgainstAFakeIssuer(t *testing.T) {
	ctx := context.Background()
	srv := fakeIssuer(t, nil)
	c := &Client{HTTP: srv.Client(), AllowHTTPLoopback: true}
	md, err := c.IssuerMetadata(ctx, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if md.BatchSize() != 4 || md.Configurations["X"].ProofAlgs()[0] != "ES256" {
		t.Fatalf("metadata: %+v", md)
	}
	if d, _ := md.Configurations["X"].DisplayInfo(); len(d) != 1 || d[0].Name != "X card" {
		t.Fatalf("display: %+v", d)
	}
	as, err := AuthorizationServer(md, &PreAuthorizedGrant{Code: "c"})
	if err != nil || as != srv.URL {
		t.Fatal(as, err)
	}
	asmd, err := c.AuthServerMetadata(ctx, as)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.RedeemPreAuthorized(ctx, asmd.TokenEndpoint, "code", "000000")
	var e *Error
	if !errors.As(err, &e) || e.Code != "invalid_grant" || e.Description != "wrong code" || e.Status != 400 {
		t.Fatalf("wrong code: %v", err)
	}
	tok, err := c.RedeemPreAuthorized(ctx, asmd.TokenEndpoint, "code", "123456")
	if err != nil || tok.AccessToken != "at-secret" {
		t.Fatal(err)
	}
	if s := fmt.Sprintf("%v %+v %s", tok, *tok, tok); strings.Contains(s, "at-secret") {
		t.Fatalf("token printed: %s", s)
	}
	// Not over plain http to anyone else, not even by redirect.
	if _, err := (&Client{HTTP: srv.Client()}).IssuerMetadata(ctx, srv.URL); !errors.Is(err, ErrInsecureURL) {
		t.Fatalf("http without AllowHTTPLoopback: %v", err)
	}
	if _, err := c.FetchOffer(ctx, srv.URL+"/redirect"); !errors.Is(err, ErrInsecureURL) {
		t.Fatalf("redirect to http: %v", err)
	}
}

func TestMetadataMustNameTheIssuer(t *testing.T) {
	ctx := context.Background()
	for name, mutate := range map[string]func(string, map[string]any){
		"another issuer":  func(_ string, md map[string]any) { md["credential_issuer"] = "https://evil.example" },
		"no endpoint":     func(_ string, md map[string]any) { delete(md, "credential_endpoint") },
		"http endpoint":   func(_ string, md map[string]any) { md["credential_endpoint"] = "http://evil.example/credential" },
		"no configs":      func(_ string, md map[string]any) { delete(md, "credential_configurations_supported") },
		"bad auth server": func(_ string, md map[string]any) { md["authorization_servers"] = []string{"not a url"} },
	} {
		srv := fakeIssuer(t, mutate)
		c := &Client{HTTP: srv.Client(), AllowHTTPLoopback: true}
		if _, err := c.IssuerMetadata(ctx, srv.URL); !errors.Is(err, ErrMetadata) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
