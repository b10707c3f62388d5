package vpclient

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/medid/medid/credentials/dcql"
	"github.com/medid/medid/internal/jsonx"
)

// Bounds on what a verifier may send.
const (
	// MaxLink bounds an openid4vp:// link (a request by value carries its
	// DCQL query and client metadata).
	MaxLink = 32 << 10
	// MaxRequestObject bounds a request object.
	MaxRequestObject = 64 << 10
	maxParam         = 1024 // nonce, state, client_id, URIs
	maxPurpose       = 1024
)

// Errors. Each error the package returns wraps one of them.
var (
	// ErrMalformedLink: the link is not an openid4vp:// authorization
	// request this wallet can follow.
	ErrMalformedLink = errors.New("vpclient: malformed authorization request link")
	// ErrInvalidRequest: the request (object) is malformed or breaks a
	// rule of OpenID4VP: wrong typ or aud, a client_id that differs from
	// the link's, a missing nonce, an unusable DCQL query, ….
	ErrInvalidRequest = errors.New("vpclient: invalid authorization request")
	// ErrUntrusted: the request object is not signed by a key of the
	// verifier its client_id names (bad signature, a kid of another DID,
	// a key not authorised for authentication or assertionMethod, an alg
	// outside the allowlist).
	ErrUntrusted = errors.New("vpclient: the request is not signed by the verifier it names")
	// ErrUnsupported: a client_id prefix, response mode or response type
	// this wallet does not support.
	ErrUnsupported = errors.New("vpclient: unsupported request")
	// ErrInsecureURL: a request_uri or response_uri that is not https (or
	// loopback http when allowed).
	ErrInsecureURL = errors.New("vpclient: refusing a non-https URL")
	// ErrUnreachable: the verifier could not be reached or did not answer
	// with a protocol response.
	ErrUnreachable = errors.New("vpclient: the verifier could not be reached")
)

func errorf(kind error, format string, args ...any) error {
	return fmt.Errorf("%w: %s", kind, fmt.Sprintf(format, args...))
}

// Client identifier prefixes (OpenID4VP section 5.9).
const (
	PrefixDecentralizedIdentifier = "decentralized_identifier"
	PrefixRedirectURI             = "redirect_uri"
	PrefixX509SANDNS              = "x509_san_dns"
)

// Response modes.
const (
	ModeDirectPost    = "direct_post"
	ModeDirectPostJWT = "direct_post.jwt"
)

// TypRequestObject is the typ of a signed request object (RFC 9101), and
// AudienceSelfIssued the aud of one under static discovery.
const (
	TypRequestObject   = "oauth-authz-req+jwt"
	AudienceSelfIssued = "https://self-issued.me/v2"
	// ContentTypeRequestObject is the media type a request_uri answers with.
	ContentTypeRequestObject = "application/oauth-authz-req+jwt"
)

// Link is a parsed openid4vp:// link: by reference (RequestURI set) or by
// value (Params holds the request's parameters).
type Link struct {
	ClientID string
	// RequestURI and RequestURIMethod ("get" or "post") for a request by
	// reference.
	RequestURI       string
	RequestURIMethod string
	// Params are the parameters of a request passed by value.
	Params url.Values
}

// Prefix is the client identifier prefix of the link's client_id.
func (l *Link) Prefix() string { return prefixOf(l.ClientID) }

func prefixOf(clientID string) string {
	p, _, ok := strings.Cut(clientID, ":")
	if !ok {
		return ""
	}
	return p
}

