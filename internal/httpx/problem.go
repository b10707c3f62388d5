// Package httpx holds the HTTP plumbing shared by medid's APIs: RFC 9457
// problem details, the error type handlers return (a safe client message
// kept apart from the logged cause), strict JSON decoding, bearer-token
// admin authentication, per-client rate limiting and request ids.
package httpx

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// ProblemBase prefixes every problem type URI medid emits. The fragment names
// the problem; docs/problems.md documents each.
const ProblemBase = "https://github.com/medid/medid/blob/main/docs/problems.md#"

// ContentTypeProblem is the RFC 9457 media type.
const ContentTypeProblem = "application/problem+json"

// Problem is an RFC 9457 problem details object.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
	// Field names the offending request member (JSON path), when there is one.
	Field string `json:"field,omitempty"`
	// RequestID lets an operator find the logged cause.
	RequestID string `json:"requestId,omitempty"`
}

// Error is what handlers return for a failure the client should see. Detail
// is shown to the client; Cause is only logged.
type Error struct {
	Status     int
	Kind       string // problem name, e.g. "invalid-request"
	Title      string
	Detail     string
	Field      string
	RetryAfter int // seconds; sets Retry-After when > 0
	Cause      error
	// Header carries extra response headers (e.g. WWW-Authenticate).
	Header http.Header
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("%d %s: %s", e.Status, e.Kind, e.Detail)
	if e.Cause != nil {
		msg += ": " + e.Cause.Error()
	}
	return msg
}

// Unwrap returns the logged cause.
func (e *Error) Unwrap() error { return e.Cause }

// Problem renders e as problem details.
func (e *Error) Problem() Problem {
	title := e.Title
	if title == "" {
		title = http.StatusText(e.Status)
	}
	return Problem{Type: ProblemBase + e.Kind, Title: title, Status: e.Status, Detail: e.Detail, Field: e.Field}
}

// BadRequest reports malformed input; field names the offending member.
func BadRequest(field, detail string) *Error {
	return &Error{Status: http.StatusBadRequest, Kind: "invalid-request", Title: "Invalid request", Detail: detail, Field: field}
}

// Unprocessable reports well-formed input that cannot be acted on.
func Unprocessable(kind, field, detail string) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Kind: kind, Detail: detail, Field: field}
}

// NotFound reports a missing resource.
func NotFound(detail string) *Error {
	return &Error{Status: http.StatusNotFound, Kind: "not-found", Title: "Not found", Detail: detail}
}

// Conflict reports a state conflict (stale version, duplicate).
func Conflict(detail string) *Error {
	return &Error{Status: http.StatusConflict, Kind: "conflict", Title: "Conflict", Detail: detail}
}

// Forbidden reports an operation whose authorisation failed.
func Forbidden(kind, detail string) *Error {
	return &Error{Status: http.StatusForbidden, Kind: kind, Title: "Forbidden", Detail: detail}
}

// Unauthorized reports a missing or wrong credential.
func Unauthorized(detail string) *Error {
	h := http.Header{}
	h.Set("WWW-Authenticate", `Bearer realm="medid"`)
	return &Error{Status: http.StatusUnauthorized, Kind: "unauthorized", Title: "Unauthorized", Detail: detail, Header: h}
}

// Unavailable reports back-pressure: the client should retry after seconds.
func Unavailable(detail string, retryAfter int, cause error) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Kind: "unavailable", Title: "Service unavailable", Detail: detail, RetryAfter: retryAfter, Cause: cause}
}

// Internal reports a server fault; the cause is logged, never shown.
func Internal(cause error) *Error {
	return &Error{Status: http.StatusInternalServerError, Kind: "internal", Title: "Internal server error", Detail: "the server could not complete the request; see its log for the request id", Cause: cause}
}

// AsError converts any error to an *Error (a non-*Error becomes Internal).
func AsError(err error) *Error {
	var he *Error
	if errors.As(err, &he) {
		return he
	}
	return Internal(err)
}

// WriteProblem writes p as application/problem+json.
func WriteProblem(w http.ResponseWriter, p Problem) {
	w.Header().Set("Content-Type", ContentTypeProblem)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}
