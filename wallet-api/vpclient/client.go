package vpclient

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwe"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/medid/medid/did"
)

// Client talks to verifiers.
type Client struct {
	// HTTP makes every request; redirects to URLs CheckURL refuses are not
	// followed.
	HTTP *http.Client
	// AllowHTTPLoopback accepts http URLs on loopback hosts.
	AllowHTTPLoopback bool
}

// Error is a verifier's OAuth error answer (section 8.5).
type Error struct {
	Endpoint    string // "request_uri" or "response_uri"
	Status      int
	Code        string
	Description string
}

func (e *Error) Error() string {
	s := fmt.Sprintf("vpclient: the verifier's %s answered %d", e.Endpoint, e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Description != "" {
		s += ": " + clip(e.Description, 200)
	}
	return s
}

func (c *Client) httpClient() *http.Client {
	hc := http.DefaultClient
	if c.HTTP != nil {
		hc = c.HTTP
	}
	cp := *hc
	next := cp.CheckRedirect
	cp.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := CheckURL(req.URL.String(), c.AllowHTTPLoopback); err != nil {
			return err
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 5 {
			return errors.New("too many redirects")
		}
		return nil
	}
	return &cp
}

// FetchRequestObject gets the request object of a link by reference: GET,
// or POST with walletNonce (and no wallet metadata) when the link says
// request_uri_method=post. It returns the compact JWS, unchecked.
func (c *Client) FetchRequestObject(ctx context.Context, l *Link, walletNonce string) (string, error) {
	if l == nil || l.RequestURI == "" {
		return "", errorf(ErrInvalidRequest, "the link has no request_uri")
	}
	if err := CheckURL(l.RequestURI, c.AllowHTTPLoopback); err != nil {
		return "", err
	}
	var req *http.Request
	var err error
	if l.RequestURIMethod == "post" {
		form := url.Values{}
		if walletNonce != "" {
			form.Set("wallet_nonce", walletNonce)
		}
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, l.RequestURI, strings.NewReader(form.Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	} else {
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, l.RequestURI, nil)
	}
	if err != nil {
		return "", errorf(ErrMalformedLink, "request_uri is not a usable URL")
	}
	req.Header.Set("Accept", ContentTypeRequestObject)
	body, resp, err := c.do(req, "request_uri", MaxRequestObject)
	if err != nil {
		return "", err
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt != ContentTypeRequestObject {
		return "", errorf(ErrInvalidRequest, "the request_uri answered with content type %q, not %s", clip(mt, 64), ContentTypeRequestObject)
	}
	return strings.TrimSpace(string(body)), nil
}

// do sends req and returns the body of a 200 answer of at most limit
// bytes; an error answer becomes an *Error.
func (c *Client) do(req *http.Request, endpoint string, limit int64) ([]byte, *http.Response, error) {
	resp, err := c.httpClient().Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) && errors.Is(ue.Err, ErrInsecureURL) {
			return nil, nil, ue.Err
		}
		if errors.Is(err, context.Canceled) {
			return nil, nil, err
		}
		return nil, nil, fmt.Errorf("%w: %s: %v", ErrUnreachable, endpoint, redact(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: reading the answer", ErrUnreachable, endpoint)
	}
	if int64(len(body)) > limit {
		return nil, nil, fmt.Errorf("%w: %s: the answer exceeds %d bytes", ErrUnreachable, endpoint, limit)
	}
	if resp.StatusCode != http.StatusOK {
		e := &Error{Endpoint: endpoint, Status: resp.StatusCode}
		var oe struct {
			Code        string `json:"error"`
			Description string `json:"error_description"`
		}
		if json.Unmarshal(body, &oe) == nil {
			e.Code, e.Description = clip(oe.Code, 64), clip(oe.Description, 512)
		}
		return nil, nil, e
	}
	return body, resp, nil
}

// redact keeps a transport error's cause without its URL (which may carry
// identifiers).
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// VPToken is a vp_token: presentations by Credential Query id. A
// dc+sd-jwt or jwt_vc_json presentation is a JSON string, an ldp_vc one a
// JSON object.
type VPToken map[string][]json.RawMessage

// Reply is the verifier's answer to a response.
type Reply struct {
	// RedirectURI is where the verifier sends the user next (same-device
	// flows), or "".
	RedirectURI string
}

// Respond posts the Authorization Response to r.ResponseURI with r's
// response mode: the vp_token and state as a form (direct_post), or both
// in a JWE encrypted with ECDH-ES to the verifier's key
// (direct_post.jwt).
func (c *Client) Respond(ctx context.Context, r *Request, tok VPToken) (*Reply, error) {
	if err := CheckURL(r.ResponseURI, c.AllowHTTPLoopback); err != nil {
		return nil, err
	}
	form, err := ResponseForm(r, tok)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.ResponseURI, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, errorf(ErrInvalidRequest, "response_uri is not a usable URL")
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	body, _, err := c.do(req, "response_uri", 64<<10)
	if err != nil {
		return nil, err
	}
	var out struct {
		RedirectURI string `json:"redirect_uri"`
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		if err := json.Unmarshal(body, &out); err != nil {
			return nil, fmt.Errorf("%w: the response_uri answered 200 with a body that is not a JSON object", ErrUnreachable)
		}
	}
	if out.RedirectURI != "" {
		u, err := url.Parse(out.RedirectURI)
		if err != nil || !u.IsAbs() || (u.Scheme != "https" && u.Scheme != "http") || len(out.RedirectURI) > 4096 {
			return nil, fmt.Errorf("%w: the verifier's redirect_uri is not an http(s) URL", ErrUnreachable)
		}
	}
	return &Reply{RedirectURI: out.RedirectURI}, nil
}

// ResponseForm is the form Respond posts.
func ResponseForm(r *Request, tok VPToken) (url.Values, error) {
	if len(tok) == 0 {
		return nil, errors.New("vpclient: an empty vp_token")
	}
	vp, err := json.Marshal(tok)
	if err != nil {
		return nil, err
	}
	switch r.ResponseMode {
	case ModeDirectPost:
		form := url.Values{"vp_token": {string(vp)}}
		if r.State != "" {
			form.Set("state", r.State)
		}
		return form, nil
	case ModeDirectPostJWT:
		payload := map[string]any{"vp_token": json.RawMessage(vp)}
		if r.State != "" {
			payload["state"] = r.State
		}
		b, err := json.Marshal(payload)
		if err != nil {
			return nil, err
		}
		enc, err := r.encrypt(b)
		if err != nil {
			return nil, err
		}
		return url.Values{"response": {enc}}, nil
	}
	return nil, errorf(ErrUnsupported, "response_mode %q", clip(r.ResponseMode, 32))
}

// supportedEnc are the content encryption algorithms the wallet uses, in
// order of preference when the verifier names none.
var supportedEnc = []string{"A128GCM", "A256GCM"}

// encryptionKey picks the verifier's response encryption key: the first
// P-256 EC key of client_metadata.jwks meant for encryption with ECDH-ES,
// and the content encryption: the first of
// encrypted_response_enc_values_supported the wallet supports (A128GCM
// when the verifier names none).
func (r *Request) encryptionKey() (jwk.Key, jwa.ContentEncryptionAlgorithm, error) {
	enc := ""
	if len(r.ClientMetadata.EncValues) == 0 {
		enc = "A128GCM"
	}
	for _, e := range r.ClientMetadata.EncValues {
		if slices.Contains(supportedEnc, e) {
			enc = e
			break
		}
	}
	if enc == "" {
		return nil, jwa.ContentEncryptionAlgorithm{}, errorf(ErrUnsupported, "none of the verifier's encrypted_response_enc_values_supported is A128GCM or A256GCM")
	}
	ce, ok := jwa.LookupContentEncryptionAlgorithm(enc)
	if !ok {
		return nil, jwa.ContentEncryptionAlgorithm{}, errorf(ErrUnsupported, "content encryption %s", enc)
	}
	if r.ClientMetadata.JWKS == nil {
		return nil, ce, errorf(ErrInvalidRequest, "direct_post.jwt needs client_metadata.jwks")
	}
	for _, raw := range r.ClientMetadata.JWKS.Keys {
		k, err := jwk.ParseKey(raw)
		if err != nil {
			continue
		}
		var pub ecdsa.PublicKey
		if err := jwk.Export(k, &pub); err != nil || pub.Curve != elliptic.P256() {
			continue
		}
		if _, err := pub.ECDH(); err != nil {
			continue
		}
		if u, ok := k.KeyUsage(); ok && u != "enc" {
			continue
		}
		if a, ok := k.Algorithm(); ok && a.String() != "ECDH-ES" {
			continue
		}
		if k.Has("d") {
			continue
		}
		return k, ce, nil
	}
	return nil, ce, errorf(ErrUnsupported, "client_metadata.jwks has no P-256 key for ECDH-ES")
}

// encrypt makes the compact JWE of payload for the verifier.
func (r *Request) encrypt(payload []byte) (string, error) {
	k, enc, err := r.encryptionKey()
	if err != nil {
		return "", err
	}
	h := jwe.NewHeaders()
	if kid, ok := k.KeyID(); ok {
		if err := h.Set("kid", kid); err != nil {
			return "", err
		}
	}
	var pub ecdsa.PublicKey
	if err := jwk.Export(k, &pub); err != nil {
		return "", err
	}
	out, err := jwe.Encrypt(payload, jwe.WithKey(jwa.ECDH_ES(), &pub), jwe.WithContentEncryption(enc), jwe.WithProtectedHeaders(h))
	if err != nil {
		return "", fmt.Errorf("vpclient: encrypt the response: %w", err)
	}
	return string(out), nil
}

// Resolver resolves DIDs (*did.Resolver is one).
type Resolver interface {
	Resolve(ctx context.Context, did string, opts did.ResolutionOptions) (*did.Result, error)
}

// DIDKeys is a KeyFunc over a DID resolver: the current document of the
// DID (not deactivated), its verification method kid, which must be listed
// under authentication or assertionMethod.
func DIDKeys(r Resolver) KeyFunc {
	return func(ctx context.Context, d, kid string) (crypto.PublicKey, error) {
		if !strings.HasPrefix(kid, d+"#") {
			return nil, fmt.Errorf("%s is not a verification method of %s", clip(kid, 200), clip(d, 200))
		}
		res, err := r.Resolve(ctx, d, did.ResolutionOptions{})
		if err != nil {
			return nil, fmt.Errorf("resolve %s: %w", clip(d, 200), err)
		}
		if res == nil || res.Document == nil || res.DocumentMetadata.Deactivated {
			return nil, fmt.Errorf("%s is deactivated or has no document", clip(d, 200))
		}
		if res.Document.ID != "" && res.Document.ID != d {
			return nil, fmt.Errorf("the document of %s has another id", clip(d, 200))
		}
		vm, ok := res.Document.VerificationMethodByID(kid)
		if !ok {
			return nil, fmt.Errorf("%s has no verification method %s", clip(d, 200), clip(kid, 200))
		}
		if !res.Document.Authorized(did.Authentication, vm.ID) && !res.Document.Authorized(did.AssertionMethod, vm.ID) {
			return nil, fmt.Errorf("%s is not authorised for authentication or assertionMethod", clip(kid, 200))
		}
		return vm.PublicKey()
	}
}