// ParseLink parses an authorization request link (openid4vp://?…). It
// checks the link's shape only: a request by reference names its
// request_uri (and optionally request_uri_method) next to client_id and
// nothing else; a request by value must use the redirect_uri prefix.
// Parameters must not repeat.
func ParseLink(link string) (*Link, error) {
	if len(link) > MaxLink {
		return nil, errorf(ErrMalformedLink, "longer than %d bytes", MaxLink)
	}
	u, err := url.Parse(link)
	if err != nil {
		return nil, errorf(ErrMalformedLink, "not a URL")
	}
	if u.Scheme != "openid4vp" {
		return nil, errorf(ErrMalformedLink, "the scheme must be openid4vp")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, errorf(ErrMalformedLink, "malformed query")
	}
	for k, vs := range q {
		if len(vs) != 1 {
			return nil, errorf(ErrMalformedLink, "parameter %q is repeated", clip(k, 64))
		}
	}
	l := &Link{ClientID: q.Get("client_id")}
	if err := checkParam("client_id", l.ClientID, true); err != nil {
		return nil, errorf(ErrMalformedLink, "%v", err)
	}
	if !q.Has("request_uri") {
		if q.Has("request_uri_method") {
			return nil, errorf(ErrMalformedLink, "request_uri_method without request_uri")
		}
		if q.Has("request") {
			return nil, errorf(ErrUnsupported, "request objects passed by value (request) are not supported")
		}
		if l.Prefix() != PrefixRedirectURI {
			return nil, errorf(ErrMalformedLink, "a request passed by value must use the redirect_uri client_id prefix (it cannot be authenticated)")
		}
		q.Del("client_id")
		l.Params = q
		return l, nil
	}
	l.RequestURI = q.Get("request_uri")
	if err := checkParam("request_uri", l.RequestURI, true); err != nil {
		return nil, errorf(ErrMalformedLink, "%v", err)
	}
	switch m := q.Get("request_uri_method"); m {
	case "", "get":
		l.RequestURIMethod = "get"
	case "post":
		l.RequestURIMethod = "post"
	default:
		return nil, errorf(ErrMalformedLink, "request_uri_method must be get or post")
	}
	for k := range q {
		if k != "client_id" && k != "request_uri" && k != "request_uri_method" {
			return nil, errorf(ErrMalformedLink, "parameter %q next to request_uri", clip(k, 64))
		}
	}
	return l, nil
}

func checkParam(name, v string, required bool) error {
	switch {
	case v == "" && required:
		return fmt.Errorf("%s is required", name)
	case len(v) > maxParam:
		return fmt.Errorf("%s exceeds %d bytes", name, maxParam)
	case strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return fmt.Errorf("%s holds control characters", name)
	}
	return nil
}

// Request is an authorization request that has been checked: its
// signature (for a signed request), its client_id against the link's, and
// every parameter the wallet acts on.
type Request struct {
	ClientID string
	// Prefix is the client_id's prefix; SignedBy the verification method
	// (a DID URL) whose key signed the request object, "" for a request
	// passed by value.
	Prefix   string
	SignedBy string
	// ResponseMode is direct_post or direct_post.jwt; ResponseURI where the
	// response goes.
	ResponseMode string
	ResponseURI  string
	Nonce        string
	State        string
	// Query is the DCQL query; QueryJSON its JSON.
	Query     *dcql.Query
	QueryJSON json.RawMessage
	// ClientMetadata is client_metadata.
	ClientMetadata ClientMetadata
	// VerifierInfo are the verifier_info attestations, as sent (the
	// wallet shows them; it does not verify them).
	VerifierInfo []json.RawMessage
	// Purpose is medid's purpose extension: why the verifier asks.
	Purpose string
}

// ClientMetadata is the part of client_metadata the wallet uses.
type ClientMetadata struct {
	ClientName string `json:"client_name,omitempty"`
	LogoURI    string `json:"logo_uri,omitempty"`
	// JWKS holds the verifier's response encryption keys
	// (direct_post.jwt).
	JWKS *struct {
		Keys []json.RawMessage `json:"keys"`
	} `json:"jwks,omitempty"`
	EncValues []string                   `json:"encrypted_response_enc_values_supported,omitempty"`
	VPFormats map[string]json.RawMessage `json:"vp_formats_supported,omitempty"`
}

// KeyFunc returns the public key of the verification method kid (an
// absolute DID URL) of did, which must be authorised for authentication
// or assertionMethod.
type KeyFunc func(ctx context.Context, did, kid string) (crypto.PublicKey, error)

