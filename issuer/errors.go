package issuer

import (
	"github.com/medid/medid/internal/httpx"
	"net/http"
)

// OAuthError is an OAuth 2.0 / OpenID4VCI error response.
type OAuthError = httpx.OAuthError

// The OpenID4VCI and OAuth error codes medid answers with.
const (
	CodeInvalidRequest           = "invalid_request"
	CodeInvalidGrant             = "invalid_grant"
	CodeUnsupportedGrantType     = "unsupported_grant_type"
	CodeInvalidToken             = "invalid_token"
	CodeInvalidCredentialRequest = "invalid_credential_request"
	CodeUnknownConfiguration     = "unknown_credential_configuration"
	CodeInvalidProof             = "invalid_proof"
	CodeInvalidNonce             = "invalid_nonce"
	CodeCredentialRequestDenied  = "credential_request_denied"
	// RFC 9449 (DPoP).
	CodeInvalidDPoPProof = "invalid_dpop_proof"
	CodeUseDPoPNonce     = "use_dpop_nonce"
	// OpenID4VCI 1.0 §9.3 (deferred issuance).
	CodeInvalidTransactionID = "invalid_transaction_id"
	// CodeIssuancePending is the pending answer of OpenID4VCI drafts 13
	// to 15 (400 with interval); 1.0 answers 202 instead. It is sent only
	// with Options.DeferredPendingError.
	CodeIssuancePending = "issuance_pending"
)

func oauthErr(code string, status int, format string, args ...any) *OAuthError {
	return httpx.NewOAuthError(code, status, format, args...)
}

func invalidRequest(format string, args ...any) *OAuthError {
	return oauthErr(CodeInvalidRequest, http.StatusBadRequest, format, args...)
}

func invalidGrant(format string, args ...any) *OAuthError {
	return oauthErr(CodeInvalidGrant, http.StatusBadRequest, format, args...)
}

func invalidProof(format string, args ...any) *OAuthError {
	return oauthErr(CodeInvalidProof, http.StatusBadRequest, format, args...)
}

func invalidToken(format string, args ...any) *OAuthError {
	return oauthErr(CodeInvalidToken, http.StatusUnauthorized, format, args...)
}

// AsOAuth returns err as an *OAuthError, or nil if it is not one.
func AsOAuth(err error) *OAuthError { return httpx.AsOAuthError(err) }
