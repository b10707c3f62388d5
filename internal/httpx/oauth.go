package httpx

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
)

// OAuthError is an OAuth 2.0 error response (RFC 6749 section 5.2), the
// JSON error of the issuer's OpenID4VCI endpoints, the OpenID provider
// and the OpenID4VP wallet endpoints. Each package answers with its own
// codes; the rendering (headers, the server_error fallback) stays theirs.
type OAuthError struct {
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
	// Interval is the seconds a wallet waits before polling again
	// (OpenID4VCI issuance_pending only).
	Interval int `json:"interval,omitempty"`
	Status   int `json:"-"`
	// Cause is logged, never sent.
	Cause error `json:"-"`
}

func (e *OAuthError) Error() string {
	s := e.Code + ": " + e.Description
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

// Unwrap returns the logged cause.
func (e *OAuthError) Unwrap() error { return e.Cause }

// NewOAuthError returns an OAuthError with a formatted description.
func NewOAuthError(code string, status int, format string, args ...any) *OAuthError {
	return &OAuthError{Code: code, Status: status, Description: fmt.Sprintf(format, args...)}
}

// AsOAuthError returns err as an *OAuthError, or nil.
func AsOAuthError(err error) *OAuthError {
	var e *OAuthError
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// ReadForm reads an application/x-www-form-urlencoded body of at most
// limit bytes; anything else is an invalid_request OAuthError (413 when
// too large).
func ReadForm(r *http.Request, limit int64) ([]byte, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, NewOAuthError("invalid_request", http.StatusBadRequest, "the body must be application/x-www-form-urlencoded")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, NewOAuthError("invalid_request", http.StatusBadRequest, "could not read the body")
	}
	if int64(len(body)) > limit {
		return nil, NewOAuthError("invalid_request", http.StatusRequestEntityTooLarge, "the body is too large")
	}
	return body, nil
}