// VerifyOptions are what checking a request needs.
type VerifyOptions struct {
	// Keys looks up the verifier's keys (decentralized_identifier).
	Keys KeyFunc
	// AllowHTTPLoopback accepts http response URIs on loopback hosts.
	AllowHTTPLoopback bool
	// WalletNonce, when the wallet sent one (request_uri_method=post),
	// must be echoed in the request object.
	WalletNonce string
	// Now is the clock (time.Now when nil); Skew the tolerance on iat and
	// exp (default 1 minute).
	Now  func() time.Time
	Skew time.Duration
	// X509Roots are the trust anchors for x509_san_dns requests; nil
	// means the system's roots.
	X509Roots *x509.CertPool
}

func (o *VerifyOptions) now() time.Time {
	if o.Now == nil {
		return time.Now()
	}
	return o.Now()
}

// VerifyRequestObject checks the request object jwt fetched for link:
// the JWS (typ oauth-authz-req+jwt, alg ES256 or EdDSA, signed by the key
// that the client_id prefix names: a verification method of the
// decentralized_identifier's DID, or the leaf of an x509_san_dns request's
// x5c chain, which must name the DNS name and chain to
// VerifyOptions.X509Roots), then the parameters.
func VerifyRequestObject(ctx context.Context, jwt string, link *Link, opts VerifyOptions) (*Request, error) {
	if link == nil || link.RequestURI == "" {
		return nil, errorf(ErrInvalidRequest, "no request_uri link")
	}
	h, payload, err := parseJWS(jwt)
	if err != nil {
		return nil, err
	}
	if !typMatches(h.Typ, TypRequestObject) {
		return nil, errorf(ErrInvalidRequest, "the request object's typ is not %s", TypRequestObject)
	}
	if h.Crit != nil || h.B64 != nil {
		return nil, errorf(ErrInvalidRequest, "the JWS header parameters crit and b64 are not supported")
	}
	alg, ok := allowedAlg(h.Alg)
	if !ok {
		return nil, errorf(ErrUntrusted, "alg %q is not allowed (ES256, EdDSA)", clip(h.Alg, 20))
	}
	prefix, id, _ := strings.Cut(link.ClientID, ":")
	var signedBy string
	switch prefix {
	case PrefixDecentralizedIdentifier:
		if !strings.HasPrefix(id, "did:") {
			return nil, errorf(ErrInvalidRequest, "a decentralized_identifier client_id must hold a DID")
		}
		kid := h.Kid
		if strings.HasPrefix(kid, "#") {
			kid = id + kid
		}
		d, frag, ok := strings.Cut(kid, "#")
		if !ok || d != id || frag == "" {
			return nil, errorf(ErrUntrusted, "the kid is not a verification method of %s", id)
		}
		if opts.Keys == nil {
			return nil, errors.New("vpclient: VerifyOptions.Keys is required")
		}
		pub, err := opts.Keys(ctx, id, kid)
		if err != nil {
			return nil, fmt.Errorf("%w: the verifier's key %s: %w", ErrUntrusted, kid, err)
		}
		if !keyFits(h.Alg, pub) {
			return nil, errorf(ErrUntrusted, "the key %s cannot verify alg %s", kid, h.Alg)
		}
		if _, err := jws.Verify([]byte(jwt), jws.WithKey(alg, pub), jws.WithCompact()); err != nil {
			return nil, errorf(ErrUntrusted, "the request object's signature does not verify with %s", kid)
		}
		signedBy = kid
	case PrefixRedirectURI:
		return nil, errorf(ErrInvalidRequest, "a redirect_uri request must not be signed")
	case PrefixX509SANDNS:
		leaf, err := verifyX5c(h.X5c, id, opts)
		if err != nil {
			return nil, err
		}
		if !keyFits(h.Alg, leaf.PublicKey) {
			return nil, errorf(ErrUntrusted, "the certificate's key cannot verify alg %s", h.Alg)
		}
		if _, err := jws.Verify([]byte(jwt), jws.WithKey(alg, leaf.PublicKey), jws.WithCompact()); err != nil {
			return nil, errorf(ErrUntrusted, "the request object's signature does not verify with the certificate for %s", clip(id, 80))
		}
		signedBy = "x509_san_dns:" + id + " (" + clip(leaf.Subject.String(), 200) + ")"
	default:
		return nil, errorf(ErrUnsupported, "client_id prefix %q is not supported", clip(prefix, 40))
	}
	members, err := jsonx.UniqueObject(payload)
	if err != nil {
		return nil, errorf(ErrInvalidRequest, "the request object's payload is not a JSON object: %v", err)
	}
	p := params{m: members}
	if got := p.str("client_id"); got != link.ClientID {
		return nil, errorf(ErrInvalidRequest, "the request object's client_id differs from the link's")
	}
	if !p.audience(AudienceSelfIssued) {
		return nil, errorf(ErrInvalidRequest, "the request object's aud is not %s", AudienceSelfIssued)
	}
	now, skew := opts.now(), opts.Skew
	if skew <= 0 {
		skew = time.Minute
	}
	if exp, ok := p.num("exp"); ok && !now.Before(time.Unix(exp, 0).Add(skew)) {
		return nil, errorf(ErrInvalidRequest, "the request object has expired")
	}
	if iat, ok := p.num("iat"); ok && now.Add(skew).Before(time.Unix(iat, 0)) {
		return nil, errorf(ErrInvalidRequest, "the request object was issued in the future")
	}
	if opts.WalletNonce != "" && p.str("wallet_nonce") != opts.WalletNonce {
		return nil, errorf(ErrInvalidRequest, "the request object does not echo our wallet_nonce")
	}
	if p.err != nil {
		return nil, p.err
	}
	r, err := buildRequest(link.ClientID, &p, opts)
	if err != nil {
		return nil, err
	}
	if prefix == PrefixX509SANDNS {
		// OpenID4VP 1.0 section 5.9.3: without another reason to trust
		// the client, the response goes to the certificate's host.
		if u, err := url.Parse(r.ResponseURI); err != nil || u.Hostname() != id {
			return nil, errorf(ErrInvalidRequest, "an x509_san_dns request's response_uri must be on %s", clip(id, 80))
		}
	}
	r.SignedBy = signedBy
	return r, nil
}

