package oidc

import (
	"errors"
	"github.com/medid/medid/internal/httpx"
	"net/http"
)

// Error is an OAuth 2.0 / OpenID Connect error response: at the token and
// userinfo endpoints the JSON body, at the authorization endpoint the
// error parameters of the redirect (or the error page, when the client or
// its redirect URI cannot be trusted).
type Error = httpx.OAuthError

// The error codes of RFC 6749, RFC 6750 and OpenID Connect Core 1.0 that
// the provider answers with.
const (
	CodeInvalidRequest          = "invalid_request"
	CodeInvalidClient           = "invalid_client"
	CodeInvalidGrant            = "invalid_grant"
	CodeUnauthorizedClient      = "unauthorized_client"
	CodeUnsupportedGrantType    = "unsupported_grant_type"
	CodeInvalidScope            = "invalid_scope"
	CodeUnsupportedResponseType = "unsupported_response_type"
	CodeAccessDenied            = "access_denied"
	CodeServerError             = "server_error"
	CodeInvalidToken            = "invalid_token"
	CodeLoginRequired           = "login_required"
	CodeRequestNotSupported     = "request_not_supported"
	CodeRequestURINotSupported  = "request_uri_not_supported"
)

func oauthErr(code string, status int, format string, args ...any) *Error {
	return httpx.NewOAuthError(code, status, format, args...)
}

func invalidRequest(format string, args ...any) *Error {
	return oauthErr(CodeInvalidRequest, http.StatusBadRequest, format, args...)
}

func invalidGrant(format string, args ...any) *Error {
	return oauthErr(CodeInvalidGrant, http.StatusBadRequest, format, args...)
}

func invalidClient(format string, args ...any) *Error {
	return oauthErr(CodeInvalidClient, http.StatusUnauthorized, format, args...)
}

func invalidToken(format string, args ...any) *Error {
	return oauthErr(CodeInvalidToken, http.StatusUnauthorized, format, args...)
}

// AsError returns err as an *Error, or nil.
func AsError(err error) *Error { return httpx.AsOAuthError(err) }

// RedirectError is an authorization error that may be sent back to the
// client: its client and redirect URI were checked, so the browser is
// redirected to RedirectURI with the error, the state and iss.
type RedirectError struct {
	Err         *Error
	RedirectURI string
	State       string
}

func (e *RedirectError) Error() string { return "authorization refused: " + e.Err.Error() }

// Unwrap returns the OAuth error.
func (e *RedirectError) Unwrap() error { return e.Err }

// Sentinel errors of the authorize page and the client API.
var (
	// ErrTransactionNotFound: no such sign-in, or it has expired or been
	// completed.
	ErrTransactionNotFound = errors.New("oidc: unknown, expired or completed sign-in")
	// ErrWrongBrowser: the sign-in was started in another browser (its
	// binding cookie is missing or different).
	ErrWrongBrowser = errors.New("oidc: this sign-in was started in another browser")
	// ErrPending: the wallet has not answered yet.
	ErrPending = errors.New("oidc: the wallet has not answered yet")
	// ErrClientNotFound: no such registered client.
	ErrClientNotFound = errors.New("oidc: no such client")
)

// FieldError reports an invalid member of a client registration.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }
