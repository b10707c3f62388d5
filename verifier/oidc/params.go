package oidc

import (
	"encoding/base64"
	"net/url"
	"slices"
	"strings"
)

// Limits on request parameters.
const (
	maxValueLen       = 512  // state, nonce, client_id, code, …
	maxRedirectURILen = 2048 // redirect_uri
	maxScopeLen       = 1024
	maxQueryLen       = 16 << 10 // a whole authorization request
	maxFormBody       = 16 << 10 // a token request body
)

// PKCE (RFC 7636).
const (
	MethodS256         = "S256"
	minVerifierLen     = 43
	maxVerifierLen     = 128
	s256ChallengeLen   = 43 // base64url of a SHA-256 hash, unpadded
	ResponseTypeCode   = "code"
	ScopeOpenID        = "openid"
	ScopeProfile       = "profile"
	GrantAuthorization = "authorization_code"
)

// AuthorizeRequest is an OpenID Connect authentication request (the
// authorization code flow), as far as it could be read. A field is set
// only when its parameter appeared once and was well-formed.
type AuthorizeRequest struct {
	ClientID            string
	RedirectURI         string
	ResponseType        string
	Scopes              []string
	State               string
	Nonce               string
	CodeChallenge       string
	CodeChallengeMethod string
}

// ParseAuthorizeRequest reads the parameters of an authentication request
// (the query of a GET or the form of a POST). It always returns the
// request with what it could read, so that the caller can decide whether
// the client and redirect URI are good enough to redirect an error to;
// the error, if any, is an *Error with the OAuth code to send.
//
// Required: client_id, redirect_uri, response_type=code, a scope with
// openid, state, nonce, and a PKCE code_challenge with method S256.
// Request objects (request, request_uri) and prompt=none are refused;
// a parameter given twice is an invalid_request.
func ParseAuthorizeRequest(v url.Values) (*AuthorizeRequest, error) {
	r := &AuthorizeRequest{}
	one := func(name string) (string, *Error) {
		vs := v[name]
		switch {
		case len(vs) == 0 || vs[0] == "" && len(vs) == 1:
			return "", nil
		case len(vs) > 1:
			return "", invalidRequest("%s is given more than once", name)
		}
		return vs[0], nil
	}
	var first *Error
	keep := func(e *Error) {
		if first == nil && e != nil {
			first = e
		}
	}
	// client_id and redirect_uri decide where errors go: read them first,
	// and leave them empty unless they are unambiguous and well-formed.
	if id, e := one("client_id"); e == nil && len(id) <= maxValueLen && printable(id) {
		r.ClientID = id
	}
	if ru, e := one("redirect_uri"); e == nil && len(ru) <= maxRedirectURILen && printable(ru) {
		r.RedirectURI = ru
	}
	if r.ClientID == "" {
		keep(invalidRequest("client_id is missing or malformed"))
	}
	if r.RedirectURI == "" {
		keep(invalidRequest("redirect_uri is missing or malformed"))
	}
	if state, e := one("state"); e != nil {
		keep(e)
	} else if state == "" {
		keep(invalidRequest("state is required"))
	} else if len(state) > maxValueLen || !printable(state) {
		keep(invalidRequest("state must be at most %d printable ASCII characters", maxValueLen))
	} else {
		r.State = state
	}
	if _, ok := v["request"]; ok {
		keep(oauthErr(CodeRequestNotSupported, 400, "request objects are not supported"))
	}
	if _, ok := v["request_uri"]; ok {
		keep(oauthErr(CodeRequestURINotSupported, 400, "request_uri is not supported"))
	}
	switch rt, e := one("response_type"); {
	case e != nil:
		keep(e)
	case rt == "":
		keep(invalidRequest("response_type is required"))
	case rt != ResponseTypeCode:
		keep(oauthErr(CodeUnsupportedResponseType, 400, "only response_type=code is supported"))
	default:
		r.ResponseType = rt
	}
	if rm, e := one("response_mode"); e != nil {
		keep(e)
	} else if rm != "" && rm != "query" {
		keep(invalidRequest("only response_mode=query is supported"))
	}
	switch sc, e := one("scope"); {
	case e != nil:
		keep(e)
	case len(sc) > maxScopeLen:
		keep(oauthErr(CodeInvalidScope, 400, "scope is longer than %d bytes", maxScopeLen))
	default:
		scopes, ok := parseScope(sc)
		switch {
		case !ok:
			keep(oauthErr(CodeInvalidScope, 400, "scope is malformed"))
		case !slices.Contains(scopes, ScopeOpenID):
			keep(oauthErr(CodeInvalidScope, 400, "scope must include openid"))
		default:
			r.Scopes = scopes
		}
	}
	if nonce, e := one("nonce"); e != nil {
		keep(e)
	} else if nonce == "" {
		keep(invalidRequest("nonce is required"))
	} else if len(nonce) > maxValueLen || !printable(nonce) {
		keep(invalidRequest("nonce must be at most %d printable ASCII characters", maxValueLen))
	} else {
		r.Nonce = nonce
	}
	switch m, e := one("code_challenge_method"); {
	case e != nil:
		keep(e)
	case m != MethodS256:
		keep(invalidRequest("PKCE is required with code_challenge_method=S256"))
	default:
		r.CodeChallengeMethod = m
	}
	switch ch, e := one("code_challenge"); {
	case e != nil:
		keep(e)
	case ch == "":
		keep(invalidRequest("PKCE is required: code_challenge is missing"))
	case !validS256Challenge(ch):
		keep(invalidRequest("code_challenge must be the base64url SHA-256 of the code verifier (43 characters)"))
	default:
		r.CodeChallenge = ch
	}
	if p, e := one("prompt"); e != nil {
		keep(e)
	} else if slices.Contains(strings.Fields(p), "none") {
		keep(oauthErr(CodeLoginRequired, 400, "the patient must present a credential; prompt=none cannot be honoured"))
	}
	if first != nil {
		return r, first
	}
	return r, nil
}

// TokenRequest is a token request of the authorization code grant with
// its client authentication (RFC 6749 sections 2.3 and 4.1.3).
type TokenRequest struct {
	GrantType    string
	Code         string
	RedirectURI  string
	CodeVerifier string
	ClientID     string
	// ClientSecret is set for client_secret_basic and client_secret_post.
	ClientSecret string
	// AuthMethod is how the client authenticated: client_secret_basic,
	// client_secret_post or none.
	AuthMethod string
}

// Token endpoint authentication methods.
const (
	AuthSecretBasic = "client_secret_basic"
	AuthSecretPost  = "client_secret_post"
	AuthNone        = "none"
)

// ParseTokenRequest reads a token request: authorization is the
// Authorization header (may be empty), form the form body. Errors are
// *Error: invalid_request for a malformed request, unsupported_grant_type,
// invalid_client for unreadable Basic credentials.
func ParseTokenRequest(authorization string, form url.Values) (*TokenRequest, error) {
	for name, vs := range form {
		if len(vs) > 1 {
			return nil, invalidRequest("%s is given more than once", truncate(name, 40))
		}
	}
	r := &TokenRequest{GrantType: form.Get("grant_type")}
	switch r.GrantType {
	case "":
		return nil, invalidRequest("grant_type is required")
	case GrantAuthorization:
	default:
		return nil, oauthErr(CodeUnsupportedGrantType, 400, "only the authorization_code grant is supported")
	}
	formID, formSecret := form.Get("client_id"), form.Get("client_secret")
	if authorization != "" {
		scheme, cred, _ := strings.Cut(authorization, " ")
		if !strings.EqualFold(scheme, "Basic") {
			return nil, invalidClient("unsupported Authorization scheme")
		}
		id, secret, err := parseBasic(strings.TrimSpace(cred))
		if err != nil {
			return nil, invalidClient("malformed Basic credentials")
		}
		if formSecret != "" {
			return nil, invalidRequest("use one client authentication method, not client_secret_basic and client_secret_post together")
		}
		if formID != "" && formID != id {
			return nil, invalidRequest("client_id differs from the Basic credentials")
		}
		r.ClientID, r.ClientSecret, r.AuthMethod = id, secret, AuthSecretBasic
	} else {
		r.ClientID, r.ClientSecret = formID, formSecret
		r.AuthMethod = AuthNone
		if formSecret != "" {
			r.AuthMethod = AuthSecretPost
		}
	}
	switch {
	case r.ClientID == "":
		return nil, invalidClient("client authentication is required")
	case len(r.ClientID) > maxValueLen || !printable(r.ClientID):
		return nil, invalidClient("unknown client")
	case len(r.ClientSecret) > maxValueLen:
		return nil, invalidClient("client authentication failed")
	}
	r.Code = form.Get("code")
	if r.Code == "" || len(r.Code) > maxValueLen {
		return nil, invalidRequest("code is missing or malformed")
	}
	r.RedirectURI = form.Get("redirect_uri")
	if r.RedirectURI == "" || len(r.RedirectURI) > maxRedirectURILen {
		return nil, invalidRequest("redirect_uri is missing or malformed")
	}
	r.CodeVerifier = form.Get("code_verifier")
	if r.CodeVerifier == "" {
		return nil, invalidRequest("code_verifier is required (PKCE)")
	}
	if !validVerifier(r.CodeVerifier) {
		return nil, invalidRequest("code_verifier must be 43 to 128 unreserved characters")
	}
	return r, nil
}

// parseBasic decodes RFC 6749 section 2.3.1 Basic credentials: the client
// id and secret are form-urlencoded, joined by ":", then base64.
func parseBasic(cred string) (id, secret string, err error) {
	raw, err := base64.StdEncoding.DecodeString(cred)
	if err != nil {
		return "", "", err
	}
	rawID, rawSecret, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", "", errMalformed
	}
	if id, err = url.QueryUnescape(rawID); err != nil {
		return "", "", err
	}
	if secret, err = url.QueryUnescape(rawSecret); err != nil {
		return "", "", err
	}
	return id, secret, nil
}

// parseScope splits a scope parameter (RFC 6749 section 3.3) into its
// distinct tokens, in order.
func parseScope(s string) ([]string, bool) {
	if s == "" {
		return nil, true
	}
	var out []string
	for _, t := range strings.Split(s, " ") {
		if t == "" {
			continue
		}
		for _, c := range []byte(t) {
			if c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e {
				return nil, false
			}
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, true
}

// validS256Challenge: 43 base64url characters (the SHA-256 of a verifier).
func validS256Challenge(s string) bool {
	if len(s) != s256ChallengeLen {
		return false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil && len(b) == 32
}

// validVerifier: 43 to 128 characters of [A-Za-z0-9-._~] (RFC 7636 4.1).
func validVerifier(s string) bool {
	return len(s) >= minVerifierLen && len(s) <= maxVerifierLen && unreserved(s)
}

func unreserved(s string) bool {
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// printable: visible ASCII and space (%x20-7E).
func printable(s string) bool {
	for _, c := range []byte(s) {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