// RequestByValue checks a request passed by value in link (redirect_uri
// prefix: unsigned, so client_id must be the response_uri itself).
func RequestByValue(link *Link, opts VerifyOptions) (*Request, error) {
	if link == nil || link.RequestURI != "" || link.Prefix() != PrefixRedirectURI {
		return nil, errorf(ErrInvalidRequest, "not a redirect_uri request passed by value")
	}
	members := map[string]json.RawMessage{}
	for k := range link.Params {
		v := link.Params.Get(k)
		switch k {
		case "dcql_query", "client_metadata", "verifier_info":
			if !json.Valid([]byte(v)) {
				return nil, errorf(ErrInvalidRequest, "%s is not JSON", k)
			}
			members[k] = json.RawMessage(v)
		default:
			b, _ := json.Marshal(v)
			members[k] = b
		}
	}
	if _, ok := members["verifier_info"]; ok {
		return nil, errorf(ErrInvalidRequest, "verifier_info needs a signed request")
	}
	p := params{m: members}
	r, err := buildRequest(link.ClientID, &p, opts)
	if err != nil {
		return nil, err
	}
	if strings.TrimPrefix(link.ClientID, PrefixRedirectURI+":") != r.ResponseURI {
		return nil, errorf(ErrInvalidRequest, "a redirect_uri client_id must be the response_uri")
	}
	return r, nil
}

