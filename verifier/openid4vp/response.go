package openid4vp

import (
	"bytes"
	"crypto/ecdsa"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwe"

	"github.com/medid/medid/credentials/dcql"
	"github.com/medid/medid/internal/jsonx"
)

// Bounds on what a wallet may send.
const (
	// MaxResponseBody bounds the body POSTed to the response URI.
	MaxResponseBody = 256 << 10
	// MaxPresentation bounds one presentation in a vp_token.
	MaxPresentation  = 64 << 10
	maxPresentations = 32
	maxParamLen      = 1024 // state, error, error_description, wallet_nonce
)

// Response modes.
const (
	ModeDirectPost    = "direct_post"
	ModeDirectPostJWT = "direct_post.jwt"
)

// authResponse is an Authorization Response (or Authorization Error
// Response) as posted to the response URI, after decryption.
type authResponse struct {
	VPToken dcql.VPToken
	// PEVPToken and Submission are set instead of VPToken in a session
	// with a presentation_definition: the vp_token as a JSON value and
	// the presentation_submission as JSON text, for ParsePEResponse.
	PEVPToken        json.RawMessage
	Submission       json.RawMessage
	State            string
	Error            string
	ErrorDescription string
	// Encrypted is true when the response came in a JWE.
	Encrypted bool
}

// responseKey is what decrypting a direct_post.jwt response needs.
type responseKey struct {
	KID string
	Key *ecdsa.PrivateKey
}

// parseResponseForm parses the form a wallet POSTs to the response URI. In
// direct_post.jwt mode the parameters come in the JWE of "response", which
// must be encrypted to key; an error response may also come unencrypted
// (section 8.3.1). Parameters must not repeat.
func parseResponseForm(body []byte, mode string, key *responseKey) (*authResponse, error) {
	return parseResponse(body, mode, key, false)
}

// parseResponse is parseResponseForm for a DCQL session (pe false) or a
// Presentation Exchange session (pe true), whose response carries a
// presentation_submission next to the vp_token.
func parseResponse(body []byte, mode string, key *responseKey, pe bool) (*authResponse, error) {
	if !utf8.Valid(body) {
		return nil, invalidRequest("the response body is not UTF-8")
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, invalidRequest("malformed form body")
	}
	for k, vs := range form {
		if len(vs) > 1 {
			return nil, invalidRequest("parameter %q is repeated", truncate(k, 64))
		}
	}
	get := func(k string) string { return form.Get(k) }
	if mode == ModeDirectPostJWT && form.Has("response") {
		for _, k := range []string{"vp_token", "presentation_submission", "state", "error"} {
			if form.Has(k) {
				return nil, invalidRequest("parameter %q must be inside the encrypted response", k)
			}
		}
		if key == nil {
			return nil, invalidRequest("no encryption key for this request")
		}
		payload, err := decryptResponse(get("response"), key)
		if err != nil {
			return nil, err
		}
		r, err := parseResponseObject(payload, pe)
		if err != nil {
			return nil, err
		}
		r.Encrypted = true
		return r, nil
	}
	if form.Has("response") {
		return nil, invalidRequest("an encrypted response was not requested")
	}
	r := &authResponse{State: get("state"), Error: get("error"), ErrorDescription: get("error_description")}
	if err := checkParams(r); err != nil {
		return nil, err
	}
	if r.Error != "" {
		if form.Has("vp_token") || form.Has("presentation_submission") {
			return nil, invalidRequest("an error response must not carry a vp_token or presentation_submission")
		}
		return r, nil
	}
	if mode == ModeDirectPostJWT {
		return nil, invalidRequest("this request asked for an encrypted response (direct_post.jwt)")
	}
	if !form.Has("vp_token") {
		return nil, invalidRequest("vp_token is required")
	}
	if pe {
		if !form.Has("presentation_submission") {
			return nil, invalidRequest("presentation_submission is required: this request carries a presentation_definition")
		}
		r.PEVPToken = formPEVPToken(get("vp_token"))
		r.Submission = json.RawMessage(get("presentation_submission"))
		return r, nil
	}
	if form.Has("presentation_submission") {
		return nil, invalidRequest("presentation_submission is not expected: this request carries a dcql_query")
	}
	r.VPToken, err = parseVPToken([]byte(get("vp_token")))
	if err != nil {
		return nil, err
	}
	return r, nil
}

// parseResponseObject reads the decrypted payload of a direct_post.jwt
// response: a JSON object with vp_token (an object; a string holding one
// is accepted too), state, or error and error_description. With pe, the
// vp_token is a presentation or an array of them, and a
// presentation_submission (an object; a string holding one is accepted
// too) comes with it.
func parseResponseObject(payload []byte, pe bool) (*authResponse, error) {
	members, err := jsonx.UniqueObject(payload)
	if err != nil {
		return nil, invalidRequest("the encrypted response is not a JSON object: %v", err)
	}
	r := &authResponse{}
	str := func(name string, dst *string) error {
		raw, ok := members[name]
		if !ok {
			return nil
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return invalidRequest("%s must be a string", name)
		}
		return nil
	}
	for name, dst := range map[string]*string{"state": &r.State, "error": &r.Error, "error_description": &r.ErrorDescription} {
		if err := str(name, dst); err != nil {
			return nil, err
		}
	}
	if err := checkParams(r); err != nil {
		return nil, err
	}
	vp, ok := members["vp_token"]
	sub, hasSub := members["presentation_submission"]
	if r.Error != "" {
		if ok || hasSub {
			return nil, invalidRequest("an error response must not carry a vp_token or presentation_submission")
		}
		return r, nil
	}
	if !ok {
		return nil, invalidRequest("vp_token is required")
	}
	if pe {
		if !hasSub {
			return nil, invalidRequest("presentation_submission is required: this request carries a presentation_definition")
		}
		if t := bytes.TrimSpace(sub); len(t) > 0 && t[0] == '"' {
			var s string
			if err := json.Unmarshal(t, &s); err != nil {
				return nil, invalidRequest("malformed presentation_submission")
			}
			sub = []byte(s)
		}
		r.PEVPToken, r.Submission = vp, sub
		return r, nil
	}
	if hasSub {
		return nil, invalidRequest("presentation_submission is not expected: this request carries a dcql_query")
	}
	if t := bytes.TrimSpace(vp); len(t) > 0 && t[0] == '"' {
		var s string
		if err := json.Unmarshal(t, &s); err != nil {
			return nil, invalidRequest("malformed vp_token")
		}
		vp = []byte(s)
	}
	r.VPToken, err = parseVPToken(vp)
	if err != nil {
		return nil, err
	}
	return r, nil
}

