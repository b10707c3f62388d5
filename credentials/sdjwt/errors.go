package sdjwt

import (
	"errors"
	"fmt"
)

// The checks Verify can fail. Returned errors wrap one (and, for the Key
// Binding JWT, ErrKeyBinding plus possibly one other) of these.
var (
	// ErrMalformed: the input is not an SD-JWT (bad separators, base64url,
	// JSON, JWS structure or claim types).
	ErrMalformed = errors.New("sdjwt: malformed")
	// ErrTooLarge: the presentation exceeds VerifyOptions.MaxLength.
	ErrTooLarge = errors.New("sdjwt: presentation too large")
	// ErrAlgorithm: a signature algorithm outside ES256 and EdDSA (such as
	// "none" or HS256), a key that does not fit the algorithm, or an
	// unsupported _sd_alg.
	ErrAlgorithm = errors.New("sdjwt: algorithm not accepted")
	// ErrTyp: the JWS "typ" header is not the expected one.
	ErrTyp = errors.New("sdjwt: unexpected typ")
	// ErrSignature: a signature does not verify, or the issuer key could not
	// be resolved.
	ErrSignature = errors.New("sdjwt: signature invalid")
	// ErrExpired: exp has passed (or, for a Key Binding JWT, iat is older
	// than VerifyOptions.KBMaxAge).
	ErrExpired = errors.New("sdjwt: expired")
	// ErrNotYetValid: nbf or iat lies in the future.
	ErrNotYetValid = errors.New("sdjwt: not yet valid")
	// ErrDisclosure: a Disclosure is malformed, unreferenced, repeated, or
	// would overwrite or smuggle in a claim; or a digest appears twice.
	ErrDisclosure = errors.New("sdjwt: invalid disclosure")
	// ErrKeyBinding: the Key Binding JWT is missing when required, or fails
	// one of its checks (signature, typ, sd_hash, iat, nonce, aud).
	ErrKeyBinding = errors.New("sdjwt: key binding invalid")
	// ErrNonce: the Key Binding JWT's nonce is not VerifyOptions.Nonce.
	ErrNonce = errors.New("sdjwt: nonce mismatch")
	// ErrAudience: the Key Binding JWT's aud is not VerifyOptions.Audience.
	ErrAudience = errors.New("sdjwt: audience mismatch")
)

// checkError is a failed check: a message and the sentinels it matches.
type checkError struct {
	msg  string
	errs []error
}

func (e *checkError) Error() string   { return e.msg }
func (e *checkError) Unwrap() []error { return e.errs }

// fail returns an error wrapping kind with detail.
func fail(kind error, format string, args ...any) error {
	return &checkError{msg: kind.Error() + ": " + fmt.Sprintf(format, args...), errs: []error{kind}}
}

// failWrap is fail that also wraps cause, so that errors.Is sees both.
func failWrap(kind, cause error, format string, args ...any) error {
	return &checkError{
		msg:  kind.Error() + ": " + fmt.Sprintf(format, args...) + ": " + cause.Error(),
		errs: []error{kind, cause},
	}
}

// kbFail returns an error about the Key Binding JWT: it wraps ErrKeyBinding
// and kind (which may be nil or ErrKeyBinding itself).
func kbFail(kind error, format string, args ...any) error {
	msg := ErrKeyBinding.Error() + ": " + fmt.Sprintf(format, args...)
	errs := []error{ErrKeyBinding}
	if kind != nil && kind != ErrKeyBinding {
		errs = append(errs, kind)
	}
	return &checkError{msg: msg, errs: errs}
}
