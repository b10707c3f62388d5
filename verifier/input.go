package verifier

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// input is a credential or presentation as a client sent it, before any
// check: a compact token (from a JSON string or an enveloped credential's
// data: URL) or a JSON document (Data Integrity).
type input struct {
	compact string
	media   string // the envelope's media type without "application/"; "" if none
	doc     []byte
}

// Media types accepted in an EnvelopedVerifiableCredential or
// EnvelopedVerifiablePresentation data: URL.
var (
	credentialMedia   = map[string]bool{"dc+sd-jwt": true, "vc+jwt": true, "jwt": true}
	presentationMedia = map[string]bool{"dc+sd-jwt": true, "vp+jwt": true, "jwt": true}
)

// parseInput reads a VC-API verifiableCredential or verifiablePresentation
// value: a JSON string holding a compact JWS or SD-JWT, an enveloped
// credential or presentation {"type": "Enveloped…", "id": "data:…"}, or a
// JSON object with a proof.
func parseInput(raw json.RawMessage, presentation bool) (input, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return input{}, fmt.Errorf("%w: no credential", ErrMalformed)
	}
	if len(raw) > 2*MaxTokenSize {
		return input{}, fmt.Errorf("%w: the value exceeds %d bytes", ErrTooLarge, MaxTokenSize)
	}
	switch raw[0] {
	case '"':
		s, ok := plainString(raw)
		if !ok {
			if err := json.Unmarshal(raw, &s); err != nil {
				return input{}, fmt.Errorf("%w: not a JSON string", ErrMalformed)
			}
		}
		return compactInput(s, "")
	case '{':
	default:
		return input{}, fmt.Errorf("%w: must be a JSON string (a compact token) or an object", ErrMalformed)
	}
	var head struct {
		Type any    `json:"type"`
		ID   string `json:"id"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return input{}, fmt.Errorf("%w: not a JSON object", ErrMalformed)
	}
	envelope := "EnvelopedVerifiableCredential"
	if presentation {
		envelope = "EnvelopedVerifiablePresentation"
	}
	if !hasType(head.Type, envelope) {
		if len(raw) > MaxTokenSize {
			return input{}, fmt.Errorf("%w: the document exceeds %d bytes", ErrTooLarge, MaxTokenSize)
		}
		return input{doc: raw}, nil
	}
	media, payload, err := parseDataURL(head.ID)
	if err != nil {
		return input{}, err
	}
	allowed := credentialMedia
	if presentation {
		allowed = presentationMedia
	}
	if !allowed[media] {
		return input{}, fmt.Errorf("%w: %s with media type application/%.40s", ErrUnsupported, envelope, media)
	}
	return compactInput(payload, media)
}

// plainString returns the value of a JSON string without escapes, control
// characters or non-ASCII bytes (every compact token), with ok false for any
// other input, which encoding/json then decodes or refuses.
func plainString(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	body := raw[1 : len(raw)-1]
	for _, c := range body {
		if !plainByte[c] {
			return "", false
		}
	}
	return string(body), true
}

// plainByte tells the bytes plainString takes: printable ASCII but '"' and
// '\\'.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func compactInput(s, media string) (input, error) {
	if len(s) > MaxTokenSize {
		return input{}, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, len(s), MaxTokenSize)
	}
	s = strings.TrimSpace(s)
	if s == "" || strings.Count(s, ".") < 2 {
		return input{}, fmt.Errorf("%w: not a compact JWS or SD-JWT", ErrMalformed)
	}
	return input{compact: s, media: media}, nil
}

// parseDataURL splits an RFC 2397 data: URL into its media type (without
// "application/") and its decoded payload.
func parseDataURL(s string) (media, payload string, err error) {
	rest, ok := strings.CutPrefix(s, "data:")
	if !ok {
		return "", "", fmt.Errorf("%w: an enveloped credential's id must be a data: URL", ErrMalformed)
	}
	meta, data, ok := strings.Cut(rest, ",")
	if !ok {
		return "", "", fmt.Errorf("%w: a data: URL needs a comma", ErrMalformed)
	}
	params := strings.Split(meta, ";")
	mt := strings.ToLower(strings.TrimSpace(params[0]))
	b64 := false
	for _, p := range params[1:] {
		if strings.EqualFold(strings.TrimSpace(p), "base64") {
			b64 = true
		}
	}
	media, ok = strings.CutPrefix(mt, "application/")
	if !ok {
		return "", "", fmt.Errorf("%w: the data: URL's media type must be application/…", ErrUnsupported)
	}
	if strings.Contains(data, "%") {
		if data, err = url.PathUnescape(data); err != nil {
			return "", "", fmt.Errorf("%w: bad percent-encoding in the data: URL", ErrMalformed)
		}
	}
	if b64 {
		b, err := base64.StdEncoding.DecodeString(data)
		if err != nil {
			return "", "", fmt.Errorf("%w: the data: URL is not base64", ErrMalformed)
		}
		data = string(b)
	}
	return media, data, nil
}

// hasType reports whether a JSON-LD type value (a string or an array of
// strings) includes want.
func hasType(v any, want string) bool {
	switch t := v.(type) {
	case string:
		return t == want
	case []any:
		for _, e := range t {
			if e == want {
				return true
			}
		}
	}
	return false
}

// typeStrings returns the strings of a JSON-LD type value.
func typeStrings(v any) []string {
	switch t := v.(type) {
	case string:
		return []string{t}
	case []any:
		out := make([]string, 0, len(t))
		for _, e := range t {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