// buildRequest checks the parameters common to both forms.
func buildRequest(clientID string, p *params, opts VerifyOptions) (*Request, error) {
	r := &Request{ClientID: clientID, Prefix: prefixOf(clientID)}
	if rt := p.str("response_type"); rt != "vp_token" {
		return nil, errorf(ErrUnsupported, "response_type must be vp_token")
	}
	r.ResponseMode = p.str("response_mode")
	if r.ResponseMode != ModeDirectPost && r.ResponseMode != ModeDirectPostJWT {
		return nil, errorf(ErrUnsupported, "response_mode must be direct_post or direct_post.jwt")
	}
	r.ResponseURI = p.str("response_uri")
	if err := checkParam("response_uri", r.ResponseURI, true); err != nil {
		return nil, errorf(ErrInvalidRequest, "%v", err)
	}
	if _, ok := p.m["redirect_uri"]; ok {
		return nil, errorf(ErrInvalidRequest, "redirect_uri must not be sent with response_mode %s", r.ResponseMode)
	}
	if err := CheckURL(r.ResponseURI, opts.AllowHTTPLoopback); err != nil {
		return nil, err
	}
	r.Nonce, r.State = p.str("nonce"), p.str("state")
	if err := checkParam("nonce", r.Nonce, true); err != nil {
		return nil, errorf(ErrInvalidRequest, "%v", err)
	}
	if err := checkParam("state", r.State, false); err != nil {
		return nil, errorf(ErrInvalidRequest, "%v", err)
	}
	if _, ok := p.m["presentation_definition"]; ok {
		return nil, errorf(ErrUnsupported, "presentation_definition is not supported; use dcql_query")
	}
	if _, ok := p.m["scope"]; ok {
		return nil, errorf(ErrUnsupported, "scope-based requests are not supported; use dcql_query")
	}
	qj, ok := p.m["dcql_query"]
	if !ok {
		return nil, errorf(ErrInvalidRequest, "dcql_query is required")
	}
	q, err := dcql.Parse(qj)
	if err != nil {
		return nil, fmt.Errorf("%w: dcql_query: %w", ErrInvalidRequest, err)
	}
	r.Query, r.QueryJSON = q, compact(qj)
	if raw, ok := p.m["client_metadata"]; ok {
		if _, err := jsonx.UniqueObject(raw); err != nil {
			return nil, errorf(ErrInvalidRequest, "client_metadata must be a JSON object")
		}
		if err := json.Unmarshal(raw, &r.ClientMetadata); err != nil {
			return nil, errorf(ErrInvalidRequest, "client_metadata has members of the wrong type")
		}
		if len(r.ClientMetadata.ClientName) > maxParam {
			return nil, errorf(ErrInvalidRequest, "client_metadata.client_name is too long")
		}
	}
	if r.ResponseMode == ModeDirectPostJWT {
		if _, _, err := r.encryptionKey(); err != nil {
			return nil, err
		}
	}
	if raw, ok := p.m["verifier_info"]; ok {
		if err := json.Unmarshal(raw, &r.VerifierInfo); err != nil {
			return nil, errorf(ErrInvalidRequest, "verifier_info must be an array")
		}
		for _, vi := range r.VerifierInfo {
			if _, err := jsonx.UniqueObject(vi); err != nil {
				return nil, errorf(ErrInvalidRequest, "each verifier_info entry must be an object")
			}
		}
	}
	r.Purpose = p.str("purpose")
	if len(r.Purpose) > maxPurpose {
		return nil, errorf(ErrInvalidRequest, "purpose exceeds %d bytes", maxPurpose)
	}
	if p.err != nil {
		return nil, p.err
	}
	return r, nil
}

// CheckURL accepts an absolute https URL, or http on a loopback host when
// allowLoopback is set.
func CheckURL(raw string, allowLoopback bool) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.User != nil {
		return errorf(ErrInsecureURL, "not an absolute URL")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		h := u.Hostname()
		ip := net.ParseIP(h)
		if allowLoopback && (strings.EqualFold(h, "localhost") || ip != nil && ip.IsLoopback()) {
			return nil
		}
	}
	return errorf(ErrInsecureURL, "%s is not https", clip(u.Redacted(), 200))
}

// params reads members of a request; the first type error is kept.
type params struct {
	m   map[string]json.RawMessage
	err error
}

