package walletapi

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/medid/medid/internal/httpx"
	"github.com/medid/medid/internal/kv"
)

// The errors Service methods return; Register's renderer maps each to a
// problem+json status.
var (
	ErrUsernameTaken    = errors.New("walletapi: the username is taken")
	ErrBadCredentials   = errors.New("walletapi: wrong username or password")
	ErrUnauthenticated  = errors.New("walletapi: a valid session token is required")
	ErrNotFound         = errors.New("walletapi: not found")
	ErrWrongPassphrase  = errors.New("walletapi: the archive does not open with this passphrase")
	ErrMalformedArchive = errors.New("walletapi: malformed backup archive")
)

// FieldError is invalid input, naming the offending request member.
type FieldError struct {
	Field, Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// RateLimitedError is a refused attempt; RetryAfter says when to retry.
type RateLimitedError struct {
	Reason     string
	RetryAfter int // seconds
}

func (e *RateLimitedError) Error() string { return "walletapi: " + e.Reason }

// ServiceError is a failure with its own problem type: an offer the wallet
// cannot act on, an issuer or registrar that refused or failed. Kind names
// the problem (docs/problems.md); Status is the HTTP status it is rendered
// with; Detail is safe to show; Cause is only logged.
type ServiceError struct {
	Status int
	Kind   string
	Field  string
	Detail string
	Cause  error
}

func (e *ServiceError) Error() string {
	s := "walletapi: " + e.Detail
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *ServiceError) Unwrap() error { return e.Cause }

// problem maps a Service error to the *httpx.Error the client sees.
func problem(err error) error {
	var fe *FieldError
	var rl *RateLimitedError
	var oe *ServiceError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &fe):
		return httpx.BadRequest(fe.Field, fe.Error())
	case errors.As(err, &rl):
		return &httpx.Error{Status: http.StatusTooManyRequests, Kind: "rate-limited", Title: "Too many requests",
			Detail: rl.Reason, RetryAfter: rl.RetryAfter}
	case errors.As(err, &oe):
		return &httpx.Error{Status: oe.Status, Kind: oe.Kind, Detail: oe.Detail, Field: oe.Field, Cause: oe.Cause}
	case errors.Is(err, ErrUsernameTaken):
		e := httpx.Conflict("this username is taken")
		e.Field = "username"
		return e
	case errors.Is(err, ErrBadCredentials):
		return httpx.Unauthorized("wrong username or password")
	case errors.Is(err, ErrUnauthenticated):
		return httpx.Unauthorized("a valid session token is required (Authorization: Bearer …); it may have expired or been signed out")
	case errors.Is(err, ErrNotFound):
		return httpx.NotFound("no such item in this wallet")
	case errors.Is(err, ErrWrongPassphrase):
		return httpx.Unprocessable("wrong-passphrase", "passphrase", "the archive does not open with this passphrase (or it was altered)")
	case errors.Is(err, ErrMalformedArchive):
		return httpx.BadRequest("archive", err.Error())
	}
	return err
}

// notFound maps kv.ErrNotFound to ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, kv.ErrNotFound) {
		return ErrNotFound
	}
	return err
}
