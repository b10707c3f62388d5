package vpclient_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwe"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/medid/medid/did"
	"github.com/medid/medid/did/didjwk"
	"github.com/medid/medid/internal/keys"
	"github.com/medid/medid/wallet-api/vpclient"
)

const (
	verifierDID = "did:example:verifier"
	kid         = verifierDID + "#key-1"
	clientID    = "decentralized_identifier:" + verifierDID
	query       = `{"credentials":[{"id":"pid","format":"dc+sd-jwt","meta":{"vct_values":["https://issuer.example/vct/P"]},"claims":[{"path":["given_name"]}]}]}`
)

var now = time.Unix(1_800_000_000, 0)

func mustKey(t testing.TB, alg keys.Algorithm) *keys.PrivateKey {
	t.Helper()
	k, err := keys.Generate(alg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// keysOf is a KeyFunc that knows one verification method.
func keysOf(pub crypto.PublicKey) vpclient.KeyFunc {
	return func(_ context.Context, d, k string) (crypto.PublicKey, error) {
		if d == verifierDID && k == kid {
			return pub, nil
		}
		return nil, errors.New("no such verification method")
	}
}

func params() map[string]any {
	return map[string]any{
		"client_id": clientID, "aud": vpclient.AudienceSelfIssued, "response_type": "vp_token",
		"response_mode": "direct_post", "response_uri": "https://verifier.example/responses/1",
		"nonce": "n-0123456789", "state": "s-0123456789", "dcql_query": json.RawMessage(query),
		"client_metadata": map[string]any{"client_name": "Clinic"}, "purpose": "Check in",
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		"verifier_info": []any{map[string]any{"format": "jwt", "data": "x"}},
	}
}

func signObject(t testing.TB, k *keys.PrivateKey, hdr map[string]any, p map[string]any) string {
	t.Helper()
	body, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	h := jws.NewHeaders()
	for name, v := range hdr {
		if err := h.Set(name, v); err != nil {
			t.Fatal(err)
		}
	}
	alg := jwa.ES256()
	if k.Algorithm() == keys.EdDSA {
		alg = jwa.EdDSA()
	}
	out, err := jws.Sign(body, jws.WithKey(alg, k.Signer(), jws.WithProtectedHeaders(h)))
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func stdHeader() map[string]any { return map[string]any{"typ": vpclient.TypRequestObject, "kid": kid} }

func refLink() *vpclient.Link {
	return &vpclient.Link{ClientID: clientID, RequestURI: "https://verifier.example/requests/1", RequestURIMethod: "get"}
}

func TestParseLink(t *testing.T) {
	l, err := vpclient.ParseLink("openid4vp://?client_id=" + url.QueryEscape(clientID) + "&request_uri=" + url.QueryEscape("https://v.example/r/1") + "&request_uri_method=post")
	if err != nil || l.ClientID != clientID || l.RequestURI != "https://v.example/r/1" || l.RequestURIMethod != "post" || l.Prefix() != "decentralized_identifier" {
		t.Fatalf("%+v %v", l, err)
	}
	l, err = vpclient.ParseLink("openid4vp://?client_id=redirect_uri%3Ahttps%3A%2F%2Fv.example%2Fr&response_type=vp_token&nonce=n")
	if err != nil || l.RequestURI != "" || l.Params.Get("nonce") != "n" || l.Params.Has("client_id") {
		t.Fatalf("%+v %v", l, err)
	}
	for _, bad := range []string{
		"", "hello", "https://v.example/?client_id=x&request_uri=https://v.example/r",
		"openid4vp://?request_uri=https%3A%2F%2Fv.example%2Fr",
		"openid4vp://?client_id=a&client_id=b&request_uri=https%3A%2F%2Fv.example%2Fr",
		"openid4vp://?client_id=decentralized_identifier%3Adid%3Ax%3A1&request_uri=https%3A%2F%2Fv.example%2Fr&nonce=n",
		"openid4vp://?client_id=decentralized_identifier%3Adid%3Ax%3A1&request_uri=https%3A%2F%2Fv.example%2Fr&request_uri_method=put",
		"openid4vp://?client_id=decentralized_identifier%3Adid%3Ax%3A1&request_uri_method=post",
		"openid4vp://?client_id=decentralized_identifier%3Adid%3Ax%3A1&nonce=n",
		"openid4vp://?client_id=x%00y&request_uri=https%3A%2F%2Fv.example%2Fr",
		"openid4vp://?client_id=x&request_uri=https%3A%2F%2Fv.example%2Fr&%zz",
		"openid4vp://?client_id=" + strings.Repeat("a", vpclient.MaxLink),
	} {
		if l, err := vpclient.ParseLink(bad); err == nil {
			t.Errorf("ParseLink(%.80q) = %+v, want an error", bad, l)
		}
	}
	_, err = vpclient.ParseLink("openid4vp://?client_id=redirect_uri%3Ax&request=eyJ")
	if !errors.Is(err, vpclient.ErrUnsupported) {
		t.Errorf("request by value: %v", err)
	}
}

func TestVerifyRequestObject(t *testing.T) {
	k := mustKey(t, keys.ES256)
	opts := vpclient.VerifyOptions{Keys: keysOf(k.Public()), Now: func() time.Time { return now }}
	r, err := vpclient.VerifyRequestObject(context.Background(), signObject(t, k, stdHeader(), params()), refLink(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if r.ClientID != clientID || r.SignedBy != kid || r.Nonce != "n-0123456789" || r.State != "s-0123456789" ||
		r.ResponseMode != "direct_post" || r.Purpose != "Check in" || r.ClientMetadata.ClientName != "Clinic" ||
		r.Query == nil || r.Query.Credentials[0].ID != "pid" || len(r.VerifierInfo) != 1 {
		t.Fatalf("request %+v", r)
	}
	// EdDSA, and a kid relative to the DID.
	ek := mustKey(t, keys.EdDSA)
	eopts := opts
	eopts.Keys = keysOf(ek.Public())
	if _, err := vpclient.VerifyRequestObject(context.Background(), signObject(t, ek, map[string]any{"typ": "application/oauth-authz-req+jwt", "kid": "#key-1"}, params()), refLink(), eopts); err != nil {
		t.Fatalf("EdDSA with a relative kid: %v", err)
	}

	other := mustKey(t, keys.ES256)
	with := func(mod func(p map[string]any)) map[string]any { p := params(); mod(p); return p }
	hmacObject := func() string {
		body, _ := json.Marshal(params())
		h := jws.NewHeaders()
		h.Set("typ", vpclient.TypRequestObject)
		h.Set("kid", kid)
		out, err := jws.Sign(body, jws.WithKey(jwa.HS256(), []byte("0123456789abcdef0123456789abcdef"), jws.WithProtectedHeaders(h)))
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"oauth-authz-req+jwt","kid":"`+kid+`"}`)) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(`{}`)) + "."
	for _, tc := range []struct {
		name   string
		object string
		link   *vpclient.Link
		opts   func(*vpclient.VerifyOptions)
		want   error
	}{
		{"another key, same kid", signObject(t, other, stdHeader(), params()), nil, nil, vpclient.ErrUntrusted},
		{"kid of another DID", signObject(t, k, map[string]any{"typ": vpclient.TypRequestObject, "kid": "did:example:evil#key-1"}, params()), nil, nil, vpclient.ErrUntrusted},
		{"no kid", signObject(t, k, map[string]any{"typ": vpclient.TypRequestObject}, params()), nil, nil, vpclient.ErrUntrusted},
		{"HMAC", hmacObject(), nil, nil, vpclient.ErrUntrusted},
		{"alg none", none, nil, nil, vpclient.ErrUntrusted},
		{"unknown method", signObject(t, k, map[string]any{"typ": vpclient.TypRequestObject, "kid": verifierDID + "#key-2"}, params()), nil, nil, vpclient.ErrUntrusted},
		{"EdDSA header, P-256 key", signObject(t, ek, stdHeader(), params()), nil, nil, vpclient.ErrUntrusted},
		{"wrong typ", signObject(t, k, map[string]any{"typ": "JWT", "kid": kid}, params()), nil, nil, vpclient.ErrInvalidRequest},
		{"crit", signObject(t, k, map[string]any{"typ": vpclient.TypRequestObject, "kid": kid, "crit": []string{"x"}, "x": 1}, params()), nil, nil, vpclient.ErrInvalidRequest},
		{"client_id differs", signObject(t, k, stdHeader(), with(func(p map[string]any) { p["client_id"] = "decentralized_identifier:did:example:other" })), nil, nil, vpclient.ErrInvalidRequest},
		{"aud", signObject(t, k, stdHeader(), with(func(p map[string]any) { p["aud"] = "https://wallet.example" })), nil, nil, vpclient.ErrInvalidRequest},
		{"expired", signObject(t, k, stdHeader(), with(func(p map[string]any) { p["exp"] = now.Add(-time.Hour).Unix() })), nil, nil, vpclient.ErrInvalidRequest},
		{"issued in the future", signObject(t, k, stdHeader(), with(func(p map[string]any) { p["iat"] = now.Add(time.Hour).Unix() })), nil, nil, vpclient.ErrInvalidRequest},
		{"no nonce", signObject(t, k, stdHeader(), with(func(p map[string]any) { delete(p, "nonce") })), nil, nil, vpclient.ErrInvalidRequest},
		{"nonce not a string", signObject(t, k, stdHeader(), with(func(p map[string]any) { p["nonce"] = 7 })), nil, nil, vpclient.ErrInvalidRequest},
		{"bad dcql", signObject(t, k, stdHeader(), with(func(p map[string]any) { p["dcql_query"] = map[string]any{"credentials": []any{}} })), nil, nil, vpclient.ErrInvalidRequest},
		{"no dcql", signObject(t, k, stdHeader(), with(func(p map[string]any) { delete(p, "dcql_query") })), nil, nil, vpclient.ErrInvalidRequest},
		{"response_type", signObject(t, k, stdHeader(), with(func(p map[string]any) { p["response_type"] = "code" })), nil, nil, vpclient.ErrUnsupported},
		{"response_mode", signObject(t, k, stdHeader(), with(func(p map[string]any) { p["response_mode"] = "fragment" })), nil, nil, vpclient.ErrUnsupported},
		{"http response_uri", signObject(t, k, stdHeader(), with(func(p map[string]any) { p["response_uri"] = "http://verifier.example/r" })), nil, nil, vpclient.ErrInsecureURL},
		{"loopback http without the option", signObject(t, k, stdHeader(), with(func(p map[string]any) { p["response_uri"] = "http://127.0.0.1:9/r" })), nil, nil, vpclient.ErrInsecureURL},
		{"loopback http with the option", signObject(t, k, stdHeader(), with(func(p map[string]any) { p["response_uri"] = "http://127.0.0.1:9/r" })), nil,
			func(o *vpclient.VerifyOptions) { o.AllowHTTPLoopback = true }, nil},
		{"wallet_nonce not echoed", signObject(t, k, stdHeader(), params()), nil, func(o *vpclient.VerifyOptions) { o.WalletNonce = "wn" }, vpclient.ErrInvalidRequest},
		{"wallet_nonce echoed", signObject(t, k, stdHeader(), with(func(p map[string]any) { p["wallet_nonce"] = "wn" })), nil, func(o *vpclient.VerifyOptions) { o.WalletNonce = "wn" }, nil},
		{"direct_post.jwt without keys", signObject(t, k, stdHeader(), with(func(p map[string]any) { p["response_mode"] = "direct_post.jwt" })), nil, nil, vpclient.ErrInvalidRequest},
		{"x509 link without a certificate chain", signObject(t, k, stdHeader(), params()), &vpclient.Link{ClientID: "x509_san_dns:v.example", RequestURI: "https://v.example/r"}, nil, vpclient.ErrUntrusted},
		{"redirect_uri link, signed", signObject(t, k, stdHeader(), params()), &vpclient.Link{ClientID: "redirect_uri:https://v.example/r", RequestURI: "https://v.example/r"}, nil, vpclient.ErrInvalidRequest},
		{"not a JWS", "a.b", nil, nil, vpclient.ErrInvalidRequest},
	} {
		o := opts
		if tc.opts != nil {
			tc.opts(&o)
		}
		l := tc.link
		if l == nil {
			l = refLink()
		}
		_, err := vpclient.VerifyRequestObject(context.Background(), tc.object, l, o)
		if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestRequestByValue(t *testing.T) {
	ru := "https://verifier.example/responses/1"
	v := url.Values{"client_id": {"redirect_uri:" + ru}, "response_type": {"vp_token"}, "response_mode": {"direct_post"},
		"response_uri": {ru}, "nonce": {"n"}, "dcql_query": {query}, "client_metadata": {`{"client_name":"C"}`}}
	l, err := vpclient.ParseLink("openid4vp://?" + v.Encode())
	if err != nil {
		t.Fatal(err)
	}
	r, err := vpclient.RequestByValue(l, vpclient.VerifyOptions{})
	if err != nil || r.SignedBy != "" || r.ResponseURI != ru || r.ClientMetadata.ClientName != "C" {
		t.Fatalf("%+v %v", r, err)
	}
	v.Set("response_uri", "https://attacker.example/r")
	l, _ = vpclient.ParseLink("openid4vp://?" + v.Encode())
	if _, err := vpclient.RequestByValue(l, vpclient.VerifyOptions{}); !errors.Is(err, vpclient.ErrInvalidRequest) {
		t.Fatalf("response_uri differing from client_id: %v", err)
	}
}

func TestDIDKeys(t *testing.T) {
	k := mustKey(t, keys.ES256)
	j, _ := k.PublicJWKJSON()
	d, err := didjwk.New(j)
	if err != nil {
		t.Fatal(err)
	}
	kf := vpclient.DIDKeys(did.NewResolver(didjwk.Method{}))
	pub, err := kf(context.Background(), d.String(), d.String()+"#0")
	if err != nil {
		t.Fatal(err)
	}
	if tp, _ := keys.ThumbprintOf(pub); tp != k.Thumbprint() {
		t.Fatal("wrong key")
	}
	other := mustKey(t, keys.ES256)
	oj, _ := other.PublicJWKJSON()
	od, _ := didjwk.New(oj)
	for _, tc := range [][2]string{{d.String(), od.String() + "#0"}, {d.String(), d.String() + "#1"}, {"did:unknown:x", "did:unknown:x#0"}} {
		if _, err := kf(context.Background(), tc[0], tc[1]); err == nil {
			t.Errorf("%v: a key", tc)
		}
	}
}

// TestRespond posts both response modes to a verifier that decrypts and
// parses what it gets, and follows its answers.
func TestRespond(t *testing.T) {
	encKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, _ := jwk.Import(&encKey.PublicKey)
	pub.Set("kid", "enc-1")
	pub.Set("use", "enc")
	pub.Set("alg", "ECDH-ES")
	var got url.Values
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got, _ = url.ParseQuery(string(b))
		switch r.URL.Path {
		case "/refuse":
			w.WriteHeader(400)
			io.WriteString(w, `{"error":"invalid_request","error_description":"no"}`)
		case "/redirect":
			io.WriteString(w, `{"redirect_uri":"https://app.example/done#response_code=x"}`)
		default:
			io.WriteString(w, `{}`)
		}
	}))
	defer srv.Close()
	c := &vpclient.Client{HTTP: srv.Client(), AllowHTTPLoopback: true}
	tok := vpclient.VPToken{"pid": {json.RawMessage(`"eyJ.presentation~"`)}}
	r := &vpclient.Request{ClientID: clientID, ResponseMode: vpclient.ModeDirectPost, ResponseURI: srv.URL + "/redirect", Nonce: "n", State: "s"}
	reply, err := c.Respond(context.Background(), r, tok)
	if err != nil || reply.RedirectURI != "https://app.example/done#response_code=x" || got.Get("state") != "s" || got.Get("vp_token") != `{"pid":["eyJ.presentation~"]}` {
		t.Fatalf("direct_post: %+v %v %v", reply, err, got)
	}

	pj, _ := json.Marshal(pub)
	r = &vpclient.Request{ClientID: clientID, ResponseMode: vpclient.ModeDirectPostJWT, ResponseURI: srv.URL + "/ok", State: "s"}
	r.ClientMetadata.JWKS = &struct {
		Keys []json.RawMessage `json:"keys"`
	}{Keys: []json.RawMessage{pj}}
	r.ClientMetadata.EncValues = []string{"A256GCM"}
	if _, err := c.Respond(context.Background(), r, tok); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("direct_post.jwt form: %v", got)
	}
	msg, err := jwe.Parse([]byte(got.Get("response")))
	if err != nil {
		t.Fatal(err)
	}
	h := msg.ProtectedHeaders()
	if a, _ := h.Algorithm(); a.String() != "ECDH-ES" {
		t.Fatalf("alg %v", a)
	}
	if e, _ := h.ContentEncryption(); e.String() != "A256GCM" {
		t.Fatalf("enc %v", e)
	}
	if k, _ := h.KeyID(); k != "enc-1" {
		t.Fatalf("kid %q", k)
	}
	plain, err := jwe.Decrypt([]byte(got.Get("response")), jwe.WithKey(jwa.ECDH_ES(), encKey))
	if err != nil {
		t.Fatal(err)
	}
	if string(plain) != `{"state":"s","vp_token":{"pid":["eyJ.presentation~"]}}` {
		t.Fatalf("payload %s", plain)
	}

	r.ResponseURI = srv.URL + "/refuse"
	_, err = c.Respond(context.Background(), r, tok)
	var ve *vpclient.Error
	if !errors.As(err, &ve) || ve.Status != 400 || ve.Code != "invalid_request" {
		t.Fatalf("refusal: %v", err)
	}
	r.ClientMetadata.EncValues = []string{"A128CBC-HS256"}
	if _, err := c.Respond(context.Background(), r, tok); !errors.Is(err, vpclient.ErrUnsupported) {
		t.Fatalf("unsupported enc: %v", err)
	}
	c.AllowHTTPLoopback = false
	if _, err := c.Respond(context.Background(), r, tok); !errors.Is(err, vpclient.ErrInsecureURL) {
		t.Fatalf("http: %v", err)
	}
}

func FuzzParseLink(f *testing.F) {
	for _, s := range []string{
		"openid4vp://?client_id=decentralized_identifier%3Adid%3Amedid%3Aabc&request_uri=https%3A%2F%2Fv.example%2Fr%2F1",
		"openid4vp://?client_id=decentralized_identifier%3Adid%3Amedid%3Aabc&request_uri=https%3A%2F%2Fv.example%2Fr%2F1&request_uri_method=post",
		"openid4vp://?client_id=redirect_uri%3Ahttps%3A%2F%2Fv.example%2Fr&response_type=vp_token&response_mode=direct_post&response_uri=https%3A%2F%2Fv.example%2Fr&nonce=n&dcql_query=" + url.QueryEscape(query),
		"openid4vp://?client_id=x&client_id=y", "openid4vp:", "openid4vp://?%", "https://x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := vpclient.ParseLink(s)
		if err != nil {
			return
		}
		if l.ClientID == "" || (l.RequestURI == "" && l.Prefix() != vpclient.PrefixRedirectURI) {
			t.Fatalf("accepted %q as %+v", s, l)
		}
		if l.RequestURI == "" {
			r, err := vpclient.RequestByValue(l, vpclient.VerifyOptions{AllowHTTPLoopback: true})
			if err == nil && (r.Query == nil || r.Nonce == "" || r.ClientID != "redirect_uri:"+r.ResponseURI) {
				t.Fatalf("by value %q: %+v", s, r)
			}
		}
	})
}

// FuzzVerifyRequestObject: whatever the request object, no panic, and
// nothing is accepted unless the verifier's key signed it.
func FuzzVerifyRequestObject(f *testing.F) {
	k := mustKey(f, keys.ES256)
	good := signObject(f, k, stdHeader(), params())
	parts := strings.Split(good, ".")
	f.Add(good)
	f.Add(signObject(f, mustKey(f, keys.ES256), stdHeader(), params()))
	f.Add(parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"client_id":1}`)) + "." + parts[2])
	f.Add(base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"oauth-authz-req+jwt","kid":"`+kid+`"}`)) + "." + parts[1] + ".")
	f.Add(base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"ES256","alg":"EdDSA"}`)) + ".e30.AA")
	f.Add("..")
	f.Add("")
	opts := vpclient.VerifyOptions{Keys: keysOf(k.Public()), Now: func() time.Time { return now }}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := vpclient.VerifyRequestObject(context.Background(), s, refLink(), opts)
		if err != nil {
			return
		}
		if _, verr := jws.Verify([]byte(s), jws.WithKey(jwa.ES256(), k.Public())); verr != nil {
			t.Fatalf("accepted a request object the key did not sign: %q", s)
		}
		if r.ClientID != clientID || r.Query == nil || r.Nonce == "" {
			t.Fatalf("accepted an incomplete request: %+v", r)
		}
	})
}