func checkParams(r *authResponse) error {
	for name, v := range map[string]string{"state": r.State, "error": r.Error, "error_description": r.ErrorDescription} {
		if len(v) > maxParamLen {
			return invalidRequest("%s exceeds %d bytes", name, maxParamLen)
		}
	}
	if r.Error != "" && !isErrorCode(r.Error) {
		return invalidRequest("error is not an OAuth error code")
	}
	return nil
}

// isErrorCode: RFC 6749 section 4.1.2.1 allows %x20-21 / %x23-5B / %x5D-7E;
// medid accepts the usual subset of letters, digits and underscore.
func isErrorCode(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return s != ""
}

// formPEVPToken turns the vp_token form parameter of a Presentation
// Exchange response into a JSON value: wallets send one compact
// presentation (an SD-JWT, a JWT) as is, and JSON (an object, an array or
// a quoted string) otherwise.
func formPEVPToken(v string) json.RawMessage {
	t := strings.TrimSpace(v)
	if t == "" {
		return nil
	}
	if strings.ContainsRune(`["{`, rune(t[0])) {
		return json.RawMessage(t)
	}
	b, _ := json.Marshal(v) // a valid UTF-8 string: checked by the caller
	return b
}

// parseVPToken parses a vp_token (section 8.1) with dcql.ParseVPToken
// and bounds it: at most maxPresentations presentations of at most
// MaxPresentation bytes each.
func parseVPToken(raw []byte) (dcql.VPToken, error) {
	if len(raw) > MaxResponseBody {
		return nil, invalidRequest("vp_token exceeds %d bytes", MaxResponseBody)
	}
	tok, err := dcql.ParseVPToken(raw)
	if err != nil {
		return nil, invalidRequest("%v", err)
	}
	n := 0
	for id, ps := range tok {
		for i, p := range ps {
			if n++; n > maxPresentations {
				return nil, invalidRequest("vp_token holds more than %d presentations", maxPresentations)
			}
			if len(p) > MaxPresentation {
				return nil, invalidRequest("vp_token.%s[%d] exceeds %d bytes", id, i, MaxPresentation)
			}
		}
	}
	return tok, nil
}

// Accepted JWE content encryption algorithms (client_metadata
// encrypted_response_enc_values_supported).
var responseEncValues = []string{"A128GCM", "A256GCM"}

// decryptResponse decrypts a compact JWE encrypted to key with ECDH-ES. It
// allowlists the header first: alg ECDH-ES, enc A128GCM or A256GCM, kid
// equal to the key's, no compression and no critical extensions.
func decryptResponse(compact string, key *responseKey) ([]byte, error) {
	if len(compact) > MaxResponseBody {
		return nil, invalidRequest("response exceeds %d bytes", MaxResponseBody)
	}
	parts := strings.Split(compact, ".")
	if len(parts) != 5 {
		return nil, invalidRequest("response must be a compact JWE")
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return nil, invalidRequest("malformed JWE header")
	}
	h, err := jsonx.UniqueObject(hb)
	if err != nil {
		return nil, invalidRequest("malformed JWE header: %v", err)
	}
	str := func(name string) string {
		var s string
		if raw, ok := h[name]; ok {
			_ = json.Unmarshal(raw, &s)
		}
		return s
	}
	if alg := str("alg"); alg != "ECDH-ES" {
		return nil, invalidRequest("JWE alg %q is not ECDH-ES", truncate(alg, 32))
	}
	if enc := str("enc"); !slices.Contains(responseEncValues, enc) {
		return nil, invalidRequest("JWE enc %q is not one of %v", truncate(enc, 32), responseEncValues)
	}
	if kid := str("kid"); kid != key.KID {
		return nil, invalidRequest("JWE kid does not name this request's encryption key")
	}
	if _, ok := h["zip"]; ok {
		return nil, invalidRequest("compressed JWEs are not accepted")
	}
	if _, ok := h["crit"]; ok {
		return nil, invalidRequest("JWE critical header parameters are not supported")
	}
	if len(parts[1]) != 0 {
		return nil, invalidRequest("ECDH-ES (direct key agreement) has an empty encrypted key")
	}
	payload, err := jwe.Decrypt([]byte(compact), jwe.WithKey(jwa.ECDH_ES(), key.Key))
	if err != nil {
		return nil, &Error{Code: CodeInvalidRequest, Status: 400, Description: "the response could not be decrypted with this request's key", Cause: err}
	}
	return payload, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