func (p *params) str(name string) string {
	raw, ok := p.m[name]
	if !ok {
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil && p.err == nil {
		p.err = errorf(ErrInvalidRequest, "%s must be a string", name)
	}
	return s
}

func (p *params) num(name string) (int64, bool) {
	raw, ok := p.m[name]
	if !ok {
		return 0, false
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		if p.err == nil {
			p.err = errorf(ErrInvalidRequest, "%s must be a number", name)
		}
		return 0, false
	}
	f, err := n.Float64()
	if err != nil || f < 0 || f > 1<<40 {
		if p.err == nil {
			p.err = errorf(ErrInvalidRequest, "%s is out of range", name)
		}
		return 0, false
	}
	return int64(f), true
}

func (p *params) audience(want string) bool {
	raw, ok := p.m["aud"]
	if !ok {
		return false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s == want
	}
	var a []string
	return json.Unmarshal(raw, &a) == nil && slices.Contains(a, want)
}

// header is a JWS protected header.
type header struct {
	Alg  string          `json:"alg"`
	Typ  string          `json:"typ"`
	Kid  string          `json:"kid"`
	X5c  []string        `json:"x5c"`
	Crit json.RawMessage `json:"crit"`
	B64  json.RawMessage `json:"b64"`
}

// verifyX5c checks an x5c chain (leaf first, base64 DER): the leaf names
// dns among its DNS SANs and chains to opts.X509Roots at the current time.
func verifyX5c(x5c []string, dns string, opts VerifyOptions) (*x509.Certificate, error) {
	if len(x5c) == 0 || len(x5c) > 10 {
		return nil, errorf(ErrUntrusted, "an x509_san_dns request object needs an x5c chain (1 to 10 certificates)")
	}
	if dns == "" {
		return nil, errorf(ErrInvalidRequest, "an x509_san_dns client_id must hold a DNS name")
	}
	certs := make([]*x509.Certificate, len(x5c))
	for i, c := range x5c {
		der, err := base64.StdEncoding.DecodeString(c)
		if err != nil {
			return nil, errorf(ErrInvalidRequest, "x5c[%d] is not base64", i)
		}
		if certs[i], err = x509.ParseCertificate(der); err != nil {
			return nil, errorf(ErrInvalidRequest, "x5c[%d] is not a certificate", i)
		}
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	if _, err := certs[0].Verify(x509.VerifyOptions{DNSName: dns, Roots: opts.X509Roots, Intermediates: inter,
		CurrentTime: opts.now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, errorf(ErrUntrusted, "the verifier's certificate for %s is not trusted: %v", clip(dns, 80), err)
	}
	return certs[0], nil
}

// parseJWS splits a compact JWS and decodes its header (members unique)
// and payload, without checking the signature.
func parseJWS(s string) (*header, []byte, error) {
	if len(s) > MaxRequestObject {
		return nil, nil, errorf(ErrInvalidRequest, "the request object exceeds %d bytes", MaxRequestObject)
	}
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return nil, nil, errorf(ErrInvalidRequest, "the request object is not a compact JWS")
	}
	hb, err := base64.RawURLEncoding.Strict().DecodeString(parts[0])
	if err != nil {
		return nil, nil, errorf(ErrInvalidRequest, "the JWS header is not base64url")
	}
	if _, err := jsonx.UniqueObject(hb); err != nil {
		return nil, nil, errorf(ErrInvalidRequest, "the JWS header is not a JSON object: %v", err)
	}
	var h header
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, nil, errorf(ErrInvalidRequest, "the JWS header has members of the wrong type")
	}
	payload, err := base64.RawURLEncoding.Strict().DecodeString(parts[1])
	if err != nil {
		return nil, nil, errorf(ErrInvalidRequest, "the JWS payload is not base64url")
	}
	if _, err := base64.RawURLEncoding.Strict().DecodeString(parts[2]); err != nil || parts[2] == "" {
		return nil, nil, errorf(ErrUntrusted, "the request object carries no signature")
	}
	return &h, payload, nil
}

// allowedAlg is the signature alg allowlist, checked before jws.Verify
// (which does not check the header alg against the key).
func allowedAlg(name string) (jwa.SignatureAlgorithm, bool) {
	switch name {
	case "ES256":
		return jwa.ES256(), true
	case "EdDSA":
		return jwa.EdDSA(), true
	}
	return jwa.SignatureAlgorithm{}, false
}

func keyFits(alg string, pub crypto.PublicKey) bool {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return alg == "ES256" && k.Curve == elliptic.P256()
	case ed25519.PublicKey:
		return alg == "EdDSA" && len(k) == ed25519.PublicKeySize
	}
	return false
}

// typMatches compares typ values as RFC 7515 section 4.1.9 says.
func typMatches(got, want string) bool {
	trim := func(s string) string {
		if len(s) > 12 && strings.EqualFold(s[:12], "application/") {
			return s[12:]
		}
		return s
	}
	return strings.EqualFold(trim(got), trim(want))
}

func compact(raw json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return raw
	}
	return b.Bytes()
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
