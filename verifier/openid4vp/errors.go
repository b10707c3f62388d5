package openid4vp

import (
	"errors"
	"fmt"
	"github.com/medid/medid/internal/httpx"
	"net/http"
)

// Error is an OAuth 2.0 / OpenID4VP error response, as the wallet sees it
// at the request_uri and response_uri endpoints.
type Error = httpx.OAuthError

// Error codes of OpenID4VP 1.0 section 8.5 and RFC 6749 that medid sends or
// receives.
const (
	CodeInvalidRequest          = "invalid_request"
	CodeInvalidRequestURIMethod = "invalid_request_uri_method"
	CodeAccessDenied            = "access_denied"
	CodeServerError             = "server_error"
)

// Status error codes recorded on a failed session, next to the wallet's own
// error codes (access_denied, …).
const (
	// StatusVerificationFailed: a presentation did not verify.
	StatusVerificationFailed = "verification_failed"
	// StatusQueryNotSatisfied: the verified presentations do not satisfy
	// the DCQL query.
	StatusQueryNotSatisfied = "query_not_satisfied"
)

func invalidRequest(format string, args ...any) *Error {
	return &Error{Code: CodeInvalidRequest, Status: http.StatusBadRequest, Description: fmt.Sprintf(format, args...)}
}

// asError returns err as an *Error, or nil.
func asError(err error) *Error { return httpx.AsOAuthError(err) }

// Sentinel errors of the session API (rendered as problem+json).
var (
	// ErrSessionNotFound: no such session, or it is gone.
	ErrSessionNotFound = errors.New("openid4vp: no such session")
	// ErrResponseCodeInvalid: the response code is unknown, used or expired,
	// or belongs to another session.
	ErrResponseCodeInvalid = errors.New("openid4vp: unknown, used or expired response code")
)

// FieldError reports an invalid member of a session request.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }
